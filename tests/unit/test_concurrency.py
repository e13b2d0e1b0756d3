"""What this design is exposed to: readers beside a writer, crashes mid-save, two writers
of work in one process (the watcher beside an indexing run), a model switch mid-index."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from photoclip.core import Library, LibraryError
from photoclip.core.catalog import _MIGRATIONS, SCHEMA_VERSION, Catalog
from photoclip.core.embedder import Embedder
from photoclip.core.vectors import VectorIndex
from photoclip.core.watcher import FolderWatcher
from tests.conftest import SHAPES_MODEL, draw_photos

pytestmark = pytest.mark.slow


def _run_in_thread(fn, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    """``fn()`` on another thread; returns its value, or fails if it blocks past ``timeout``."""
    out: list = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"blocked for more than {timeout} s"
    return out[0]


def test_a_reader_never_waits_for_a_write_in_progress(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        catalog.add_root(str(tmp_path / "a"))
        inside = threading.Event()
        release = threading.Event()

        def slow_writer() -> None:
            with catalog.transaction() as db:
                db.execute("INSERT INTO roots(path, added_at) VALUES(?, 0)",
                           (str(tmp_path / "b"),))
                # A read inside the writer's own transaction sees what it wrote.
                assert len(catalog.roots()) == 2
                inside.set()
                release.wait(30)

        writer = threading.Thread(target=slow_writer)
        writer.start()
        assert inside.wait(10)
        # Meanwhile another thread reads at once, and sees only what is committed.
        seen = _run_in_thread(lambda: [r.path for r in catalog.roots()], timeout=2.0)
        assert seen == [str(tmp_path / "a")]
        release.set()
        writer.join(10)
        assert len(_run_in_thread(catalog.roots)) == 2
    finally:
        catalog.close()


def test_a_catalog_of_the_first_schema_is_upgraded_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    db = sqlite3.connect(path)
    db.executescript(_MIGRATIONS[1] + "; PRAGMA user_version = 1;")
    db.execute("INSERT INTO roots(id, path, added_at) VALUES(1, '/photos', 0)")
    db.execute("INSERT INTO photos(id, root_id, path, size, mtime, hash, added_at) "
               "VALUES(7, 1, '/photos/a.jpg', 10, 1.0, 'h', 0)")
    db.execute("INSERT INTO tags VALUES(7, 'mine', 'keeper', NULL, 'manual')")
    db.commit()
    db.close()
    catalog = Catalog(path)
    try:
        assert catalog._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [r.path for r in catalog.roots()] == ["/photos"]
        assert catalog.photo(7).path == "/photos/a.jpg"
        assert catalog.tag_state(7, "mine", "keeper") == (None, "manual")
        # What later versions added works on the upgraded file.
        catalog.store_text_embeddings("m", {"a photo": np.ones(4, np.float32)})
        assert catalog.remove_root(1) == 1
    finally:
        catalog.close()


def _vectors(tmp_path: Path, n: int = 40) -> tuple[Catalog, VectorIndex]:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    root = catalog.add_root(str(tmp_path))
    rng = np.random.default_rng(0)
    with catalog.transaction() as db:
        ids = [catalog.insert_photo(db, root.id, str(tmp_path / f"{i}.jpg"), i, 1.0, f"h{i}")
               for i in range(n)]
    from photoclip.core.catalog import PhotoMetadata

    catalog.commit_embeddings("m", [(pid, rng.normal(size=8).astype(np.float32),
                                     PhotoMetadata(1, 1)) for pid in ids])
    index = VectorIndex(tmp_path, "m")
    index.open(catalog)
    return catalog, index


def test_a_crash_between_writing_the_index_and_its_manifest_keeps_the_old_pair(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    catalog, index = _vectors(tmp_path)
    try:
        index.save()
        saved = json.loads(index.meta_path.read_text())
        # More vectors arrive; the next save dies just before its commit point.
        index.remove({1, 2})
        real_replace = os.replace

        def crash(src, dst):  # type: ignore[no-untyped-def]
            if str(dst) == str(index.meta_path):
                raise OSError("killed")
            return real_replace(src, dst)

        monkeypatch.setattr(os, "replace", crash)
        with pytest.raises(LibraryError, match="killed"):
            index.save()
        monkeypatch.setattr(os, "replace", real_replace)
        assert json.loads(index.meta_path.read_text()) == saved
        again = VectorIndex(tmp_path, "m")
        assert again._load_file(catalog)   # the old manifest and the old file: consistent
        assert len(again) == 40
        assert not list(tmp_path.glob("*.tmp"))
        assert len(list(tmp_path.glob("vectors-*.hnsw"))) == 1
    finally:
        catalog.close()


def test_saves_killed_at_any_moment_always_leave_a_loadable_index(tmp_path: Path) -> None:
    """A real SIGKILL, many times, at whatever point a save has reached."""
    catalog, index = _vectors(tmp_path, n=2000)
    index.save()
    catalog.close()
    script = (
        "import sys, numpy as np\n"
        "from pathlib import Path\n"
        "from photoclip.core.catalog import Catalog\n"
        "from photoclip.core.vectors import VectorIndex\n"
        f"folder = Path({str(tmp_path)!r})\n"
        "cat = Catalog(folder / 'catalog.sqlite', readonly=True)\n"
        "ix = VectorIndex(folder, 'm'); ix.open(cat)\n"
        "print('ready', flush=True)\n"
        "i = 0\n"
        "while True:\n"
        "    ix.remove({i % 2000}); ix.save(); i += 1\n")
    rng = np.random.default_rng(1)
    reader = Catalog(tmp_path / "catalog.sqlite", readonly=True)
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                text=True, cwd=Path(__file__).resolve().parents[2])
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        threading.Event().wait(float(rng.uniform(0.05, 0.4)))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        loaded = VectorIndex(tmp_path, "m")
        assert loaded._load_file(reader), "a kill left an index that had to be rebuilt"
        meta = json.loads(loaded.meta_path.read_text())
        assert len(loaded) + len(meta["deleted"]) == 2000
    reader.close()


def test_the_watcher_beside_an_indexing_run(library: Library, tmp_path: Path) -> None:
    watched = tmp_path / "watched"
    draw_photos(watched, 4, seed=1)
    library.add_root(watched)
    library.index()
    changes: list = []
    errors: list = []
    watcher = FolderWatcher(library, debounce=0.1, settle=0.3, on_change=changes.append,
                            on_error=errors.append)
    watcher.start()
    try:
        big = tmp_path / "big"
        draw_photos(big, 160, seed=2, size=(640, 480))
        library.add_root(big)
        library.indexer.batch_size = 8
        run = threading.Thread(target=library.index)
        run.start()
        # While that runs, photos land in the watched folder.
        for path, _ in draw_photos(tmp_path / "incoming", 6, seed=3):
            path.rename(watched / path.name)
        run.join(120)
        assert not run.is_alive()
        deadline = threading.Event()
        for _ in range(300):
            if library.status().indexed == 170:
                break
            deadline.wait(0.1)
    finally:
        watcher.stop()
    status = library.status()
    assert (status.indexed, status.pending, status.failed) == (170, 0, 0)
    assert not errors


def _paused_index_run(library: Library, folder: Path, n: int) -> tuple[threading.Thread,
                                                                       threading.Event]:
    """An index run of ``n`` photos held paused after its second batch: a run in flight
    for as long as the test keeps ``pause`` set."""
    draw_photos(folder, n, seed=5, size=(480, 360))
    library.add_root(folder)
    library.indexer.batch_size = 8
    pause, started = threading.Event(), threading.Event()

    def progress(p) -> None:  # type: ignore[no-untyped-def]
        if p.phase == "embed" and p.done >= 16 and not started.is_set():
            pause.set()
            started.set()

    run = threading.Thread(target=lambda: library.index(progress=progress, pause=pause))
    run.start()
    assert started.wait(60)
    return run, pause


def test_a_model_switch_during_an_indexing_run_leaves_nothing_untagged(
        library: Library, tmp_path: Path) -> None:
    shapes = Path(__file__).resolve().parents[1] / "data" / "shapes.toml"
    library.import_label_set(shapes)
    run, pause = _paused_index_run(library, tmp_path / "photos", 120)
    other = tmp_path / "other-model"
    shutil.copytree(SHAPES_MODEL, other)
    first_pass = threading.Event()
    switch = threading.Thread(target=lambda: library.switch_model(
        Embedder(f"local-dir:{other}"),
        progress=lambda p: p.phase == "done" and first_pass.set()))
    switch.start()
    try:
        assert first_pass.wait(60)   # what was committed so far: embedded with the new model
        # ...but the switch must not take over while the run is in flight: its batches
        # would be embedded with the old model only, and tagged with neither.
        switch.join(2.0)
        assert switch.is_alive(), "the model switched under a running index"
        assert library.model_spec != f"local-dir:{other}"
    finally:
        pause.clear()
    run.join(120)
    switch.join(120)
    assert not switch.is_alive()
    assert library.model_spec == f"local-dir:{other}"
    status = library.status()
    assert (status.indexed, status.pending) == (120, 0)
    ids = library.catalog.searchable_ids(library.embedder.signature)
    assert len(ids) == 120
    tagged = {pid for pid, s, *_ in library.catalog.tag_rows(ids) if s == "shapes"}
    assert tagged == ids, f"{len(ids - tagged)} photos left untagged"


def test_set_model_waits_for_the_indexing_run_in_flight(library: Library,
                                                        tmp_path: Path) -> None:
    shapes = Path(__file__).resolve().parents[1] / "data" / "shapes.toml"
    library.import_label_set(shapes)
    old = library.embedder.signature
    run, pause = _paused_index_run(library, tmp_path / "photos", 64)
    other = tmp_path / "other-model"
    shutil.copytree(SHAPES_MODEL, other)
    new = Embedder(f"local-dir:{other}")
    swap = threading.Thread(target=lambda: library.set_model(new))
    swap.start()
    try:
        swap.join(1.0)
        assert swap.is_alive(), "the model was set under a running index"
    finally:
        pause.clear()
    run.join(120)
    swap.join(60)
    assert library.embedder is new
    # Every photo of the run got its embedding and its tags, all of the old model.
    ids = library.catalog.searchable_ids(old)
    assert len(ids) == 64
    tagged = {pid for pid, s, *_ in library.catalog.tag_rows(ids) if s == "shapes"}
    assert tagged == ids

"""The folder watcher with real files, a real watchdog observer and the small model."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from photoclip.core import Library
from photoclip.core.watcher import FolderWatcher
from tests.conftest import draw_photos

pytestmark = pytest.mark.slow


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll a condition (no fixed sleeps): the watcher is asynchronous by nature."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        threading.Event().wait(0.05)
    raise AssertionError("condition not met in time")


class Recorder:
    def __init__(self) -> None:
        self.changes: list = []
        self.errors: list[Exception] = []

    def embedded(self) -> int:
        return sum(c.index.embedded for c in self.changes)


@pytest.fixture
def watched(library: Library, tmp_path: Path):
    root = tmp_path / "photos"
    draw_photos(root, 6, seed=1)
    library.add_root(root)
    library.index()
    rec = Recorder()
    watcher = FolderWatcher(library, debounce=0.1, settle=0.3, root_check_every=0.2,
                            on_change=rec.changes.append, on_error=rec.errors.append)
    watcher.start()
    yield library, root, watcher, rec
    watcher.stop()


def _indexed(library: Library, path: Path) -> bool:
    photo = library.catalog.photo_by_path(str(path))
    return (photo is not None and photo.state == "ok" and
            library.catalog.embedding(photo.id, library.embedder.signature) is not None)


def test_new_file_in_new_subfolder(watched, tmp_path: Path) -> None:
    library, root, _w, _rec = watched
    (root / "2024" / "june").mkdir(parents=True)
    path, _ = draw_photos(tmp_path / "incoming", 1, seed=5)[0]
    target = root / "2024" / "june" / path.name
    shutil.copyfile(path, target)
    wait_for(lambda: _indexed(library, target))
    assert str(target) in [h.photo.path for h in library.search("a shape", top=50)]


def test_file_written_slowly_is_indexed_once(library: Library, tmp_path: Path) -> None:
    """A photo still being copied is indexed once, complete. Event-driven: each chunk is
    written only once the watcher has seen the previous one land, so the test does not
    depend on how fast this machine happens to be."""
    root = tmp_path / "photos"
    draw_photos(root, 2, seed=1)
    library.add_root(root)
    library.index()
    data = draw_photos(tmp_path / "src", 1, seed=6, size=(640, 480))[0][0].read_bytes()
    target = root / "slow.jpg"
    rec = Recorder()
    watcher = FolderWatcher(library, debounce=0.1, settle=2.0, root_check_every=0.2,
                            on_change=rec.changes.append, on_error=rec.errors.append)
    seen = threading.Event()
    note, apply = watcher.note, watcher.apply
    applied: list = []

    def noting(path: str, is_dir: bool) -> None:
        note(path, is_dir)
        if path == str(target):
            seen.set()

    def applying(change, cancel):  # type: ignore[no-untyped-def]
        result = apply(change, cancel)
        applied.append(change)
        return result

    watcher.note, watcher.apply = noting, applying  # type: ignore[method-assign]
    watcher.start()
    try:
        wait_for(lambda: any(c.reconcile for c in applied))   # the start-up catch-up
        with target.open("wb") as f:
            for i in range(6):
                seen.clear()
                f.write(data[i * len(data) // 6:(i + 1) * len(data) // 6])
                f.flush()
                assert seen.wait(10), "the watcher never saw the chunk land"
        wait_for(lambda: _indexed(library, target))
        # A full reconcile now finds nothing left to do: it was indexed once, complete.
        before = len(applied)
        watcher.request_reconcile()
        wait_for(lambda: any(c.reconcile for c in applied[before:]))
    finally:
        watcher.stop()
    photo = library.catalog.photo_by_path(str(target))
    assert photo is not None
    assert photo.state == "ok"
    assert rec.embedded() == 1
    assert not any(c.index.failed for c in rec.changes), rec.errors


def test_rename_and_move_keep_the_embedding(watched) -> None:
    library, root, _w, rec = watched
    src = sorted(root.glob("*.jpg"))[0]
    photo = library.catalog.photo_by_path(str(src))
    assert photo is not None
    renamed = root / "renamed.jpg"
    src.rename(renamed)
    wait_for(lambda: library.catalog.photo_by_path(str(renamed)) is not None)
    assert library.catalog.photo_by_path(str(renamed)).id == photo.id
    (root / "album").mkdir()
    moved = root / "album" / "renamed.jpg"
    renamed.rename(moved)
    wait_for(lambda: library.catalog.photo_by_path(str(moved)) is not None)
    assert library.catalog.photo_by_path(str(moved)).id == photo.id
    assert rec.embedded() == 0
    assert library.status().missing == 0


def test_move_out_and_delete_leave_results(watched, tmp_path: Path) -> None:
    library, root, _w, _rec = watched
    first, second = sorted(root.glob("*.jpg"))[:2]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    first.rename(outside / first.name)
    second.unlink()
    wait_for(lambda: library.status().missing == 2)
    paths = [h.photo.path for h in library.search("a shape", top=50)]
    assert str(first) not in paths
    assert str(second) not in paths
    assert len(paths) == 4


def test_burst_of_a_thousand_files(watched, tmp_path: Path) -> None:
    library, root, _w, _rec = watched
    originals = draw_photos(tmp_path / "src", 10, seed=8)
    burst = root / "burst"
    burst.mkdir()
    for i in range(1000):
        shutil.copyfile(originals[i % 10][0], burst / f"IMG_{i:04d}.jpg")
    on_disk = len(list(root.rglob("*.jpg")))
    wait_for(lambda: library.status().indexed == on_disk, timeout=120)
    status = library.status()
    assert status.photos == on_disk == 1006
    assert status.pending == 0


def test_root_that_disappears_and_returns(watched, tmp_path: Path) -> None:
    library, root, _w, rec = watched
    before = library.status()
    parked = tmp_path / "unplugged"
    root.rename(parked)
    wait_for(lambda: not library.status().roots[0].online)
    during = library.status()
    assert during.photos == before.photos
    assert during.missing == 0
    parked.rename(root)
    wait_for(lambda: library.status().roots[0].online)
    wait_for(lambda: len(library.search("a shape", top=50)) == before.indexed)
    assert rec.embedded() == 0
    assert library.status().indexed == before.indexed


def test_a_failing_batch_does_not_stop_delivery(watched, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                allow_log) -> None:
    allow_log("disk hiccup")
    library, root, _w, rec = watched
    real = library.apply_changes
    calls = {"n": 0}

    def flaky(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk hiccup")
        return real(**kwargs)

    monkeypatch.setattr(library, "apply_changes", flaky)
    a, b = draw_photos(tmp_path / "src", 2, seed=9)
    shutil.copyfile(a[0], root / "a.jpg")
    wait_for(lambda: bool(rec.errors))
    shutil.copyfile(b[0], root / "b.jpg")
    wait_for(lambda: _indexed(library, root / "b.jpg") and _indexed(library, root / "a.jpg"))
    assert isinstance(rec.errors[0], OSError)


def test_polling_fallback_is_reported(library: Library, tmp_path: Path) -> None:
    root = tmp_path / "share"
    draw_photos(root, 2, seed=1)
    library.add_root(root)
    watcher = FolderWatcher(library, debounce=0.1, settle=0.2, poll_interval=0.2,
                            force_polling=True)
    watcher.start()
    try:
        # start() returns at once; the watcher's thread sets up its watches.
        wait_for(lambda: library.status().roots[0].polling)
        path = draw_photos(tmp_path / "src", 1, seed=3)[0][0]
        shutil.copyfile(path, root / "new.jpg")
        wait_for(lambda: _indexed(library, root / "new.jpg"))
    finally:
        watcher.stop()

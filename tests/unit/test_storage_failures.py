"""Read-only libraries, full disks and sidecars that cannot be written (issue 13, items 2, 4
and 5): one clear error, temporary files cleaned, nothing committed lost."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from pathlib import Path

import pytest

from photoclip.core import Library
from photoclip.core.errors import DiskFullError, ReadOnlyLibraryError
from tests.conftest import draw_photos
from tests.mounts import fill_disk, grow_disk, read_only, small_disk


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def test_read_only_library_refuses_writes_in_one_line_and_still_reads(
        library: Library, photo_dir: Path) -> None:
    library.add_root(photo_dir)
    library.index()
    folder, embedder = library.folder, library.embedder
    library.close()
    before = _digest(folder / "catalog.sqlite")
    with read_only(folder):
        with pytest.raises(ReadOnlyLibraryError) as err:
            Library.open(folder, embedder=embedder)
        assert "\n" not in str(err.value)
        assert "read-only" in str(err.value)
        assert "search" in str(err.value)  # says what still works
        with Library.open(folder, embedder=embedder, readonly=True) as reader:
            assert reader.status().indexed == 40
            assert len(reader.search("a shape", top=5)) == 5
    assert _digest(folder / "catalog.sqlite") == before


def test_full_disk_mid_run_is_one_error_and_the_next_run_finishes(
        tmp_path: Path, shapes_embedder, allow_log) -> None:
    allow_log("disk is full")   # closing on the full disk says the index could not be saved
    photos = tmp_path / "photos"
    draw_photos(photos, 150, seed=70)
    with small_disk(tmp_path / "disk", "1m") as disk:
        lib = Library.open(disk / "lib", embedder=shapes_embedder, decode_threads=2, batch_size=8)
        fillers: list[Path] = []

        def fill_after_first_batches(p) -> None:
            if p.phase == "embed" and p.done >= 16 and not fillers:
                fillers.append(fill_disk(disk))  # the disk fills up while we index

        try:
            lib.add_root(photos)
            with pytest.raises(DiskFullError) as err:
                lib.index(progress=fill_after_first_batches)
            assert "\n" not in str(err.value)
            assert "full" in str(err.value)
            committed = lib.status().indexed
            assert 0 < committed < 150
        finally:
            lib.close()
        assert not _leftovers(disk)
        db = sqlite3.connect(disk / "lib" / "catalog.sqlite")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        db.close()
        fillers[0].unlink()
        grow_disk(disk, "8m")  # space freed: the run picks up where the disk filled
        with Library.open(disk / "lib", embedder=shapes_embedder, decode_threads=2) as lib:
            run = lib.index()
            assert run.index.embedded == 150 - committed  # each photo embedded once
            st = lib.status()
            assert (st.photos, st.indexed, st.pending, st.failed) == (150, 150, 0, 0)
            assert len(lib.search("a shape", top=200)) == 150


def test_search_index_that_cannot_be_saved_is_a_warning_not_a_loss(
        tmp_path: Path, shapes_embedder, caplog: pytest.LogCaptureFixture,
        allow_log) -> None:
    allow_log("disk is full")
    photos = tmp_path / "photos"
    draw_photos(photos / "a", 20, seed=71)
    draw_photos(photos / "b", 20, seed=72)
    with small_disk(tmp_path / "disk", "2m") as disk:
        lib = Library.open(disk / "lib", embedder=shapes_embedder, decode_threads=2)
        lib.add_root(photos / "a")
        lib.add_root(photos / "b")
        lib.index()
        vectors = sorted((disk / "lib").glob("vectors-*"))
        saved = {p.name: _digest(p) for p in vectors}
        lib.remove_root(photos / "b")  # the index now has unsaved changes
        filler = fill_disk(disk)
        with caplog.at_level(logging.WARNING, logger="photoclip"):
            lib.close()  # saving the index hits the full disk: said, not raised
        assert any("disk is full" in r.getMessage() and "rebuilt" in r.getMessage()
                   for r in caplog.records)
        assert {p.name: _digest(p) for p in vectors} == saved  # the old files stay whole
        assert not _leftovers(disk)
        filler.unlink()
        with Library.open(disk / "lib", embedder=shapes_embedder, readonly=True) as reader:
            hits = reader.search("a shape", top=100)
        assert len(hits) == 20
        assert all("/a/" in h.photo.path for h in hits)


def test_new_library_on_a_full_disk_leaves_no_half_catalog(tmp_path: Path,
                                                          shapes_embedder) -> None:
    with small_disk(tmp_path / "disk", "256k") as disk:
        (disk / "lib").mkdir()
        filler = fill_disk(disk)
        with pytest.raises(DiskFullError):
            Library.open(disk / "lib", embedder=shapes_embedder)
        assert not (disk / "lib" / "catalog.sqlite").exists()
        filler.unlink()
        grow_disk(disk, "2m")
        with Library.open(disk / "lib", embedder=shapes_embedder) as lib:
            assert lib.status().photos == 0


def test_sidecars_that_cannot_be_written_are_listed_and_the_rest_written(
        library: Library, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    draw_photos(photos / "locked", 6, seed=73)
    draw_photos(photos / "open", 8, seed=74)
    long_names = []
    for i, (path, _) in enumerate(draw_photos(photos / "long", 4, seed=75)):
        # 251 bytes fit; with ".xmp" the sidecar's name would be 255 or more.
        target = path.with_name(f"{i}{'n' * (247 - len(str(i)) + (i % 2) * 4)}.jpg")
        path.rename(target)
        long_names.append(target)
    (photos / "open" / "broken-sidecar.jpg.xmp").write_text("<x:xmpmeta><unclosed>")
    draw_photos(photos / "open", 1, seed=76)[0][0].rename(photos / "open" / "broken-sidecar.jpg")
    library.add_root(photos)
    library.index()
    for photo in library.photos():
        library.add_tag(photo.id, "mine", "keeper")
    with read_only(photos / "locked"):
        report = library.write_xmp()
    failed = dict(report.failed)
    locked = {str(p) for p in (photos / "locked").glob("*.jpg")}
    too_long = {str(p) for p in long_names if len(p.name) + 4 > 255}
    assert locked <= set(failed)
    assert too_long <= set(failed)
    assert str(photos / "open" / "broken-sidecar.jpg") in failed
    assert set(failed) == locked | too_long | {str(photos / "open" / "broken-sidecar.jpg")}
    assert all("read-only" in failed[p] or "permission" in failed[p] for p in locked)
    assert all("too long" in failed[p] for p in too_long)
    assert "not valid XMP" in failed[str(photos / "open" / "broken-sidecar.jpg")]
    assert len(report) == len(report.written) == 19 - len(failed)
    assert all(Path(w).is_file() for w in report.written)
    assert (photos / "open" / "broken-sidecar.jpg.xmp").read_text() == "<x:xmpmeta><unclosed>"
    assert not _leftovers(photos)
    assert not list(photos.rglob(".*.tmp"))

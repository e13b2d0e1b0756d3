"""Moving photos to the real system trash (send2trash) and back, and merging their tags.

On Linux the trash is the XDG one under a temporary HOME and XDG_DATA_HOME: nothing here
touches the real user's trash.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path
from urllib.parse import unquote

import pytest

from photoclip.core import Library, LibraryError
from photoclip.core.trash import TrashedFile, TrashResult, restore
from tests.conftest import draw_photos

pytestmark = pytest.mark.skipif(sys.platform in ("win32", "darwin"),
                                reason="the XDG trash is Linux's and the BSDs'")


def _info_path(info: Path) -> str:
    line = next(ln for ln in info.read_text().splitlines() if ln.startswith("Path="))
    return unquote(line[len("Path="):])


@pytest.fixture
def indexed(library: Library, tmp_path: Path) -> tuple[Library, list[Path]]:
    photos = tmp_path / "photos"
    drawn = [p for p, _ in draw_photos(photos, 6, seed=3)]
    library.add_root(photos)
    library.index()
    return library, drawn


def _id(library: Library, path: Path) -> int:
    photo = library.catalog.photo_by_path(str(path))
    assert photo is not None
    return photo.id


def test_trash_hides_and_restore_brings_back_embedding_and_tags(
        indexed: tuple[Library, list[Path]], home_trash: Path) -> None:
    library, drawn = indexed
    gone = drawn[:2]
    ids = [_id(library, p) for p in gone]
    library.add_tag(ids[0], "mine", "holiday")
    vec_before = library.catalog.embedding(ids[0], library.embedder.signature)
    assert len(library.search("a photo", top=50)) == 6

    result = library.trash_photos(ids)

    assert not result.failed
    assert [f.path for f in result.trashed] == [str(p) for p in gone]
    for item, path in zip(result.trashed, gone, strict=True):
        assert not path.exists()
        assert item.trash_path is not None
        assert item.info_path is not None
        assert Path(item.trash_path).parent == home_trash / "files"
        assert Path(item.trash_path).is_file()
        assert _info_path(Path(item.info_path)) == str(path)
    # Gone from search, browse and status at once.
    assert library.status().photos == 4
    assert {r.photo.id for r in library.search("a photo", top=50)}.isdisjoint(ids)
    assert {p.id for p in library.photos()}.isdisjoint(ids)
    assert library.trash_history()[0].action_id == result.action_id

    back = library.restore_from_trash(result)

    assert not back.failed
    assert [f.path for f in back.restored] == [str(p) for p in gone]
    assert all(p.is_file() for p in gone)
    assert not any((home_trash / "files").iterdir())
    assert not any((home_trash / "info").iterdir())
    assert library.status().photos == 6
    assert {r.photo.id for r in library.search("a photo", top=50)} >= set(ids)
    # The same rows: embedding and tags kept, nothing to embed again.
    assert _id(library, gone[0]) == ids[0]
    assert ("mine", "holiday") in {(t.label_set, t.label) for t in library.tags(ids[0])}
    vec_after = library.catalog.embedding(ids[0], library.embedder.signature)
    assert vec_before is not None
    assert vec_after is not None
    assert (vec_before == vec_after).all()
    assert library.index().index.embedded == 0
    # The history says it was restored; a second restore has nothing to do.
    assert all(f.restored_at is not None for f in library.trash_history()[0].trashed)
    assert library.restore_from_trash(library.trash_history()[0]).restored == []


def test_same_names_failures_and_a_taken_place(indexed: tuple[Library, list[Path]],
                                               home_trash: Path, tmp_path: Path) -> None:
    library, drawn = indexed
    # Two files of one name in different folders: the trash numbers the second.
    twin = tmp_path / "photos" / "sub" / drawn[0].name
    twin.parent.mkdir()
    shutil.copyfile(drawn[1], twin)
    library.index()
    vanished = drawn[2]
    ids = [_id(library, drawn[0]), _id(library, twin), _id(library, vanished), 999_999]
    vanished.unlink()  # deleted by hand since it was indexed

    result = library.trash_photos(ids)

    assert [f.path for f in result.trashed] == [str(drawn[0]), str(twin)]
    names = sorted(Path(f.trash_path or "").name for f in result.trashed)
    stem = drawn[0].stem
    assert names == sorted([drawn[0].name, f"{stem} 1.jpg"])
    assert {f.photo_id: f.reason for f in result.failed} == {
        ids[2]: "file not found", 999_999: "not in the library (already moved or deleted)"}
    # Something new now stands where the first file was: it is never overwritten.
    drawn[0].write_bytes(b"new")
    back = library.restore_from_trash(result)
    assert [f.path for f in back.restored] == [str(twin)]
    assert twin.is_file()
    assert [f.path for f in back.failed] == [str(drawn[0])]
    assert "already there" in back.failed[0].reason
    assert drawn[0].read_bytes() == b"new"
    assert Path(result.trashed[0].trash_path or "").is_file()  # still in the trash


def test_history_survives_reopening(tmp_path: Path, shapes_embedder, home_trash: Path
                                    ) -> None:
    photos = tmp_path / "photos"
    drawn = [p for p, _ in draw_photos(photos, 3, seed=8)]
    with Library.open(tmp_path / "lib", embedder=shapes_embedder) as lib:
        lib.add_root(photos)
        lib.index()
        lib.trash_photos([_id(lib, drawn[0])])
    with Library.open(tmp_path / "lib", embedder=shapes_embedder, readonly=True) as ro:
        with pytest.raises(LibraryError):
            ro.trash_photos([1])
        assert len(ro.trash_history()) == 1
    with Library.open(tmp_path / "lib", embedder=shapes_embedder) as lib:
        (action,) = lib.trash_history()
        assert action.trashed[0].path == str(drawn[0])
        assert [f.path for f in lib.restore_from_trash(action).restored] == [str(drawn[0])]
        assert lib.status().photos == 3


def test_restore_outside_the_xdg_trash_says_so() -> None:
    item = TrashedFile("/photos/a.jpg", 1)  # no location: the platform did not tell
    assert not TrashResult(at=0.0, trashed=[item]).restorable
    with pytest.raises(Exception, match="restore it from the"):
        restore(item)


def test_a_file_on_another_drive_goes_to_that_drives_trash(
        library: Library, home_trash: Path) -> None:
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)
            and os.stat(shm).st_dev != os.stat(home_trash.parent).st_dev):
        pytest.skip("no second writable file system (/dev/shm) here")
    trash_dir = shm / f".Trash-{os.getuid()}"
    existed = trash_dir.exists()
    folder = shm / f"photoclip-test-{uuid.uuid4().hex}"
    try:
        (path, _), = draw_photos(folder, 1, seed=12)
        library.add_root(folder)
        library.index()
        result = library.trash_photos([_id(library, path)])
        (item,) = result.trashed
        assert item.trash_path == str(trash_dir / "files" / path.name)
        # Relative to the drive's top, as the spec asks for per-drive trashes.
        assert _info_path(Path(item.info_path or "")) == str(path.relative_to(shm))
        assert library.restore_from_trash(result).restored == [item]
        assert path.is_file()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if not existed:
            shutil.rmtree(trash_dir, ignore_errors=True)


def test_tags_to_merge_and_merge(indexed: tuple[Library, list[Path]]) -> None:
    library, drawn = indexed
    keep, dup1, dup2 = (_id(library, p) for p in drawn[:3])
    library.add_tag(dup1, "mine", "grandma")
    library.add_tag(dup2, "mine", "birthday")
    library.add_tag(dup2, "mine", "kitchen")
    library.add_tag(keep, "mine", "kitchen")         # the keeper has it already
    library.add_tag(dup1, "mine", "cake")
    library.reject_tag(keep, "mine", "cake")         # the user said no on the keeper
    library.catalog.set_tag(dup1, "mine", "auto-only", "auto", 0.7)

    lacking = library.tags_to_merge([dup1, dup2], keep)
    assert [(t.label, t.source) for t in lacking] == [("birthday", "manual"),
                                                      ("grandma", "manual")]
    with_auto = library.tags_to_merge([dup1, dup2], keep, include_auto=True)
    assert [t.label for t in with_auto if t.label_set == "mine"] == [
        "birthday", "grandma", "auto-only"]
    assert [t.source for t in with_auto[:2]] == ["manual", "manual"]  # the user's first
    assert all(t.source == "auto" for t in with_auto[2:])

    added = library.merge_tags([dup1, dup2], keep)
    assert [t.label for t in added] == ["birthday", "grandma"]
    mine = {(t.label, t.source) for t in library.tags(keep, include_rejected=True)}
    assert {("birthday", "manual"), ("grandma", "manual"), ("kitchen", "manual"),
            ("cake", "rejected")} <= mine
    library.tag()  # auto-tagging never takes merged tags away
    assert {("birthday", "manual"), ("grandma", "manual")} <= {
        (t.label, t.source) for t in library.tags(keep)}
    assert library.tags_to_merge([dup1, dup2], keep) == []

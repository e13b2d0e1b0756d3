"""Indexing and search through the Library facade, with the small trained model."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from photoclip.core import FolderError, Library, LibraryLockedError
from tests.conftest import draw_photos, draw_shapes_library


def assert_same_tags(got: dict, want: dict) -> None:
    """The same tags on the same photos, scores equal to float32 rounding.

    Tagging a batch of 8 and tagging 44 photos at once are matrix products of different
    shapes, which BLAS may sum in a different order: the last bit of a score can differ
    (and with it the order of two tags whose scores tie).
    """
    def by_key(tags: dict) -> dict:
        return {path: {(t.label_set, t.label, t.source): t.score for t in ts}
                for path, ts in tags.items()}

    got_k, want_k = by_key(got), by_key(want)
    assert {p: set(k) for p, k in got_k.items()} == {p: set(k) for p, k in want_k.items()}
    for path, scores in got_k.items():
        assert scores == pytest.approx(want_k[path], abs=1e-6)


def test_index_then_incremental_run_embeds_nothing(library: Library, photo_dir: Path) -> None:
    library.add_root(photo_dir)
    first = library.index()
    assert first.scan.new == 40
    assert first.index.embedded == 40
    assert not first.index.failed
    second = library.index()
    assert second.scan.touched == 0
    assert second.index.embedded == 0
    st = library.status()
    assert (st.photos, st.indexed, st.pending, st.failed, st.missing) == (40, 40, 0, 0, 0)


def test_changed_file_is_reembedded(library: Library, photo_dir: Path) -> None:
    library.add_root(photo_dir)
    library.index()
    target = sorted(photo_dir.glob("*.jpg"))[0]
    before = library.catalog.photo_by_path(str(target))
    assert before is not None
    old_vec = library.catalog.embedding(before.id, library.embedder.signature)
    # Overwrite with a different drawing (new content, maybe same size).
    replacement = draw_photos(photo_dir.parent / "other", 1, seed=99)[0][0]
    shutil.copyfile(replacement, target)
    os.utime(target, (time.time() + 5, time.time() + 5))
    run = library.index()
    assert run.scan.changed == 1
    assert run.index.embedded == 1
    after = library.catalog.photo_by_path(str(target))
    assert after is not None
    assert after.id == before.id
    new_vec = library.catalog.embedding(after.id, library.embedder.signature)
    assert new_vec is not None
    assert old_vec is not None
    assert not np.allclose(new_vec, old_vec)


def test_moved_file_keeps_its_embedding_and_row(library: Library, photo_dir: Path) -> None:
    library.add_root(photo_dir)
    library.index()
    src = sorted(photo_dir.glob("*.jpg"))[0]
    photo = library.catalog.photo_by_path(str(src))
    assert photo is not None
    vec = library.catalog.embedding(photo.id, library.embedder.signature)
    with library.catalog.transaction() as db:
        db.execute("INSERT INTO tags(photo_id, label_set, label, score, source) "
                   "VALUES(?, 'mine', 'keeper', 1.0, 'manual')", (photo.id,))
    dest = photo_dir / "trip" / "renamed.jpg"
    src.rename(dest)
    run = library.index()
    assert run.scan.moved == 1
    assert run.scan.new == 0
    assert run.scan.missing == 0
    assert run.index.embedded == 0  # nothing re-embedded
    moved = library.catalog.photo_by_path(str(dest))
    assert moved is not None
    assert moved.id == photo.id
    np.testing.assert_array_equal(library.catalog.embedding(moved.id,
                                                            library.embedder.signature), vec)
    tags = {(t.label_set, t.label, t.source) for t in library.tags(photo.id)}
    assert ("mine", "keeper", "manual") in tags
    # And search finds it at its new path.
    hits = library.similar(dest, top=40)
    assert str(dest) not in [h.photo.path for h in hits]  # itself excluded
    assert library.catalog.photo_by_path(str(src)) is None


def test_deleted_file_is_missing_and_not_found(library: Library, photo_dir: Path) -> None:
    library.add_root(photo_dir)
    library.index()
    victim = sorted(photo_dir.glob("*.jpg"))[0]
    victim.unlink()
    run = library.index()
    assert run.scan.missing == 1
    assert library.status().missing == 1
    hits = library.search("a photo", top=100)
    assert str(victim) not in [h.photo.path for h in hits]
    assert len(hits) == 39
    # A list held on screen asks which of its photos are still there to show.
    victim_id = next(p.id for p in library.catalog.list_photos(visible_only=False)
                     if p.path == str(victim))
    kept = {h.photo.id for h in hits[:5]}
    assert library.visible_photo_ids(kept | {victim_id, 10**9}) == kept


def test_corrupt_photos_are_recorded_and_skipped(library: Library, photo_dir: Path) -> None:
    (photo_dir / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (photo_dir / "notes.png").write_text("hello")
    library.add_root(photo_dir)
    run = library.index()
    assert run.index.embedded == 40
    reasons = dict(run.index.failed)
    assert set(reasons) == {str(photo_dir / "broken.jpg"), str(photo_dir / "notes.png")}
    assert all(reasons.values())
    failed = {p.path: p.error for p in library.failed()}
    assert failed.keys() == reasons.keys()
    # Failures are not retried until the file changes.
    assert library.index().index.embedded == 0


def test_red_circle_query_finds_red_circles_first(library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "shapes"
    drawn = draw_shapes_library(folder, 60, seed=7)
    library.add_root(folder)
    library.index()
    truth = {str(p): (d.colour, d.shape) for p, d in drawn}
    n_red_circles = sum(1 for v in truth.values() if v == ("red", "circle"))
    assert n_red_circles >= 2
    hits = library.search("a red circle", top=n_red_circles)
    assert [truth[h.photo.path] for h in hits] == [("red", "circle")] * n_red_circles
    assert hits[0].score >= hits[-1].score


def test_similar_from_outside_the_library(library: Library, photo_dir: Path,
                                          tmp_path: Path) -> None:
    library.add_root(photo_dir)
    library.index()
    outside = draw_photos(tmp_path / "outside", 1, seed=31)[0]
    path, drawing = outside
    hits = library.similar(path, top=3)
    assert len(hits) == 3
    best = hits[0].photo.path
    assert f"{drawing.colour}-" in Path(best).name or drawing.shape in Path(best).name


def test_filters_by_folder_and_date(library: Library, photo_dir: Path) -> None:
    library.add_root(photo_dir)
    library.index()
    trip = str(photo_dir / "trip")
    hits = library.search("a shape", top=100, folder=trip)
    assert len(hits) == 16
    assert all(h.photo.path.startswith(trip + os.sep) for h in hits)
    assert library.search("a shape", top=100, date_from=time.time() + 3600) == []
    assert len(library.search("a shape", top=100, date_to=time.time() + 3600)) == 40


def test_offline_root_keeps_rows_and_returns_without_reembedding(library: Library,
                                                                 photo_dir: Path) -> None:
    library.add_root(photo_dir)
    library.index()
    parked = photo_dir.parent / "unplugged"
    photo_dir.rename(parked)  # the drive goes away
    run = library.index()
    assert run.scan.offline_roots == [str(photo_dir)]
    st = library.status()
    assert st.roots[0].online is False
    assert st.missing == 0
    assert st.photos == 40
    assert library.search("a shape", top=10) == []
    parked.rename(photo_dir)  # and comes back
    run = library.index()
    assert run.index.embedded == 0
    assert run.scan.touched == 0
    assert library.status().roots[0].online is True
    assert len(library.search("a shape", top=100)) == 40


def test_empty_mount_point_is_offline_not_deleted(library: Library, photo_dir: Path) -> None:
    library.add_root(photo_dir)
    library.index()
    shutil.rmtree(photo_dir)
    photo_dir.mkdir()  # the mount point stays, empty
    run = library.index()
    assert run.scan.offline_roots == [str(photo_dir)]
    assert library.status().missing == 0


def test_cancel_stops_between_batches_and_keeps_work(library: Library, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    draw_photos(folder, 120, seed=3)
    library.add_root(folder)
    library.indexer.batch_size = 16
    cancel = threading.Event()
    seen: list[int] = []

    def progress(p) -> None:
        if p.phase == "embed":
            seen.append(p.done)
            if p.done >= 32:
                cancel.set()

    run = library.index(progress=progress, cancel=cancel)
    assert run.index.cancelled
    assert 32 <= run.index.embedded < 120
    assert library.status().indexed == run.index.embedded
    rest = library.index()
    assert rest.index.embedded == 120 - run.index.embedded


def test_one_writer_per_library(library: Library) -> None:
    with pytest.raises(LibraryLockedError, match="another photoclip process"):
        Library.open(library.folder)
    reader = Library.open(library.folder, readonly=True, embedder=library.embedder)
    reader.close()


def test_bad_folders_are_folder_errors(library: Library, tmp_path: Path) -> None:
    with pytest.raises(FolderError, match="not found"):
        library.add_root(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(FolderError, match="not a folder"):
        library.add_root(tmp_path / "file.txt")
    with pytest.raises(FolderError, match="not a library folder"):
        library.remove_root(tmp_path)


def test_remove_root_forgets_its_photos(library: Library, photo_dir: Path) -> None:
    library.add_root(photo_dir)
    library.index()
    assert library.remove_root(photo_dir) == 40
    assert library.status().photos == 0
    assert library.search("a shape") == []
    assert any(photo_dir.iterdir())  # files untouched


def test_a_removed_folder_can_be_undone_until_close_and_keeps_user_tags_after(
        library: Library, photo_dir: Path) -> None:
    library.add_root(photo_dir)
    library.index()
    photo = library.catalog.photo_by_path(str(sorted(photo_dir.glob("*.jpg"))[0]))
    library.add_tag(photo.id, "mine", "keeper")
    library.reject_tag(photo.id, "mine", "boring")
    assert library.remove_root(photo_dir, undoable=True) == 40
    assert library.status().photos == 0
    assert library.search("a shape") == []
    assert library.tag_counts() == {}
    library.restore_root(str(photo_dir))
    st = library.status()
    assert (st.photos, st.indexed) == (40, 40)       # back at once, nothing re-embedded
    assert len(library.search("a shape", top=100)) == 40
    # Removed for good: the user's own decisions wait for the photos to come back.
    library.remove_root(photo_dir)
    assert library.catalog.photo_by_path(photo.path) is None
    library.add_root(photo_dir)
    library.index()
    back = library.catalog.photo_by_path(photo.path)   # a new row for the same content
    assert back is not None
    assert {(t.label, t.source) for t in library.tags(back.id, include_rejected=True)
            if t.label_set == "mine"} == {("keeper", "manual"), ("boring", "rejected")}


def test_hidden_folders_are_purged_when_the_library_closes(tmp_path: Path, shapes_embedder,
                                                          photo_dir: Path) -> None:
    with Library.open(tmp_path / "lib", embedder=shapes_embedder) as lib:
        lib.add_root(photo_dir)
        lib.index()
        lib.remove_root(photo_dir, undoable=True)
    with Library.open(tmp_path / "lib", embedder=shapes_embedder) as lib:
        assert lib.catalog.removed_roots() == []
        with pytest.raises(FolderError, match="add it again"):
            lib.restore_root(str(photo_dir))
        assert lib.catalog.list_photos(visible_only=False) == []


def test_a_drive_seen_coming_back_is_online_before_any_scan(library: Library,
                                                           photo_dir: Path) -> None:
    library.add_root(photo_dir)
    library.index()
    events: list = []
    library.add_listener(events.append)
    parked = photo_dir.parent / "parked"
    photo_dir.rename(parked)
    assert library.check_roots() is True
    assert library.roots()[0].online is False
    assert library.check_roots() is False   # nothing changed since
    parked.rename(photo_dir)
    assert library.check_roots() is True
    assert library.roots()[0].online is True
    from photoclip.core.events import RootsChanged

    assert sum(isinstance(e, RootsChanged) for e in events) == 2


def test_search_is_cut_where_relevance_ends(library: Library, tmp_path: Path) -> None:
    drawn = draw_shapes_library(tmp_path / "shapes", 120, seed=9)
    library.add_root(tmp_path / "shapes")
    library.index()
    truth = {str(p): (d.colour, d.shape) for p, d in drawn}
    red_circles = {p for p, v in truth.items() if v == ("red", "circle")}
    found = library.search_matches("a red circle")
    assert found.clear
    assert {r.photo.path for r in found.results} == red_circles
    stars = library.search_matches("a star")
    assert stars.clear
    assert {r.photo.path for r in stars.results} == {p for p, v in truth.items()
                                                       if v[1] == "star"}
    # Nonsense, and things no drawing shows: a few closest photos at most, and it says
    # there was no clear match.
    for nonsense in ("xyzzy", "qwpoeiru blorf zz", "an invoice from the tax office",
                     "a dog", "a beach at sunset", "a photo of a cat"):
        got = library.search_matches(nonsense)
        assert not got.clear, nonsense
        assert len(got.results) <= len(truth) // 12, (nonsense, len(got.results))
    # "Show weaker matches" goes further, by as many photos as it promised; --top N stays
    # exact.
    for query in ("a red circle", "a star", "xyzzy", "a dog"):
        cut = library.search_matches(query)
        more = library.search_matches(query, weaker=True)
        assert len(more.results) == len(cut.results) + cut.weaker, query
        assert more.weaker == 0
    assert len(library.search_matches("a red circle", weaker=True).results) > len(red_circles)
    assert len(library.search("a red circle", top=50)) == 50
    assert {r.photo.path for r in library.search("a red circle", top=None)} == red_circles


def test_first_batches_are_searchable_before_prompts_are_embedded(
        tmp_path: Path, shapes_spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no cached prompt embeddings, tagging waits past the first batches, then catches
    up: every photo ends up tagged as if the prompts had been there from the start."""
    from photoclip.core import library as library_module
    from photoclip.core.embedder import Embedder
    from photoclip.core.events import PhotosChanged, TagsChanged

    monkeypatch.setenv("PHOTOCLIP_CACHE_DIR", str(tmp_path / "cache"))
    # fp32 throughout: on a CPU with bf16 units the two runs would embed different photos
    # in bf16 (the precision check runs on the first library's photos only), and tags near
    # a threshold would differ for that reason, not for the deferral tested here.
    monkeypatch.setenv("PHOTOCLIP_CPU_CLASS", "basic")
    shapes_embedder = Embedder(shapes_spec)
    shapes_embedder.load()
    draw_shapes_library(tmp_path / "photos", 44, seed=11)
    events: list[str] = []
    with Library.open(tmp_path / "a", embedder=shapes_embedder, batch_size=8,
                      decode_threads=2) as lib:
        lib.add_listener(lambda e: events.append(
            "photos" if isinstance(e, PhotosChanged) else
            "tags" if isinstance(e, TagsChanged) else "other"))
        lib.add_root(tmp_path / "photos")
        assert lib._scorer.missing(lib.label_sets())   # nothing cached anywhere yet
        lib.index()
        first_tags = events.index("tags")
        assert events[:first_tags].count("photos") >= library_module.DEFER_TAGGING_BATCHES + 1
        deferred = lib.all_tags()
        assert lib.catalog.get_meta(library_module.TAGS_PENDING) == "0"
    # A second library of the same model finds every prompt in the user cache...
    with Library.open(tmp_path / "b", embedder=shapes_embedder, batch_size=8,
                      decode_threads=2) as lib:
        assert lib._scorer.missing(lib.label_sets()) == []
        lib.add_root(tmp_path / "photos")
        lib.index()
        # ...and tags each batch as it is committed, to the same result.
        assert_same_tags(lib.all_tags(), deferred)


def test_tags_left_pending_by_a_crash_are_caught_up(library: Library, photo_dir: Path) -> None:
    from photoclip.core.library import TAGS_PENDING

    library.add_root(photo_dir)
    library.index()
    before = library.all_tags()
    assert before
    library.catalog.replace_auto_tags("scenes", [], labels=library.label_set("scenes").labels)
    library.catalog.set_meta(TAGS_PENDING, "1")   # as a run killed mid-deferral leaves it
    library.index()
    assert library.catalog.get_meta(TAGS_PENDING) == "0"
    assert_same_tags(library.all_tags(), before)
# -- issue 13: what real libraries hold --------------------------------------------------


def test_a_model_that_does_not_load_is_not_remembered(library: Library, photo_dir: Path,
                                                      tmp_path: Path) -> None:
    from photoclip.core import ModelUnavailableError
    from photoclip.core.embedder import Embedder

    library.add_root(photo_dir)
    library.index()
    good = library.catalog.get_meta("model")
    assert good == library.model_spec
    library.set_model(Embedder(f"local-dir:{tmp_path / 'no-such-model'}"))
    draw_photos(photo_dir / "new", 2, seed=80)  # something to embed, so it must load
    with pytest.raises(ModelUnavailableError):
        library.index()
    assert library.catalog.get_meta("model") == good
    folder, embedder = library.folder, good
    library.close()
    with Library.open(folder, readonly=True) as reader:  # the remembered model still works
        assert reader.model_spec == embedder
        assert len(reader.search("a shape", top=3)) == 3


@pytest.mark.parametrize("leftover", ["lost+found", ".DS_Store", "@eaDir", "empty-folder"])
def test_a_root_with_no_photos_left_is_offline_not_emptied(library: Library, photo_dir: Path,
                                                           leftover: str) -> None:
    library.add_root(photo_dir)
    library.index()
    shutil.rmtree(photo_dir)
    photo_dir.mkdir()  # a mount point with only what a file system or an OS leaves there
    if leftover.startswith("."):
        (photo_dir / leftover).write_bytes(b"\0\0\0\1Bud1")
    else:
        (photo_dir / leftover).mkdir()
        if leftover == "empty-folder":
            (photo_dir / leftover / "notes.txt").write_text("not a photo")
    run = library.index()
    assert run.scan.offline_roots == [str(photo_dir)]
    st = library.status()
    assert (st.photos, st.missing, st.roots[0].online) == (40, 0, False)


def test_system_folders_are_skipped_and_configurable(library: Library, tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    draw_photos(photos, 3, seed=81)
    system = ["@eaDir/IMG_1.JPG", ".thumbnails/normal", ".Trash-1000/files",
              "$RECYCLE.BIN/S-1-5", ".AppleDouble", "Catalog Previews.lrdata/0/01",
              "#recycle", "lost+found"]
    for sub in system:
        draw_photos(photos / sub, 1, seed=82)
    draw_photos(photos / "Exports", 2, seed=83)
    library.add_root(photos)
    run = library.index()
    assert run.scan.new == 5
    assert all("Exports" in p.path or p.path.count(os.sep) == str(photos).count(os.sep) + 1
               for p in library.photos())
    # A file event inside a skipped folder (the watcher's path) is ignored too.
    inside = next((photos / "@eaDir").rglob("*.jpg"))
    assert library.apply_changes(files=[str(inside)]).scan.new == 0
    # Configurable: skip the exports too; bring Lightroom's previews back.
    patterns = library.skip_folders()
    patterns.remove("*.lrdata")
    library.set_skip_folders([*patterns, "Exports"])
    run = library.index()
    assert (run.scan.new, run.scan.missing) == (1, 2)
    library.set_skip_folders(None)
    assert "*.lrdata" in library.skip_folders()


def test_failed_photos_are_retried_when_decoders_change(library: Library,
                                                        photo_dir: Path) -> None:
    from photoclip.core.images import decoders

    (photo_dir / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    library.add_root(photo_dir)
    first = library.index()
    assert len(first.index.failed) == 1
    assert library.index().retried == 0  # same decoders: not tried again
    with library.catalog.transaction() as db:  # as recorded by an older install
        db.execute("UPDATE photos SET decoder = 'pillow 9.0' WHERE state = 'failed'")
    again = library.index()
    assert again.retried == 1
    assert len(again.index.failed) == 1
    stored = library.catalog._query("SELECT decoder FROM photos WHERE state = 'failed'")
    assert stored == [(decoders(),)]
    assert library.index(retry_failed=True).retried == 1


def test_a_folder_that_cannot_be_listed_mid_scan_loses_nothing(
        library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, allow_log) -> None:
    """A subfolder unreadable for one scan (a permission, an I/O error) or a drive that goes
    away while it is walked: what could not be listed is unknown, never gone."""
    allow_log("cannot list")
    photos = tmp_path / "photos"
    draw_photos(photos / "a", 3, seed=90)
    draw_photos(photos / "b", 4, seed=91)
    library.add_root(photos)
    library.index()
    real_scandir = os.scandir
    refused: set[str] = set()

    def scandir(path):  # type: ignore[no-untyped-def]
        if os.fspath(path) in refused:
            error = FileNotFoundError if os.fspath(path) == str(photos) else PermissionError
            raise error(13, "refused for this test", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    refused.add(str(photos / "b"))
    run = library.index()
    assert run.scan.missing == 0
    assert library.status().photos == 7
    # The whole drive vanishing mid-walk (its top folder fails to list): offline.
    refused.add(str(photos))
    run = library.index()
    assert run.scan.offline_roots == [str(photos)]
    st = library.status()
    assert (st.photos, st.missing) == (7, 0)
    # Readable again, and b really emptied: now its photos are gone.
    refused.clear()
    for p in (photos / "b").iterdir():
        p.unlink()
    run = library.index()
    assert run.scan.missing == 4
    assert library.status().photos == 3


def test_the_library_folder_itself_is_not_a_photo_folder(library: Library) -> None:
    for folder in (library.folder, library.folder / "labelsets"):
        with pytest.raises(FolderError, match="photoclip's own library folder"):
            library.add_root(folder)
    assert library.catalog.roots() == []

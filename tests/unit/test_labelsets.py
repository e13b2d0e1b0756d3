"""Label-set files: hand edits re-tag the whole set, comments survive saving, parts compose."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from photoclip.core import Library
from photoclip.core.catalog import Catalog
from photoclip.core.labelsets import LabelSetStore
from photoclip.core.tagging import parse_label_set
from photoclip.core.watcher import FolderWatcher
from tests.conftest import draw_shapes_library

SHAPES_SET = Path(__file__).resolve().parents[1] / "data" / "shapes.toml"


@pytest.fixture
def tagged(library: Library, tmp_path: Path):
    drawn = draw_shapes_library(tmp_path / "shapes", 40, seed=3)
    library.add_root(tmp_path / "shapes")
    shutil.copyfile(SHAPES_SET, library.labelsets_dir / "shapes.toml")
    library.index()
    return library, {str(p): d.shape for p, d in drawn}


def _labelled(library: Library, label: str) -> set[str]:
    return {path for path, tags in library.all_tags("shapes").items()
            if any(t.label == label for t in tags)}


def test_the_first_index_tags_each_photo_once(library: Library, tmp_path: Path) -> None:
    # A new library's sets are not "edited": the per-batch tagging covers every photo, and
    # the run must not end by tagging the whole library again and saying it did.
    drawn = draw_shapes_library(tmp_path / "shapes", 12, seed=5)
    library.add_root(tmp_path / "shapes")
    shutil.copyfile(SHAPES_SET, library.labelsets_dir / "shapes.toml")
    run = library.index()
    assert run.index.embedded == len(drawn)
    assert run.retagged == []
    assert set(library.all_tags("shapes")) == {str(p) for p, _ in drawn}
    assert library.index().retagged == []


def test_a_hand_edit_retags_the_whole_set_at_the_next_index(tagged) -> None:
    library, _truth = tagged
    stars = _labelled(library, "star")
    assert len(stars) >= 5
    path = library.labelsets_dir / "shapes.toml"
    path.write_text(path.read_text().replace('"star"', '"star shape"'))
    run = library.index()   # nothing new to embed: only the edit to apply
    assert run.index.embedded == 0
    assert run.retagged == ["shapes"]
    assert _labelled(library, "star") == set()
    # Every photo that was a star is a "star shape" now, not only new ones.
    assert _labelled(library, "star shape") == stars
    assert library.index().retagged == []   # applied once


def test_manual_tags_survive_a_retag_from_a_hand_edit(tagged) -> None:
    library, truth = tagged
    path = next(iter(truth))
    photo = library.catalog.photo_by_path(path)
    library.add_tag(photo.id, "shapes", "triangle")
    file = library.labelsets_dir / "shapes.toml"
    file.write_text(file.read_text().replace("threshold = 0.2", "threshold = 0.9"))
    library.index()
    assert ("shapes", "triangle", "manual") in {(t.label_set, t.label, t.source)
                                                 for t in library.tags(photo.id)}


def test_watch_retags_after_a_hand_edit_within_seconds(tagged) -> None:
    library, _truth = tagged
    stars = _labelled(library, "star")
    caught_up, done = threading.Event(), threading.Event()
    watcher = FolderWatcher(library, debounce=0.2, settle=0.3)
    apply = watcher.apply

    def applying(change, cancel):  # type: ignore[no-untyped-def]
        result = apply(change, cancel)
        if change.reconcile:
            caught_up.set()
        if change.label_sets:
            done.set()
        return result

    watcher.apply = applying  # type: ignore[method-assign]
    watcher.start()
    try:
        # The set folder is watched from the watcher's thread, just before its start-up
        # catch-up. An edit made before that is applied by the catch-up (not by the watch
        # this test is about), so the edit waits until the catch-up has run.
        assert caught_up.wait(30), "the watcher never caught up at start"
        path = library.labelsets_dir / "shapes.toml"
        path.write_text(path.read_text().replace('"star"', '"star shape"'))
        assert done.wait(10), "no re-tag within 10 s of the edit"
    finally:
        watcher.stop()
    assert _labelled(library, "star shape") == stars


def test_saving_from_the_editor_keeps_the_users_comments(tagged) -> None:
    library, _truth = tagged
    path = library.labelsets_dir / "shapes.toml"
    path.write_text("# my shapes, hand-made\n" + path.read_text().replace(
        "threshold = 0.2", "threshold = 0.2  # tuned on my photos"))
    edited = library.label_set("shapes")
    from dataclasses import replace

    library.save_label_set(replace(edited, labels=(*edited.labels, "heart"), source=""))
    text = path.read_text()
    assert text.startswith("# my shapes, hand-made\n")
    assert "# tuned on my photos" in text
    assert parse_label_set(text).labels[-1] == "heart"


def test_a_failed_retag_is_retried_next_time(tagged, monkeypatch: pytest.MonkeyPatch) -> None:
    library, _truth = tagged
    path = library.labelsets_dir / "shapes.toml"
    path.write_text(path.read_text().replace('"star"', '"star shape"'))
    real = library.tag

    def dies(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("killed mid-retag")

    monkeypatch.setattr(library, "tag", dies)
    with pytest.raises(RuntimeError):
        library.retag_changed_label_sets()
    monkeypatch.setattr(library, "tag", real)
    assert library.retag_changed_label_sets() == ["shapes"]


def test_files_are_read_again_only_when_they_change(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    try:
        folder = tmp_path / "labelsets"
        folder.mkdir()
        shutil.copyfile(SHAPES_SET, folder / "shapes.toml")
        store = LabelSetStore(folder, catalog)
        reads: list[Path] = []
        import photoclip.core.labelsets as module

        real = module.read_label_set
        monkeypatch.setattr(module, "read_label_set", lambda p: reads.append(p) or real(p))
        assert [ls.name for ls in store.all()] == ["shapes"]
        assert not store.dirty()
        store.all()
        store.all()
        assert len(reads) == 1
        (folder / "shapes.toml").write_text(SHAPES_SET.read_text() + "\n# touched\n")
        assert store.dirty()
        store.all()
        assert len(reads) == 2
    finally:
        catalog.close()


def test_a_library_assembles_from_parts(tmp_path: Path, shapes_embedder) -> None:
    folder = tmp_path / "lib"
    folder.mkdir()
    catalog = Catalog(folder / "catalog.sqlite")
    store = LabelSetStore(tmp_path / "elsewhere", catalog)
    lib = Library(folder, catalog, shapes_embedder, label_sets=store)
    try:
        assert lib.labelsets is store
        assert lib.label_sets() == []
        assert lib.status().photos == 0
    finally:
        lib.close()

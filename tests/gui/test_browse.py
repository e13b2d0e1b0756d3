"""Browsing like a photo app: selection and bulk actions, the timeline, relevance, the
viewer, duplicates review. The real window, offscreen, with the Library guard on."""

from __future__ import annotations

import os
import random
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QItemSelectionModel, QPoint, Qt
from PySide6.QtWidgets import QApplication, QLabel

from photoclip.gui.controller import View
from photoclip.gui.jobs import JobState
from photoclip.gui.names import counted
from photoclip.gui.panels import RootStatusRole
from photoclip.gui.timeline import Section
from tests.conftest import draw, draw_photos, draw_shapes_library
from tests.gui.test_main_window import (
    _answer_next_dialog,
    _idle,
    _index_by_drop,
    _model_ready,
    _search,
    _status,
    _watched_drive,
)

pytestmark = pytest.mark.slow


def _dated_photos(folder: Path, dates: list[datetime | None]) -> list[Path]:
    """Drawn photos with these EXIF capture dates (None: no EXIF date at all)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(5)
    out = []
    for i, when in enumerate(dates):
        img = draw("circle", "red", "blue", rng, (160, 120))
        exif = Image.Exif()
        if when is not None:
            exif.get_ifd(0x8769)[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")
        path = folder / f"dated-{i}.jpg"
        img.save(path, exif=exif, quality=90)
        out.append(path)
    return out


def _select_rows(window, rows: list[int]) -> None:
    sel = window.grid.selectionModel()
    sel.clearSelection()
    for row in rows:
        sel.select(window.model.index(row), QItemSelectionModel.SelectionFlag.Select)
    sel.setCurrentIndex(window.model.index(rows[0]), QItemSelectionModel.SelectionFlag.NoUpdate)


def test_timeline_groups_by_capture_date_with_headers(qtbot, window, tmp_path: Path) -> None:
    dates = [datetime(2023, 7, 14, 10), datetime(2023, 7, 2, 9), datetime(2023, 7, 2, 18),
             datetime(2021, 12, 24, 20), datetime(2019, 3, 1, 8)]
    _dated_photos(tmp_path / "dated", [*dates, None])
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "dated", expect=6)
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.set_view(View(group="month"))
    titles = [(s.title, s.count) for s in window.grid.sections]
    # The photo without EXIF is placed by its file time: today, first (newest first).
    assert titles[1:] == [("July 2023", 3), ("December 2021", 1), ("March 2019", 1)]
    assert window.grid.sections[0].file_dated == 1
    assert window.grid.sections[0].header.endswith("1 photo by file date (no date taken)")
    some = Section("2021-03", "March 2021", 0, 120, 29, 2021)
    assert some.header == "March 2021  ·  120 photos, 29 with no date taken (placed by file date)"
    assert [window.years.item(i).text() for i in range(window.years.count())] == [
        str(datetime.now().year), "2023", "2021", "2019"]
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.group_box.setCurrentIndex(window.group_box.findData("day"))
        window.group_box.activated.emit(window.group_box.currentIndex())
    assert [s.title for s in window.grid.sections][1:3] == ["Friday, 14 July 2023",
                                                            "Sunday, 02 July 2023"]
    # Geometry is consistent: the cell drawn for a row is where a click finds that row.
    for row in range(window.model.rowCount()):
        rect = window.grid.visualRect(window.model.index(row))
        assert window.grid.indexAt(rect.center()).row() == row
    # Headers take no clicks; the down arrow walks across them.
    assert not window.grid.indexAt(QPoint(20, 12)).isValid()
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.keyClick(window.grid, Qt.Key.Key_Down)
    assert window.grid.currentIndex().row() == 1
    # A date range narrows what is shown; its chip takes it off.
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.set_view(View(date_from=datetime(2021, 1, 1).timestamp(),
                             date_to=datetime(2024, 1, 1).timestamp()))
    assert window.model.rowCount() == 4
    assert window.date_chip.isVisible()
    assert window.results_title.text() == (
        "All photos, newest first, taken 2021-01-01 – 2023-12-31 — 4 photos")
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.date_chip.click()
    assert window.model.rowCount() == 6
    assert window.results_title.text() == "All photos, newest first — 6 photos"


def test_selection_and_bulk_tagging_with_undo(qtbot, window, tmp_path: Path) -> None:
    # Two portrait photos of eight keep the cells square; the six landscape ones, written
    # last, are the newest and come first.
    draw_photos(tmp_path / "p", 2, seed=60, size=(120, 160))
    draw_photos(tmp_path / "p", 6, seed=61)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "p", expect=8)
    qtbot.waitUntil(lambda: window.model.rowCount() == 8, timeout=10000)
    grid = window.grid
    assert grid._layout.box_h == grid._layout.box
    # The first photos of an empty grid come with the first one picked, as in any view.
    assert window.grid.currentIndex().row() == 0
    assert window.details.similar_btn.isVisibleTo(window.details)
    assert window.details.info.isVisibleTo(window.details)
    qtbot.waitUntil(lambda: all(window.model.thumbnails.get(p, grid._layout.box) is not None
                                for p in window.model.paths()[:2]), timeout=10000)
    grid.viewport().update()
    qtbot.wait(50)
    shot = grid.viewport().grab().toImage()
    chosen, other = grid.visualRect(window.model.index(0)), grid.visualRect(
        window.model.index(1))
    # A line of landscape photos in square cells starts at the top, its captions right
    # under the photos (it stood under an empty band); the selection hugs photo and
    # caption, and below them the cell looks as an unselected one does.
    photo_h = round(grid._layout.box * 120 / 160)
    caption_y = chosen.top() + 4 + photo_h + 4
    assert shot.pixelColor(chosen.left() + 2, caption_y) != \
        shot.pixelColor(other.left() + 2, caption_y)       # the caption's part is picked
    assert shot.pixelColor(chosen.center().x(), chosen.bottom() - 2) == \
        shot.pixelColor(other.center().x(), other.bottom() - 2)
    assert shot.pixelColor(other.center().x(), other.top() + 6) != \
        shot.pixelColor(other.center().x(), other.bottom() - 2)   # the photo is at the top
    # Ctrl+A selects what is shown; a click with Ctrl adds to a selection.
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(window.selected_ids()) == 8
    window.grid.clearSelection()
    rect = window.grid.visualRect(window.model.index(0))
    qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    for row in (2, 5):
        rect = window.grid.visualRect(window.model.index(row))
        qtbot.mouseClick(window.grid.viewport(), Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.ControlModifier, rect.center())
    ids = window.selected_ids()
    assert len(ids) == 3
    assert "3 photos selected" in window.details.info.text()
    window.controller.edit_tags(ids, "my tags", "holiday", "confirm")
    qtbot.waitUntil(lambda: window.undo_stack.count() == 1, timeout=5000)
    assert "on 3 photos" in window.undo_action.text()
    qtbot.waitUntil(lambda: _tagged(window, "holiday") == 3, timeout=10000)
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: _tagged(window, "holiday") == 0, timeout=10000)
    # Confirming automatic tags makes them the user's own, undoably.
    window.controller.confirm_tags(ids)
    qtbot.waitUntil(lambda: "Confirm the tags of 3 photos" in window.undo_action.text(),
                    timeout=5000)


def _tagged(window, label: str) -> int:
    return next((n for (s, lb), n in _counts(window).items() if lb == label), 0)


def _counts(window) -> dict:
    from photoclip.core import Library
    from tests.conftest import SHAPES_SPEC

    with Library.open(window.controller.library_folder, readonly=True,
                      model=SHAPES_SPEC) as lib:
        return lib.tag_counts()


def test_similar_to_a_selection_and_copy_paths(qtbot, window, tmp_path: Path) -> None:
    draw_photos(tmp_path / "p", 12, seed=62)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "p", expect=12)
    qtbot.waitUntil(lambda: window.model.rowCount() == 12, timeout=10000)
    # Landscape photos alone get cells of their shape (4:3), not squares with an empty band
    # above every row.
    lay = window.grid._layout
    assert lay.box_h == round(lay.box * 0.75)
    assert lay.cell_h < lay.cell_w
    _select_rows(window, [0, 1])
    chosen = set(window.selected_ids())
    window.copy_paths()
    from PySide6.QtGui import QGuiApplication

    assert len(QGuiApplication.clipboard().text().splitlines()) == 2
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.find_similar_to_selection()
    assert "the 2 selected" in window.results_title.text()
    assert window.model.rowCount() == 10
    assert not chosen & {window.model.photo(r).id for r in range(10)}


def _like_the_first(qtbot, window, folder: Path, seed: int) -> str:  # type: ignore[no-untyped-def]
    """12 drawings indexed, and the window showing the photos like the first of them (a
    best-first list); returns that photo's path."""
    draw_photos(folder, 12, seed=seed)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, folder, expect=12)
    qtbot.waitUntil(lambda: window.model.rowCount() == 12, timeout=10000)
    _select_rows(window, [0])
    source = window.model.photo(0).path
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.find_similar_to_selection()
    return source


def _ids(window) -> list[int]:  # type: ignore[no-untyped-def]
    return [p.id for p, _s in window.model.rows()]


def test_a_best_first_list_holds_still_while_photos_are_indexed(qtbot, window,
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "p"
    _like_the_first(qtbot, window, folder, seed=66)
    before = _ids(window)
    assert len(before) == 11
    assert not window.newer_btn.isVisible()
    # Photos indexed meanwhile wait behind a button; what is on screen keeps its order.
    draw_photos(folder, 6, seed=67)
    window.controller.index_now("Indexing")
    qtbot.waitUntil(window.newer_btn.isVisible, timeout=60000)
    _idle(qtbot, window)
    qtbot.waitUntil(lambda: window.newer_btn.text() == "Show 6 new matches", timeout=10000)
    assert _ids(window) == before
    # A photo that went goes at once, and the rest stay where they were.
    gone = window.model.photo(3)
    os.remove(gone.path)
    window.controller.index_now("Indexing")
    qtbot.waitUntil(lambda: window.model.rowCount() == 10, timeout=60000)
    assert _ids(window) == [i for i in before if i != gone.id]
    assert window.results_title.text().endswith("10 photos")
    assert window.newer_btn.text() == "Show 6 new matches"
    # The button shows all of them, best first again.
    window.newer_btn.click()
    assert window.model.rowCount() == 16
    assert not window.newer_btn.isVisible()
    scores = [window.model.index(r).data(Qt.ItemDataRole.UserRole + 3)
              for r in range(16)]
    assert scores == sorted(scores, reverse=True)
    # A new view starts with nothing held.
    window.show_all()
    qtbot.waitUntil(lambda: window.model.rowCount() == 17, timeout=20000)
    assert not window.newer_btn.isVisible()


def test_a_held_list_at_its_limit_keeps_what_newcomers_pushed_out(
        qtbot, window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from photoclip.gui import controller

    monkeypatch.setattr(controller, "SIMILAR_TOP", 8)
    folder = tmp_path / "p"
    source = _like_the_first(qtbot, window, folder, seed=68)
    before = _ids(window)
    assert len(before) == 8
    assert window.results_title.text().endswith("the 8 closest")
    # Three new copies of the photo itself are its closest: they push three photos off
    # the end of the list, which stay on screen until the newcomers are shown.
    for quality in (60, 70, 80):
        Image.open(source).save(folder / f"copy-{quality}.jpg", quality=quality)
    window.controller.index_now("Indexing")
    qtbot.waitUntil(lambda: window.newer_btn.text() == "Show 3 new matches", timeout=60000)
    _idle(qtbot, window)
    assert _ids(window) == before
    # The best of them deleted goes at once: it was not pushed out.
    os.remove(window.model.photo(0).path)
    window.controller.index_now("Indexing")
    qtbot.waitUntil(lambda: window.model.rowCount() == 7, timeout=60000)
    assert _ids(window) == before[1:]
    window.newer_btn.click()
    assert window.model.rowCount() == 8
    assert all("copy-" in window.model.photo(r).path for r in range(3))
    assert window.results_title.text().endswith("the 8 closest")


def test_back_returns_to_the_place_before_with_its_photo_picked(qtbot, window,
                                                                tmp_path: Path) -> None:
    draw_photos(tmp_path / "p" / "a", 20, seed=69)
    draw_photos(tmp_path / "p" / "b", 20, seed=70)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "p", expect=40)
    qtbot.waitUntil(lambda: window.model.rowCount() == 40, timeout=10000)
    assert not window.back_action.isEnabled()
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.set_view(View(folder=str(tmp_path / "p" / "a")))
    searched = window.controller.view
    _select_rows(window, [1])
    picked = window.model.photo(1).id
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.find_similar_to_selection()
    assert window.back_action.isEnabled()
    # Another order of the same photos is no new place to go back to.
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.sort_box.setCurrentIndex(1)
        window.sort_box.activated.emit(1)
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.go_back()
    assert window.controller.view == searched
    assert window.grid.currentIndex().row() == 1
    assert window.details.photo.id == picked
    # Typing a query is one place, not one for each word typed.
    _search(qtbot, window, "a red")
    _search(qtbot, window, "a red circle")
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.go_back()
    assert window.controller.view == searched
    assert window.search_field.text() == ""
    # Back again: all photos, where it began.
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.back_action.trigger()
    assert window.controller.view.folder is None
    assert window.model.rowCount() == 40
    assert not window.back_action.isEnabled()


def test_a_photo_put_back_from_the_trash_returns_to_its_place_in_a_search(
        qtbot, window, tmp_path: Path, home_trash: Path) -> None:
    _like_the_first(qtbot, window, tmp_path / "p", seed=71)
    before = _ids(window)
    _select_rows(window, [2])
    _answer_next_dialog(qtbot, lambda box: next(
        b for b in box.buttons() if b.text() == "Move to trash").click())
    window.trash_selection()
    qtbot.waitUntil(lambda: window.model.rowCount() == 10, timeout=20000)
    window.undo_action.trigger()
    # Not a "new match" behind a button: it was there before, and comes back in its place.
    qtbot.waitUntil(lambda: window.model.rowCount() == 11, timeout=20000)
    assert _ids(window) == before
    assert not window.newer_btn.isVisible()


def test_relevance_cut_and_weaker_matches_in_the_window(qtbot, window, tmp_path: Path) -> None:
    drawn = draw_shapes_library(tmp_path / "shapes", 80, seed=63)
    truth = {str(p): (d.colour, d.shape) for p, d in drawn}
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "shapes", expect=84)
    _search(qtbot, window, "a red circle")
    assert set(window.model.paths()) == {p for p, v in truth.items() if v == ("red", "circle")}
    assert not window.view_note.isVisible()
    _search(qtbot, window, "xyzzy")
    assert window.model.rowCount() <= 84 // 8
    assert "No photo clearly matches" in window.view_note.text()
    assert window.weaker_btn.isVisible()
    more = int(window.weaker_btn.text().split()[1].replace(",", ""))
    assert window.weaker_btn.text() == (f"Show {more:,} weaker match"
                                        + ("" if more == 1 else "es"))
    assert counted(1, "weaker match", "weaker matches") == "1 weaker match"
    few = window.model.rowCount()
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.weaker_btn.click()
    assert window.model.rowCount() > few
    # ...and hidden again.
    assert window.weaker_btn.text() == "Hide the weaker matches"
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.weaker_btn.click()
    assert window.model.rowCount() == few
    assert window.weaker_btn.text().startswith("Show ")
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.weaker_btn.click()
    # Scores show on the cells and in the tooltip; newest-first order groups by date.
    assert window.model.index(0).data(Qt.ItemDataRole.UserRole + 3) is not None
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.sort_box.setCurrentIndex(1)
        window.sort_box.activated.emit(1)
    assert window.controller.view.by_date
    assert window.grid.sections[0].title


def _open_viewer(qtbot, window, folder: Path, n: int, seed: int, size: tuple[int, int],
                 row: int):  # type: ignore[no-untyped-def]
    """``n`` drawings indexed; Enter on photo ``row`` opens the viewer on it."""
    draw_photos(folder, n, seed=seed, size=size)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, folder, expect=n)
    qtbot.waitUntil(lambda: window.model.rowCount() == n, timeout=10000)
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.model.index(row))
    qtbot.keyClick(window.grid, Qt.Key.Key_Return)
    assert window.stack.currentWidget() is window.viewer
    return window.viewer


def test_viewer_moves_zooms_and_returns_to_the_same_photo(qtbot, window,
                                                         tmp_path: Path) -> None:
    viewer = _open_viewer(qtbot, window, tmp_path / "p", 6, seed=64, size=(800, 600), row=2)
    assert viewer.row == 2
    qtbot.waitUntil(lambda: viewer._best_image() is not None, timeout=10000)
    qtbot.keyClick(viewer, Qt.Key.Key_Right)
    qtbot.keyClick(viewer, Qt.Key.Key_Right)
    assert viewer.row == 4
    qtbot.keyClick(viewer, Qt.Key.Key_Left)
    assert viewer.row == 3
    qtbot.keyClick(viewer, Qt.Key.Key_1)
    assert viewer.scale() == 1.0
    qtbot.keyClick(viewer, Qt.Key.Key_0)
    assert viewer.zoom is None
    qtbot.keyClick(viewer, Qt.Key.Key_I)
    assert viewer.info
    qtbot.keyClick(viewer, Qt.Key.Key_S)
    assert viewer.slideshow.isActive()
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    assert not viewer.slideshow.isActive()
    assert window.stack.currentIndex() == 1
    assert window.grid.currentIndex().row() == 3
    assert window.details.photo.id == window.model.photo(3).id


def test_move_to_trash_asks_and_undo_puts_back(qtbot, window, tmp_path: Path,
                                               home_trash: Path) -> None:
    draw_photos(tmp_path / "p", 5, seed=65)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "p", expect=5)
    qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=10000)
    _select_rows(window, [1, 2])
    gone = [window.model.photo(r).path for r in (1, 2)]
    after = window.model.photo(3).id
    seen = _answer_next_dialog(qtbot, lambda box: next(
        b for b in box.buttons() if b.text() == "Move to trash").click())
    window.trash_selection()
    assert seen[0]["default"] == "Cancel"
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=20000)
    # The photo that took the place of the current one is picked, and shown beside.
    assert window.grid.currentIndex().row() == 1
    assert window.model.photo(1).id == after
    assert window.selected_ids() == [after]
    assert window.details.photo.id == after
    assert not any(Path(p).exists() for p in gone)
    assert len(list((home_trash / "files").iterdir())) == 2
    assert "Move 2 photos to the trash" in window.undo_action.text()
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=20000)
    assert all(Path(p).exists() for p in gone)
    assert _status(window).indexed == 5   # back with their embeddings


def test_duplicate_review_keeps_the_best_and_trashes_the_rest(qtbot, window, tmp_path: Path,
                                                             home_trash: Path) -> None:
    from photoclip.gui.duplicates import DuplicatesDialog

    folder = tmp_path / "p"
    draw_photos(folder / "2019" / "02", 10, seed=66, size=(640, 480))
    original = sorted((folder / "2019" / "02").glob("*.jpg"))[0]
    copy = folder / "2020" / "02" / "copy-small.jpg"
    copy.parent.mkdir(parents=True)
    with Image.open(original) as img:
        img.resize((320, 240)).save(copy, quality=80)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, folder, expect=11)
    qtbot.waitUntil(lambda: window.model.rowCount() == 11, timeout=10000)
    copy_id = next(window.model.photo(i).id for i in range(window.model.rowCount())
                   if window.model.photo(i).path.endswith("copy-small.jpg"))
    window.controller.edit_tag(copy_id, "trips", "Lisbon 2019", "confirm")
    qtbot.waitUntil(lambda: window.undo_stack.count() == 1, timeout=5000)
    dialog = DuplicatesDialog(window.controller, window.thumbnails, window)   # closes with it
    dialog.show()
    qtbot.waitUntil(lambda: bool(dialog.groups), timeout=60000)
    group = dialog.groups[0]
    assert {p.path for p in group.photos} == {str(original), str(copy)}
    assert group.keep.path == str(original)        # the larger one is suggested
    assert "KEEP" in dialog.cards_layout.itemAt(0).widget().badge.text()
    # Each card names its folder by as much of its path as tells the two apart.
    cards = [dialog.cards_layout.itemAt(i).widget() for i in range(2)]
    assert [c.findChild(QLabel, "facts").text().splitlines()[-1] for c in cards] == [
        f"2019{os.sep}02{os.sep}", f"2020{os.sep}02{os.sep}"]
    # The copy's own tag is offered to the keeper.
    qtbot.waitUntil(lambda: dialog.merge_box.isVisible(), timeout=10000)
    assert "Lisbon 2019" in dialog.merge_box.text()
    # The keys do what the buttons say whichever widget has focus: Space on a focused
    # "trash" button swaps the keeper (it does not click that button).
    dialog.trash_btn.setFocus()
    qtbot.keyClick(dialog.trash_btn, Qt.Key.Key_Space)
    assert "KEEP" in dialog.cards_layout.itemAt(1).widget().badge.text()
    assert copy.exists()
    assert original.exists()
    qtbot.keyClick(dialog.trash_btn, Qt.Key.Key_Space)
    assert "KEEP" in dialog.cards_layout.itemAt(0).widget().badge.text()
    qtbot.keyClick(dialog.trash_btn, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not copy.exists(), timeout=20000)
    assert original.exists()
    _idle(qtbot, window)
    qtbot.waitUntil(lambda: window.model.rowCount() == 10, timeout=10000)
    assert window.controller.jobs.jobs[-1].state is JobState.DONE
    keeper_id = group.keep.id
    assert ("trips", "Lisbon 2019", "manual") in _tags(window, keeper_id)
    # Undo takes both back: the copy returns from the trash, the keeper loses the tag.
    assert "trash" in window.undo_action.text()
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: copy.exists(), timeout=20000)
    qtbot.waitUntil(lambda: not any(t[1] == "Lisbon 2019" for t in _tags(window, keeper_id)),
                    timeout=10000)
    # Trashed again without the merge, then put back from the trash history.
    dialog.trashed_groups.clear()
    dialog.show_group(0)
    qtbot.waitUntil(lambda: dialog.merge_box.isVisible(), timeout=10000)
    dialog.merge_box.setChecked(False)
    dialog.trash_btn.click()
    qtbot.waitUntil(lambda: not copy.exists(), timeout=20000)
    _idle(qtbot, window)
    assert not any(t[1] == "Lisbon 2019" for t in _tags(window, keeper_id))
    from photoclip.gui.duplicates import TrashHistoryDialog

    history = TrashHistoryDialog(window.controller, dialog)
    history.show()
    qtbot.waitUntil(lambda: history.tree.topLevelItemCount() >= 1, timeout=10000)
    button = history.tree.itemWidget(history.tree.topLevelItem(0), 2)
    assert button.text() == "Put back"
    button.click()
    qtbot.waitUntil(lambda: copy.exists(), timeout=20000)
    history.accept()
    dialog.reject()


def _tags(window, photo_id: int) -> set[tuple[str, str, str]]:
    """A photo's tags, read off the GUI thread (the window's guard forbids it there)."""
    import threading

    out: set[tuple[str, str, str]] = set()

    def read() -> None:
        out.update((t.label_set, t.label, t.source)
                   for t in window.controller._library.tags(photo_id))

    worker = threading.Thread(target=read)
    worker.start()
    worker.join()
    return out


def test_a_name_that_is_not_utf8_is_shown_readably_and_copied_exactly(
        qtbot, window, tmp_path: Path) -> None:
    """Its thumbnail, preview and viewer image land, and its folder can be browsed: a path
    passed through Qt as a str comes back without its odd bytes."""
    from PySide6.QtGui import QGuiApplication

    folder = tmp_path / "p"
    draw_photos(folder, 2, seed=67)
    odd_dir = os.fsdecode(os.fsencode(str(folder)) + b"/\xff\xfe")   # not UTF-8 at all
    os.mkdir(odd_dir)
    odd = os.fsdecode(os.fsencode(odd_dir) + b"/caf\xe9.jpg")   # Latin-1 "café"
    os.rename(sorted(folder.glob("*.jpg"))[0], odd)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, folder, expect=2)
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=10000)
    row = next(r for r in range(2) if window.model.photo(r).path == odd)
    index = window.model.index(row)
    assert index.data(Qt.ItemDataRole.DisplayRole) == "caf\ufffd.jpg"
    assert "caf\ufffd.jpg" in index.data(Qt.ItemDataRole.ToolTipRole)
    window.grid.setCurrentIndex(index)
    assert "caf\ufffd.jpg" in window.details.info.text()
    window.details.copy_path()
    assert QGuiApplication.clipboard().text().endswith("caf\\xe9.jpg'")
    qtbot.waitUntil(lambda: window.thumbnails.get(odd, 128) is not None, timeout=10000)
    assert odd not in window.thumbnails.failed
    qtbot.waitUntil(lambda: window.details.preview._pixmap is not None, timeout=10000)
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.viewer._best_image() is not None, timeout=10000)
    qtbot.keyClick(window.viewer, Qt.Key.Key_Escape)
    top = window.sidebar.topLevelItem(0)
    qtbot.waitUntil(lambda: top.childCount() == 1, timeout=10000)
    assert top.child(0).text(0) == "\ufffd\ufffd — 1"
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.sidebar.itemClicked.emit(top.child(0), 0)
    assert window.model.paths() == [odd]
    assert top.child(0).isSelected()


def test_a_damaged_catalog_at_start_is_repaired_from_the_window(qtbot, app_env: Path,
                                                               shapes_spec: str) -> None:
    from photoclip.core import Library
    from photoclip.gui.app import offer_repair

    lib = app_env / "lib"
    draw_photos(app_env / "p", 4, seed=68)
    with Library.open(lib, model=shapes_spec) as library:
        library.add_root(app_env / "p")
        library.index()   # leaves a backup behind
    (lib / "catalog.sqlite").write_bytes(b"")   # a sync tool cut it to nothing
    from photoclip.core.errors import CatalogDamagedError

    with pytest.raises(CatalogDamagedError) as damaged:
        Library.open(lib, model=shapes_spec)
    seen = _answer_next_dialog(qtbot, lambda box: next(
        b for b in box.buttons() if b.text() == "Repair").click())
    done: list[str] = []

    def confirm() -> None:   # then a dialog says what was repaired: note it and close it
        from PySide6.QtWidgets import QApplication, QMessageBox

        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox) and box.text().startswith("Repaired"):
            done.append(box.text())
            box.accept()
        else:
            QTimer.singleShot(20, confirm)

    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, confirm)
    assert offer_repair(lib, damaged.value)
    assert "damaged" in seen[0]["text"]
    assert "photoclip repair" not in seen[0]["info"]
    assert done
    assert done[0].startswith("Repaired")
    with Library.open(lib, model=shapes_spec, readonly=True) as library:
        assert library.status().indexed == 4


def test_folders_inside_a_root_are_a_tree_to_browse(qtbot, window, tmp_path: Path) -> None:
    root = tmp_path / "Pictures"
    draw_photos(root / "2024" / "Trip", 5, seed=61)
    draw_photos(root / "2024" / "Home", 3, seed=62)
    draw_photos(root / "2025", 2, seed=63)
    draw_photos(root, 1, seed=64)
    (root / "2024" / "Trip" / "broken.jpg").write_bytes(b"\xff\xd8\xff not a photo")
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, root, expect=11)
    tree = window.sidebar
    qtbot.waitUntil(lambda: tree.topLevelItemCount() == 1
                    and tree.topLevelItem(0).childCount() == 2, timeout=10000)
    top = tree.topLevelItem(0)
    assert top.isExpanded()
    # Each folder counts what is in it and below it; the years open to their albums. A file
    # that could not be read is flagged on its folder and those above it, not counted.
    qtbot.waitUntil(lambda: "unreadable" in top.child(0).text(0), timeout=10000)
    children = {top.child(i).text(0): top.child(i) for i in range(top.childCount())}
    assert set(children) == {"2024 — 8 · 1 unreadable", "2025 — 2"}
    year = children["2024 — 8 · 1 unreadable"]
    assert sorted(year.child(i).text(0) for i in range(year.childCount())) == [
        "Home — 3", "Trip — 5 · 1 unreadable"]
    assert "1 file could not be read: Problems lists them" in year.toolTip(0)
    # A click on an album shows only its photos.
    trip = next(year.child(i) for i in range(year.childCount())
                if year.child(i).text(0).startswith("Trip"))
    year.setExpanded(True)
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        tree.itemClicked.emit(trip, 0)
    assert window.model.rowCount() == 5
    assert all(os.path.dirname(p) == str(root / "2024" / "Trip") for p in window.model.paths())
    assert window.results_title.text() == "Photos in Trip — 5 photos"
    window._roots_changed(window._roots)   # a folder list refresh keeps the count
    assert window.results_title.text() == "Photos in Trip — 5 photos"
    assert trip.isSelected()
    # A new photo updates the counts in place: what was open and selected stays so.
    draw_photos(root / "2024" / "Trip", 1, seed=65, size=(150, 110))
    window.controller.index_now("Indexing")
    qtbot.waitUntil(lambda: trip.text(0) == "Trip — 6 · 1 unreadable", timeout=30000)
    assert year.isExpanded()
    assert trip.isSelected()
    qtbot.waitUntil(lambda: window.model.rowCount() == 6, timeout=10000)


def test_problems_stay_out_of_the_grid_behind_a_badge_that_survives_a_restart(
        qtbot, make_window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photos = tmp_path / "photos"
    draw_photos(photos, 5, seed=70)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff not a photo after all")
    window = make_window()
    window.controller.start(load_model=False)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, photos, expect=5)
    qtbot.waitUntil(lambda: window.problems_btn.isVisible(), timeout=10000)
    assert window.problems_btn.text() == "1 problem"
    qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=10000)
    assert str(photos / "broken.jpg") not in window.model.paths()
    # The folder counts what the grid shows; the file that could not be read is said apart.
    top = window.sidebar.topLevelItem(0)
    qtbot.waitUntil(lambda: top.text(0) == "photos — 5 photos", timeout=10000)
    status = top.data(0, RootStatusRole)
    assert (status.readable, status.unreadable) == (5, 1)
    listed: list[tuple[str, str]] = []

    def read_and_close(box) -> None:
        item = box.tree.topLevelItem(0)
        listed.append((item.text(0), item.text(1)))
        listed.append((box.note.text(), ""))
        # The first row comes picked: its path can be copied (and its folder shown) at
        # once; with none picked, not.
        box.copy_btn.click()
        listed.append((str(box.copy_btn.isEnabled()), QApplication.clipboard().text()))
        # With no application to open folders (no xdg-open on the PATH), Show in folder
        # says so and copies the folder's path instead of doing nothing.
        QApplication.clipboard().clear()
        told = _answer_next_dialog(qtbot, lambda b: b.accept())
        box.show_btn.click()
        listed.append((told[0]["text"] if told else "", QApplication.clipboard().text()))
        box.tree.clearSelection()
        listed.append((str(box.copy_btn.isEnabled()), str(box.show_btn.isEnabled())))
        box.accept()

    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))
    seen = _answer_next_dialog(qtbot, read_and_close)
    window.problems_btn.click()
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    assert seen[0]["title"] == "Problems"
    assert listed[0][0] == str(photos / "broken.jpg")
    assert listed[0][1]   # with its reason in words
    assert listed[1][0] == "1 photo could not be read. It is retried when the file changes."
    assert listed[2] == ("True", str(photos / "broken.jpg"))
    assert listed[3][0].startswith("No application on this computer is set up to open "
                                   "folders"), listed[3]
    assert listed[3][1] == str(photos)
    assert listed[4] == ("False", "False")
    window.close()
    # A new session on the same library shows the badge from the start.
    again = make_window(library=Path(window.controller.library_folder))
    again.controller.start(load_model=False)
    qtbot.waitUntil(lambda: again.problems_btn.isVisible(), timeout=10000)
    assert again.problems_btn.text() == "1 problem"


def _drag(widget, start: QPoint, end: QPoint) -> None:
    """A left-button drag (QTest's mouseMove carries no buttons, so the events are made)."""
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    for kind, at, buttons in ((QMouseEvent.Type.MouseButtonPress, start, left),
                              (QMouseEvent.Type.MouseMove, (start + end) / 2, left),
                              (QMouseEvent.Type.MouseMove, end, left),
                              (QMouseEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)):
        pos = QPointF(at)
        QApplication.sendEvent(widget, QMouseEvent(kind, pos, widget.mapToGlobal(pos), left,
                                                   buttons, none))


def test_shift_click_rubber_band_and_a_tag_for_all_of_them(qtbot, window,
                                                           tmp_path: Path) -> None:
    draw_photos(tmp_path / "p", 9, seed=71)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "p", expect=9)
    qtbot.waitUntil(lambda: window.model.rowCount() == 9, timeout=10000)
    grid, view = window.grid, window.grid.viewport()

    def center(row: int) -> QPoint:
        return grid.visualRect(window.model.index(row)).center()

    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=center(1))
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier,
                     center(4))
    assert sorted(i.row() for i in grid.selectionModel().selectedIndexes()) == [1, 2, 3, 4]
    # A rubber band from the empty space past the last photo takes every photo it crosses.
    last = grid.visualRect(window.model.index(8))
    start = QPoint(view.width() - 4, last.bottom() + 10)
    end = center(0)
    grid.clearSelection()
    _drag(view, start, end)
    from PySide6.QtCore import QRect

    band = QRect(start, end).normalized()
    crossed = sorted(r for r in range(9)
                     if grid.visualRect(window.model.index(r)).intersects(band))
    assert len(crossed) >= 2
    assert sorted(i.row() for i in grid.selectionModel().selectedIndexes()) == crossed
    # Add a tag to all of them, from the dialog the menu opens.
    ids = window.selected_ids()

    def type_tag(dialog) -> None:
        dialog.setTextValue("beach day")
        dialog.accept()

    _answer_next_dialog(qtbot, type_tag)
    window.add_tag_to_selection()
    qtbot.waitUntil(lambda: _tagged(window, "beach day") == len(ids), timeout=10000)
    qtbot.waitUntil(lambda: f"on {len(ids)} photos" in window.undo_action.text(),
                    timeout=5000)


def test_viewer_full_screen_wheel_zoom_and_pan(qtbot, window, tmp_path: Path) -> None:
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    viewer = _open_viewer(qtbot, window, tmp_path / "p", 3, seed=72, size=(1600, 1200), row=0)
    qtbot.waitUntil(lambda: viewer._best_image() is not None, timeout=10000)
    qtbot.keyClick(viewer, Qt.Key.Key_F11)
    qtbot.waitUntil(window.isFullScreen, timeout=5000)
    fit = viewer.scale()
    at = QPointF(viewer.width() / 3, viewer.height() / 3)
    QApplication.sendEvent(viewer, QWheelEvent(
        at, viewer.mapToGlobal(at), QPoint(0, 0), QPoint(0, 240), Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False))
    assert viewer.zoom is not None
    assert viewer.scale() == pytest.approx(fit * 1.44, rel=0.01)
    pan = QPointF(viewer.pan)
    _drag(viewer, QPoint(300, 300), QPoint(200, 250))
    assert viewer.pan == pan + QPointF(100, 50)   # the photo follows the mouse
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=5000)
    assert window.stack.currentIndex() == 1


def test_shortcuts_page_lists_every_key_the_window_binds(qtbot, window) -> None:
    from PySide6.QtGui import QAction, QKeySequence

    bound = {k.toString(QKeySequence.SequenceFormat.NativeText)
             for a in window.findChildren(QAction) for k in a.shortcuts()} - {""}
    assert {"F11", "Ctrl+A", "Ctrl+T"} <= bound
    whole: list[bool] = []

    def look(box) -> None:  # type: ignore[no-untyped-def]
        # Every row shows whole: the dialog is as wide as its longest row needs.
        tree = box.tree
        whole.append(tree.columnWidth(0) >= tree.sizeHintForColumn(0) and
                     tree.viewport().width() - tree.columnWidth(0) >= tree.sizeHintForColumn(1))
        # ...and as tall as its rows, where the screen has room: no third left empty.
        rows = sum(tree.sizeHintForRow(i) for i in range(tree.topLevelItemCount()))
        whole.append(tree.verticalScrollBar().maximum() > 0 or
                     tree.viewport().height() - rows < 3 * tree.sizeHintForRow(0))
        box.accept()

    seen = _answer_next_dialog(qtbot, look)
    pages: list = []
    real_exec = None

    from photoclip.gui import dialogs

    def keep(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        pages.append([self.tree.topLevelItem(i).text(0)
                      for i in range(self.tree.topLevelItemCount())])
        return real_exec(self, *args, **kwargs)

    real_exec = dialogs.ShortcutsDialog.exec
    dialogs.ShortcutsDialog.exec = keep
    try:
        window.show_shortcuts()
    finally:
        dialogs.ShortcutsDialog.exec = real_exec
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    listed = {k.strip() for row in pages[0] for k in row.split(",")}
    assert bound <= listed, bound - listed
    assert whole == [True, True]


def test_a_drag_over_the_window_is_highlighted_and_an_offline_folder_says_why(
        qtbot, window, tmp_path: Path) -> None:
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent

    drive = tmp_path / "drive"
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(drive))])
    window.dragEnterEvent(QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime,
                                          Qt.MouseButton.LeftButton,
                                          Qt.KeyboardModifier.NoModifier))
    assert window.drop_overlay.isVisible()
    window.dragLeaveEvent(QDragLeaveEvent())
    assert not window.drop_overlay.isVisible()
    _watched_drive(qtbot, window, drive, 3, seed=73)
    drive.rename(tmp_path / "parked")   # unplugged
    qtbot.waitUntil(lambda: "offline" in window.sidebar.topLevelItem(0).text(0),
                    timeout=10000)
    window.set_view(View(folder=str(drive)))
    qtbot.waitUntil(lambda: "is offline" in window.view_note.text(), timeout=10000)
    assert "3 photos are kept" in window.view_note.text()
    assert window.view_note.isVisible()


def test_raw_and_jpeg_pairing_is_a_setting_of_the_app(qtbot, window, tmp_path: Path) -> None:
    from tests.unit.test_formats import _pair_folder

    files = _pair_folder(tmp_path / "card")
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "card", expect=3)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=10000)
    pair_row = window.model.paths().index(str(files["IMG_0001.JPG"]))
    window.grid.setCurrentIndex(window.model.index(pair_row))
    qtbot.waitUntil(lambda: "IMG_0001.CR2" in window.details.info.text(), timeout=10000)

    def turn_off(dialog) -> None:
        qtbot.waitUntil(dialog.pairing.isEnabled, timeout=10000)
        assert dialog.pairing.isChecked()
        dialog.pairing.setChecked(False)
        dialog.accept()

    _answer_next_dialog(qtbot, turn_off)
    window.show_settings()
    # Every RAW file a photo of its own: the grid shows the RAW file too, and it is indexed.
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=20000)
    qtbot.waitUntil(lambda: _status(window).indexed == 4, timeout=60000)
    _idle(qtbot, window)
    assert str(files["IMG_0001.CR2"]) in window.model.paths()


def test_the_cells_take_the_shape_that_nine_photos_in_ten_need() -> None:
    from photoclip.core.catalog import Photo
    from photoclip.gui.grid import cell_shape

    def photos(*sizes: tuple[int | None, int | None]) -> list[Photo]:
        return [Photo(i, 1, f"/p/{i}.jpg", 1, 0.0, "h", w, h, None, None, None, "ok", None)
                for i, (w, h) in enumerate(sizes)]

    assert cell_shape([]) == 1.0
    assert cell_shape(photos((4000, 3000)) * 10) == 0.75
    assert cell_shape(photos((6000, 4000)) * 10) == pytest.approx(2 / 3)
    # One portrait photo in twenty is drawn smaller; one in five keeps the cells square.
    assert cell_shape(photos(*[(4000, 3000)] * 19, (3000, 4000))) == 0.75
    assert cell_shape(photos(*[(4000, 3000)] * 8, (3000, 4000), (3000, 4000))) == 1.0
    # Panoramas do not flatten the cells past 1:2; photos not yet measured do not count.
    assert cell_shape(photos((12000, 2000)) * 10) == 0.5
    assert cell_shape(photos((None, None), (4000, 3000))) == 0.75

"""The real window, offscreen, driven like a user would: drops, typing, clicks, closing.

Every window here runs with a guard that fails the test if the app calls the Library on the
GUI thread (tests/gui/conftest.py). Assertions about the library read it the way another
program would: a read-only Library opened beside the app.
"""

from __future__ import annotations

import gc
import shutil
import sqlite3
import time
import weakref
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import (
    QElapsedTimer,
    QItemSelectionModel,
    QMimeData,
    QPointF,
    Qt,
    QTimer,
    QUrl,
)
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from photoclip.core import Library
from photoclip.gui.controller import ModelState, View
from photoclip.gui.jobs import JobState
from tests.conftest import SHAPES_SPEC, draw_photos, draw_shapes_library

pytestmark = pytest.mark.slow


def _mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def _drop(window, mime: QMimeData) -> QDropEvent:
    event = QDropEvent(QPointF(100, 100), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    return event


def _status(window) -> Any:
    """The library's state as another program sees it (not through the app)."""
    with Library.open(window.controller.library_folder, readonly=True,
                      model=SHAPES_SPEC) as lib:
        return lib.status()


def _model_ready(qtbot, window) -> None:
    with qtbot.waitSignal(window.controller.model_state, timeout=60000,
                          check_params_cb=lambda state, _m: state is ModelState.READY):
        window.controller.load_model()
    _idle(qtbot, window)


def _idle(qtbot, window, timeout: int = 120000) -> None:
    qtbot.waitUntil(window.controller.jobs.settled, timeout=timeout)


def _index_by_drop(qtbot, window, *folders: Path, expect: int) -> None:
    event = _drop(window, _mime(*folders))
    assert event.isAccepted()
    qtbot.waitUntil(lambda: _status(window).indexed >= expect, timeout=120000)
    _idle(qtbot, window)


def _search(qtbot, window, text: str) -> None:
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.search_field.clear()
        qtbot.keyClicks(window.search_field, text)
        qtbot.keyClick(window.search_field, Qt.Key.Key_Return)


def _answer_next_dialog(qtbot, act) -> list[dict]:
    """Run ``act(box)`` on the next modal dialog once it is open.

    Returns what the dialog showed (title, text, informative and detailed text, default
    button), noted
    before answering: a static QMessageBox is gone once answered.
    """
    seen: list[dict] = []

    def handle() -> None:
        box = QApplication.activeModalWidget()
        if box is None:
            QTimer.singleShot(20, handle)
            return
        default = box.defaultButton() if isinstance(box, QMessageBox) else None
        seen.append({"title": box.windowTitle(),
                     "text": box.text() if isinstance(box, QMessageBox) else "",
                     "info": box.informativeText() if isinstance(box, QMessageBox) else "",
                     "details": box.detailedText() if isinstance(box, QMessageBox) else "",
                     "default": default.text() if default is not None else None})
        act(box)

    QTimer.singleShot(0, handle)
    return seen


def test_first_run_shows_what_to_do(window) -> None:
    assert window.windowTitle() == "photoclip"
    assert window.stack.currentWidget() is window.empty
    assert "Drop a photo folder here or click Add folder" in window.empty.text()
    # Nothing to view or compare yet: what acts on a photo is off, not silently idle.
    assert not window.viewer_action.isEnabled()
    assert not window.slideshow_action.isEnabled()
    assert not window.similar_action.isEnabled()
    # The details panel says what it is for, without an empty tag box and grey buttons.
    details = window.details
    assert details.preview.text().startswith("No photo selected.")
    assert not any(w.isVisibleTo(details) for w in (details.tags, details.similar_btn,
                                                     details.copy_btn))


def test_dropped_folders_are_added_and_indexed(qtbot, window, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    draw_photos(a, 12, seed=1)
    draw_photos(b, 8, seed=2)
    _model_ready(qtbot, window)
    progress: list = []
    window.controller.jobs.changed.connect(
        lambda job: progress.append((job.title, job.done, job.total, job.state)))
    _index_by_drop(qtbot, window, a, b, expect=20)
    status = _status(window)
    assert (status.indexed, status.pending) == (20, 0)
    qtbot.waitUntil(lambda: window.sidebar.topLevelItemCount() == 2, timeout=10000)
    assert {window.sidebar.topLevelItem(i).toolTip(0).splitlines()[0]
            for i in range(window.sidebar.topLevelItemCount())} == {str(a), str(b)}
    assert all("photos" in window.sidebar.topLevelItem(i).text(0) for i in range(2))
    # One job, with counted progress, that ended done.
    indexing = [p for p in progress if p[0] == "Indexing a and b"]
    assert indexing
    assert indexing[-1][3] is JobState.DONE
    counted = [p for p in indexing if p[2]]
    assert counted[-1][1] == counted[-1][2] == 20
    assert [p[1] for p in counted] == sorted(p[1] for p in counted)
    # The grid shows the whole library once indexing ends.
    qtbot.waitUntil(lambda: window.model.rowCount() == 20, timeout=10000)
    assert window.viewer_action.isEnabled()
    assert window.slideshow_action.isEnabled()
    window.grid.setCurrentIndex(window.model.index(0))
    assert window.similar_action.isEnabled()
    # A folder inside one already there is covered: said so, and no indexing job starts.
    (a / "sub").mkdir()
    jobs = len(window.controller.jobs.jobs)
    window.controller.add_folders([str(a / "sub")])
    qtbot.waitUntil(lambda: "already in the library" in window.statusBar().currentMessage(),
                    timeout=10000)
    assert "inside" in window.statusBar().currentMessage()
    assert len(window.controller.jobs.jobs) == jobs


def test_dropping_anything_else_is_refused_visibly(qtbot, window, tmp_path: Path) -> None:
    mime = QMimeData()
    mime.setText("just some text")
    assert not window.handle_drop(mime)
    assert "can be dropped" in window.statusBar().currentMessage()
    window.statusBar().clearMessage()
    note = tmp_path / "notes.txt"
    note.write_text("x")
    window.handle_drop(_mime(note))   # looked at off the GUI thread, then refused
    qtbot.waitUntil(lambda: "can be dropped" in window.statusBar().currentMessage(),
                    timeout=10000)


def test_query_fills_the_grid_with_the_right_photos(qtbot, window, tmp_path: Path) -> None:
    drawn = draw_shapes_library(tmp_path / "shapes", 56, seed=7)
    truth = {str(p): (d.colour, d.shape) for p, d in drawn}
    n = sum(1 for v in truth.values() if v == ("red", "circle"))
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "shapes", expect=60)
    _search(qtbot, window, "a red circle")
    shown = window.model.paths()[:n]
    assert [truth[p] for p in shown] == [("red", "circle")] * n
    assert "a red circle" in window.results_title.text()
    assert window.search_field.text() == "a red circle"
    # The first result is selected and its details are shown.
    assert window.details.photo is not None
    assert window.details.photo.path == shown[0]


def test_find_similar_from_details_and_from_a_dropped_file(qtbot, window,
                                                           tmp_path: Path) -> None:
    drawn = draw_photos(tmp_path / "shapes", 30, seed=8)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "shapes", expect=30)
    qtbot.waitUntil(lambda: window.model.rowCount() == 30, timeout=10000)
    window.grid.setCurrentIndex(window.model.index(3))
    chosen = window.details.photo.path
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        qtbot.mouseClick(window.details.similar_btn, Qt.MouseButton.LeftButton)
    assert window.model.rowCount() == 29
    assert chosen not in window.model.paths()
    # The header says what is shown; the search box does not claim a query.
    assert window.results_title.text().startswith("Photos like ")
    assert window.results_title.text().endswith(" — 29 photos")   # every other photo
    assert window.search_field.text() == ""
    # Where the list stops at its limit, the header says these are the closest, not all.
    from photoclip.gui import controller as controller_module

    controller_module.SIMILAR_TOP, limit = 10, controller_module.SIMILAR_TOP
    try:
        with qtbot.waitSignal(window.controller.results, timeout=20000):
            window.find_similar(chosen)
    finally:
        controller_module.SIMILAR_TOP = limit
    assert window.model.rowCount() == 10
    assert window.results_title.text().endswith(" — the 10 closest")
    outside = draw_photos(tmp_path / "outside", 1, seed=50)[0][0]
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        _drop(window, _mime(outside))
    assert window.model.rowCount() == 30
    assert set(window.model.paths()) == {str(p) for p, _ in drawn}


def _big_pngs(folder: Path, n: int, seed: int) -> list:
    """``n`` big PNGs: 20 drawings and copies of them (their drawings are returned).

    PNGs cannot be draft-decoded, so each costs real decode time, like a big photo would.
    """
    originals = draw_photos(folder, 20, seed=seed, size=(1200, 900), fmt="png")
    for i in range(n - 20):
        shutil.copyfile(originals[i % 20][0], folder / f"copy-{i}.png")
    return originals


def test_window_stays_responsive_while_indexing(qtbot, window, tmp_path: Path) -> None:
    _big_pngs(tmp_path / "many", 420, seed=9)
    _model_ready(qtbot, window)
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def tick() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer(interval=10)
    timer.timeout.connect(tick)
    timer.start()
    window.controller.add_folders([str(tmp_path / "many")])
    qtbot.waitUntil(lambda: bool(window.controller.jobs.active()), timeout=10000)
    _idle(qtbot, window, timeout=180000)
    timer.stop()
    assert _status(window).indexed == 420
    assert len(gaps) > 50
    # The event loop never stalled for more than 100 ms while the indexer ran.
    assert max(gaps) < 100, f"worst event-loop stall {max(gaps)} ms"


def test_the_loaded_model_is_kept_out_of_the_collectors_passes(qtbot, window) -> None:
    # A full pass of Python's collector holds the GIL while it walks every object it
    # tracks: with the model's hundreds of thousands among them, the window stuttered.
    _model_ready(qtbot, window)
    model = window.controller._library.embedder._model
    walked = gc.get_objects()
    assert not any(o is model for o in walked)
    assert gc.get_freeze_count() > len(walked)
    assert gc.isenabled()


def test_search_during_indexing_answers_within_a_second(qtbot, window,
                                                       tmp_path: Path) -> None:
    draw_shapes_library(tmp_path / "first", 40, seed=21)
    _model_ready(qtbot, window)
    # Loading the model builds the query tower (beside the first indexing), so no search
    # pays for it.
    qtbot.waitUntil(lambda: "run by numpy in float32"
                    in window.controller._library.embedder.query_path, timeout=30000)
    _index_by_drop(qtbot, window, tmp_path / "first", expect=44)
    drawing = _big_pngs(tmp_path / "more", 600, seed=22)[0][1]
    query = f"a {drawing.colour} {drawing.shape}"   # the new folder holds ~30 of these
    window.controller._library.indexer.batch_size = 8
    seen: list = []
    window.controller.jobs.changed.connect(lambda job: seen.append((job.title, job.done)))
    window.controller.add_folders([str(tmp_path / "more")])
    qtbot.waitUntil(lambda: any(t == "Indexing more" and d >= 16 for t, d in seen),
                    timeout=60000)
    job = window.controller.jobs.running()
    assert job is not None
    t0 = time.monotonic()
    _search(qtbot, window, query)
    elapsed = time.monotonic() - t0
    assert job.state in (JobState.RUNNING, JobState.PAUSED), "indexing ended too soon"
    assert elapsed < 1.0, f"search took {elapsed:.2f} s during indexing"
    assert query in window.results_title.text()   # answered from what is committed
    # Staying on the query, matches that land wait behind a button, so the list holds
    # still under the user; a click shows them.
    before = [window.model.photo(r).id for r in range(window.model.rowCount())]
    assert before
    qtbot.waitUntil(window.newer_btn.isVisible, timeout=60000)
    assert [window.model.photo(r).id for r in range(window.model.rowCount())] == before
    window.newer_btn.click()
    assert window.model.rowCount() > len(before)
    window.controller.cancel_job(job)
    _idle(qtbot, window)


def test_search_typed_before_the_model_is_ready_runs_when_it_is(qtbot, window,
                                                               tmp_path: Path) -> None:
    drawn = draw_shapes_library(tmp_path / "shapes", 20, seed=23)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "shapes", expect=24)
    # A fresh window on the same library: its model is not loaded yet.
    window.close()
    from photoclip.gui.app import create_window
    from photoclip.settings import Settings

    second = create_window(Path(window.controller.library_folder), SHAPES_SPEC, Settings())
    qtbot.addWidget(second)
    second.show()
    try:
        second.controller.start(load_model=False)
        qtbot.waitUntil(lambda: second.sidebar.topLevelItemCount() == 1, timeout=10000)
        qtbot.keyClicks(second.search_field, "a red circle")
        qtbot.keyClick(second.search_field, Qt.Key.Key_Return)
        assert second.view_note.text().startswith("Searching needs the model, which is "
                                                  "not set up yet.")
        assert second.view_note.isVisible()
        with qtbot.waitSignal(second.controller.results, timeout=60000):
            second.controller.load_model()
            # The waiting search says at once that the model is on its way.
            assert second.view_note.text() == ("Loading the model… your search runs as "
                                                "soon as it is ready.")
        truth = {str(p): (d.colour, d.shape) for p, d in drawn}
        assert truth[second.model.paths()[0]] == ("red", "circle")
        assert "a red circle" in second.results_title.text()
    finally:
        second.close()


def test_cancel_of_a_folder_added_while_running_stops_within_one_batch(
        qtbot, window, tmp_path: Path) -> None:
    draw_photos(tmp_path / "many", 400, seed=10, size=(640, 480))
    _model_ready(qtbot, window)
    batch = 8
    window.controller._library.indexer.batch_size = batch
    seen: list = []
    window.controller.jobs.changed.connect(lambda job: seen.append((job.title, job.done)))
    window.controller.add_folders([str(tmp_path / "many")])
    qtbot.waitUntil(lambda: any(t == "Indexing many" and d >= 16 for t, d in seen),
                    timeout=60000)
    job = window.controller.jobs.running()
    assert job is not None
    assert job.rate > 0
    assert job.eta is not None
    assert "photos" in window.jobs_button.text()
    assert "left" in window.jobs_button.text()
    at_cancel = job.done
    qtbot.mouseClick(window.cancel_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: job.wrapped_up, timeout=30000)
    assert job.state is JobState.CANCELLED
    assert "Cancelled" in job.outcome
    embedded = _status(window).indexed
    # The batch in flight finishes; nothing after it starts.
    assert at_cancel <= embedded <= at_cancel + 2 * batch, (at_cancel, embedded)
    assert not window.controller.jobs.active()


def test_closing_mid_index_stops_cleanly_and_keeps_work(qtbot, window, tmp_path: Path) -> None:
    draw_photos(tmp_path / "many", 400, seed=10, size=(640, 480))
    _model_ready(qtbot, window)
    window.controller._library.indexer.batch_size = 8
    seen: list = []
    window.controller.jobs.changed.connect(lambda job: seen.append((job.title, job.done)))
    window.controller.add_folders([str(tmp_path / "many")])
    qtbot.waitUntil(lambda: any(t == "Indexing many" and d >= 16 for t, d in seen),
                    timeout=60000)
    t0 = time.monotonic()
    window.close()
    assert time.monotonic() - t0 < 10
    db = sqlite3.connect(tmp_path / "library" / "catalog.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    db.close()
    assert 16 <= kept < 400
    # The lock is released: the library opens again for writing.
    Library.open(tmp_path / "library").close()


def test_missing_model_offline_says_so_in_words_and_still_browses(
        qtbot, make_window, tmp_path: Path) -> None:
    from photoclip.core.embedder import Embedder

    offline = Embedder("ViT-B-32-256:datacomp_s34b_b86k", cache_dir=str(tmp_path / "hf"))
    win = make_window(model=None, embedder=offline)
    with qtbot.waitSignal(win.controller.model_state, timeout=60000,
                          check_params_cb=lambda state, _m: state is ModelState.UNAVAILABLE):
        win.controller.load_model()
    assert win.banner.isVisible()
    text = win.banner_label.text()
    assert "ViT-B-32-256:datacomp_s34b_b86k" in text
    assert "not downloaded yet" in text
    for jargon in ("Error", "--model", "local-dir:", "Traceback"):
        assert jargon not in text, text
    draw_photos(tmp_path / "p", 5, seed=3)
    win.handle_drop(_mime(tmp_path / "p"))
    qtbot.waitUntil(lambda: win.model.rowCount() == 5, timeout=20000)
    win.search_field.setText("a red circle")
    win.run_search()
    assert "needs the model" in win.view_note.text()
    assert win.model.rowCount() == 0
    win.search_field.clear()   # back to browsing, at once
    qtbot.waitUntil(lambda: win.model.rowCount() == 5, timeout=10000)


def test_welcome_later_leaves_a_banner_and_the_menu_brings_it_back(qtbot, window) -> None:
    from photoclip.gui.dialogs import welcome

    later = _answer_next_dialog(qtbot, lambda box: next(
        b for b in box.buttons() if b.text() == "Later").click())
    welcome(window)
    assert later
    assert window.settings.welcomed
    assert window.banner.isVisible()
    assert window.banner_download.text() == "Download the model"
    help_menu = next(a.menu() for a in window.menuBar().actions() if "Help" in a.text())
    setup = next(a for a in help_menu.actions() if "model" in a.text())
    seen = _answer_next_dialog(qtbot, lambda box: box.reject())
    setup.trigger()
    assert seen
    assert seen[0]["title"] == "Welcome to photoclip"


def test_new_photos_appear_while_the_app_is_open_and_selection_survives(
        qtbot, window, tmp_path: Path) -> None:
    folder = tmp_path / "watched"
    _watched_drive(qtbot, window, folder, 3, seed=14)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=10000)
    window.grid.setCurrentIndex(window.model.index(1))
    chosen = window.details.photo.id
    qtbot.waitUntil(lambda: _browser_total(window) == _catalog_total(window), timeout=20000)
    before = _catalog_total(window)
    resets: list = []
    window.model.modelReset.connect(lambda: resets.append(1))
    new = draw_photos(tmp_path / "incoming", 2, seed=15)
    for path, _ in new:
        path.rename(folder / path.name)
    qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=20000)
    assert {str(folder / p.name) for p, _ in new} <= set(window.model.paths())
    assert not resets, "the grid was reset: selection and scroll position lost"
    # The tag browser counts the new photos' tags too: it agrees with the catalog again.
    qtbot.waitUntil(lambda: _browser_total(window) == _catalog_total(window) > before,
                    timeout=20000)
    assert window.details.photo.id == chosen
    assert window.grid.currentIndex().data(Qt.ItemDataRole.UserRole + 4) == chosen


def _watched_drive(qtbot, window, folder: Path, n: int, seed: int) -> None:
    """A folder of ``n`` drawings indexed by a drop, then watched, shown in the sidebar."""
    draw_photos(folder, n, seed=seed)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, folder, expect=n)
    window.controller.start_watching()
    qtbot.waitUntil(lambda: window.sidebar.topLevelItemCount() == 1, timeout=10000)


def test_folder_moved_away_and_back_shows_offline_then_online(qtbot, window,
                                                             tmp_path: Path) -> None:
    folder = tmp_path / "drive"
    _watched_drive(qtbot, window, folder, 4, seed=17)
    parked = tmp_path / "parked"
    folder.rename(parked)   # the drive is unplugged
    qtbot.waitUntil(lambda: "offline" in window.sidebar.topLevelItem(0).text(0), timeout=10000)
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=10000)
    t0 = time.monotonic()
    parked.rename(folder)   # and comes back
    qtbot.waitUntil(lambda: "4 photos" in window.sidebar.topLevelItem(0).text(0), timeout=10000)
    assert time.monotonic() - t0 < 10
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=10000)


def _browser_total(window) -> int:
    """Every label's count in the tag browser, added up."""
    tree = window.tag_browser
    return sum(_count(tree.topLevelItem(i).child(j)) for i in range(tree.topLevelItemCount())
               for j in range(tree.topLevelItem(i).childCount()))


def _catalog_total(window) -> int:
    with Library.open(window.controller.library_folder, readonly=True,
                      model=SHAPES_SPEC) as lib:
        return sum(lib.tag_counts().values())


def _tagged_library(qtbot, window, tmp_path: Path) -> dict[str, str]:
    drawn = draw_shapes_library(tmp_path / "shapes", 36, seed=16)
    shapes_set = Path(__file__).resolve().parents[1] / "data" / "shapes.toml"
    labelsets = Path(window.controller.library_folder) / "labelsets"
    labelsets.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shapes_set, labelsets / "shapes.toml")
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "shapes", expect=40)
    return {str(p): d.shape for p, d in drawn}


def _tree_item(tree, set_name: str, label: str):
    top = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
               if tree.topLevelItem(i).text(0) == set_name)
    return next(top.child(i) for i in range(top.childCount())
                if top.child(i).text(0).startswith(f"{label} ("))


def _count(item) -> int:
    return int(item.text(0).rsplit("(", 1)[1].rstrip(")"))


def _tag_count(tree, set_name: str, label: str) -> int:
    """Photos the tag browser shows for a label; -1 while it does not list the label."""
    try:
        return _count(_tree_item(tree, set_name, label))
    except StopIteration:
        return -1


def test_tag_browser_details_undo_and_label_set_editor(qtbot, window, tmp_path: Path) -> None:
    from photoclip.gui.tags import LabelSetEditor

    truth = _tagged_library(qtbot, window, tmp_path)
    tree = window.tag_browser
    qtbot.waitUntil(lambda: _tag_count(tree, "shapes", "circle") >= 4, timeout=20000)
    circle = _tree_item(tree, "shapes", "circle")
    n = _count(circle)
    # A set has no number of its own (its labels' would add up tags, not photos).
    assert circle.parent().text(0) == "shapes"
    assert "the number beside a label counts its photos" in circle.parent().toolTip(0)
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        tree.itemClicked.emit(circle, 0)
    assert window.model.rowCount() == n
    assert sum(truth[p] == "circle" for p in window.model.paths()) >= 0.9 * n
    # The header, the chip and the search box say the same thing.
    assert "tagged circle" in window.results_title.text()
    assert window.tag_chip.isVisible()
    assert "circle" in window.tag_chip.text()
    assert "tagged circle" in window.search_field.placeholderText()
    # ...and so does the tag tree; with the filter off, no label stays highlighted.
    assert [i.data(0, Qt.ItemDataRole.UserRole) for i in tree.selectedItems()] == [
        "shapes:circle"]
    assert window.clear_tag_action.isEnabled()
    # The selected photo's tags are listed; removing one is remembered, and undone.
    photo = window.details.photo
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        window.show_all()
    assert tree.selectedItems() == []
    assert not window.clear_tag_action.isEnabled()
    window.grid.setCurrentIndex(window.model.index(window.model.row_of_id(photo.id)))
    tags = window.details.tags

    def labels_shown() -> set:
        return {tags.list.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(tags.list.count())}

    qtbot.waitUntil(lambda: ("shapes", "circle") in labels_shown(), timeout=5000)
    circle_item = next(tags.list.item(i) for i in range(tags.list.count())
                       if tags.list.item(i).data(Qt.ItemDataRole.UserRole) ==
                       ("shapes", "circle"))
    assert "is how well the photo matches “circle”" in circle_item.toolTip()
    assert circle_item.text().startswith("circle · shapes · suggested ")
    # Confirm and Remove act on a selected tag line: off (with a hint) until there is one.
    assert not tags.remove_btn.isEnabled()
    assert not tags.confirm_btn.isEnabled()
    assert "Select a tag" in tags.remove_btn.toolTip()
    # The list taking the focus makes its first row current, unselected (Qt does that): it
    # was not picked, so the buttons stay off (Confirm confirmed it, unasked).
    tags.list.setCurrentRow(0, QItemSelectionModel.SelectionFlag.NoUpdate)
    assert tags.list.currentItem() is not None
    assert not tags.confirm_btn.isEnabled()
    assert not tags.remove_btn.isEnabled()
    tags.list.setCurrentItem(circle_item)
    assert tags.remove_btn.isEnabled()
    assert tags.confirm_btn.isEnabled()   # an automatic tag can be made yours
    tags.remove_btn.click()
    qtbot.waitUntil(lambda: window.undo_stack.count() == 1, timeout=5000)
    qtbot.waitUntil(lambda: ("shapes", "circle") not in labels_shown(), timeout=5000)
    qtbot.waitUntil(lambda: _tag_count(tree, "shapes", "circle") == n - 1, timeout=10000)
    assert "Remove tag" in window.undo_action.text()
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: _tag_count(tree, "shapes", "circle") == n, timeout=10000)
    qtbot.waitUntil(lambda: ("shapes", "circle") in labels_shown(), timeout=5000)
    tags.new.setText("favourite")
    tags._add()
    qtbot.waitUntil(lambda: ("my tags", "favourite") in labels_shown(), timeout=5000)
    assert window.details.photo.id == photo.id
    # A tag the photo did not have is added, one it had as a suggestion confirmed.
    assert window.undo_action.text().endswith("Undo Add tag “favourite”")
    tags.list.setCurrentItem(next(tags.list.item(i) for i in range(tags.list.count())
                                  if tags.list.item(i).data(Qt.ItemDataRole.UserRole)
                                  == ("shapes", "circle")))
    tags.confirm_btn.click()
    qtbot.waitUntil(lambda: window.undo_action.text().endswith("Undo Confirm tag “circle”"),
                    timeout=5000)
    # Nothing selected: no stale tags under "No photo selected".
    window.grid.selectionModel().clearCurrentIndex()
    assert window.details.photo is None
    assert window.details.preview.text().startswith("No photo selected.")
    assert tags.list.count() == 0
    assert not tags.new.isEnabled()
    # The editor previews what a label would take before anything is saved.
    editor = LabelSetEditor(window.controller, window.thumbnails, window)
    qtbot.addWidget(editor)
    qtbot.waitUntil(lambda: editor.chooser.count() > 0, timeout=10000)
    editor.chooser.setCurrentText("shapes")
    with qtbot.waitSignal(window.controller.preview_ready, timeout=20000):
        editor.threshold.setValue(0.25)
    editor.labels.setCurrentRow(0)
    assert "would tag" in editor.preview_note.text()
    assert editor.preview.count() > 0
    editor.labels.item(0).setText("")
    assert "labels" in editor.error.text()
    _answer_next_dialog(qtbot, lambda box: box.button(QMessageBox.StandardButton.Discard).click())
    editor.reject()   # unsaved edits: it asks, and they are discarded


def test_label_set_editor_saves_only_when_asked_and_asks_before_losing_edits(
        qtbot, window, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QAbstractItemView, QLineEdit

    from photoclip.gui.tags import LabelSetEditor

    _tagged_library(qtbot, window, tmp_path)
    qtbot.waitUntil(lambda: _tag_count(window.tag_browser, "shapes", "circle") > 0,
                    timeout=20000)
    saved = Path(window.controller.library_folder) / "labelsets" / "shapes.toml"
    before = saved.read_text()
    editor = LabelSetEditor(window.controller, window.thumbnails, window)
    qtbot.addWidget(editor)
    editor.show()
    qtbot.waitUntil(lambda: editor.chooser.count() > 1, timeout=10000)
    editor.chooser.setCurrentText("shapes")
    assert editor.name.text() == "shapes"

    def labels() -> list[str]:
        return [editor.labels.item(i).text() for i in range(editor.labels.count())]

    def line_editor() -> QLineEdit | None:
        # The open editor: one closed a moment ago is deleted later, and until then it is a
        # child too (a key sent to it went on to the dialog, which then asked to save).
        return next((e for e in editor.labels.viewport().findChildren(QLineEdit)
                     if e.isVisible()), None)

    # The preview's thumbnails land as they are decoded, in cells of one size.
    window.thumbnails.forget()
    with qtbot.waitSignal(window.controller.preview_ready, timeout=20000):
        editor.threshold.setValue(editor.threshold.value() - 0.05)
    editor.labels.setCurrentRow(0)
    assert editor.preview.count() > 0
    qtbot.waitUntil(lambda: all(not editor.preview.item(i).icon().isNull()
                                for i in range(editor.preview.count())), timeout=20000)
    # A label typed and entered with Return is taken; Return on the list edits a label.
    # Neither saves the set.
    editor.add_button.click()
    qtbot.waitUntil(lambda: line_editor() is not None, timeout=5000)
    line_editor().selectAll()
    qtbot.keyClicks(line_editor(), "hexagon")
    qtbot.keyClick(line_editor(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: labels()[-1] == "hexagon", timeout=5000)
    editor.labels.setFocus()
    qtbot.keyClick(editor.labels, Qt.Key.Key_Return)
    assert editor.labels.state() == QAbstractItemView.State.EditingState
    qtbot.keyClick(line_editor(), Qt.Key.Key_Escape)
    qtbot.keyClick(editor.name, Qt.Key.Key_Return)   # nor does Return in a field
    qtbot.keyClick(editor.threshold, Qt.Key.Key_Return)
    qtbot.wait(300)
    assert saved.read_text() == before
    assert editor.isVisible()
    # Closing with unsaved edits asks; Cancel keeps the dialog and the edits.
    seen = _answer_next_dialog(
        qtbot, lambda box: box.button(QMessageBox.StandardButton.Cancel).click())
    editor.reject()
    assert seen
    assert "Save your changes to “shapes”" in seen[0]["text"]
    assert seen[0]["default"] == "Save"
    assert editor.isVisible()
    assert labels()[-1] == "hexagon"
    # Switching sets asks too; Cancel stays on the edited set, its name still in the box.
    other = next(editor.chooser.itemText(i) for i in range(editor.chooser.count())
                 if editor.chooser.itemText(i) != "shapes")
    _answer_next_dialog(qtbot, lambda box: box.button(QMessageBox.StandardButton.Cancel).click())
    editor.chooser.setCurrentText(other)
    assert editor.chooser.currentText() == "shapes"
    assert labels()[-1] == "hexagon"
    # A new set, with Save chosen in the question: the edits are saved first; then the box
    # names none of the other sets until the new one is saved, and then names it.
    _answer_next_dialog(qtbot, lambda box: box.button(QMessageBox.StandardButton.Save).click())
    editor.new_set_button.click()
    qtbot.waitUntil(lambda: '"hexagon"' in saved.read_text(), timeout=20000)
    assert editor.name.text() == "new set"
    assert editor.chooser.currentText() == ""
    editor.name.setText("pets")
    editor.labels.item(0).setText("dog")
    editor.save()
    qtbot.waitUntil(lambda: (saved.parent / "pets.toml").is_file(), timeout=20000)
    qtbot.waitUntil(lambda: editor.chooser.findText("pets") >= 0, timeout=10000)
    assert editor.chooser.currentText() == "pets"
    # Nothing unsaved: Close closes without a question.
    editor.reject()
    assert not editor.isVisible()


def _detail_labels(window) -> list[str]:
    tags = window.details.tags.list
    return [tags.item(i).data(Qt.ItemDataRole.UserRole)[1] for i in range(tags.count())]


def test_hand_edited_label_set_retags_and_the_window_follows(qtbot, window,
                                                            tmp_path: Path) -> None:
    truth = _tagged_library(qtbot, window, tmp_path)
    window.controller.start_watching()
    tree = window.tag_browser
    qtbot.waitUntil(lambda: _tag_count(tree, "shapes", "star") > 0, timeout=20000)
    stars = _tag_count(tree, "shapes", "star")
    # The details of a star on screen follow the edit too.
    qtbot.waitUntil(lambda: window.model.rowCount() == 40, timeout=10000)
    row = next(i for i in range(40) if truth[window.model.photo(i).path] == "star")
    window.grid.setCurrentIndex(window.model.index(row))
    qtbot.waitUntil(lambda: "star" in _detail_labels(window), timeout=10000)
    path = Path(window.controller.library_folder) / "labelsets" / "shapes.toml"
    path.write_text(path.read_text().replace('"star"', '"star shape"'))
    qtbot.waitUntil(lambda: _has(tree, "shapes", "star shape"), timeout=20000)
    qtbot.waitUntil(lambda: _tag_count(tree, "shapes", "star shape") == stars,
                    timeout=20000)
    assert not _has(tree, "shapes", "star")
    qtbot.waitUntil(lambda: "star shape" in _detail_labels(window), timeout=10000)
    assert "star" not in _detail_labels(window)


def _has(tree, set_name: str, label: str) -> bool:
    try:
        _tree_item(tree, set_name, label)
    except StopIteration:
        return False
    return True


def test_remove_folder_defaults_to_cancel_says_what_goes_and_undoes(qtbot, window,
                                                                   tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    draw_photos(a, 6, seed=31)
    (a / "broken.jpg").write_bytes(b"\xff\xd8\xff not a photo")
    draw_photos(b, 4, seed=32)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, a, b, expect=10)
    qtbot.waitUntil(lambda: window.model.rowCount() == 10, timeout=10000)
    photo = next(window.model.photo(i) for i in range(10)
                 if window.model.photo(i).path.startswith(str(a)))
    window.controller.edit_tag(photo.id, "my tags", "keeper", "confirm")
    qtbot.waitUntil(lambda: window.undo_stack.count() == 1, timeout=5000)

    boxes = _answer_next_dialog(qtbot, lambda box: qtbot.keyClick(box, Qt.Key.Key_Return))
    window.confirm_remove(str(a))
    qtbot.waitUntil(lambda: bool(boxes), timeout=10000)
    assert boxes[0]["default"] == "Cancel"
    text = boxes[0]["info"]
    # The counts the folder list shows: photos, and the file that could not be read apart.
    assert "forgets the 6 photos (and 1 file it could not read)" in text
    assert "untouched" in text
    assert "Your 1 tag choice on them (tags you added, confirmed or removed)" in text
    qtbot.waitUntil(lambda: QApplication.activeModalWidget() is None, timeout=5000)
    assert _status(window).photos == 11   # Enter chose Cancel: nothing removed

    boxes = _answer_next_dialog(qtbot, lambda box: next(
        b for b in box.buttons() if b.text() == "Remove folder").click())
    window.confirm_remove(str(a))
    qtbot.waitUntil(lambda: _status(window).photos == 4, timeout=10000)
    qtbot.waitUntil(lambda: (window.model.rowCount() == 4
                             and window.sidebar.topLevelItemCount() == 1), timeout=10000)
    qtbot.waitUntil(lambda: not _has(window.tag_browser, "my tags", "keeper"), timeout=10000)
    assert window.undo_action.text().endswith("Undo Remove folder “a”")
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: (window.model.rowCount() == 10
                             and window.sidebar.topLevelItemCount() == 2), timeout=10000)
    qtbot.waitUntil(lambda: _has(window.tag_browser, "my tags", "keeper"), timeout=10000)
    assert _status(window).indexed == 10   # back with its embeddings: nothing re-indexed


def test_xmp_for_the_whole_library_asks_first_with_the_count(qtbot, window,
                                                            tmp_path: Path) -> None:
    truth = _tagged_library(qtbot, window, tmp_path)
    boxes = _answer_next_dialog(qtbot, lambda box: box.button(
        QMessageBox.StandardButton.Cancel).click())
    xmp_all = next(a for a in window.findChildren(type(window.add_action))
                   if "whole" in a.text())
    xmp_all.trigger()
    qtbot.waitUntil(lambda: bool(boxes), timeout=10000)
    assert "for 40 photos" in boxes[0]["text"]
    assert boxes[0]["default"] == "Cancel"
    assert not any(Path(p + ".xmp").exists() for p in truth)
    boxes = _answer_next_dialog(qtbot, lambda box: box.button(
        QMessageBox.StandardButton.Yes).click())
    xmp_all.trigger()
    qtbot.waitUntil(lambda: sum(Path(p + ".xmp").exists() for p in truth) == 40,
                    timeout=20000)


def test_layout_thumbnails_and_last_view_are_remembered(qtbot, make_window,
                                                       tmp_path: Path) -> None:
    from photoclip.gui.app import start
    from photoclip.settings import Settings

    folder = tmp_path / "p"
    draw_photos(folder, 4, seed=41)
    first = make_window()
    _model_ready(qtbot, first)
    _index_by_drop(qtbot, first, folder, expect=4)
    first.resize(760, 540)   # within the offscreen screen, which restoring respects
    first.splitter.setSizes([200, 300, 240])
    first.zoom(+1)
    first.set_view(View(text="a blue square"))
    qtbot.wait(100)   # the panes settle (the side pane has a minimum width)
    sizes = first.splitter.sizes()
    first.close()
    saved = Settings.load()
    assert saved.thumb_size == 200
    assert saved.last_view["text"] == "a blue square"
    saved.welcomed = True
    second = make_window(settings=saved)
    with qtbot.waitSignal(second.controller.results, timeout=60000):
        start(second)
    assert (second.width(), second.height()) == (760, 540)
    # The panes come back as left (a pixel of rounding aside).
    assert all(abs(a - b) <= 2 for a, b in zip(second.splitter.sizes(), sizes, strict=True))
    assert second.settings.thumb_size == 200
    assert second.grid.thumb_size == 200
    assert second.search_field.text() == "a blue square"
    assert "a blue square" in second.results_title.text()
    _idle(qtbot, second)


def test_model_switch_from_settings_runs_as_a_job_without_a_restart(
        qtbot, window, tmp_path: Path) -> None:
    drawn = draw_shapes_library(tmp_path / "shapes", 30, seed=51)
    truth = {str(p): (d.colour, d.shape) for p, d in drawn}
    _big_pngs(tmp_path / "shapes" / "big", 80, seed=52)   # so re-embedding takes a while
    truth.update({str(p): ("?", "?") for p in (tmp_path / "shapes" / "big").iterdir()})
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "shapes", expect=114)
    # Another model: the same weights in another folder have another signature, so every
    # photo must be embedded again, which is what a switch does.
    other = tmp_path / "other-model"
    shutil.copytree(Path(SHAPES_SPEC.removeprefix("local-dir:")), other)
    window.controller._library.indexer.batch_size = 4
    _search(qtbot, window, "a red circle")
    old_model = weakref.ref(window.controller._library.embedder._model)
    job = window.controller.use_model(f"local-dir:{other}")
    assert job is not None
    # While it runs (held paused, so a fast machine cannot finish it first), the old
    # vectors answer.
    job.set_paused(True)
    answered: list = []
    window.controller.results.connect(lambda *_a: answered.append(job.state))
    window.set_view(View(text="a blue square"))
    qtbot.waitUntil(lambda: bool(answered), timeout=20000)
    assert not answered[0].finished, "the switch ended before the search was answered"
    assert window.controller.model_spec != f"local-dir:{other}"
    job.set_paused(False)
    qtbot.waitUntil(lambda: window.controller.model_spec == f"local-dir:{other}",
                    timeout=120000)
    assert job.state is JobState.DONE, job.outcome
    # The old model's memory is given back, though the app froze it for the collector.
    qtbot.waitUntil(lambda: old_model() is None, timeout=10000)
    _search(qtbot, window, "a red circle")
    assert truth[window.model.paths()[0]] == ("red", "circle")
    with Library.open(window.controller.library_folder, readonly=True) as lib:
        assert lib.model_spec == f"local-dir:{other}"
        assert lib.status().indexed == 114


def test_a_model_that_cannot_load_is_not_remembered_and_the_one_in_use_stays(
        qtbot, window, tmp_path: Path) -> None:
    from photoclip.settings import Settings

    _model_ready(qtbot, window)
    before = window.controller.model_spec
    window.settings.save()
    # Not downloaded, and downloads are off (HF_HUB_OFFLINE=1): the switch fails.
    seen = _answer_next_dialog(qtbot, lambda box: box.accept())
    window.request_model("ViT-B-16:datacomp_xl_s13b_b90k")
    qtbot.waitUntil(lambda: bool(seen), timeout=60000)
    _idle(qtbot, window)
    assert seen[0]["title"] == "Model not changed"
    assert "not downloaded yet" in seen[0]["text"]
    assert "Folder…" in seen[0]["info"]
    assert window.controller.model_spec == before
    assert window.controller.model_ready
    assert Settings.load().model == window.settings.model != "ViT-B-16:datacomp_xl_s13b_b90k"
    # A model that works is remembered for the next start once it answers searches.
    other = tmp_path / "other-model"
    shutil.copytree(Path(SHAPES_SPEC.removeprefix("local-dir:")), other)
    window.request_model(f"local-dir:{other}")
    qtbot.waitUntil(lambda: Settings.load().model == f"local-dir:{other}", timeout=120000)
    assert window.controller.model_spec == f"local-dir:{other}"
    _idle(qtbot, window)


def test_ctrl_z_in_the_search_box_is_the_windows_undo_once_the_search_ran(
        qtbot, window) -> None:
    from PySide6.QtGui import QUndoCommand

    undone: list[str] = []

    class Noted(QUndoCommand):
        def undo(self) -> None:
            undone.append("undo")

    window.activateWindow()
    window.search_field.setFocus()
    window.undo_stack.push(Noted("Remove tag"))
    qtbot.keyClicks(window.search_field, "red")
    # Typing not yet searched for: Ctrl+Z takes back typing, as in any text field.
    qtbot.keyClick(window.search_field, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.search_field.text() != "red"
    assert not undone
    window.search_field.setText("red")
    window.run_search()
    qtbot.waitUntil(lambda: window.controller.view.text == "red", timeout=10000)
    # Searched: the same keys undo the last action, and the search text stays.
    qtbot.keyClick(window.search_field, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert undone == ["undo"]
    assert window.search_field.text() == "red"
    _idle(qtbot, window)


def test_ctrl_z_in_the_tag_box_is_the_windows_undo_once_the_tag_is_added(
        qtbot, window) -> None:
    from PySide6.QtGui import QUndoCommand

    undone: list[str] = []

    class Noted(QUndoCommand):
        def undo(self) -> None:
            undone.append("undo")

    box = window.details.tags.new
    window.activateWindow()
    box.setEnabled(True)
    box.setFocus()
    added: list[str] = []
    window.details.tags.add.connect(added.append)
    qtbot.keyClicks(box, "sunny day")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    assert added == ["sunny day"]
    assert box.text() == ""
    window.undo_stack.push(Noted("Add tag “sunny day”"))
    # The box has nothing of its own to undo: the keys undo the tag, not bring back text.
    qtbot.keyClick(box, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert undone == ["undo"]
    assert box.text() == ""
    # While a tag is being typed, they take back typing, as in any text field.
    qtbot.keyClicks(box, "rain")
    qtbot.keyClick(box, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert undone == ["undo"]
    assert box.text() != "rain"


def test_the_add_a_tag_box_applies_nothing_on_a_bare_enter(qtbot, window) -> None:
    offer = [("shapes", "circle"), ("shapes", "square")]
    seen = _answer_next_dialog(qtbot, lambda box: qtbot.keyClick(box, Qt.Key.Key_Return))
    assert window._ask_label("Add a tag", "Add a tag to 3 photos:", offer) is None
    assert seen[0]["title"] == "Add a tag"

    def pick(box) -> None:  # type: ignore[no-untyped-def]
        box.setTextValue("circle  (shapes)")
        box.accept()

    _answer_next_dialog(qtbot, pick)
    assert window._ask_label("Add a tag", "Add a tag to 3 photos:", offer) == ("shapes",
                                                                            "circle")


def test_add_folder_opens_at_home_then_where_the_last_one_was_chosen(
        qtbot, window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    home = tmp_path / "home"
    (home / "Pictures").mkdir(parents=True)
    (tmp_path / "drive" / "trip").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_PICTURES_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    opened: list[str] = []

    def choose(box) -> None:
        assert isinstance(box, QFileDialog)
        opened.append(box.directory().absolutePath())
        box.setDirectory(str(tmp_path / "drive"))
        box.selectFile(str(tmp_path / "drive" / "trip"))
        box.accept()

    _answer_next_dialog(qtbot, choose)
    window.add_folder_dialog()
    assert opened == [str(home)]
    qtbot.waitUntil(lambda: window.sidebar.topLevelItemCount() == 1, timeout=10000)
    # The next time, it opens beside the folder just added.
    _answer_next_dialog(qtbot, lambda box: (opened.append(box.directory().absolutePath()),
                                            box.reject()))
    window.add_folder_dialog()
    assert opened[1] == str(tmp_path / "drive")
    assert window._roots[0].path == str(tmp_path / "drive" / "trip")
    _idle(qtbot, window)

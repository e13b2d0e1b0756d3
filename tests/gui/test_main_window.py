"""The real window, offscreen, driven like a user would: drops, typing, clicks, closing."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QElapsedTimer, QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent

from tests.conftest import draw_photos, draw_shapes_library

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


def _model_ready(qtbot, window) -> None:
    with qtbot.waitSignal(window.controller.model_state, timeout=60000,
                          check_params_cb=lambda state, _m: state == "ready"):
        window.controller.load_model()


def _index_by_drop(qtbot, window, *folders: Path) -> None:
    with qtbot.waitSignal(window.controller.index_finished, timeout=120000):
        event = _drop(window, _mime(*folders))
        assert event.isAccepted()


def test_first_run_shows_what_to_do(window) -> None:
    assert window.windowTitle() == "photoclip"
    assert window.stack.currentWidget() is window.empty
    assert "Drop a photo folder here or click Add folder" in window.empty.text()


def test_dropped_folders_are_added_and_indexed(qtbot, window, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    draw_photos(a, 12, seed=1)
    draw_photos(b, 8, seed=2)
    _model_ready(qtbot, window)
    progress: list = []
    window.controller.index_progress.connect(progress.append)
    _index_by_drop(qtbot, window, a, b)
    status = window.controller.library.status()
    assert status.indexed == 20
    assert status.pending == 0
    assert {window.sidebar.item(i).toolTip() for i in range(window.sidebar.count())} == {
        str(a), str(b)}
    embeds = [p for p in progress if p.phase == "embed"]
    assert embeds
    assert embeds[-1].done == embeds[-1].total == 20
    assert [p.done for p in embeds] == sorted(p.done for p in embeds)
    # The grid shows the whole library once indexing ends.
    qtbot.waitUntil(lambda: window.model.rowCount() == 20, timeout=10000)


def test_dropping_anything_else_is_refused_visibly(window, tmp_path: Path) -> None:
    mime = QMimeData()
    mime.setText("just some text")
    assert not window.handle_drop(mime)
    assert "can be dropped" in window.statusBar().currentMessage()
    note = tmp_path / "notes.txt"
    note.write_text("x")
    assert not window.handle_drop(_mime(note))


def test_query_fills_the_grid_with_the_right_photos(qtbot, window, tmp_path: Path) -> None:
    drawn = draw_shapes_library(tmp_path / "shapes", 56, seed=7)
    truth = {str(p): (d.colour, d.shape) for p, d in drawn}
    n = sum(1 for v in truth.values() if v == ("red", "circle"))
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "shapes")
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        qtbot.keyClicks(window.search_field, "a red circle")
        qtbot.keyClick(window.search_field, Qt.Key.Key_Return)
    shown = window.model.paths()[:n]
    assert [truth[p] for p in shown] == [("red", "circle")] * n
    assert "a red circle" in window.results_title.text()
    # The first result is selected and its details are shown.
    assert window.details.photo is not None
    assert window.details.photo.path == shown[0]


def test_find_similar_from_details_and_from_a_dropped_file(qtbot, window,
                                                           tmp_path: Path) -> None:
    drawn = draw_photos(tmp_path / "shapes", 30, seed=8)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "shapes")
    qtbot.waitUntil(lambda: window.model.rowCount() == 30, timeout=10000)
    window.grid.setCurrentIndex(window.model.index(3))
    chosen = window.details.photo.path
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        qtbot.mouseClick(window.details.similar_btn, Qt.MouseButton.LeftButton)
    assert window.model.rowCount() == 29
    assert chosen not in window.model.paths()
    outside = draw_photos(tmp_path / "outside", 1, seed=50)[0][0]
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        _drop(window, _mime(outside))
    assert window.model.rowCount() == 30
    assert drawn  # the library photos are what came back
    assert set(window.model.paths()) == {str(p) for p, _ in drawn}


def test_window_stays_responsive_while_indexing(qtbot, window, tmp_path: Path) -> None:
    # PNGs cannot be draft-decoded, so each costs real decode time, like a big photo would.
    many = tmp_path / "many"
    originals = draw_photos(many, 20, seed=9, size=(1200, 900), fmt="png")
    for i in range(400):
        shutil.copyfile(originals[i % 20][0], many / f"copy-{i}.png")
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
    with qtbot.waitSignal(window.controller.index_finished, timeout=180000):
        window.controller.add_folders([str(many)])
    timer.stop()
    assert window.controller.library.status().indexed == 420
    assert len(gaps) > 50
    # The event loop never stalled for more than 100 ms while the indexer ran.
    assert max(gaps) < 100, f"worst event-loop stall {max(gaps)} ms"


def test_closing_mid_index_stops_cleanly_and_keeps_work(qtbot, window, tmp_path: Path) -> None:
    draw_photos(tmp_path / "many", 400, seed=10, size=(640, 480))
    _model_ready(qtbot, window)
    window.controller.library.indexer.batch_size = 8
    seen: list = []
    window.controller.index_progress.connect(seen.append)
    window.controller.add_folders([str(tmp_path / "many")])
    qtbot.waitUntil(lambda: any(p.phase == "embed" and p.done >= 16 for p in seen),
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
    from photoclip.core import Library

    Library.open(tmp_path / "library").close()


def test_missing_model_offline_still_browses(qtbot, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHOTOCLIP_CACHE_DIR", str(tmp_path / "cache"))
    from photoclip.core.embedder import Embedder
    from photoclip.gui.app import create_window
    from photoclip.settings import Settings

    offline = Embedder("ViT-B-32-256:datacomp_s34b_b86k", cache_dir=str(tmp_path / "hf"))
    win = create_window(tmp_path / "library", None, Settings(), embedder=offline)
    qtbot.addWidget(win)
    win.show()
    try:
        with qtbot.waitSignal(win.controller.model_state, timeout=60000,
                              check_params_cb=lambda state, _m: state == "unavailable"):
            win.controller.load_model()
        assert win.banner.isVisible()
        assert "ViT-B-32-256:datacomp_s34b_b86k" in win.banner_label.text()
        draw_photos(tmp_path / "p", 5, seed=3)
        win.handle_drop(_mime(tmp_path / "p"))
        qtbot.waitUntil(lambda: win.model.rowCount() == 5, timeout=20000)
        win.controller.search("a red circle")  # refused with a message, no crash
        assert "needs the model" in win.statusBar().currentMessage()
    finally:
        win.close()


def test_new_photos_appear_while_the_app_is_open(qtbot, window, tmp_path: Path) -> None:
    folder = tmp_path / "watched"
    draw_photos(folder, 3, seed=14)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, folder)
    qtbot.waitUntil(lambda: window.controller.watcher is not None, timeout=10000)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=10000)
    new = draw_photos(tmp_path / "incoming", 2, seed=15)
    for path, _ in new:
        path.rename(folder / path.name)
    qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=20000)
    assert {str(folder / p.name) for p, _ in new} <= set(window.model.paths())


def test_tag_browser_details_and_label_set_editor(qtbot, window, tmp_path: Path) -> None:
    from photoclip.gui.tags import LabelSetEditor

    drawn = draw_shapes_library(tmp_path / "shapes", 36, seed=16)
    truth = {str(p): d.shape for p, d in drawn}
    window.controller.library.import_label_set(
        Path(__file__).resolve().parents[1] / "data" / "shapes.toml")
    _model_ready(qtbot, window)
    with qtbot.waitSignal(window.controller.tags_changed, timeout=60000):
        _index_by_drop(qtbot, window, tmp_path / "shapes")
    tree = window.tag_browser
    shapes = next(tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                  if tree.topLevelItem(i).text(0).startswith("shapes ("))
    circle = next(shapes.child(i) for i in range(shapes.childCount())
                  if shapes.child(i).text(0).startswith("circle ("))
    n = int(circle.text(0).split("(")[1].rstrip(")"))
    assert n >= 4
    with qtbot.waitSignal(window.controller.results, timeout=20000):
        tree.itemClicked.emit(circle, 0)
    assert window.model.rowCount() == n
    assert sum(truth[p] == "circle" for p in window.model.paths()) >= 0.9 * n
    # The selected photo's tags are listed; removing one is remembered.
    qtbot.waitUntil(lambda: window.details.tags.list.count() > 0, timeout=5000)
    photo = window.details.photo
    items = [window.details.tags.list.item(i) for i in range(window.details.tags.list.count())]
    circle_item = next(i for i in items if i.data(Qt.ItemDataRole.UserRole) ==
                       ("shapes", "circle"))
    window.details.tags.list.setCurrentItem(circle_item)
    window.details.tags._remove()
    assert ("shapes", "circle") not in {(t.label_set, t.label)
                                        for t in window.controller.photo_tags(photo.id)}
    window.details.tags.new.setText("favourite")
    window.details.tags._add()
    assert ("my tags", "favourite", "manual") in {
        (t.label_set, t.label, t.source) for t in window.controller.photo_tags(photo.id)}
    # The editor previews what a label would take before anything is saved.
    editor = LabelSetEditor(window.controller, window.thumbnails, window)
    qtbot.addWidget(editor)
    editor.chooser.setCurrentText("shapes")
    with qtbot.waitSignal(window.controller.preview_ready, timeout=20000):
        editor.threshold.setValue(0.25)
    editor.labels.setCurrentRow(0)
    assert "would tag" in editor.preview_note.text()
    assert editor.preview.count() > 0
    editor.labels.item(0).setText("")
    assert "labels" in editor.error.text()

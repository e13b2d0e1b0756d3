"""In the app: "Create label from these…" on a selection, the label's photos shown, a
suggestion removed (the label learns, undo puts it back); the model picker in Settings with
published numbers and the speed measured here. The real window, Library guard on."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu

from photoclip.core import Library
from photoclip.gui.dialogs import SettingsDialog
from photoclip.gui.jobs import JobState
from photoclip.gui.models import ScoreRole
from tests.concepts import draw_concept_library
from tests.conftest import SHAPES_SPEC
from tests.gui.test_browse import _select_rows
from tests.gui.test_main_window import _answer_next_dialog, _idle, _index_by_drop, _model_ready

pytestmark = pytest.mark.slow

LABEL = "square with star"


def _learned(window) -> tuple:
    with Library.open(window.controller.library_folder, readonly=True,
                      model=SHAPES_SPEC) as lib:
        ls = lib.label_set("personal")
        return ls.learned[LABEL], lib.tag_counts().get(("personal", LABEL), 0)


def test_create_a_label_from_photos_and_teach_it(qtbot, window, tmp_path: Path) -> None:
    drawn = draw_concept_library(tmp_path / "photos", seed=2, randoms=30)
    concept = {str(p) for p in drawn.concept}
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "photos", expect=len(drawn.all()))
    qtbot.waitUntil(lambda: window.model.rowCount() == len(drawn.all()), timeout=10000)
    rows = [r for r in range(window.model.rowCount())
            if window.model.photo(r).path in concept][:4]
    _select_rows(window, rows)

    # The photo menu offers it for a selection of 3 or more; the dialog names it.
    offered: list[str] = []

    def pick_create() -> None:
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            QTimer.singleShot(20, pick_create)
            return
        actions = [a for a in menu.actions() if a.text()]
        offered.extend(a.text() for a in actions)
        menu.setActiveAction(next(a for a in actions if a.text().startswith("Create label")))
        QTest.keyClick(menu, Qt.Key.Key_Return)

    QTimer.singleShot(0, pick_create)

    def answer(dialog) -> None:  # type: ignore[no-untyped-def]
        assert "4 selected photos" in dialog.findChildren(type(dialog.error))[0].text()
        dialog.name.setText(LABEL)
        assert dialog.set_box.currentText() == "personal"
        dialog.accept()

    _answer_next_dialog(qtbot, answer)
    with qtbot.waitSignal(window.controller.label_learned, timeout=60000):
        window._photo_menu(window.grid.visualRect(window.model.index(rows[0])).center())
    assert "Create label from these…" in offered
    # The window shows what the label took: the user's examples and the suggestions.
    qtbot.waitUntil(lambda: LABEL in window.results_title.text()
                    and "photos" in window.results_title.text(), timeout=20000)
    _idle(qtbot, window)
    learned, count = _learned(window)
    assert len(learned.examples) == 4
    assert count >= 10
    # Best match first: the user's four examples (no score badge), then the suggestions by
    # their score, highest first; the sort box says so and can go back to dates.
    examples = {e.path for e in learned.examples}
    shown = window.model.paths()
    assert set(shown[:4]) == examples
    scores = [window.model.index(r).data(ScoreRole) for r in range(len(shown))]
    assert scores[:4] == [None] * 4
    assert scores[4:] == sorted(scores[4:], reverse=True)
    assert not window.sort_box.isHidden()
    assert window.sort_box.currentText() == "Best match first"
    assert "best match first" in window.results_title.text()
    window._sort_chosen(1)
    qtbot.waitUntil(lambda: not window.controller.view.by_score, timeout=5000)
    qtbot.waitUntil(lambda: "newest first" in window.results_title.text(), timeout=20000)
    window._sort_chosen(0)
    qtbot.waitUntil(lambda: "best match first" in window.results_title.text(), timeout=20000)
    _idle(qtbot, window)

    # Removing a suggestion (the details panel's Remove) teaches it; undo takes it back.
    other = next(p for p in map(window.model.photo, range(window.model.rowCount()))
                 if p is not None and p.path not in examples)
    window.details.show_photo(other)
    window._edit_tag("personal", LABEL, "reject")
    qtbot.waitUntil(lambda: window.undo_stack.count() == 1, timeout=20000)
    qtbot.waitUntil(lambda: len(_learned(window)[0].negatives) == 1, timeout=20000)
    assert _learned(window)[0].negatives[0].path == other.path
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: not _learned(window)[0].negatives, timeout=20000)
    _idle(qtbot, window)


def test_settings_lists_models_with_numbers_and_times_the_one_here(qtbot, window) -> None:
    _model_ready(qtbot, window)
    with qtbot.waitSignal(window.controller.model_catalog, timeout=30000):
        dialog = SettingsDialog(window.settings, window.controller.model_spec,
                                window.controller.library_folder, "", window,
                                controller=window.controller)
    qtbot.addWidget(dialog)
    tree = dialog.models.tree
    rows = [[tree.topLevelItem(i).text(c) for c in range(tree.columnCount())]
            for i in range(tree.topLevelItemCount())]
    assert rows[0][0].endswith("(in use)")   # the test model: a folder of its own
    assert rows[0][-1] == "not timed yet"
    multilingual = next(r for r in rows if "multilingual" in r[0])
    assert multilingual[1] == "62.4%"
    assert "languages" in multilingual[5]
    assert all(r[-1] == "not downloaded yet" for r in rows[1:])
    with qtbot.waitSignal(window.controller.model_catalog, timeout=60000):
        dialog.models.measure.click()
    job = window.controller.jobs.jobs[-1]
    assert job.state is JobState.DONE, job.outcome
    assert "photos/s" in tree.topLevelItem(0).text(6)
    # Choosing a row chooses the model (applied on Save, as a re-embedding job).
    item = tree.topLevelItem(2)
    dialog.models._clicked(item)
    assert dialog.model.currentText() == "ViT-B-16:datacomp_xl_s13b_b90k"
    dialog.reject()


def test_a_model_picked_in_settings_is_switched_to_on_save(qtbot, window,
                                                          tmp_path: Path) -> None:
    import shutil

    from tests.conftest import SHAPES_MODEL, draw_photos

    draw_photos(tmp_path / "photos", 8, seed=80)
    _model_ready(qtbot, window)
    _index_by_drop(qtbot, window, tmp_path / "photos", expect=8)
    # A model picked in the table but not on this computer: Save tries it as a job, and
    # says in words why it stays with the one in use.
    def pick_known(dialog) -> None:
        qtbot.waitUntil(lambda: dialog.models.tree.topLevelItemCount() > 2, timeout=10000)
        dialog.models._clicked(dialog.models.tree.topLevelItem(2))
        dialog.accept()

    _answer_next_dialog(qtbot, pick_known)
    window.show_settings()
    boxes = _answer_next_dialog(qtbot, lambda box: box.accept())
    qtbot.waitUntil(lambda: bool(boxes), timeout=60000)
    assert boxes[0]["title"] == "Model not changed"
    _idle(qtbot, window)
    assert window.controller.model_spec == SHAPES_SPEC
    # A model folder of the user's own: Save switches to it in the background, and every
    # photo gets a vector of the new model.
    other = tmp_path / "other-model"
    shutil.copytree(SHAPES_MODEL, other)

    def pick_folder(dialog) -> None:
        dialog.model.setCurrentText(f"local-dir:{other}")
        dialog.accept()

    _answer_next_dialog(qtbot, pick_folder)
    window.show_settings()
    qtbot.waitUntil(lambda: any(j.title.startswith("Switching to the model")
                                for j in window.controller.jobs.jobs), timeout=10000)
    _idle(qtbot, window)
    assert window.controller.model_spec == f"local-dir:{other}"
    assert window.settings.model == f"local-dir:{other}"
    with Library.open(window.controller.library_folder, readonly=True,
                      model=f"local-dir:{other}") as lib:
        assert lib.status().indexed == 8

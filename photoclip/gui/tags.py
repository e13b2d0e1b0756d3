"""Tag widgets: the sidebar tag browser, per-photo tags, and the label-set editor."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemDelegate,
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photoclip.core.errors import LabelSetError
from photoclip.core.tagging import LabelSet, parse_label_set
from photoclip.gui.names import counted

MANUAL_SET = "my tags"   # where tags typed by hand go
PERSONAL_SET = "personal"   # where labels learned from photos go unless the user says


class TagBrowser(QTreeWidget):
    """Label sets -> labels with photo counts; clicking a label filters the grid."""

    tag_chosen = Signal(object)   # "set:label", or None for "no tag filter"

    def __init__(self) -> None:
        super().__init__()
        self.setHeaderHidden(True)
        self.itemClicked.connect(self._clicked)
        self.known: list[tuple[str, str]] = []   # every (set, label), for "Add tag…"
        self._shown_tag: str | None = None        # the grid's tag filter, highlighted

    def set_counts(self, sets: list[tuple[str, list[str]]],
                   counts: dict[tuple[str, str], int]) -> None:
        expanded = {self.topLevelItem(i).text(0).split(" (")[0]
                    for i in range(self.topLevelItemCount())
                    if self.topLevelItem(i).isExpanded()}
        self.clear()
        manual = sorted({label for (s, label) in counts if s == MANUAL_SET})
        if manual:
            sets = [*sets, (MANUAL_SET, manual)]
        self.known = [(name, label) for name, labels in sets for label in labels]
        for name, labels in sets:
            # No count on a set: its labels' counts add up tags, not photos (a photo may
            # carry several labels of a set), and "scenes (53)" of 52 photos misled.
            top = QTreeWidgetItem([name])
            top.setData(0, Qt.ItemDataRole.UserRole, None)
            used = sum(1 for lb in labels if counts.get((name, lb), 0))
            top.setToolTip(0, f"{counted(len(labels), 'label')}, {used:,} of them on your "
                              "photos; the number beside a label counts its photos")
            for label in labels:
                n = counts.get((name, label), 0)
                child = QTreeWidgetItem([f"{label} ({n})"])
                child.setData(0, Qt.ItemDataRole.UserRole, f"{name}:{label}")
                if n == 0:
                    child.setForeground(0, self.palette().mid())
                top.addChild(child)
            self.addTopLevelItem(top)
            top.setExpanded(name in expanded)
        self.select_tag(self._shown_tag)

    def select_tag(self, tag: str | None) -> None:
        """Highlight the label the grid is filtered by, and nothing when it is not: a label
        left highlighted read as a filter still on."""
        self._shown_tag = tag
        self.clearSelection()
        self.setCurrentItem(None)
        for i in range(self.topLevelItemCount()):
            top = self.topLevelItem(i)
            for j in range(top.childCount()):
                child = top.child(j)
                if tag and child.data(0, Qt.ItemDataRole.UserRole) == tag:
                    top.setExpanded(True)
                    child.setSelected(True)
                    self.scrollToItem(child)
                    return

    def _clicked(self, item: QTreeWidgetItem) -> None:
        tag = item.data(0, Qt.ItemDataRole.UserRole)
        if tag:
            self.tag_chosen.emit(tag)


class PhotoTags(QWidget):
    """A photo's tags with scores; confirm, remove, or add one by hand."""

    confirm = Signal(str, str)     # set, label
    remove = Signal(str, str)
    add = Signal(str)              # label

    def __init__(self) -> None:
        super().__init__()
        self.list = QListWidget()
        self.list.setMaximumHeight(140)
        self.list.setWordWrap(True)   # a long label wraps in the narrow panel, not scrolls
        self.list.itemDoubleClicked.connect(self._confirm_item)
        self.new = QLineEdit(placeholderText="Add a tag…")
        self.new.returnPressed.connect(self._add)
        self.confirm_btn = confirm = QPushButton("Confirm")
        confirm.clicked.connect(lambda: self._confirm_item(self._chosen()))
        self.remove_btn = remove = QPushButton("Remove")
        remove.clicked.connect(self._remove)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        buttons = QHBoxLayout()
        buttons.addWidget(confirm)
        buttons.addWidget(remove)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Tags"))
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        layout.addWidget(self.new)

    def show_tags(self, tags: list[Any] | None, *, loading: bool = False) -> None:
        """A photo's tags; ``None``: no photo selected (nothing to show, nothing to edit)."""
        self.list.clear()
        self.new.setEnabled(tags is not None and not loading)
        if tags is not None and not loading:
            for t in tags:
                # A suggestion says it is one, with its match: a bare "0.80" read as a
                # mystery number.
                how = {"auto": (f"suggested {t.score:.2f}" if t.score is not None
                                else "suggested"),
                       "manual": "✓ yours"}.get(t.source, t.source)
                item = QListWidgetItem(f"{t.label} · {t.label_set} · {how}")
                if t.source == "auto":
                    item.setForeground(self.palette().placeholderText())
                # What the number is: nothing on screen said.
                item.setToolTip(
                    f"Yours: re-tagging never takes “{t.label}” away" if t.source == "manual"
                    else f"Suggested automatically: {t.score or 0:.2f} is how well the "
                         f"photo matches “{t.label}” (1 would be a perfect match; the set "
                         f"“{t.label_set}” keeps those above its threshold). Confirm makes "
                         "it yours.")
                item.setData(Qt.ItemDataRole.UserRole, (t.label_set, t.label))
                item.setData(Qt.ItemDataRole.UserRole + 1, t.source)
                self.list.addItem(item)
        self._update_buttons()

    def _chosen(self) -> QListWidgetItem | None:
        """The tag the user picked: a selected one. Not the list's current item, which Qt
        sets to the first row when the list takes the focus (opening the viewer did), with
        nothing shown as picked: Confirm then confirmed a tag nobody chose."""
        chosen = self.list.selectedItems()
        return chosen[0] if chosen else None

    def _update_buttons(self) -> None:
        """Confirm and Remove act on the tag selected in the list: without one they are off
        and say so, rather than doing nothing when clicked."""
        item = self._chosen()
        source = item.data(Qt.ItemDataRole.UserRole + 1) if item is not None else None
        self.confirm_btn.setEnabled(source == "auto")
        self.remove_btn.setEnabled(item is not None)
        hint = "Select a tag in the list first" if self.list.count() else ""
        self.confirm_btn.setToolTip(
            "Keep this tag as yours: re-tagging never takes it away" if source == "auto"
            else "This tag is already yours" if source == "manual" else hint)
        self.remove_btn.setToolTip(
            "Remove this tag from the photo (re-tagging does not bring it back)"
            if item is not None else hint)

    def _confirm_item(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            self.confirm.emit(*item.data(Qt.ItemDataRole.UserRole))

    def _remove(self) -> None:
        item = self._chosen()
        if item is not None:
            self.remove.emit(*item.data(Qt.ItemDataRole.UserRole))

    def _add(self) -> None:
        text = self.new.text().strip()
        if text:
            self.add.emit(text)
            # setText, not clear(): clear() is undoable, and Ctrl+Z then brought the typed
            # tag back into the box instead of undoing the tag added.
            self.new.setText("")


_PREVIEW_CELL = QSize(104, 120)   # a 96-pixel thumbnail and its score below


class _LabelList(QListWidget):
    """The labels of a set: Return edits the current one (it must not press Save)."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        item = self.currentItem()
        if (event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and item is not None
                and self.state() != QAbstractItemView.State.EditingState):
            self.editItem(item)
            event.accept()
            return
        super().keyPressEvent(event)

    def commit_edit(self) -> None:
        """A label being typed is taken as it stands (before the set is read or saved)."""
        if self.state() != QAbstractItemView.State.EditingState:
            return
        # The open editor: one closed a moment ago lingers as a child until it is deleted.
        editor = next((e for e in self.viewport().findChildren(QLineEdit) if e.isVisible()),
                      None)
        if editor is not None:
            self.commitData(editor)
            self.closeEditor(editor, QAbstractItemDelegate.EndEditHint.NoHint)


class LabelSetEditor(QDialog):
    """Edit a label set; the preview shows which photos a label would take, live.

    Edits stay in the form until Save: closing, switching to another set or starting a new
    one with unsaved edits asks first (Save, Discard, Cancel).
    """

    def __init__(self, controller: Any, thumbnails: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Label sets")
        self.resize(900, 600)
        self.controller = controller
        self.thumbnails = thumbnails
        self.sets: dict[str, LabelSet] = {}
        self._loaded = ""          # the set the form was filled from ("": a new one)
        self._clean: tuple = ()    # the form as loaded or last saved
        self.chooser = QComboBox(placeholderText="a new set, not saved yet")
        self.chooser.currentTextChanged.connect(self._switch)
        new_set = self.new_set_button = QPushButton("New set…")
        new_set.clicked.connect(self._new_set)
        self.name = QLineEdit()
        self.labels = _LabelList()
        self.labels.currentTextChanged.connect(lambda _t: self._show_preview())
        self.labels.itemChanged.connect(lambda _i: self._changed())
        add = self.add_button = QPushButton("Add label")
        add.clicked.connect(self._add_label)
        remove = QPushButton("Remove label")
        remove.clicked.connect(self._remove_label)
        self.templates = QPlainTextEdit(placeholderText="Optional. One per line, {} stands for "
                                        "the label, e.g. “a photo of a {}”. Empty: photoclip's "
                                        "own wordings")
        self.templates.setToolTip("How each label is put into words for the model. Several "
                                  "wordings of one label are averaged, which matches more "
                                  "reliably than the bare word.")
        self.templates.setMaximumHeight(90)
        self.templates.textChanged.connect(self._changed)
        self.threshold = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, decimals=2)
        self.threshold.setToolTip("How sure a match must be before the tag is given (the "
                                  "number shown beside a suggested tag). Higher: fewer "
                                  "tags, fewer mistakes; the preview shows the effect.")
        self.threshold.valueChanged.connect(self._changed)
        self.top_k = QSpinBox(minimum=0, maximum=50)
        self.top_k.setSpecialValueText("no limit")
        self.top_k.setToolTip("At most this many labels of the set on one photo, the "
                              "best matching first")
        self.top_k.valueChanged.connect(self._changed)
        self.error = QLabel(wordWrap=True)
        self.error.setStyleSheet("color: #c0392b;")
        self.preview_note = QLabel("Select a label to see which photos it would take.")
        self.preview = QListWidget()
        self.preview.setViewMode(QListView.ViewMode.IconMode)
        self.preview.setIconSize(QSize(96, 96))
        self.preview.setResizeMode(QListView.ResizeMode.Adjust)
        # One cell size, icon or not yet: thumbnails still decoding leave no gaps or jumble.
        self.preview.setGridSize(_PREVIEW_CELL + QSize(8, 8))
        self.preview.setMovement(QListView.Movement.Static)
        self._preview: dict[str, Any] = {}
        self._preview_items: dict[str, list[QListWidgetItem]] = {}   # path -> cells
        thumbnails.ready.connect(self._thumbnail_ready)
        self._timer = QTimer(self, singleShot=True, interval=400)
        self._timer.timeout.connect(self._compute_preview)

        form = QFormLayout()
        top = QHBoxLayout()
        top.addWidget(self.chooser, 1)
        top.addWidget(new_set)
        form.addRow("Set", top)
        form.addRow("Name", self.name)
        label_buttons = QHBoxLayout()
        label_buttons.addWidget(add)
        label_buttons.addWidget(remove)
        form.addRow("Labels", self.labels)
        form.addRow("", label_buttons)
        form.addRow("Wordings", self.templates)
        form.addRow("Tag when sure above", self.threshold)
        form.addRow("Labels per photo", self.top_k)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addLayout(form)
        left_layout.addWidget(self.error)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addWidget(self.preview_note)
        right_layout.addWidget(self.preview, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save |
                                   QDialogButtonBox.StandardButton.Close)
        self.buttons = buttons
        self._no_default_button()
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        body = QHBoxLayout()
        body.addWidget(left, 1)
        body.addWidget(right, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(buttons)
        controller.preview_ready.connect(self._preview_ready)
        controller.label_sets.connect(self._sets_loaded)
        self.error.setText("Reading the label sets…")
        controller.request_label_sets()

    def _sets_loaded(self, sets: list[LabelSet], problems: list[str]) -> None:
        first = not self.sets
        self.sets = {ls.name: ls for ls in sets}
        self.chooser.blockSignals(True)
        self.chooser.clear()
        self.chooser.addItems(sorted(self.sets))
        self.chooser.blockSignals(False)
        self.error.setText("\n".join(f"Ignored, last good version kept: {p}" for p in problems))
        if first and self.sets:
            self._load(sorted(self.sets)[0])
        else:   # the form is kept as it is, and the box still names what it holds
            self._show_chosen(self._loaded if self._loaded in self.sets else "")

    # -- editing ---------------------------------------------------------------------------

    def _state(self) -> tuple:
        """What the form holds, to tell unsaved edits from the set as loaded or saved."""
        return (self.name.text().strip(),
                tuple(self.labels.item(i).text().strip() for i in range(self.labels.count())),
                self.templates.toPlainText().strip(), round(self.threshold.value(), 3),
                self.top_k.value())

    def unsaved(self) -> bool:
        self.labels.commit_edit()
        return bool(self._clean) and self._state() != self._clean

    def _may_leave(self) -> bool:
        """True when the form may be replaced: no unsaved edits, or the user saved or
        discarded them."""
        if not self.unsaved():
            return True
        name = self.name.text().strip() or "this set"
        answer = QMessageBox.question(
            self, "Label sets", f"Save your changes to “{name}”?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard |
            QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def _show_chosen(self, name: str) -> None:
        self.chooser.blockSignals(True)
        if name:
            self.chooser.setCurrentText(name)
        else:
            self.chooser.setCurrentIndex(-1)   # a new set is none of those listed
        self.chooser.blockSignals(False)

    def _switch(self, name: str) -> None:
        if name == self._loaded:
            return
        if not self._may_leave():
            self._show_chosen(self._loaded)
            return
        self._load(name)

    def _no_default_button(self) -> None:
        # Return in a field or the label list must never save (or close) on its own.
        for button in self.buttons.buttons():
            button.setAutoDefault(False)
            button.setDefault(False)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._no_default_button()   # the button box makes Save the default when shown

    def reject(self) -> None:
        if self._may_leave():
            super().reject()

    def _filling(self, name: str) -> None:
        """The form is about to hold set ``name`` ("": a new one): the box says so, and the
        previous set's preview goes."""
        self._loaded = name
        self._show_chosen(name)
        self._preview = {}
        self._show_preview()

    def _load(self, name: str) -> None:
        ls = self.sets.get(name)
        if ls is None:
            return
        self._filling(name)
        for w in (self.labels, self.templates, self.threshold, self.top_k):
            w.blockSignals(True)
        self.name.setText(ls.name)
        self.labels.clear()
        for label in ls.labels:
            self._label_item(label)
        self.templates.setPlainText("\n".join(ls.templates or ()))
        self.threshold.setValue(ls.threshold)
        self.top_k.setValue(ls.top_k or 0)
        for w in (self.labels, self.templates, self.threshold, self.top_k):
            w.blockSignals(False)
        self._clean = self._state()
        self._changed()

    def _label_item(self, label: str) -> QListWidgetItem:
        item = QListWidgetItem(label)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        self.labels.addItem(item)
        return item

    def _new_set(self) -> None:
        if not self._may_leave():
            return
        self._filling("")
        self.name.setText("new set")
        self.labels.clear()
        self._label_item("something")
        self.templates.clear()
        self.threshold.setValue(0.3)
        self.top_k.setValue(0)
        self._clean = self._state()   # untouched, it closes without a question

    def _add_label(self) -> None:
        item = self._label_item("new label")
        self.labels.setCurrentItem(item)
        self.labels.editItem(item)

    def _remove_label(self) -> None:
        row = self.labels.currentRow()
        if row >= 0:
            self.labels.takeItem(row)
            self._changed()

    def current(self) -> LabelSet:
        """The set as edited; raises LabelSetError with the reason if it is not valid."""
        previous = self.sets.get(self._loaded)
        templates = [t.strip() for t in self.templates.toPlainText().splitlines() if t.strip()]
        labels = [self.labels.item(i).text().strip() for i in range(self.labels.count())]
        prompts = {k: v for k, v in (previous.prompts if previous else {}).items()
                   if k in labels}
        # Labels learned from photos keep their examples (renaming one makes it a new,
        # word label: its examples belong to the old name).
        learned = {k: v for k, v in (previous.learned if previous else {}).items()
                   if k in labels}
        draft = LabelSet(self.name.text().strip(), tuple(labels),
                         tuple(templates) or None, round(self.threshold.value(), 3),
                         self.top_k.value() or None, prompts, learned=learned)
        return parse_label_set(draft.to_toml(), "this set")

    def _changed(self) -> None:
        try:
            self.current()
        except LabelSetError as exc:
            self.error.setText(str(exc))
            return
        self.error.clear()
        self._timer.start()

    # -- preview ---------------------------------------------------------------------------

    def _compute_preview(self) -> None:
        try:
            ls = self.current()
        except LabelSetError:
            return
        self.preview_note.setText("Computing preview…")
        self.controller.preview_label_set(ls)

    def _preview_ready(self, preview: dict[str, Any]) -> None:
        self._preview = preview
        self._show_preview()

    def _show_preview(self) -> None:
        item = self.labels.currentItem()
        self.preview.clear()
        self._preview_items = {}
        if item is None or item.text() not in self._preview:
            total = sum(n for n, _ in self._preview.values())
            self.preview_note.setText(f"This set would place {total} tags. Select a label "
                                      "to see its photos." if self._preview else
                                      "Select a label to see which photos it would take.")
            return
        count, photos = self._preview[item.text()]
        self.preview_note.setText(f"“{item.text()}” would tag {counted(count, 'photo')}"
                                  + (f" (best {len(photos)} shown)" if count > len(photos)
                                     else ""))
        for photo, score in photos:
            entry = QListWidgetItem(f"{score:.2f}")
            entry.setSizeHint(_PREVIEW_CELL)
            entry.setToolTip(photo.path)
            pix = self.thumbnails.get(photo.path, 96)
            if pix is not None:
                entry.setIcon(pix)
            else:   # decoding: the icon comes with ``ready``
                self._preview_items.setdefault(photo.path, []).append(entry)
            self.preview.addItem(entry)

    def _thumbnail_ready(self, path: str) -> None:
        for entry in self._preview_items.pop(path, ()):
            pix = self.thumbnails.get(path, 96)
            if pix is not None:
                entry.setIcon(pix)

    def save(self) -> bool:
        """Save the set as edited (the library is re-tagged as a job); False if it could
        not be (the reason is shown)."""
        self.labels.commit_edit()
        try:
            ls = self.current()
        except LabelSetError as exc:
            QMessageBox.warning(self, "Label set", str(exc))
            return False
        if self.controller.save_label_set(ls) is None:
            return False
        self.sets[ls.name] = ls
        if self.chooser.findText(ls.name) < 0:
            self.chooser.blockSignals(True)
            self.chooser.addItem(ls.name)
            self.chooser.blockSignals(False)
        self._loaded = ls.name
        self._show_chosen(ls.name)
        self._clean = self._state()
        self.error.setText("Saved; re-tagging the library (see Jobs)…")
        return True


class LearnLabelDialog(QDialog):
    """"Create label from these…": a name, a set, optional words; the photos are its examples.

    The sets to choose from come from the controller (``label_sets``); nothing here reads a
    file. On OK the controller learns the label as a job.
    """

    def __init__(self, controller: Any, photo_ids: list[int],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Create a label from these photos")
        self.setMinimumWidth(460)
        self.controller = controller
        self.photo_ids = list(photo_ids)
        self.name = QLineEdit(placeholderText="e.g. our dog Rex, grandma's kitchen")
        self.set_box = QComboBox(editable=True)
        self.set_box.addItem(PERSONAL_SET)
        self.set_box.setToolTip("The label set it is kept in (a file you can edit). A set of "
                                "its own tags it on its own; in a set with word labels it "
                                "is still scored on its own, against “a photo”.")
        self.words = QLineEdit(placeholderText="optional: words that describe it too "
                                               "(several: separate with ;)")
        self.words.setToolTip("Only if they describe the whole thing; your examples decide "
                              "how much the words count.")
        note = QLabel(f"The {len(self.photo_ids):,} selected photos become its examples. "
                      "photoclip then suggests it for photos like them; confirming or "
                      "removing a suggestion teaches it more.")
        note.setWordWrap(True)
        self.error = QLabel(wordWrap=True)
        self.error.setStyleSheet("color: #c0392b;")
        form = QFormLayout()
        form.addRow("Label", self.name)
        form.addRow("Label set", self.set_box)
        form.addRow("Words", self.words)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                        QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create label")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.name.textChanged.connect(lambda _t: self._check())
        self.set_box.editTextChanged.connect(lambda _t: self._check())
        controller.label_sets.connect(self._sets_loaded)
        controller.request_label_sets()
        self._check()

    def _sets_loaded(self, sets: list[LabelSet], _problems: list[str]) -> None:
        chosen = self.set_box.currentText()
        names = sorted({ls.name for ls in sets} | {PERSONAL_SET})
        self.set_box.blockSignals(True)
        self.set_box.clear()
        self.set_box.addItems(names)
        self.set_box.setCurrentText(chosen)
        self.set_box.blockSignals(False)

    def _check(self) -> bool:
        label = " ".join(self.name.text().split())
        set_name = self.set_box.currentText().strip()
        problem = ""
        if not label:
            problem = "Give the label a name."
        elif not set_name:
            problem = "Choose or type the label set to keep it in."
        else:
            try:
                parse_label_set(LabelSet(set_name, (label,)).to_toml(), "this set")
            except LabelSetError:
                problem = ("A label set's name is short: letters, digits, spaces and "
                           "- _ . only.")
        self.error.setText(problem)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not problem)
        return not problem

    def accept(self) -> None:
        if not self._check():
            return
        words = [w.strip() for w in self.words.text().split(";") if w.strip()]
        self.controller.learn_label(" ".join(self.name.text().split()),
                                    self.set_box.currentText().strip(), self.photo_ids,
                                    words or None)
        super().accept()

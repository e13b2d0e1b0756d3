"""Dialogs: welcome, problems, settings, jobs, dates, keyboard shortcuts."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QDate,
    QDateTime,
    Qt,
    QTime,
    Signal,
)
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photoclip.core import models
from photoclip.core.embedder import DEFAULT_MODEL
from photoclip.gui.jobs import Job, JobState
from photoclip.gui.names import copy_to_clipboard, counted, open_folder_of, shown
from photoclip.settings import Settings


def welcome(window: Any) -> None:
    """First run (and Help → Set up the model…): what the model is, where it comes from."""
    box = QMessageBox(window)
    box.setWindowTitle("Welcome to photoclip")
    box.setText("photoclip finds photos by what they show, using an OpenCLIP model that runs "
                "on this computer.")
    spec = window.controller.model_spec
    if spec.startswith("local-dir:"):
        box.setInformativeText(
            f"The model in use is the folder {spec.removeprefix('local-dir:')} on this "
            "computer: nothing is downloaded. Another folder can be chosen instead "
            "(open_clip_config.json + weights). Your photos never leave this computer.")
        download = box.addButton("Load the model", QMessageBox.ButtonRole.AcceptRole)
    else:
        facts = models.known(spec)
        size = f"about {facts.download_mb:,} MB" if facts else "a download of its own"
        box.setInformativeText(
            f"The model ({spec}, {size}) is downloaded once, now, with progress in the "
            "status bar; after that photoclip works offline. If this computer has no "
            "internet, choose a model folder you copied here (open_clip_config.json + "
            "weights). Your photos never leave this computer.")
        download = box.addButton("Download the model", QMessageBox.ButtonRole.AcceptRole)
    folder = box.addButton("Choose model folder…", QMessageBox.ButtonRole.ActionRole)
    later = box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(download)
    box.exec()
    window.settings.welcomed = True
    window.controller.save_settings(window.settings)
    if box.clickedButton() is download:
        window.banner.hide()
        window.controller.load_model()
    elif box.clickedButton() is folder:
        window.choose_model_folder()
    elif box.clickedButton() is later and not window.controller.model_ready:
        window.show_model_needed()


class ProblemsDialog(QDialog):
    """Every photo that could not be read, with the reason."""

    def __init__(self, photos: list[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Problems")
        self.resize(800, 400)
        tree = QTreeWidget()
        tree.setHeaderLabels(["Photo", "Reason"])
        tree.setRootIsDecorated(False)
        for p in photos:
            item = QTreeWidgetItem([shown(p.path), p.error or ""])
            item.setData(0, Qt.ItemDataRole.UserRole, p.path)   # the exact path, as stored
            tree.addTopLevelItem(item)
        tree.resizeColumnToContents(0)
        self.tree = tree
        again = "It is" if len(photos) == 1 else "They are"
        self.note = note = QLabel(
            f"{counted(len(photos), 'photo')} could not be read. {again} retried when the "
            "file changes." if photos else "No problems.")
        # What a person does about a file that cannot be read: look at it where it is (to
        # fix, replace or delete it), or pass its path on.
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.show_btn = buttons.addButton("Show in folder",
                                          QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_btn = buttons.addButton("Copy path", QDialogButtonBox.ButtonRole.ActionRole)
        self.show_btn.clicked.connect(self.show_in_folder)
        self.copy_btn.clicked.connect(self.copy_path)
        tree.itemDoubleClicked.connect(lambda *_a: self.show_in_folder())
        tree.itemSelectionChanged.connect(self._update_buttons)
        tree.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for button in (self.show_btn, self.copy_btn):
            action = QAction(button.text(), tree)
            action.triggered.connect(button.click)
            tree.addAction(action)
        buttons.rejected.connect(self.reject)
        if tree.topLevelItemCount():
            # The first row picked: its buttons work at once (the row had the focus frame
            # with both buttons off, as if nothing could be done).
            tree.setCurrentItem(tree.topLevelItem(0))
        self._update_buttons()
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(tree, 1)
        layout.addWidget(buttons)

    def chosen(self) -> str | None:
        items = self.tree.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def _update_buttons(self) -> None:
        for button in (self.show_btn, self.copy_btn):
            button.setEnabled(self.chosen() is not None)

    def show_in_folder(self) -> None:
        path = self.chosen()
        if path:
            open_folder_of(path)

    def copy_path(self) -> None:
        path = self.chosen()
        if path:
            copy_to_clipboard([path])


class SettingsDialog(QDialog):
    """Settings that apply at once (model, thumbnails) and those that wait for a restart."""

    def __init__(self, settings: Settings, current_model: str, library_folder: str,
                 library_note: str = "", parent: QWidget | None = None,
                 controller: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(640)
        self.settings = settings
        self.current_model = current_model
        self.default_model = DEFAULT_MODEL
        self.model_changed = False
        self.chosen_model = current_model
        self.needs_restart = False
        self.model = QComboBox(editable=True)
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model.setMinimumContentsLength(40)
        for spec in dict.fromkeys([current_model, DEFAULT_MODEL]):
            self.model.addItem(spec)
        self.model.setCurrentText(current_model)
        self.model.setToolTip("An OpenCLIP model: ARCH:PRETRAINED, hf-hub:ORG/REPO, or a "
                              "model folder. Changing it re-embeds your photos in the "
                              "background; searches use the current model until it is done.")
        pick_model = QPushButton("Folder…")
        pick_model.clicked.connect(self._pick_model)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(pick_model)
        self.threads = QSpinBox(minimum=0, maximum=64, value=settings.threads)
        self.threads.setSpecialValueText("one per core")
        self.thumb = QSpinBox(minimum=64, maximum=512, singleStep=16, value=settings.thumb_size)
        self.library_field = QLineEdit(settings.library)
        self.library_field.setPlaceholderText(library_folder)
        pick_lib = QPushButton("Folder…")
        pick_lib.clicked.connect(self._pick_library)
        lib_row = QHBoxLayout()
        lib_row.addWidget(self.library_field, 1)
        lib_row.addWidget(pick_lib)
        self.pairing = QCheckBox("A RAW file and the JPEG or HEIF beside it (same name) are "
                                 "one photo")
        self.pairing.setToolTip("Shown and embedded once (from the JPEG), both files listed "
                                "in the details, tags applied to both. Off: every RAW file "
                                "is a photo of its own.")
        self.pairing.setEnabled(False)   # until the library says how it is now
        self._pairing_was: bool | None = None
        self.pairing_changed = False
        if controller is not None:
            controller.request_pairing(self._pairing_known)
        in_use = QLabel(f"In use now: {library_folder}" + (f" ({library_note})"
                                                           if library_note else ""))
        in_use.setWordWrap(True)
        in_use.setStyleSheet("color: palette(mid);")
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("Model", model_row)
        self.threads.setToolTip("How many photos are read from disk and decoded at once "
                                "while indexing")
        form.addRow("Photos read at once", self.threads)
        form.addRow("Thumbnail size", self.thumb)
        form.addRow("Library location", lib_row)
        form.addRow("", in_use)
        form.addRow("RAW + JPEG", self.pairing)
        note = QLabel("The library location and photos read at once apply when photoclip "
                      "next starts; the rest applies now.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save |
                                   QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        self.models: ModelTable | None = None
        if controller is not None:
            self.models = ModelTable(controller, current_model)
            self.models.chosen.connect(self.model.setCurrentText)
            layout.addWidget(self.models, 1)
            self.setMinimumWidth(900)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _pairing_known(self, enabled: bool) -> None:
        self._pairing_was = enabled
        self.pairing.setChecked(enabled)
        self.pairing.setEnabled(True)

    def _pick_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "OpenCLIP model folder")
        if folder:
            self.model.setCurrentText(f"local-dir:{folder}")

    def _pick_library(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Library folder")
        if folder:
            self.library_field.setText(folder)

    def accept(self) -> None:
        model = self.model.currentText().strip()
        self.model_changed = bool(model) and model != self.current_model
        if self.model_changed:
            # Remembered by the window once the switch has worked, not here.
            self.chosen_model = model
        self.needs_restart = (self.threads.value() != self.settings.threads
                              or self.library_field.text().strip() != self.settings.library)
        self.settings.threads = self.threads.value()
        self.settings.thumb_size = self.thumb.value()
        self.settings.library = self.library_field.text().strip()
        self.pairing_changed = (self._pairing_was is not None
                                and self.pairing.isChecked() != self._pairing_was)
        super().accept()


class JobsDialog(QDialog):
    """Every job: running, waiting and recently finished, each with pause and cancel."""

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Jobs")
        self.resize(760, 380)
        self.controller = controller
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Job", "Progress", ""])
        self.tree.setRootIsDecorated(False)
        self.tree.setColumnWidth(0, 260)
        head = self.tree.header()
        head.setStretchLastSection(False)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        head.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self._items: dict[int, tuple[QTreeWidgetItem, QProgressBar, QWidget]] = {}
        clear = QPushButton("Clear finished")
        clear.clicked.connect(controller.jobs.clear_finished)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.addButton(clear, QDialogButtonBox.ButtonRole.ActionRole)
        # The selected job's whole outcome: an error's reason is often longer than a row.
        self.detail = QLabel(wordWrap=True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tree.itemSelectionChanged.connect(self._show_detail)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.detail)
        layout.addWidget(buttons)
        jobs = controller.jobs
        jobs.added.connect(self._add)
        jobs.changed.connect(self._update)
        jobs.removed.connect(self._remove)
        for job in jobs.jobs:
            self._add(job)

    def _add(self, job: Job) -> None:
        item = QTreeWidgetItem([job.title, ""])
        self.tree.addTopLevelItem(item)
        # Tall enough for its text (the job's figures are drawn on the bar).
        bar = QProgressBar(textVisible=False)
        self.tree.setItemWidget(item, 1, bar)
        controls = QWidget()
        row = QHBoxLayout(controls)
        row.setContentsMargins(0, 0, 0, 0)
        pause = QPushButton("Pause")
        pause.setCheckable(True)
        pause.toggled.connect(lambda on, j=job, b=pause: (j.set_paused(on),
                                                           b.setText("Resume" if on else
                                                                     "Pause")))
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(lambda _c=False, j=job: self.controller.cancel_job(j))
        pause.setVisible(job.pausable)
        cancel.setVisible(job.cancellable)
        row.addWidget(pause)
        row.addWidget(cancel)
        self.tree.setItemWidget(item, 2, controls)
        self._items[job.id] = (item, bar, controls)
        self._update(job)

    def _update(self, job: Job) -> None:
        entry = self._items.get(job.id)
        if entry is None:
            return
        item, bar, controls = entry
        item.setText(0, job.title)
        item.setToolTip(0, job.title)
        item.setText(1, "")
        pause = controls.findChild(QPushButton)
        if pause is not None and pause.text() in ("Pause", "Resume"):
            # The job may have been paused elsewhere (the status bar): show what it is.
            paused = job.state is JobState.PAUSED
            pause.blockSignals(True)
            pause.setChecked(paused)
            pause.setText("Resume" if paused else "Pause")
            pause.blockSignals(False)
        bar.setToolTip(job.summary())
        item.setToolTip(1, job.summary())
        if job.state.finished:
            self.tree.removeItemWidget(item, 1)
            self.tree.removeItemWidget(item, 2)
            item.setText(1, job.summary())
            self._items[job.id] = (item, bar, controls)
            if job.state is JobState.FAILED:
                self.tree.setCurrentItem(item)   # what went wrong, in full, below
            self._show_detail()
            return
        if job.total:
            bar.setRange(0, job.total)
            bar.setValue(job.done)
        else:
            bar.setRange(0, 0 if job.state is not JobState.QUEUED else 1)
        bar.setFormat(job.summary())
        bar.setTextVisible(True)
        self._show_detail()

    def _show_detail(self) -> None:
        """The picked job's line in full; with none picked, the running job's (the first row
        is current by default, and "Loading the model" stood there during a long index)."""
        picked = self.tree.selectedItems()
        item = picked[0] if picked else None
        if item is None:
            running = self.controller.jobs.running()
            entry = self._items.get(running.id) if running is not None else None
            item = entry[0] if entry is not None else None
        text = f"{item.text(0)}: {item.toolTip(1)}" if item is not None else ""
        self.detail.setText(text)
        self.detail.setVisible(bool(text))

    def _remove(self, job: Job) -> None:
        entry = self._items.pop(job.id, None)
        if entry is not None:
            index = self.tree.indexOfTopLevelItem(entry[0])
            if index >= 0:
                self.tree.takeTopLevelItem(index)


class DatesDialog(QDialog):
    """Only photos taken between two days (either end may stay open)."""

    def __init__(self, date_from: float | None, date_to: float | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Dates")
        self.date_from: float | None = date_from
        self.date_to: float | None = date_to
        today = QDate.currentDate()
        self.use_from = QCheckBox("From")
        self.use_to = QCheckBox("Until (including)")
        self.from_edit = QDateEdit(calendarPopup=True, displayFormat="yyyy-MM-dd")
        self.to_edit = QDateEdit(calendarPopup=True, displayFormat="yyyy-MM-dd")
        self.from_edit.setDate(_qdate(date_from) if date_from is not None
                               else today.addYears(-1))
        self.to_edit.setDate(_qdate(date_to - 1) if date_to is not None else today)
        self.use_from.setChecked(date_from is not None)
        self.use_to.setChecked(date_to is not None)
        self.use_from.toggled.connect(self.from_edit.setEnabled)
        self.use_to.toggled.connect(self.to_edit.setEnabled)
        self.from_edit.setEnabled(date_from is not None)
        self.to_edit.setEnabled(date_to is not None)
        form = QFormLayout()
        form.addRow(self.use_from, self.from_edit)
        form.addRow(self.use_to, self.to_edit)
        note = QLabel("The date a photo was taken (its EXIF date), or its file's date when "
                      "it has none.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                   QDialogButtonBox.StandardButton.Cancel)
        clear = buttons.addButton("Any date", QDialogButtonBox.ButtonRole.ResetRole)
        clear.clicked.connect(self._any)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _any(self) -> None:
        self.use_from.setChecked(False)
        self.use_to.setChecked(False)
        self.accept()

    def accept(self) -> None:
        start = self.from_edit.date()
        end = self.to_edit.date().addDays(1)   # "until" includes that whole day
        self.date_from = (float(QDateTime(start, QTime(0, 0)).toSecsSinceEpoch())
                          if self.use_from.isChecked() else None)
        self.date_to = (float(QDateTime(end, QTime(0, 0)).toSecsSinceEpoch())
                        if self.use_to.isChecked() else None)
        super().accept()


def _qdate(timestamp: float) -> QDate:
    return QDateTime.fromSecsSinceEpoch(int(timestamp)).date()


# Keys that are not menu actions: the viewer's own, and the mouse. (The menus' shortcuts
# are read from their actions, so the page shows what this platform really binds.)
OTHER_KEYS = [
    ("Double-click (in the grid)", "View the photo as large as the window"),
    ("→ ← Space Backspace (in the viewer)", "Next / previous photo"),
    ("Home / End (in the viewer)", "First / last photo"),
    ("Wheel, + / − (in the viewer)", "Zoom where the mouse is; drag to pan"),
    ("1 / 0 or F (in the viewer)", "100% / fit to the window"),
    ("I (in the viewer)", "The photo's facts: date, camera, size, folder"),
    ("S (in the viewer)", "Slideshow"),
    ("F11 (in the viewer)", "Full screen"),
    ("Esc (in the viewer)", "Back to the grid, at the same photo"),
    ("Ctrl / Shift + click, drag", "Select several photos"),
    ("→ or N, ← or P (duplicate review)", "Next / previous group"),
    ("Space (duplicate review)", "Keep another photo of the group"),
    ("Enter (duplicate review)", "Move the others of the group to the trash"),
]


SHORTCUT_HELP = "shortcut_help"   # an action property: what the shortcuts page says it does


def action_keys(actions: list[Any]) -> list[tuple[str, str]]:
    """(keys, what) for every action that has a shortcut, in the order given; actions that
    do the same thing (Enter and Space: view the photo) share one row."""
    rows: dict[str, list[str]] = {}
    for action in actions:
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
        keys = [k for k in keys if k]
        if keys:
            what = (action.property(SHORTCUT_HELP) or action.toolTip()
                    or action.text().replace("&", "")).rstrip("…")
            rows.setdefault(what, []).extend(k for k in keys if k not in rows.get(what, []))
    return [(", ".join(keys), what) for what, keys in rows.items()]


class ShortcutsDialog(QDialog):
    def __init__(self, actions: list[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.tree = tree = QTreeWidget()
        tree.setHeaderLabels(["Keys", "Does"])
        tree.setRootIsDecorated(False)
        tree.setWordWrap(True)   # a screen too narrow for a row wraps it, never elides it
        for keys, does in action_keys(actions) + OTHER_KEYS:
            item = QTreeWidgetItem([keys, does])
            item.setToolTip(1, does)
            tree.addTopLevelItem(item)
        tree.resizeColumnToContents(0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tree)
        layout.addWidget(buttons)
        # Wide enough for every row whole (a fixed 680 px cut the longest ones off), as far
        # as the screen allows.
        margins = layout.contentsMargins()
        wide = (tree.columnWidth(0) + tree.sizeHintForColumn(1) + 2 * tree.frameWidth()
                + tree.verticalScrollBar().sizeHint().width() + margins.left()
                + margins.right() + 8)
        # And as tall as its rows (a fixed 640 px left a third of the page empty).
        tall = (tree.header().sizeHint().height() + 2 * tree.frameWidth()
                + sum(tree.sizeHintForRow(i) for i in range(tree.topLevelItemCount()))
                + buttons.sizeHint().height() + layout.spacing() + margins.top()
                + margins.bottom() + 8)
        screen = (parent.screen() if parent is not None else self.screen()).availableGeometry()
        self.resize(min(wide, int(screen.width() * 0.9)),
                    min(tall, int(screen.height() * 0.9)))


class ModelTable(QWidget):
    """The models photoclip knows, with their published numbers and the speed measured on
    this computer; choosing a row chooses the model (applied when Settings is saved, as a
    re-embedding job while the current model keeps answering)."""

    chosen = Signal(str)   # a model spec

    # Plain column names; the benchmarks behind them are named in the line below the table.
    HEADERS = ("Model", "Recognises", "Finds", "Download", "Licence", "Searches in",
               "On this computer")

    def __init__(self, controller: Any, current_model: str) -> None:
        super().__init__()
        self.controller = controller
        self.current_model = current_model
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(self.HEADERS))
        self.tree.setRootIsDecorated(False)
        self.tree.setAllColumnsShowFocus(True)
        # The model's name gives way (middle elided, whole in the tooltip) so that the
        # numbers and the speed measured here are never scrolled out of sight.
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(self.HEADERS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemClicked.connect(self._clicked)
        self.measure = QPushButton("Measure speed on this computer")
        self.measure.setToolTip("Times each model whose weights are here on a few generated "
                                "photos (a job; nothing is downloaded)")
        self.measure.clicked.connect(self._measure)
        source = QLabel("Recognises: how often it names a photo's subject right (ImageNet "
                        "zero-shot top-1). Finds: how often the right photo comes first for "
                        "a description, among 5,000 (COCO R@1). Both published by OpenCLIP; "
                        "speed: measured here, model only. Higher is better.")
        source.setWordWrap(True)
        source.setStyleSheet("color: palette(mid);")
        row = QHBoxLayout()
        row.addWidget(source, 1)
        row.addWidget(self.measure)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Models"))
        layout.addWidget(self.tree, 1)
        layout.addLayout(row)
        controller.model_catalog.connect(self.show_catalog)
        controller.request_model_catalog()

    def show_catalog(self, rows: list[tuple[Any, str, Any]]) -> None:
        self.tree.clear()
        for model, state, speed in rows:
            if model is None:
                spec = self.current_model
                cells = [spec, "", "", "", "", "", ""]
            else:
                spec = model.spec
                cells = [model.title, f"{model.imagenet:.1f}%", f"{model.coco_r1:.1f}%",
                         f"{model.download_mb:,} MB", model.licence, model.languages, ""]
            if speed is not None:
                cells[-1] = speed.describe()
            elif state == "ready" or model is None:
                cells[-1] = "not timed yet"
            else:
                cells[-1] = state
            if spec == self.current_model:
                cells[0] += "  (in use)"
            item = QTreeWidgetItem(cells)
            item.setData(0, Qt.ItemDataRole.UserRole, spec)
            tip = spec + (f"\n{model.note}" if model is not None and model.note else "")
            for col in range(len(cells)):
                item.setToolTip(col, tip if col == 0 else cells[col])
            self.tree.addTopLevelItem(item)

    def _clicked(self, item: QTreeWidgetItem) -> None:
        spec = item.data(0, Qt.ItemDataRole.UserRole)
        if spec:
            self.chosen.emit(spec)

    def _measure(self) -> None:
        self.measure.setEnabled(False)
        job = self.controller.measure_model_speeds()
        job.finished.connect(lambda _j: self.measure.setEnabled(True))

"""The main window: layout, actions, drag and drop. Work is delegated to the controller.

Nothing here reads a file or calls the core: the window asks the controller and paints what
comes back. What the grid shows is the controller's :class:`View`; the header, the filter
chips and the search box are drawn from it, so they cannot disagree.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QMimeData, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QUndoCommand,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from photoclip.core.catalog import Photo
from photoclip.gui.controller import LibraryController, ModelState, TagEdit, View
from photoclip.gui.dialogs import (
    JobsDialog,
    PreviewDialog,
    ProblemsDialog,
    SettingsDialog,
    welcome,
)
from photoclip.gui.jobs import Job, JobState
from photoclip.gui.models import PhotoListModel, PhotoRole, ScoreRole
from photoclip.gui.tags import MANUAL_SET, LabelSetEditor, PhotoTags, TagBrowser
from photoclip.gui.thumbnails import ThumbnailCache
from photoclip.settings import Settings

EMPTY_TEXT = ("Drop a photo folder here or click Add folder\n\n"
              "photoclip indexes the photos where they are and lets you find them by "
              "describing them.")
THUMB_SIZES = (96, 128, 160, 200, 256)
SEARCH_PAUSE_MS = 450


class DetailsPanel(QWidget):
    find_similar = Signal(str)

    def __init__(self, thumbnails: ThumbnailCache) -> None:
        super().__init__()
        self.thumbnails = thumbnails
        self.photo: Photo | None = None
        self.preview = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(200, 150)
        self.info = QLabel(wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.
                           TextSelectableByMouse)
        self.info.setTextFormat(Qt.TextFormat.PlainText)
        self.similar_btn = QPushButton("Find similar")
        self.open_btn = QPushButton("Open")
        self.folder_btn = QPushButton("Show in folder")
        self.copy_btn = QPushButton("Copy path")
        self.tags = PhotoTags()
        self.similar_btn.clicked.connect(lambda: self.photo and
                                         self.find_similar.emit(self.photo.path))
        self.open_btn.clicked.connect(self.open_photo)
        self.folder_btn.clicked.connect(self.show_in_folder)
        self.copy_btn.clicked.connect(self.copy_path)
        layout = QVBoxLayout(self)
        layout.addWidget(self.preview)
        layout.addWidget(self.info)
        layout.addWidget(self.tags)
        for b in (self.similar_btn, self.open_btn, self.folder_btn, self.copy_btn):
            layout.addWidget(b)
        layout.addStretch(1)
        self.setMinimumWidth(240)
        thumbnails.ready.connect(self._thumb_ready)
        self.show_photo(None)

    def show_photo(self, photo: Photo | None, score: float | None = None) -> None:
        from datetime import datetime

        same = (photo is not None and self.photo is not None and photo.id == self.photo.id)
        self.photo = photo
        for b in (self.similar_btn, self.open_btn, self.folder_btn, self.copy_btn):
            b.setEnabled(photo is not None)
        if photo is None:
            self.preview.clear()
            self.info.setText("Select a photo to see its details.")
            self.tags.show_tags(None)
            return
        if not same:
            self.tags.show_tags([], loading=True)
        when = datetime.fromtimestamp(photo.date).strftime("%Y-%m-%d %H:%M")
        lines = [os.path.basename(photo.path), photo.path, f"Date: {when}"
                 + ("" if photo.taken_at else " (file time)")]
        if photo.camera:
            lines.append(f"Camera: {photo.camera}")
        if photo.width and photo.height:
            lines.append(f"Size: {photo.width} × {photo.height}")
        lines.append(f"File: {photo.size / 1e6:.1f} MB" if photo.size >= 1e6
                     else f"File: {photo.size / 1e3:.0f} KB")
        if score is not None:
            lines.append(f"Match score: {score:.3f}")
        if photo.state == "failed":
            lines.append(f"Could not be read: {photo.error}")
        self.info.setText("\n".join(lines))
        self._update_preview()

    def _update_preview(self) -> None:
        if self.photo is None:
            return
        pix = self.thumbnails.get(self.photo.path, 256)
        if pix is not None:
            self.preview.setPixmap(pix)
        elif self.photo.path in self.thumbnails.failed:
            self.preview.setText("No preview: the file could not be shown")
        else:
            self.preview.setText("…")

    def _thumb_ready(self, path: str) -> None:
        if self.photo is not None and path == self.photo.path:
            self._update_preview()

    def open_photo(self) -> None:
        if self.photo:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.photo.path))

    def show_in_folder(self) -> None:
        if self.photo:
            QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(self.photo.path)))

    def copy_path(self) -> None:
        if self.photo:
            QGuiApplication.clipboard().setText(self.photo.path)


class _TagEditCommand(QUndoCommand):
    """A tag edit already applied; undo puts the tag back as it was."""

    def __init__(self, controller: LibraryController, edit: TagEdit) -> None:
        super().__init__(edit.describe())
        self.controller = controller
        self.edit = edit
        self._applied = True

    def redo(self) -> None:
        if self._applied:
            self._applied = False   # the edit happened before it was pushed
            return
        self.controller.restore_tag(self.edit, undo=False)

    def undo(self) -> None:
        self.controller.restore_tag(self.edit, undo=True)


class _RemoveFolderCommand(QUndoCommand):
    def __init__(self, controller: LibraryController, folder: str) -> None:
        super().__init__(f"Remove folder {os.path.basename(folder) or folder}")
        self.controller = controller
        self.folder = folder
        self._applied = True

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self.controller.remove_folder(self.folder)

    def undo(self) -> None:
        self.controller.restore_folder(self.folder)


class DropOverlay(QLabel):
    """Shown over the window while something is dragged over it."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__("Drop folders to add them\nor a photo to find similar ones", parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setStyleSheet("background: rgba(40, 110, 200, 40); border: 3px dashed "
                           "rgba(40, 110, 200, 200); border-radius: 12px; font-size: 18pt; "
                           "color: palette(text);")
        self.hide()

    def cover(self) -> None:
        self.setGeometry(self.parentWidget().rect().adjusted(8, 8, -8, -8))
        self.raise_()
        self.show()


class MainWindow(QMainWindow):
    def __init__(self, controller: LibraryController, settings: Settings,
                 thumbnails: ThumbnailCache, *, library_note: str = "") -> None:
        super().__init__()
        self.controller = controller
        self.settings = settings
        self.thumbnails = thumbnails
        self.library_note = library_note   # how the library was chosen (--library, env…)
        self.setWindowTitle("photoclip")
        self.setAcceptDrops(True)
        self.resize(1200, 800)
        self.setMinimumSize(720, 480)
        self._roots: list[Any] = []
        self._closed = False
        self.undo_stack = QUndoStack(self)

        # search field + debounce
        self.search_field = QLineEdit()
        self.search_field.setClearButtonEnabled(True)
        self.search_timer = QTimer(self, singleShot=True, interval=SEARCH_PAUSE_MS)
        self.search_timer.timeout.connect(self.run_search)
        self.search_field.textEdited.connect(lambda _t: self.search_timer.start())
        self.search_field.returnPressed.connect(self.run_search)
        self.search_field.textChanged.connect(self._search_text_changed)

        # model banner (shown when the model is missing)
        self.banner = QFrame(frameShape=QFrame.Shape.StyledPanel)
        self.banner.setStyleSheet("QFrame { background: palette(alternate-base); }")
        self.banner_label = QLabel(wordWrap=True)
        self.banner_download = QPushButton("Download the model")
        self.banner_download.clicked.connect(self.controller.load_model)
        choose = QPushButton("Use a model folder…")
        choose.clicked.connect(self.choose_model_folder)
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.addWidget(self.banner_label, 1)
        banner_layout.addWidget(self.banner_download)
        banner_layout.addWidget(choose)
        self.banner.hide()

        # sidebar
        self.sidebar = QListWidget()
        self.sidebar.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.sidebar.customContextMenuRequested.connect(self._sidebar_menu)
        self.sidebar.itemClicked.connect(self._sidebar_clicked)
        add_btn = QPushButton("Add folder…")
        add_btn.clicked.connect(self.add_folder_dialog)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(QLabel("Folders"))
        side_layout.addWidget(self.sidebar, 1)
        side_layout.addWidget(add_btn)
        side_layout.addWidget(QLabel("Tags"))
        self.tag_browser = TagBrowser()
        self.tag_browser.tag_chosen.connect(self.filter_by_tag)
        side_layout.addWidget(self.tag_browser, 1)

        # grid
        self.model = PhotoListModel(thumbnails, self)
        self.model.set_thumb_size(settings.thumb_size)
        self.grid = QListView()
        self.grid.setModel(self.model)
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setUniformItemSizes(True)
        self.grid.setLayoutMode(QListView.LayoutMode.Batched)
        self.grid.setBatchSize(500)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.grid.setWordWrap(False)
        self.grid.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.grid.setSpacing(6)
        self._apply_thumb_size()
        self.grid.selectionModel().currentChanged.connect(self._current_changed)
        self.grid.doubleClicked.connect(lambda _i: self.details.open_photo())
        self.grid.installEventFilter(self)
        self.model.dataChanged.connect(self._rows_changed)

        # header: what is shown, and the filters that apply (each can be taken off)
        self.results_title = QLabel()
        self.results_title.setStyleSheet("font-weight: bold;")
        self.folder_chip = QToolButton()
        self.folder_chip.clicked.connect(lambda: self.set_view(
            View(self.controller.view.text, self.controller.view.similar_to,
                 self.controller.view.tag, None)))
        self.tag_chip = QToolButton()
        self.tag_chip.clicked.connect(lambda: self.filter_by_tag(None))
        self.view_note = QLabel(wordWrap=True)
        self.view_note.setStyleSheet("color: palette(mid);")
        header = QHBoxLayout()
        header.addWidget(self.results_title, 1)
        header.addWidget(self.folder_chip)
        header.addWidget(self.tag_chip)
        self.empty = QLabel(EMPTY_TEXT, alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.empty.setStyleSheet("font-size: 16pt; color: palette(mid); padding: 40px;")
        grid_page = QWidget()
        grid_layout = QVBoxLayout(grid_page)
        grid_layout.setContentsMargins(0, 0, 0, 0)
        grid_layout.addLayout(header)
        grid_layout.addWidget(self.view_note)
        grid_layout.addWidget(self.grid, 1)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(grid_page)

        # details
        self.details = DetailsPanel(thumbnails)
        self.details.find_similar.connect(self.find_similar)
        self.details.tags.confirm.connect(
            lambda s, label: self._edit_tag(s, label, "confirm"))
        self.details.tags.remove.connect(lambda s, label: self._edit_tag(s, label, "reject"))
        self.details.tags.add.connect(lambda label: self._edit_tag(MANUAL_SET, label, "confirm"))

        self.splitter = QSplitter()
        self.splitter.setObjectName("main-splitter")
        self.splitter.addWidget(side)
        self.splitter.addWidget(self.stack)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setCollapsible(1, False)
        self.splitter.setSizes([220, 700, 280])

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.search_field)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.drop_overlay = DropOverlay(central)

        # status bar: the job running now, with pause / cancel, and the way to all jobs
        self.progress = QProgressBar(maximumWidth=200, textVisible=False)
        self.jobs_button = QToolButton()
        self.jobs_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.jobs_button.setAutoRaise(True)
        self.jobs_button.setToolTip("Show all jobs")
        self.jobs_button.clicked.connect(self.show_jobs)
        self.pause_btn = QToolButton(text="Pause", checkable=True)
        self.pause_btn.toggled.connect(self._pause_toggled)
        self.cancel_btn = QToolButton(text="Cancel")
        self.cancel_btn.clicked.connect(lambda: self.controller.cancel_job())
        self.problems_btn = QToolButton(text="Problems")
        self.problems_btn.clicked.connect(self.show_problems)
        self.problems_btn.hide()
        bar = self.statusBar()
        for w in (self.jobs_button, self.progress, self.pause_btn, self.cancel_btn):
            bar.addPermanentWidget(w)
        bar.addPermanentWidget(self.problems_btn)
        self.jobs_dialog: JobsDialog | None = None

        self._make_actions()
        self._connect_controller()
        self._update_jobs()
        self.stack.setCurrentWidget(self.empty)
        self._show_view(self.controller.view)
        self._restore_layout()

    # -- setup -----------------------------------------------------------------------------

    def _make_actions(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self.add_action = QAction("&Add folder…", self, shortcut=QKeySequence.StandardKey.Open)
        self.add_action.triggered.connect(self.add_folder_dialog)
        settings = QAction("&Settings…", self, shortcut=QKeySequence.StandardKey.Preferences)
        settings.triggered.connect(self.show_settings)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addActions([self.add_action, settings])
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

        edit = menu.addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        edit.addActions([self.undo_action, self.redo_action])

        view = menu.addMenu("&View")
        find = QAction("&Search", self, shortcut=QKeySequence.StandardKey.Find)
        find.triggered.connect(lambda: (self.search_field.setFocus(),
                                        self.search_field.selectAll()))
        bigger = QAction("&Larger thumbnails", self, shortcut=QKeySequence.StandardKey.ZoomIn)
        bigger.triggered.connect(lambda: self.zoom(+1))
        smaller = QAction("&Smaller thumbnails", self,
                          shortcut=QKeySequence.StandardKey.ZoomOut)
        smaller.triggered.connect(lambda: self.zoom(-1))
        self.all_photos_action = QAction("&All photos", self)
        self.all_photos_action.triggered.connect(self.show_all)
        problems = QAction("&Problems…", self)
        problems.triggered.connect(self.show_problems)
        jobs = QAction("&Jobs…", self)
        jobs.triggered.connect(self.show_jobs)
        view.addActions([find, self.all_photos_action, bigger, smaller])
        view.addSeparator()
        view.addActions([jobs, problems])

        photo = menu.addMenu("&Photo")
        similar = QAction("Find &similar", self, shortcut=QKeySequence("Ctrl+Shift+S"))
        similar.triggered.connect(lambda: self.details.photo and
                                  self.find_similar(self.details.photo.path))
        copy = QAction("&Copy path", self, shortcut=QKeySequence.StandardKey.Copy)
        copy.triggered.connect(self.details.copy_path)
        preview = QAction("&Preview", self, shortcut=QKeySequence(Qt.Key.Key_Space))
        preview.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.grid.addAction(preview)
        preview.triggered.connect(self.preview_current)
        photo.addActions([similar, copy, preview])

        tags = menu.addMenu("&Tags")
        edit_sets = QAction("&Edit label sets…", self)
        edit_sets.triggered.connect(self.edit_label_sets)
        clear_filter = QAction("&Clear tag filter", self)
        clear_filter.triggered.connect(lambda: self.filter_by_tag(None))
        xmp_photo = QAction("Write tags to XMP sidecar for this &photo", self)
        xmp_photo.triggered.connect(lambda: self.details.photo and
                                    self.controller.write_xmp([self.details.photo.id]))
        xmp_all = QAction("Write tags to XMP sidecars for the whole &library…", self)
        xmp_all.triggered.connect(lambda: self.controller.count_xmp(None))
        tags.addActions([edit_sets, clear_filter])
        tags.addSeparator()
        tags.addActions([xmp_photo, xmp_all])

        help_menu = menu.addMenu("&Help")
        setup = QAction("Set up the &model…", self)
        setup.triggered.connect(lambda: welcome(self))
        help_menu.addAction(setup)
        about = QAction("&About photoclip", self)
        about.triggered.connect(lambda: QMessageBox.about(self, "About photoclip",
                                                          self.controller.about_text()))
        help_menu.addAction(about)

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.addAction(self.add_action)
        toolbar.addAction(self.all_photos_action)

    def _connect_controller(self) -> None:
        c = self.controller
        c.roots_changed.connect(self._roots_changed)
        c.results.connect(self._show_results)
        c.view_waiting.connect(self._view_waiting)
        c.model_state.connect(self._model_state)
        c.message.connect(lambda m: self.statusBar().showMessage(m, 8000))
        c.tags_changed.connect(self.tag_browser.set_counts)
        c.photo_tags.connect(self._photo_tags)
        c.tag_edited.connect(lambda e: self.undo_stack.push(_TagEditCommand(c, e)))
        c.folder_removed.connect(self._folder_removed)
        c.xmp_candidates.connect(self._confirm_xmp)
        c.failed_ready.connect(self._failed_ready)
        c.error.connect(self._error)
        c.jobs.added.connect(lambda _j: self._update_jobs())
        c.jobs.changed.connect(self._job_changed)
        c.jobs.removed.connect(lambda _j: self._update_jobs())

    # -- folders ---------------------------------------------------------------------------

    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a photo folder")
        if folder:
            self.controller.add_folders([folder])

    def _roots_changed(self, roots: list[Any]) -> None:
        self._roots = roots
        current = self.controller.view.folder
        self.sidebar.clear()
        for r in roots:
            name = os.path.basename(r.path.rstrip(os.sep)) or r.path
            if not r.online:
                text = f"{name}  —  offline"
                tip = (f"{r.path}\nNot reachable now (an unplugged drive or a disconnected "
                       f"share?). Its {r.photos:,} photos are kept and come back with it.")
            else:
                text = f"{name}  —  {r.photos:,} photo{'s' if r.photos != 1 else ''}"
                tip = r.path + ("\nChecked by polling (network share)" if r.polling else "")
            item = QListWidgetItem(text)
            item.setToolTip(tip)
            item.setData(Qt.ItemDataRole.UserRole, r.path)
            if not r.online:
                item.setForeground(self.palette().mid())
            self.sidebar.addItem(item)
            if r.path == current:
                item.setSelected(True)
        if roots and self.stack.currentWidget() is self.empty:
            self.stack.setCurrentIndex(1)
        elif not roots:
            self.stack.setCurrentWidget(self.empty)

    def _sidebar_clicked(self, item: QListWidgetItem) -> None:
        self.set_view(View(folder=item.data(Qt.ItemDataRole.UserRole),
                           tag=self.controller.view.tag))

    def _sidebar_menu(self, pos: Any) -> None:
        item = self.sidebar.itemAt(pos)
        if item is None:
            return
        path = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        browse = menu.addAction("Show its photos")
        show = menu.addAction("Open in file manager")
        menu.addSeparator()
        remove = menu.addAction("Remove from library…")
        chosen = menu.exec(self.sidebar.mapToGlobal(pos))
        if chosen is remove:
            self.confirm_remove(path)
        elif chosen is show:
            QDesktopServices.openUrl(QUrl.fromLocalFile(path))
        elif chosen is browse:
            self._sidebar_clicked(item)

    def confirm_remove(self, path: str) -> None:
        """Ask (Cancel is the default) with what will be forgotten, then remove."""
        self.controller.folder_facts(path, lambda facts: self._ask_remove(path, *facts))

    def _ask_remove(self, path: str, photos: int, own_tags: int) -> None:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Remove folder")
        box.setText(f"Remove the folder “{os.path.basename(path.rstrip(os.sep)) or path}” "
                    "from photoclip?")
        kept = (f" Your own tags on them ({own_tags:,}) are kept, and come back if you add "
                "the folder again." if own_tags else "")
        box.setInformativeText(
            f"photoclip forgets the {photos:,} photos it indexed in {path}. The files stay "
            f"where they are, untouched.{kept} Edit → Undo brings the folder back as it was "
            "until you quit.")
        remove = box.addButton("Remove folder", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.exec()
        if box.clickedButton() is remove:
            self.controller.remove_folder(path)

    def _folder_removed(self, folder: str, n: int) -> None:
        self.undo_stack.push(_RemoveFolderCommand(self.controller, folder))
        self.statusBar().showMessage(
            f"Removed {folder} ({n:,} photos forgotten; files untouched). "
            "Edit → Undo brings it back.", 10000)

    # -- drag and drop ---------------------------------------------------------------------

    @staticmethod
    def _local_paths(mime: QMimeData) -> list[str]:
        if not mime.hasUrls():
            return []
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        # Only the names are looked at here: what they are is found out off the GUI thread.
        if self._local_paths(event.mimeData()):
            event.acceptProposedAction()
            self.drop_overlay.cover()
        else:
            self.statusBar().showMessage(
                "Only folders (to add) or a photo (to find similar ones) can be dropped here",
                5000)
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        event.acceptProposedAction()

    def dragLeaveEvent(self, event: Any) -> None:
        self.drop_overlay.hide()
        super().dragLeaveEvent(event)

    def handle_drop(self, mime: QMimeData) -> bool:
        """Folders are added and indexed; a photo becomes a find-similar query."""
        self.drop_overlay.hide()
        paths = self._local_paths(mime)
        if not paths:
            self._error("Only folders (to add) or a photo (to find similar ones) can be "
                        "dropped here")
            return False
        self.controller.handle_drop(paths)
        return True

    def dropEvent(self, event: QDropEvent) -> None:
        if self.handle_drop(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    # -- the view: searching, filters, results ----------------------------------------------

    def set_view(self, view: View, *, typed: bool = False) -> None:
        """Show ``view``. ``typed``: it comes from the search box, whose text is the user's
        and must not be written over while they type."""
        if not typed and self.search_field.text() != view.text:
            self.search_field.blockSignals(True)
            self.search_field.setText(view.text)
            self.search_field.blockSignals(False)
        self._show_view(view)
        self.controller.set_view(view)

    def _show_view(self, view: View) -> None:
        """Header, chips and placeholder follow the view: one truth, drawn everywhere."""
        where = []
        if view.tag:
            where.append(f"tagged {view.tag.partition(':')[2] or view.tag}")
        if view.folder:
            where.append(f"in {os.path.basename(view.folder.rstrip(os.sep))}")
        self.search_field.setPlaceholderText(
            "Describe a photo… (Enter to search" + (", " + ", ".join(where) if where else "")
            + ")")
        self.tag_chip.setVisible(bool(view.tag))
        self.tag_chip.setText(f"Tag: {view.tag.partition(':')[2] or view.tag}  ✕"
                              if view.tag else "")
        self.tag_chip.setToolTip("Show photos with any tag")
        self.folder_chip.setVisible(bool(view.folder))
        self.folder_chip.setText(f"Folder: {os.path.basename((view.folder or '').rstrip(os.sep))}"
                                 "  ✕" if view.folder else "")
        self.folder_chip.setToolTip("Show photos from every folder")
        self.results_title.setText(view.title())

    def run_search(self) -> None:
        self.search_timer.stop()
        current = self.controller.view
        text = self.search_field.text()
        if text.strip() == current.text.strip() and not current.similar_to:
            return   # already shown (Enter after the pause, or spaces typed)
        self.set_view(View(text=text, tag=current.tag, folder=current.folder), typed=True)

    def _search_text_changed(self, text: str) -> None:
        if not text and self.controller.view.text:
            self.run_search()   # the clear button: back to browsing at once

    def filter_by_tag(self, tag: str | None) -> None:
        """Show photos with ``tag``; combined with the text query when there is one."""
        current = self.controller.view
        self.set_view(View(current.text, current.similar_to, tag, current.folder))

    def find_similar(self, path: str) -> None:
        self.set_view(View(similar_to=path))

    def show_all(self) -> None:
        self.set_view(View())

    def _show_results(self, view: View, photos: list[Photo], scores: list[float] | None,
                      same_view: bool) -> None:
        self._show_view(view)
        if same_view:
            self.model.update_photos(photos, scores)
        else:
            self.model.set_photos(photos, scores)
        n = len(photos)
        self.results_title.setText(f"{view.title()} — {n:,} photo{'s' if n != 1 else ''}")
        self.view_note.setVisible(n == 0)
        if n == 0:
            self.view_note.setText(
                "No photos match. Try other words, or take off a filter." if view.needs_model
                else "No photos here yet." if self._roots else "")
        if photos or self._roots:
            self.stack.setCurrentIndex(1)
        if not same_view and photos:
            self.grid.setCurrentIndex(self.model.index(0))
        elif not photos:
            self.details.show_photo(None)
            self.controller.request_photo_tags(None)

    def _view_waiting(self, view: View, why: str) -> None:
        self._show_view(view)
        self.model.set_photos([])
        self.view_note.setText(why)
        self.view_note.show()
        self.details.show_photo(None)
        if self._roots:
            self.stack.setCurrentIndex(1)
        else:
            self.statusBar().showMessage(why, 10000)

    def _current_changed(self, current: Any, _previous: Any) -> None:
        photo = current.data(PhotoRole) if current.isValid() else None
        self.details.show_photo(photo, current.data(ScoreRole) if current.isValid() else None)
        self.controller.request_photo_tags(photo.id if photo else None)

    def _rows_changed(self, top: Any, bottom: Any, roles: Any = ()) -> None:
        """A refreshed row may be the one whose details are shown: show it as it is now."""
        if roles and Qt.ItemDataRole.DecorationRole in roles:
            return
        current = self.grid.currentIndex()
        if current.isValid() and top.row() <= current.row() <= bottom.row():
            self.details.show_photo(current.data(PhotoRole), current.data(ScoreRole))

    def _photo_tags(self, photo_id: int, tags: list[Any]) -> None:
        if self.details.photo is not None and self.details.photo.id == photo_id:
            self.details.tags.show_tags(tags)

    def _edit_tag(self, label_set: str, label: str, action: str) -> None:
        if self.details.photo is not None:
            self.controller.edit_tag(self.details.photo.id, label_set, label, action)

    def edit_label_sets(self) -> None:
        LabelSetEditor(self.controller, self.thumbnails, self).exec()

    def preview_current(self) -> None:
        if self.details.photo is not None:
            PreviewDialog(self.details.photo.path, self).exec()

    def eventFilter(self, obj: Any, event: QEvent) -> bool:
        if (obj is self.grid and event.type() == QEvent.Type.KeyPress
                and event.key() == Qt.Key.Key_Space):  # type: ignore[attr-defined]
            self.preview_current()
            return True
        return super().eventFilter(obj, event)

    def zoom(self, step: int) -> None:
        sizes = THUMB_SIZES
        current = min(range(len(sizes)), key=lambda i: abs(sizes[i] - self.settings.thumb_size))
        new = sizes[max(0, min(len(sizes) - 1, current + step))]
        self.settings.thumb_size = new
        self.model.set_thumb_size(new)
        self._apply_thumb_size()

    def _apply_thumb_size(self) -> None:
        size = self.settings.thumb_size
        self.grid.setIconSize(QSize(size, size))
        self.grid.setGridSize(QSize(size + 16, size + 36))

    # -- model state and jobs --------------------------------------------------------------

    def _model_state(self, state: ModelState, message: str) -> None:
        if state is ModelState.UNAVAILABLE:
            self.banner_label.setText(
                f"{message}\n\nBrowsing works without it; searching and tagging need it.")
            self.banner_download.setText("Try again")
            self.banner.show()
        else:
            self.banner.hide()
        self.statusBar().showMessage(message, 0 if state is ModelState.LOADING else 5000)

    def show_model_needed(self) -> None:
        """After "Later" on the welcome: say what is missing and how to get it."""
        self.banner_label.setText(
            "photoclip needs its model (about 600 MB, downloaded once) to search and tag your "
            "photos. Browsing works meanwhile.")
        self.banner_download.setText("Download the model")
        self.banner.show()

    def choose_model_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Choose an OpenCLIP model folder (open_clip_config.json + weights)")
        if folder:
            self.settings.model = f"local-dir:{folder}"
            self.settings.save()
            self.banner.hide()
            self.controller.use_model(self.settings.model)

    def _job_changed(self, job: Job) -> None:
        self._update_jobs()
        if job.state is JobState.FAILED and job.outcome:
            self.statusBar().showMessage(f"{job.title}: {job.outcome}", 10000)
        elif job.state.finished and job.outcome:
            self.statusBar().showMessage(job.outcome, 8000)
        if job.state.finished and "could not be read" in job.outcome:
            self.controller.request_failed()

    def _update_jobs(self) -> None:
        jobs = self.controller.jobs
        running = jobs.running()
        waiting = len([j for j in jobs.active() if j is not running])
        if running is None:
            self.jobs_button.setText(f"{waiting} job{'s' if waiting != 1 else ''} waiting"
                                     if waiting else "")
            self.jobs_button.setVisible(bool(waiting))
            for w in (self.progress, self.pause_btn, self.cancel_btn):
                w.hide()
            return
        more = f"  (+{waiting} waiting)" if waiting else ""
        detail = running.summary()
        what = (running.title if detail.rstrip("…").lower() == running.title.lower()
                else f"{running.title}: {detail}")
        self.jobs_button.setText(what + more)
        self.jobs_button.show()
        self.progress.show()
        if running.total:
            self.progress.setRange(0, running.total)
            self.progress.setValue(running.done)
        else:
            self.progress.setRange(0, 0)
        self.pause_btn.setVisible(running.pausable)
        self.cancel_btn.setVisible(running.cancellable)
        self.pause_btn.blockSignals(True)
        self.pause_btn.setChecked(running.state is JobState.PAUSED)
        self.pause_btn.setText("Resume" if running.state is JobState.PAUSED else "Pause")
        self.pause_btn.blockSignals(False)

    def _pause_toggled(self, paused: bool) -> None:
        self.pause_btn.setText("Resume" if paused else "Pause")
        self.controller.pause_jobs(paused)

    def show_jobs(self) -> None:
        if self.jobs_dialog is None:
            self.jobs_dialog = JobsDialog(self.controller, self)
        self.jobs_dialog.show()
        self.jobs_dialog.raise_()

    def _error(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)

    # -- dialogs ---------------------------------------------------------------------------

    def show_problems(self) -> None:
        self._open_problems = True
        self.controller.request_failed()

    _open_problems = False

    def _failed_ready(self, photos: list[Photo]) -> None:
        self.problems_btn.setText(f"Problems ({len(photos):,})")
        self.problems_btn.setVisible(bool(photos))
        if self._open_problems:
            self._open_problems = False
            ProblemsDialog(photos, self).exec()

    def _confirm_xmp(self, photo_ids: list[int] | None, count: int) -> None:
        if photo_ids is None:
            if not count:
                QMessageBox.information(self, "XMP sidecars", "No photo has tags yet.")
                return
            answer = QMessageBox.question(
                self, "Write XMP sidecars",
                f"Write tags to XMP sidecar files for {count:,} photos?\n\nA file such as "
                "photo.jpg.xmp is written next to each photo (or merged into the one already "
                "there) so digiKam, Lightroom and darktable see the tags. The photos "
                "themselves are not changed.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.controller.write_xmp(photo_ids)

    def show_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self.controller.model_spec,
                                self.controller.library_folder, self.library_note, self)
        if dialog.exec():
            self.settings.save()
            self.model.set_thumb_size(self.settings.thumb_size)
            self._apply_thumb_size()
            notes = []
            if dialog.model_changed:
                self.controller.use_model(self.settings.model or dialog.default_model)
                notes.append("switching the model in the background (see Jobs)")
            if dialog.needs_restart:
                notes.append("the library location and decode threads apply when photoclip "
                             "next starts")
            self.statusBar().showMessage("Settings saved" + (": " + "; ".join(notes)
                                                             if notes else ""), 10000)

    # -- remembered layout -----------------------------------------------------------------

    def _restore_layout(self) -> None:
        s = self.settings
        if s.window_geometry:
            self.restoreGeometry(QByteArray.fromBase64(s.window_geometry.encode()))
        if s.splitter_state:
            self.splitter.restoreState(QByteArray.fromBase64(s.splitter_state.encode()))

    def _save_layout(self) -> None:
        s = self.settings
        s.window_geometry = bytes(self.saveGeometry().toBase64().data()).decode()
        s.splitter_state = bytes(self.splitter.saveState().toBase64().data()).decode()
        s.last_view = self.controller.view.to_json()

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self.drop_overlay.isVisible():
            self.drop_overlay.cover()

    # -- shutdown --------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self._closed = True
            self.statusBar().showMessage("Finishing the current batch…")
            self._save_layout()
            self.settings.save()
            if self.jobs_dialog is not None:
                self.jobs_dialog.close()
            self.thumbnails.shutdown()
            self.controller.shutdown()
        event.accept()

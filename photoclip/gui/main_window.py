"""The main window: layout, actions, drag and drop. Work is delegated to the controller."""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QEvent, QMimeData, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
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
from photoclip.core.images import is_photo_path
from photoclip.core.indexer import IndexProgress
from photoclip.gui.controller import LibraryController
from photoclip.gui.dialogs import PreviewDialog, ProblemsDialog, SettingsDialog
from photoclip.gui.models import PhotoListModel, PhotoRole, ScoreRole
from photoclip.gui.tags import MANUAL_SET, LabelSetEditor, PhotoTags, TagBrowser
from photoclip.gui.thumbnails import ThumbnailCache
from photoclip.settings import Settings

EMPTY_TEXT = ("Drop a photo folder here or click Add folder\n\n"
              "photoclip indexes the photos where they are and lets you find them by "
              "describing them.")
THUMB_SIZES = (96, 128, 160, 200, 256)
SEARCH_PAUSE_MS = 450


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(seconds)
    if seconds >= 3600:
        return f", {seconds // 3600} h {seconds % 3600 // 60} min left"
    if seconds >= 60:
        return f", {seconds // 60} min {seconds % 60} s left"
    return f", {seconds} s left"


class DetailsPanel(QWidget):
    find_similar = Signal(str)

    def __init__(self, thumbnails: ThumbnailCache) -> None:
        super().__init__()
        self.thumbnails = thumbnails
        self.photo: Photo | None = None
        self.preview = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(220, 180)
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
        thumbnails.ready.connect(self._thumb_ready)
        self.show_photo(None)

    def show_photo(self, photo: Photo | None, score: float | None = None) -> None:
        from datetime import datetime

        self.photo = photo
        for b in (self.similar_btn, self.open_btn, self.folder_btn, self.copy_btn):
            b.setEnabled(photo is not None)
        if photo is None:
            self.preview.clear()
            self.info.setText("Select a photo to see its details.")
            return
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


class MainWindow(QMainWindow):
    def __init__(self, controller: LibraryController, settings: Settings,
                 thumbnails: ThumbnailCache) -> None:
        super().__init__()
        self.controller = controller
        self.settings = settings
        self.thumbnails = thumbnails
        self.setWindowTitle("photoclip")
        self.setAcceptDrops(True)
        self.resize(1200, 800)
        self._roots: list[Any] = []
        self._browsing: str | None = None   # the folder shown, when browsing one
        self._closed = False

        # search field + debounce
        self.search_field = QLineEdit(placeholderText="Describe a photo… (Enter to search)")
        self.search_field.setClearButtonEnabled(True)
        self.search_timer = QTimer(self, singleShot=True, interval=SEARCH_PAUSE_MS)
        self.search_timer.timeout.connect(self.run_search)
        self.search_field.textEdited.connect(lambda _t: self.search_timer.start())
        self.search_field.returnPressed.connect(self.run_search)

        # model banner (shown when the model is missing)
        self.banner = QFrame(frameShape=QFrame.Shape.StyledPanel)
        self.banner_label = QLabel(wordWrap=True)
        choose = QPushButton("Choose model folder…")
        choose.clicked.connect(self.choose_model_folder)
        retry = QPushButton("Try again")
        retry.clicked.connect(self.controller.load_model)
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.addWidget(self.banner_label, 1)
        banner_layout.addWidget(choose)
        banner_layout.addWidget(retry)
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
        self.tag_filter: str | None = None

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
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.grid.setWordWrap(False)
        self.grid.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.grid.setSpacing(6)
        self._apply_thumb_size()
        self.grid.selectionModel().currentChanged.connect(self._current_changed)
        self.grid.doubleClicked.connect(lambda _i: self.details.open_photo())
        self.grid.installEventFilter(self)
        self.results_title = QLabel()
        self.empty = QLabel(EMPTY_TEXT, alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.empty.setStyleSheet("font-size: 16pt; color: palette(mid); padding: 40px;")
        grid_page = QWidget()
        grid_layout = QVBoxLayout(grid_page)
        grid_layout.setContentsMargins(0, 0, 0, 0)
        grid_layout.addWidget(self.results_title)
        grid_layout.addWidget(self.grid, 1)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(grid_page)

        # details
        self.details = DetailsPanel(thumbnails)
        self.details.find_similar.connect(self.find_similar)
        self.details.tags.confirm.connect(self._confirm_tag)
        self.details.tags.remove.connect(self._reject_tag)
        self.details.tags.add.connect(self._add_tag)

        splitter = QSplitter()
        splitter.addWidget(side)
        splitter.addWidget(self.stack)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([220, 700, 280])

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(self.search_field)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        self.setCentralWidget(central)

        # status bar: progress with pause/cancel
        self.progress = QProgressBar(maximumWidth=220, textVisible=False)
        self.progress_label = QLabel()
        self.pause_btn = QToolButton(text="Pause", checkable=True)
        self.pause_btn.toggled.connect(self._pause_toggled)
        self.cancel_btn = QToolButton(text="Cancel")
        self.cancel_btn.clicked.connect(self.controller.cancel_indexing)
        self.problems_btn = QToolButton(text="Problems")
        self.problems_btn.clicked.connect(self.show_problems)
        self.problems_btn.hide()
        bar = self.statusBar()
        for w in (self.progress_label, self.progress, self.pause_btn, self.cancel_btn):
            bar.addPermanentWidget(w)
            w.hide()
        bar.addPermanentWidget(self.problems_btn)

        self._make_actions()
        self._connect_controller()
        self.stack.setCurrentWidget(self.empty)

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

        view = menu.addMenu("&View")
        find = QAction("&Search", self, shortcut=QKeySequence.StandardKey.Find)
        find.triggered.connect(lambda: (self.search_field.setFocus(),
                                        self.search_field.selectAll()))
        bigger = QAction("&Larger thumbnails", self, shortcut=QKeySequence.StandardKey.ZoomIn)
        bigger.triggered.connect(lambda: self.zoom(+1))
        smaller = QAction("&Smaller thumbnails", self,
                          shortcut=QKeySequence.StandardKey.ZoomOut)
        smaller.triggered.connect(lambda: self.zoom(-1))
        all_photos = QAction("&All photos", self)
        all_photos.triggered.connect(self.show_all)
        problems = QAction("&Problems…", self)
        problems.triggered.connect(self.show_problems)
        view.addActions([find, all_photos, bigger, smaller, problems])

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
        xmp_all = QAction("Write tags to XMP sidecars for the whole &library", self)
        xmp_all.triggered.connect(lambda: self.controller.write_xmp(None))
        tags.addActions([edit_sets, clear_filter])
        tags.addSeparator()
        tags.addActions([xmp_photo, xmp_all])

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.addAction(self.add_action)
        toolbar.addAction(all_photos)

    def _connect_controller(self) -> None:
        c = self.controller
        c.roots_changed.connect(self._roots_changed)
        c.results.connect(self._show_results)
        c.model_state.connect(self._model_state)
        c.download.connect(self._download)
        c.index_started.connect(self._index_started)
        c.index_progress.connect(self._index_progress)
        c.index_finished.connect(self._index_finished)
        c.message.connect(lambda m: self.statusBar().showMessage(m, 8000))
        c.library_changed.connect(self._library_changed)
        c.tags_changed.connect(self.tag_browser.set_counts)
        c.error.connect(self._error)

    # -- folders ---------------------------------------------------------------------------

    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a photo folder")
        if folder:
            self.controller.add_folders([folder])

    def _roots_changed(self, roots: list[Any]) -> None:
        self._roots = roots
        self.sidebar.clear()
        indexing = self.controller.index_task is not None
        for r in roots:
            if not r.online:
                state = "offline (drive not connected?)"
            elif indexing:
                state = f"{r.photos} photos, indexing"
            else:
                state = f"{r.photos} photos"
            if r.polling and r.online:
                state += ", checked by polling"
            item = QListWidgetItem(f"{os.path.basename(r.path) or r.path}\n{state}")
            item.setToolTip(r.path)
            item.setData(Qt.ItemDataRole.UserRole, r.path)
            if not r.online:
                item.setForeground(self.palette().mid())
            self.sidebar.addItem(item)
        if roots and self.stack.currentWidget() is self.empty:
            self.stack.setCurrentIndex(1)
        elif not roots:
            self.stack.setCurrentWidget(self.empty)

    def _sidebar_clicked(self, item: QListWidgetItem) -> None:
        self._browsing = item.data(Qt.ItemDataRole.UserRole)
        self.search_field.clear()
        self.controller.browse(self._browsing)

    def _sidebar_menu(self, pos: Any) -> None:
        item = self.sidebar.itemAt(pos)
        if item is None:
            return
        path = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        remove = menu.addAction("Remove from library…")
        show = menu.addAction("Show in file manager")
        chosen = menu.exec(self.sidebar.mapToGlobal(pos))
        if chosen is remove:
            self.confirm_remove(path)
        elif chosen is show:
            QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    def confirm_remove(self, path: str) -> None:
        answer = QMessageBox.question(
            self, "Remove folder",
            f"Remove {path} from the library?\n\nThe photos stay on disk; photoclip forgets "
            "their index and tags.")
        if answer == QMessageBox.StandardButton.Yes:
            self.controller.remove_folder(path)

    # -- drag and drop ---------------------------------------------------------------------

    @staticmethod
    def _local_paths(mime: QMimeData) -> list[str]:
        if not mime.hasUrls():
            return []
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        paths = self._local_paths(event.mimeData())
        if paths and all(os.path.isdir(p) or is_photo_path(p) for p in paths):
            event.acceptProposedAction()
        else:
            self.statusBar().showMessage(
                "Only folders (to add) or a photo (to find similar ones) can be dropped here",
                5000)
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        event.acceptProposedAction()

    def handle_drop(self, mime: QMimeData) -> bool:
        """Folders are added and indexed; a photo becomes a find-similar query."""
        paths = self._local_paths(mime)
        folders = [p for p in paths if os.path.isdir(p)]
        photos = [p for p in paths if os.path.isfile(p) and is_photo_path(p)]
        if not folders and not photos:
            self._error("Only folders (to add) or a photo (to find similar ones) can be "
                        "dropped here")
            return False
        if folders:
            self.controller.add_folders(folders)
        if photos:
            self.find_similar(photos[0])
        return True

    def dropEvent(self, event: QDropEvent) -> None:
        if self.handle_drop(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    # -- searching and results -------------------------------------------------------------

    def run_search(self) -> None:
        self.search_timer.stop()
        self.controller.search(self.search_field.text(), tag=self.tag_filter)

    def filter_by_tag(self, tag: str | None) -> None:
        """Show photos with ``tag``; combined with the text query when there is one."""
        self.tag_filter = tag
        self.search_field.setPlaceholderText(
            f"Describe a photo… (only photos tagged {tag})" if tag else
            "Describe a photo… (Enter to search)")
        self.run_search()

    def _confirm_tag(self, label_set: str, label: str) -> None:
        if self.details.photo is not None:
            self.controller.confirm_tag(self.details.photo.id, label_set, label)
            self._refresh_photo_tags()

    def _reject_tag(self, label_set: str, label: str) -> None:
        if self.details.photo is not None:
            self.controller.reject_tag(self.details.photo.id, label_set, label)
            self._refresh_photo_tags()

    def _add_tag(self, label: str) -> None:
        if self.details.photo is not None:
            self.controller.confirm_tag(self.details.photo.id, MANUAL_SET, label)
            self._refresh_photo_tags()

    def _refresh_photo_tags(self) -> None:
        photo = self.details.photo
        self.details.tags.show_tags(self.controller.photo_tags(photo.id) if photo else [])

    def edit_label_sets(self) -> None:
        LabelSetEditor(self.controller, self.thumbnails, self).exec()

    def find_similar(self, path: str) -> None:
        self.controller.similar(path)

    def show_all(self) -> None:
        self._browsing = None
        self.tag_filter = None
        self.search_field.clear()
        self.controller.browse()

    def _show_results(self, photos: list[Photo], scores: list[float] | None, title: str) -> None:
        self.model.set_photos(photos, scores)
        self.results_title.setText(f"{title} — {len(photos)} photos")
        if photos or self._roots:
            self.stack.setCurrentIndex(1)
        if photos:
            self.grid.setCurrentIndex(self.model.index(0))
        else:
            self.details.show_photo(None)

    def _current_changed(self, current: Any, _previous: Any) -> None:
        photo = current.data(PhotoRole) if current.isValid() else None
        self.details.show_photo(photo, current.data(ScoreRole) if current.isValid() else None)
        self._refresh_photo_tags()

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

    # -- model state and progress ----------------------------------------------------------

    def _model_state(self, state: str, message: str) -> None:
        if state == "unavailable":
            self.banner_label.setText(
                f"{message}\n\nBrowsing works without it; search and indexing need it.")
            self.banner.show()
        else:
            self.banner.hide()
        self.statusBar().showMessage(message, 0 if state == "loading" else 5000)

    def _download(self, message: str, done: int, total: int) -> None:
        self.progress.show()
        self.progress_label.show()
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        size = f"{done / 1e6:.0f} of {total / 1e6:.0f} MB" if total else f"{done / 1e6:.0f} MB"
        self.progress_label.setText(f"{message}: {size}")

    def choose_model_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Choose an OpenCLIP model folder (open_clip_config.json + weights)")
        if folder:
            self.settings.model = f"local-dir:{folder}"
            self.settings.save()
            self.controller.use_model(self.settings.model)

    def _index_started(self) -> None:
        for w in (self.progress, self.progress_label, self.pause_btn, self.cancel_btn):
            w.show()
        self.pause_btn.setChecked(False)
        self.progress.setRange(0, 0)
        self.progress_label.setText("Looking for new photos…")
        self._roots_changed(self._roots)

    def _index_progress(self, p: IndexProgress) -> None:
        if p.phase == "embed":
            self.progress.setRange(0, max(1, p.total))
            self.progress.setValue(p.done)
            failed = f", {p.failed} failed" if p.failed else ""
            self.progress_label.setText(
                f"Indexing {p.done:,} / {p.total:,} · {p.rate:.1f} photos/s"
                f"{_fmt_eta(p.eta)}{failed}")
        elif p.message:
            self.progress_label.setText(p.message)

    def _index_finished(self, summary: Any) -> None:
        for w in (self.progress, self.progress_label, self.pause_btn, self.cancel_btn):
            w.hide()
        if summary is not None:
            i = summary.index
            note = "Indexing cancelled" if i.cancelled else "Indexing done"
            if i.embedded or i.failed or i.cancelled:
                self.statusBar().showMessage(
                    f"{note}: {i.embedded} photos indexed, {len(i.failed)} could not be read",
                    10000)
            if i.failed:
                self.problems_btn.setText(f"Problems ({len(self.controller.failed_photos())})")
                self.problems_btn.show()
        if self.search_field.text().strip() or self.tag_filter:
            self.run_search()
        else:
            self.controller.browse(self._browsing)

    def _library_changed(self, summary: Any) -> None:
        """The watcher indexed something: refresh folders and whatever is on screen."""
        self.controller.refresh_roots()
        s = summary.scan
        self.statusBar().showMessage(
            f"Folders changed: {s.new} new, {s.moved} moved, {s.missing} removed, "
            f"{summary.index.embedded} indexed", 5000)
        self.controller.refresh_tags()
        if self.search_field.text().strip() or self.tag_filter:
            self.run_search()
        else:
            self.controller.browse(self._browsing)

    def _pause_toggled(self, paused: bool) -> None:
        self.pause_btn.setText("Resume" if paused else "Pause")
        self.controller.pause_indexing(paused)

    def _error(self, message: str) -> None:
        self.statusBar().showMessage(message, 10000)

    # -- dialogs ---------------------------------------------------------------------------

    def show_problems(self) -> None:
        ProblemsDialog(self.controller.failed_photos(), self).exec()

    def show_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            self.settings.save()
            self.model.set_thumb_size(self.settings.thumb_size)
            self._apply_thumb_size()
            self.statusBar().showMessage("Settings saved; model and library changes apply "
                                         "after a restart", 8000)

    # -- shutdown --------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self._closed = True
            self.statusBar().showMessage("Finishing the current batch…")
            self.settings.save()
            self.thumbnails.shutdown()
            self.controller.shutdown()
        event.accept()

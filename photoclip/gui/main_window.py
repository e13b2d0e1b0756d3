"""The main window: layout, actions, drag and drop. Work is delegated to the controller.

Nothing here reads a file or calls the core: the window asks the controller and paints what
comes back. What the grid shows is the controller's :class:`View`; the header, the filter
chips, the sort and grouping choices and the search box are drawn from it, so they cannot
disagree.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from typing import Any

from PySide6.QtCore import (
    QByteArray,
    QDir,
    QEvent,
    QMimeData,
    QModelIndex,
    QObject,
    Qt,
    QTimer,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QIcon,
    QKeySequence,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photoclip.core.catalog import Photo
from photoclip.core.concepts import MIN_EXAMPLES
from photoclip.core.trash import uses_xdg_trash
from photoclip.gui.controller import (
    LibraryController,
    ModelState,
    Results,
    View,
    short_model_name,
)
from photoclip.gui.dialogs import (
    SHORTCUT_HELP,
    DatesDialog,
    JobsDialog,
    ProblemsDialog,
    SettingsDialog,
    ShortcutsDialog,
    welcome,
)
from photoclip.gui.grid import PhotoGridView
from photoclip.gui.icons import icon
from photoclip.gui.jobs import Job, JobState
from photoclip.gui.models import IdRole, PhotoListModel, PhotoRole, ScoreRole
from photoclip.gui.names import (
    copy_to_clipboard,
    counted,
    open_folder_of,
    open_with_desktop,
    shown,
    shown_name,
)
from photoclip.gui.panels import (
    DetailsPanel,
    DropOverlay,
    ElidedLabel,
    FolderList,
    RemoveFolderCommand,
    RootRole,
    TagEditCommand,
    TrashCommand,
    folder_of,
)
from photoclip.gui.tags import MANUAL_SET, LabelSetEditor, LearnLabelDialog, TagBrowser
from photoclip.gui.thumbnails import ThumbnailCache
from photoclip.gui.timeline import sections_for
from photoclip.gui.viewer import PhotoViewer
from photoclip.settings import Settings

HISTORY = 50         # views Back can return to
OUTCOME_MS = 10000   # how long a finished job's line stays in the status bar

EMPTY_TEXT = ("Drop a photo folder here or click Add folder\n\n"
              "photoclip indexes the photos where they are and lets you find them by "
              "describing them.")
THUMB_SIZES = (96, 128, 160, 200, 256)
SEARCH_PAUSE_MS = 450
GROUP_NAMES = {"day": "By day", "month": "By month", "year": "By year", "none": "No groups"}
GRID_PAGE, VIEWER_PAGE = 1, 2



JOBS_TEXT_WIDTH = 460   # the status bar's job text, in pixels

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
        self.setMinimumSize(760, 520)
        self._roots: list[Any] = []
        # The view on screen, its photo count, whether a search found clear matches, and
        # whether a "photos like this" list stopped at its limit.
        self._shown: tuple[View, int, bool, bool] | None = None
        # Newer results of a best-first view, held back so the list does not re-sort under
        # the user while photos are indexed; "Show N new matches" puts them on screen.
        self._held: tuple[View, Results] | None = None
        self._seen: set[int] = set()
        self._outcomes: list[tuple[float, int, str]] = []  # (when, job id, line): just ended
        self._closed = False
        self._open_problems = False
        self._wanted_model: str | None = None     # asked for; remembered once it works
        self._add_from = ""                         # where Add folder last chose from
        # Views to go back to, each with the photo that was current in it (Back, Alt+Left).
        self._history: list[tuple[View, int | None]] = []
        self._return_to: int | None = None          # ...to pick again when its results come
        self.undo_stack = QUndoStack(self)

        # search field + debounce, and what else narrows the view
        self.search_field = QLineEdit()
        self.search_field.setClearButtonEnabled(True)
        self.search_field.addAction(icon("edit-find"), QLineEdit.ActionPosition.LeadingPosition)
        self.search_timer = QTimer(self, singleShot=True, interval=SEARCH_PAUSE_MS)
        self.search_timer.timeout.connect(self.run_search)
        self.search_field.textEdited.connect(lambda _t: self.search_timer.start())
        self.search_field.returnPressed.connect(self.run_search)
        self.search_field.textChanged.connect(self._search_text_changed)
        self.search_field.installEventFilter(self)
        self.dates_btn = QToolButton(text="Dates…", icon=icon("x-office-calendar"))
        self.dates_btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.dates_btn.clicked.connect(self.choose_dates)

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

        # sidebar: folders, then tags
        self.sidebar = FolderList()
        self.sidebar.customContextMenuRequested.connect(self._sidebar_menu)
        self.sidebar.itemClicked.connect(lambda item, _col: self._sidebar_clicked(item))
        add_btn = QPushButton(icon("folder-new"), "Add folder…")
        add_btn.clicked.connect(self.add_folder_dialog)
        side = QWidget()
        side.setMinimumWidth(170)   # a long header must not squeeze folder names to "20…"
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(QLabel("Folders"))
        side_layout.addWidget(self.sidebar, 1)
        side_layout.addWidget(add_btn)
        side_layout.addWidget(QLabel("Tags"))
        self.tag_browser = TagBrowser()
        self.tag_browser.tag_chosen.connect(self.filter_by_tag)
        side_layout.addWidget(self.tag_browser, 1)

        # the grid, with its year list
        self.model = PhotoListModel(thumbnails, self)
        self.model.set_thumb_size(settings.thumb_size)
        self.grid = PhotoGridView()
        self.grid.setModel(self.model)
        self.grid.set_thumb_size(settings.thumb_size)
        self.grid.selectionModel().currentChanged.connect(self._current_changed)
        self.grid.selectionModel().selectionChanged.connect(lambda *_a: self._selection_changed())
        self.grid.doubleClicked.connect(lambda index: self.open_viewer(index.row()))
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._photo_menu)
        self.grid.verticalScrollBar().valueChanged.connect(lambda _v: self._follow_years())
        self.model.dataChanged.connect(self._rows_changed)
        self.years = QListWidget()
        self.years.setMaximumWidth(72)
        self.years.setToolTip("Jump to a year")
        self.years.itemClicked.connect(self._year_clicked)

        # header: what is shown, the filters that apply (each can be taken off), the order
        self.results_title = ElidedLabel()
        self.results_title.setStyleSheet("font-weight: bold;")
        self.folder_chip = QToolButton(icon=icon("folder"))
        self.folder_chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.folder_chip.clicked.connect(lambda: self.set_view(
            replace(self.controller.view, folder=None, weaker=False)))
        self.folder_chip.setToolTip("Show photos from every folder")
        self.tag_chip = QToolButton(icon=icon("tag"))
        self.tag_chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.tag_chip.clicked.connect(lambda: self.filter_by_tag(None))
        self.tag_chip.setToolTip("Show photos with any tag")
        self.date_chip = QToolButton(icon=icon("x-office-calendar"))
        self.date_chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.date_chip.clicked.connect(lambda: self.set_view(
            replace(self.controller.view, date_from=None, date_to=None)))
        self.date_chip.setToolTip("Show photos of any date")
        self.sort_box = QComboBox()
        self.sort_box.addItems(["Best match first", "Newest first"])
        self.sort_box.activated.connect(self._sort_chosen)
        self.group_box = QComboBox()
        for key, name in GROUP_NAMES.items():
            self.group_box.addItem(name, key)
        self.group_box.activated.connect(self._group_chosen)
        # The title and the order on one line; the filters, when there are any, on the
        # next, so a narrow window shortens neither the title nor a filter's name.
        title_row = QHBoxLayout()
        title_row.addWidget(self.results_title, 1)
        title_row.addWidget(self.sort_box)
        title_row.addWidget(self.group_box)
        self.chips_row = QWidget()
        chips = QHBoxLayout(self.chips_row)
        chips.setContentsMargins(0, 0, 0, 0)
        for w in (self.folder_chip, self.tag_chip, self.date_chip):
            chips.addWidget(w)
        chips.addStretch(1)
        header = QVBoxLayout()
        header.setSpacing(2)
        header.addLayout(title_row)
        header.addWidget(self.chips_row)
        self.view_note = QLabel(wordWrap=True)
        self.view_note.setStyleSheet("color: palette(placeholder-text);")
        self.weaker_btn = QPushButton("Show weaker matches")
        self.weaker_btn.clicked.connect(lambda: self.set_view(
            replace(self.controller.view, weaker=not self.controller.view.weaker)))
        self.newer_btn = QPushButton(icon=icon("view-refresh"))
        self.newer_btn.setToolTip("Photos indexed since these results came in match too. "
                                  "Showing them puts the list in order again.")
        self.newer_btn.clicked.connect(self._show_held)
        self.newer_btn.hide()
        note_row = QHBoxLayout()
        note_row.addWidget(self.view_note, 1)
        note_row.addStretch(0)
        note_row.addWidget(self.newer_btn, 0, Qt.AlignmentFlag.AlignRight)
        note_row.addWidget(self.weaker_btn, 0, Qt.AlignmentFlag.AlignRight)
        self.empty = QLabel(EMPTY_TEXT, alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.empty.setStyleSheet("font-size: 16pt; color: palette(placeholder-text); "
                                 "padding: 40px;")
        grid_row = QHBoxLayout()
        grid_row.setSpacing(0)
        grid_row.addWidget(self.grid, 1)
        grid_row.addWidget(self.years)
        grid_page = QWidget()
        grid_layout = QVBoxLayout(grid_page)
        grid_layout.setContentsMargins(0, 0, 0, 0)
        grid_layout.addLayout(header)
        grid_layout.addLayout(note_row)
        grid_layout.addLayout(grid_row, 1)
        self.viewer = PhotoViewer(self.model)
        self.viewer.closed.connect(self.close_viewer)
        self.viewer.row_changed.connect(self._viewer_row)
        self.viewer.full_screen.connect(self._full_screen)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(grid_page)
        self.stack.addWidget(self.viewer)

        # details
        self.details = DetailsPanel(thumbnails)
        self.details.tags.new.installEventFilter(self)   # Ctrl+Z (see eventFilter)
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
        self.splitter.setSizes([230, 690, 280])

        central = QWidget()
        layout = QVBoxLayout(central)
        search_row = QHBoxLayout()
        search_row.addWidget(self.search_field, 1)
        search_row.addWidget(self.dates_btn)
        layout.addLayout(search_row)
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
        # A fixed width, the text elided: figures that change length every second must not
        # push Pause and Cancel around under the mouse.
        self.jobs_button.setFixedWidth(JOBS_TEXT_WIDTH)
        self.jobs_button.clicked.connect(self.show_jobs)
        self.pause_btn = QToolButton(text="Pause", checkable=True)
        self.pause_btn.toggled.connect(self._pause_toggled)
        self.cancel_btn = QToolButton(text="Cancel")
        self.cancel_btn.clicked.connect(lambda: self.controller.cancel_job())
        self.problems_btn = QToolButton(icon=icon("dialog-warning"))
        self.problems_btn.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.problems_btn.setAutoRaise(True)
        self.problems_btn.setToolTip("Photos that could not be read (View → Problems)")
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

    def _action(self, text: str, slot: Any, shortcut: Any = None, icon_name: str = "",
                tip: str = "") -> QAction:
        action = QAction(icon(icon_name) if icon_name else QIcon(), text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        if tip:
            action.setToolTip(tip)
        action.triggered.connect(slot)
        return action

    def _make_actions(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self.add_action = self._action("&Add folder…", self.add_folder_dialog,
                                       QKeySequence.StandardKey.Open, "folder-new")
        settings = self._action("&Settings…", self.show_settings,
                                QKeySequence.StandardKey.Preferences, "preferences-system")
        quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        file_menu.addActions([self.add_action, settings])
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

        edit = menu.addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_action.setIcon(icon("edit-undo"))
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        self.redo_action.setIcon(icon("edit-redo"))
        # Their text names the edit to undo; the shortcuts page says what they do.
        self.undo_action.setProperty(SHORTCUT_HELP, "Undo the last change (tags, a folder "
                                                    "removal, a move to the trash)")
        self.redo_action.setProperty(SHORTCUT_HELP, "Redo what was undone")
        select_all = self._action("Select &all", self.grid.selectAll,
                                  QKeySequence.StandardKey.SelectAll)
        edit.addActions([self.undo_action, self.redo_action])
        edit.addSeparator()
        edit.addAction(select_all)

        view = menu.addMenu("&View")
        find = self._action("&Search", lambda: (self.search_field.setFocus(),
                                                self.search_field.selectAll()),
                            QKeySequence.StandardKey.Find, "edit-find")
        self.back_action = self._action("&Back", self.go_back, QKeySequence.StandardKey.Back,
                                        "go-previous", "Back to what was shown before")
        self.back_action.setEnabled(False)
        self.all_photos_action = self._action("&All photos", self.show_all,
                                              QKeySequence("Ctrl+Home"), "photos",
                                              "Every photo, newest first")
        bigger = self._action("&Larger thumbnails", lambda: self.zoom(+1),
                              QKeySequence.StandardKey.ZoomIn, "zoom-in")
        smaller = self._action("&Smaller thumbnails", lambda: self.zoom(-1),
                               QKeySequence.StandardKey.ZoomOut, "zoom-out")
        self.viewer_action = self._action("&View photo", self.open_viewer,
                                          QKeySequence(Qt.Key.Key_Return), "image-x-generic",
                                          "The selected photo as large as the window")
        self.viewer_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.grid.addAction(self.viewer_action)
        space = self._action("View photo", self.open_viewer, QKeySequence(Qt.Key.Key_Space),
                             tip=self.viewer_action.toolTip())
        space.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.grid.addAction(space)
        full = self._action("&Full screen", lambda: self._full_screen(not self.isFullScreen()),
                            QKeySequence(Qt.Key.Key_F11), "view-fullscreen")
        slideshow = self._action("Slide&show", self.start_slideshow, QKeySequence("Ctrl+L"),
                                 "media-playback-start")
        group = view.addMenu("&Group photos")
        for key, name in GROUP_NAMES.items():
            group.addAction(self._action(name, lambda _c=False, k=key: self._set_group(k)))
        dates = self._action("&Dates…", self.choose_dates, icon_name="x-office-calendar")
        problems = self._action("&Problems…", self.show_problems, icon_name="dialog-warning")
        jobs = self._action("&Jobs…", self.show_jobs, icon_name="view-refresh")
        view.addActions([find, self.back_action, self.all_photos_action, dates])
        view.addSeparator()
        view.addActions([self.viewer_action, full, slideshow, bigger, smaller])
        view.addSeparator()
        view.addActions([jobs, problems])

        photo = menu.addMenu("&Photo")
        self.similar_action = self._action("Find &similar", self.find_similar_to_selection,
                                           QKeySequence("Ctrl+Shift+S"), "similar",
                                           "Photos like the selected ones")
        copy = self._action("&Copy path", self.copy_paths, QKeySequence.StandardKey.Copy,
                            "edit-copy")
        add_tag = self._action("&Add tag…", self.add_tag_to_selection, QKeySequence("Ctrl+T"),
                               "tag")
        trash = self._action("Move to &trash…", self.trash_selection,
                             QKeySequence(Qt.Key.Key_Delete), "user-trash")
        trash.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.grid.addAction(trash)
        photo.addActions([self.viewer_action, self.similar_action, copy, add_tag])
        photo.addSeparator()
        photo.addAction(trash)

        tags = menu.addMenu("&Tags")
        edit_sets = self._action("&Edit label sets…", self.edit_label_sets, icon_name="tag")
        self.clear_tag_action = clear_filter = self._action(
            "&Clear tag filter", lambda: self.filter_by_tag(None))
        xmp_photo = self._action("Write tags to XMP sidecars for the &selected photos",
                                 lambda: self.controller.write_xmp(self.selected_ids()))
        xmp_all = self._action("Write tags to XMP sidecars for the whole &library…",
                               lambda: self.controller.count_xmp(None))
        learn_label = self._action("C&reate label from the selected photos…",
                                   self.create_label_from_selection)
        learn_label.setStatusTip(f"Select {MIN_EXAMPLES} or more photos that show what the "
                                 "label means; photoclip finds the others")
        tags.addActions([edit_sets, learn_label, clear_filter])
        tags.addSeparator()
        tags.addActions([xmp_photo, xmp_all])

        tools = menu.addMenu("T&ools")
        self.duplicates_action = self._action("Find &duplicates…", self.find_duplicates,
                                              icon_name="duplicates")
        history = self._action("&Trash history…", self.show_trash_history,
                               icon_name="user-trash")
        tools.addActions([self.duplicates_action, history])

        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self._action("Set up the &model…", lambda: welcome(self),
                                         icon_name="help-browser"))
        help_menu.addAction(self._action("&Keyboard shortcuts", self.show_shortcuts,
                                         QKeySequence.StandardKey.HelpContents,
                                         "input-keyboard"))
        help_menu.addAction(self._action("&About photoclip", self.controller.request_about,
                                         icon_name="help-browser"))

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addActions([self.add_action, self.back_action, self.all_photos_action])
        toolbar.addSeparator()
        toolbar.addActions([self.viewer_action, self.similar_action, slideshow])
        toolbar.addSeparator()
        toolbar.addActions([self.undo_action])
        # What acts on a photo is off while there is none to act on (an empty library:
        # "View photo" looked clickable and did nothing).
        self.slideshow_action = slideshow
        for signal in (self.model.modelReset, self.model.rowsInserted, self.model.rowsRemoved,
                       self.grid.selectionModel().selectionChanged,
                       self.grid.selectionModel().currentChanged):
            signal.connect(lambda *_a: self._update_photo_actions())
        self._update_photo_actions()

    def _update_photo_actions(self) -> None:
        shown = self.model.rowCount() > 0
        self.viewer_action.setEnabled(shown)
        self.slideshow_action.setEnabled(shown)
        self.similar_action.setEnabled(shown and (
            self.grid.selectionModel().hasSelection() or self.grid.currentIndex().isValid()))

    def _connect_controller(self) -> None:
        c = self.controller
        c.roots_changed.connect(self._roots_changed)
        c.results.connect(self._show_results)
        c.view_waiting.connect(self._view_waiting)
        c.model_state.connect(self._model_state)
        c.message.connect(lambda m: self.statusBar().showMessage(m, 8000))
        c.tags_changed.connect(self.tag_browser.set_counts)
        c.label_learned.connect(self._label_learned)
        c.photo_tags.connect(self._photo_tags)
        c.photo_files.connect(self.details.show_files)
        c.tag_edited.connect(lambda e: self.undo_stack.push(TagEditCommand(c, e)))
        c.folder_removed.connect(self._folder_removed)
        c.trashed.connect(self._trashed)
        c.xmp_candidates.connect(self._confirm_xmp)
        c.failed_ready.connect(self._failed_ready)
        c.problems.connect(self._show_problem_count)
        c.error.connect(self._error)
        c.model_not_changed.connect(self._model_not_changed)
        c.about.connect(self._show_about)
        c.jobs.added.connect(lambda _j: self._update_jobs())
        c.jobs.changed.connect(self._job_changed)
        c.jobs.removed.connect(lambda _j: self._update_jobs())

    # -- folders ---------------------------------------------------------------------------

    def add_folder_dialog(self) -> None:
        # Starts where the last folder was added from, else in the home folder (it opened
        # where the app was started from, often an install folder). Not Pictures: whether
        # it exists would be a look at the disk from the GUI thread, and a missing one
        # left the dialog on a name it could not choose.
        start = self._add_from or QDir.homePath()
        folder = QFileDialog.getExistingDirectory(self, "Add a photo folder", start)
        if folder:
            self._add_from = os.path.dirname(folder.rstrip(os.sep)) or folder
            self.controller.add_folders([folder])

    def _roots_changed(self, roots: list[Any]) -> None:
        self._roots = roots
        self.sidebar.set_roots(roots, self.controller.view.folder)
        if roots and self.stack.currentWidget() is self.empty:
            self.stack.setCurrentIndex(GRID_PAGE)
        elif not roots:
            self.stack.setCurrentWidget(self.empty)
        self._show_view(self.controller.view)

    def _sidebar_clicked(self, item: QTreeWidgetItem) -> None:
        self.set_view(View(folder=folder_of(item.data(0, RootRole)),
                           tag=self.controller.view.tag, group=self.controller.view.group))

    def _sidebar_menu(self, pos: Any) -> None:
        item = self.sidebar.itemAt(pos)
        if item is None:
            return
        path = folder_of(item.data(0, RootRole))
        menu = QMenu(self)
        browse = menu.addAction(icon("photos"), "Show its photos")
        show = menu.addAction(icon("folder-open"), "Open in file manager")
        rescan = menu.addAction(icon("view-refresh"), "Look for new photos now")
        remove = None
        if item.parent() is None:   # folders inside a root go with it
            menu.addSeparator()
            remove = menu.addAction(icon("user-trash"), "Remove from library…")
        chosen = menu.exec(self.sidebar.mapToGlobal(pos))
        if chosen is not None and chosen is remove:
            self.confirm_remove(path)
        elif chosen is show:
            open_with_desktop(path, folder=True)
        elif chosen is browse:
            self._sidebar_clicked(item)
        elif chosen is rescan:
            self.controller.index_now(f"Indexing {shown_name(path)}")

    def confirm_remove(self, path: str) -> None:
        """Ask (Cancel is the default) with what will be forgotten, then remove."""
        self.controller.folder_facts(path, lambda facts: self._ask_remove(path, *facts))

    def _ask_remove(self, path: str, photos: int, unreadable: int, own_tags: int) -> None:
        # The counts the folder list shows: photos, and apart from them the files that
        # could not be read ("13 photos" beside "12 photos · 1 unreadable" confused).
        bad = (f" (and {counted(unreadable, 'file')} it could not read)" if unreadable
               else "")
        kept = (f" Your {counted(own_tags, 'tag choice')} on them (tags you added, confirmed "
                "or removed) are kept, and come back if you add the folder again."
                if own_tags else "")
        if self._confirm_destructive(
                "Remove folder", f"Remove the folder “{shown_name(path)}” from photoclip?",
                f"photoclip forgets the {counted(photos, 'photo')}{bad} it indexed in "
                f"{shown(path)}. The files stay where they are, untouched.{kept} Edit → Undo "
                "brings the folder back as it was until you quit.", "Remove folder"):
            self.controller.remove_folder(path)

    def _confirm_destructive(self, title: str, text: str, info: str, action: str) -> bool:
        """Ask before something hard to take back; Cancel is the default (Enter, Esc)."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle(title)
        box.setText(text)
        box.setInformativeText(info)
        go = box.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.exec()
        return box.clickedButton() is go

    def _folder_removed(self, folder: str, n: int) -> None:
        self.undo_stack.push(RemoveFolderCommand(self.controller, folder))
        self.statusBar().showMessage(
            f"Removed {shown(folder)} ({counted(n, 'photo')} forgotten; files untouched). "
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

    def set_view(self, view: View, *, typed: bool = False, back: bool = False) -> None:
        """Show ``view``. ``typed``: it comes from the search box, whose text is the user's
        and must not be written over while they type. ``back``: Back brought it."""
        current = self.controller.view
        # Back returns to the place before (a search before Find similar, the folder before
        # a tag): a new place is remembered once, with the photo that was current there. A new
        # order or grouping of the same photos is no new place, nor is a query being typed.
        if (not back and _place(view) != _place(current)
                and not (typed and current.text.strip())
                and not (self._history and _place(self._history[-1][0]) == _place(current))):
            self._history.append((current, self.grid.currentIndex().data(IdRole)))
            del self._history[:-HISTORY]
        self._return_to = None
        self.back_action.setEnabled(bool(self._history))
        if not typed and self.search_field.text() != view.text:
            self.search_field.blockSignals(True)
            self.search_field.setText(view.text)
            self.search_field.blockSignals(False)
        if self.stack.currentIndex() == VIEWER_PAGE:
            self.close_viewer(self.viewer.row)
        self._show_view(view)
        self.controller.set_view(view)

    def go_back(self) -> None:
        if not self._history:
            return
        view, current = self._history.pop()
        self.set_view(view, back=True)
        self._return_to = current

    def _show_view(self, view: View) -> None:
        """Header, chips, order and placeholder follow the view: one truth, drawn everywhere."""
        where = []
        if view.tag:
            where.append(f"tagged {view.tag.partition(':')[2] or view.tag}")
        if view.folder:
            where.append(f"in {shown_name(view.folder)}")
        if view.date_from is not None or view.date_to is not None:
            where.append(view.dates_text())
        self.search_field.setPlaceholderText(
            "Describe a photo… (Enter to search" + (", " + ", ".join(where) if where else "")
            + ")")
        self.tag_chip.setVisible(bool(view.tag))
        self.tag_browser.select_tag(view.tag)
        self.clear_tag_action.setEnabled(bool(view.tag))
        self.tag_chip.setText(self._chip(view.tag.partition(':')[2] or view.tag)
                              if view.tag else "")
        self.folder_chip.setVisible(bool(view.folder))
        self.folder_chip.setText(self._chip(shown_name(view.folder)) if view.folder else "")
        self.sidebar.select_folder(view.folder)
        dated = view.date_from is not None or view.date_to is not None
        self.date_chip.setVisible(dated)
        self.date_chip.setText(f"{view.dates_text()}  ✕" if dated else "")
        self.chips_row.setVisible(bool(view.folder or view.tag or dated))
        self.sort_box.setVisible(view.is_search or bool(view.tag))
        self.sort_box.setCurrentIndex(0 if view.ranked else 1)
        self.group_box.setVisible(not view.ranked)
        self.group_box.setCurrentIndex(max(0, self.group_box.findData(view.group)))
        self.results_title.setText(self._title(view))

    def _chip(self, text: str) -> str:
        """A filter chip's text, shortened so a long name cannot push the panes apart."""
        return self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, 240) + "  ✕"

    def _title(self, view: View) -> str:
        """The view's title, with its count once results for it are on screen (a folder
        list refresh redraws the header and must not drop the count)."""
        if self._shown is None or self._shown[0] != view:
            return view.title()
        _view, n, clear, capped = self._shown
        title = view.title()
        if view.text.strip() and not clear:
            title = title.replace("Best matches for", "Closest to", 1)
        if capped:   # a bare "200 photos" read as if the library had no more like it
            return f"{title} — the {n:,} closest"
        return f"{title} — {n:,} photo{'s' if n != 1 else ''}"

    def run_search(self) -> None:
        self.search_timer.stop()
        current = self.controller.view
        text = self.search_field.text()
        if text.strip() == current.text.strip() and not (current.similar_to or
                                                         current.similar_ids):
            return   # already shown (Enter after the pause, or spaces typed)
        self.set_view(View(text=text, tag=current.tag, folder=current.folder,
                           date_from=current.date_from, date_to=current.date_to,
                           group=current.group, by_date=current.by_date), typed=True)

    def _search_text_changed(self, text: str) -> None:
        if not text and self.controller.view.text:
            self.run_search()   # the clear button: back to browsing at once

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Ctrl+Z in the search box undoes typing not yet searched for; once the search has
        run it is Edit → Undo's (the last tag or trash action), as everywhere else."""
        if (event.type() == QEvent.Type.ShortcutOverride
                and (event.matches(QKeySequence.StandardKey.Undo)    # type: ignore[attr-defined]
                     or event.matches(QKeySequence.StandardKey.Redo))):  # type: ignore[attr-defined]
            if watched is self.search_field and (self.search_field.text().strip()
                                                 == self.controller.view.text.strip()):
                return True   # not accepted: the window's shortcut takes the key
            # The tag box takes the focus when Confirm or Remove turn off after a click;
            # with nothing of its own to undo, Ctrl+Z is the window's (the tag just edited).
            box = self.details.tags.new
            if watched is box and not (box.isUndoAvailable() or box.isRedoAvailable()):
                return True
        return super().eventFilter(watched, event)

    def _sort_chosen(self, index: int) -> None:
        view = self.controller.view
        if view.is_search:
            self.set_view(replace(view, by_date=index == 1))
        else:
            self.set_view(replace(view, by_score=index == 0))

    def filter_by_tag(self, tag: str | None) -> None:
        """Show photos with ``tag``; combined with the text query when there is one."""
        self.set_view(replace(self.controller.view, tag=tag, weaker=False))

    def find_similar(self, path: str) -> None:
        self.set_view(View(similar_to=path, group=self.controller.view.group))

    def find_similar_to_selection(self) -> None:
        ids = self.selected_ids()
        if len(ids) == 1 and self.details.photo is not None:
            self.find_similar(self.details.photo.path)
        elif ids:
            self.set_view(View(similar_ids=tuple(ids), group=self.controller.view.group))

    def show_all(self) -> None:
        self.set_view(View(group=self.controller.view.group))

    def choose_dates(self) -> None:
        view = self.controller.view
        dialog = DatesDialog(view.date_from, view.date_to, self)
        if dialog.exec():
            self.set_view(replace(view, date_from=dialog.date_from, date_to=dialog.date_to))

    def _group_chosen(self, index: int) -> None:
        self._set_group(self.group_box.itemData(index))

    def _set_group(self, group: str) -> None:
        self.set_view(replace(self.controller.view, group=group))

    def _show_results(self, view: View, results: Results, same_view: bool, *,
                      hold: bool = True) -> None:
        # Searches only: their lists are short (SEARCH_TOP); a tag's photos best first can
        # be the whole library, and take new photos in place as a folder does.
        if same_view and hold and view.ranked and view.is_search:
            results = self._hold_new_matches(view, results)
        else:
            self._held = None
        self.newer_btn.setVisible(self._held is not None)
        self._show_view(view)
        keep = self.grid.currentIndex().data(IdRole) if same_view else None
        keep_row = self.grid.currentIndex().row()
        was_empty = self.model.rowCount() == 0
        if same_view:
            self.model.update_photos(results.photos, results.scores)
        else:
            self.model.set_photos(results.photos, results.scores)
        self.grid.set_sections(results.sections, results.shape)
        # Every photo shown since this view began: a held list's newcomers are the others.
        self._seen = ({p.id for p in results.photos} | (self._seen if same_view else set()))
        self._fill_years(results)
        n = len(results.photos)
        self._shown = (view, n, results.clear, results.capped)
        self.results_title.setText(self._title(view))
        note = ""
        if view.is_search and view.text.strip() and not results.clear:
            note = (f"No photo clearly matches “{view.text.strip()}”; these are the closest."
                    if n else f"No photo matches “{view.text.strip()}”.")
        elif n == 0:
            note = ("No photos match. Try other words, or take off a filter."
                    if view.needs_model or view.tag or view.date_from or view.date_to
                    else self._empty_folder_note(view) if self._roots else "")
        self.view_note.setText(note)
        self.view_note.setVisible(bool(note))
        # Shown weaker matches can be hidden again (there was no way back).
        self.weaker_btn.setVisible(bool(view.text.strip()) and (view.weaker
                                                                 or results.weaker > 0))
        self.weaker_btn.setText(
            "Hide the weaker matches" if view.weaker else
            f"Show {counted(results.weaker, 'weaker match', 'weaker matches')}")
        if (results.photos or self._roots) and self.stack.currentIndex() != VIEWER_PAGE:
            self.stack.setCurrentIndex(GRID_PAGE)
        back_to = self.model.row_of_id(self._return_to) if self._return_to else None
        self._return_to = None
        if not same_view and back_to is not None:   # Back: the photo that was current
            self.grid.setCurrentIndex(self.model.index(back_to))
            self.grid.scrollTo(self.model.index(back_to),
                               QAbstractItemView.ScrollHint.PositionAtCenter)
        elif results.photos and (not same_view or was_empty):
            # A new view, or the first photos of an empty one (the library's first
            # indexing): the first photo is picked, as every other view does.
            self.grid.setCurrentIndex(self.model.index(0))
            self.grid.scrollToTop()
        elif same_view and keep is not None:
            row = self.model.row_of_id(keep)
            if row is None and results.photos:
                # The current photo went (trashed, its folder removed): the one that took
                # its place is picked and scrolled to, as a file manager does. Qt had left
                # the focus on a neighbour, unselected, wherever the grid was scrolled.
                index = self.model.index(min(keep_row, n - 1))
                self.grid.setCurrentIndex(index)
                self.grid.scrollTo(index)
            elif row is not None and not self.grid.currentIndex().isValid():
                self.grid.setCurrentIndex(self.model.index(row))
        if not results.photos:
            self.details.show_photo(None)
            self.controller.request_photo_tags(None)

    def _hold_new_matches(self, view: View, results: Results) -> Results:
        """What a refresh of a best-first view shows: the photos on screen in their order,
        less those that went. Photos that came (indexed meanwhile) wait behind a button,
        because a list that re-sorts under the pointer loses the user's place."""
        on_screen = self.model.rows()
        scores = results.scores or [None] * len(results.photos)
        came = sum(1 for p in results.photos if p.id not in self._seen)
        if not came or not on_screen:   # nothing on screen: nobody's place to lose
            self._held = None
            return results
        self._held = (view, results)
        self.newer_btn.setText(f"Show {counted(came, 'new match', 'new matches')}")
        # Kept: what was shown before and still matches (a photo put back from the trash
        # too, in its place), and what is on screen and still in the library though the
        # new list leaves it out (pushed past the cut by the newcomers). A photo's score
        # for a query does not change, so best first they keep their order.
        listed = {p.id for p in results.photos}
        kept = [(p, s) for p, s in zip(results.photos, scores, strict=True)
                if p.id in self._seen]
        kept += [(p, s) for p, s in on_screen if p.id not in listed and p.id in results.present]
        kept.sort(key=lambda ps: -ps[1] if ps[1] is not None else 0.0)
        photos = [p for p, _s in kept]
        return replace(results, photos=photos, scores=[s for _p, s in kept],
                       sections=sections_for(photos, "none"),
                       capped=results.capped and len(photos) >= len(results.photos))

    def _show_held(self) -> None:
        held, self._held = self._held, None
        if held is not None and held[0] == self.controller.view:
            self._show_results(*held, True, hold=False)
        self.newer_btn.hide()

    def _empty_folder_note(self, view: View) -> str:
        folder = view.folder or ""
        root = next((r for r in self._roots if folder == r.path
                     or folder.startswith(r.path.rstrip(os.sep) + os.sep)), None)
        if root is not None and not root.online:
            return (f"{shown(root.path)} is offline: its drive or share is not connected. Its "
                    f"{root.photos:,} photos are kept and show again when it is back.")
        if root is not None and not root.scanned:
            return "Its photos show here once its first scan is done (Jobs shows progress)."
        return "No photos here yet."

    def _fill_years(self, results: Results) -> None:
        years = []
        for s in results.sections:
            if s.year is not None and s.title and (not years or years[-1] != s.year):
                years.append(s.year)
        self.years.clear()
        for y in years:
            item = QListWidgetItem(str(y))
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            self.years.addItem(item)
        self.years.setVisible(len(years) > 1)

    def _year_clicked(self, item: QListWidgetItem) -> None:
        year = int(item.text())
        for i, s in enumerate(self.grid.sections):
            if s.year == year:
                self.grid.scroll_to_section(i)
                return

    def _follow_years(self) -> None:
        sections = self.grid.sections
        if not self.years.isVisible() or not sections:
            return
        year = sections[min(self.grid.current_section(), len(sections) - 1)].year
        for i in range(self.years.count()):
            if self.years.item(i).text() == str(year):
                self.years.blockSignals(True)
                self.years.setCurrentRow(i)
                self.years.blockSignals(False)
                return

    def _view_waiting(self, view: View, why: str) -> None:
        self._show_view(view)
        self.model.set_photos([])
        self.grid.set_sections([])
        self.view_note.setText(why)
        self.view_note.show()
        self.weaker_btn.hide()
        self._held = None
        self.newer_btn.hide()
        self.details.show_photo(None)
        if self._roots:
            self.stack.setCurrentIndex(GRID_PAGE)
        else:
            self.statusBar().showMessage(why, 10000)

    # -- selection and what to do with it ---------------------------------------------------

    def selected_ids(self) -> list[int]:
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        ids = [self.model.photo(r).id for r in rows if self.model.photo(r) is not None]
        if not ids and self.details.photo is not None:
            ids = [self.details.photo.id]
        return ids

    def _selected_photos(self) -> list[Photo]:
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        photos = [p for p in (self.model.photo(r) for r in rows) if p is not None]
        if not photos and self.details.photo is not None:
            photos = [self.details.photo]
        return photos

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        photo = current.data(PhotoRole) if current.isValid() else None
        self.details.show_photo(photo, current.data(ScoreRole) if current.isValid() else None,
                                len(self.grid.selectionModel().selectedIndexes()))
        self.controller.request_photo_tags(photo.id if photo else None)

    def _selection_changed(self) -> None:
        current = self.grid.currentIndex()
        if current.isValid():
            self.details.show_photo(current.data(PhotoRole), current.data(ScoreRole),
                                    len(self.grid.selectionModel().selectedIndexes()))

    def _rows_changed(self, top: Any, bottom: Any, roles: Any = ()) -> None:
        """A refreshed row may be the one whose details are shown: show it as it is now."""
        if roles and Qt.ItemDataRole.DecorationRole in roles:
            return
        current = self.grid.currentIndex()
        if current.isValid() and top.row() <= current.row() <= bottom.row():
            self.details.show_photo(current.data(PhotoRole), current.data(ScoreRole),
                                    self.details.selected)

    def _photo_menu(self, pos: Any) -> None:
        index = self.grid.indexAt(pos)
        if index.isValid() and not self.grid.selectionModel().isSelected(index):
            self.grid.setCurrentIndex(index)   # a right-click on an unselected photo picks it
        photos = self._selected_photos()
        if not photos:
            return
        n = len(photos)
        some = f"{n:,} photos" if n > 1 else "photo"
        menu = QMenu(self)
        menu.addAction(self.viewer_action)
        open_it = menu.addAction(icon("document-open"), "Open with the default app"
                                 if n == 1 else f"Open {n:,} photos")
        open_it.setEnabled(n <= 20)
        show = menu.addAction(icon("folder-open"), "Show in folder")
        copy = menu.addAction(icon("edit-copy"), "Copy path" if n == 1 else "Copy paths")
        menu.addSeparator()
        similar = menu.addAction(icon("similar"), "Find similar" + (" to these" if n > 1
                                                                    else ""))
        menu.addSeparator()
        add_tag = menu.addAction(icon("tag"), f"Add a tag to the {some}…")
        remove_tag = menu.addAction(f"Remove a tag from the {some}…")
        confirm = menu.addAction(f"Confirm the automatic tags of the {some}")
        # A disabled menu entry shows no tooltip, so the entry itself says what it needs.
        learn = menu.addAction(icon("tag"), "Create label from these…" if n >= MIN_EXAMPLES
                               else f"Create label (select {MIN_EXAMPLES} or more photos)")
        learn.setEnabled(n >= MIN_EXAMPLES)
        xmp = menu.addAction("Write tags to XMP sidecars")
        menu.addSeparator()
        trash = menu.addAction(icon("user-trash"), f"Move the {some} to the trash…")
        chosen = menu.exec(self.grid.viewport().mapToGlobal(pos))
        ids = [p.id for p in photos]
        if chosen is open_it:
            for p in photos:
                if not open_with_desktop(p.path):
                    break   # said once: the others would fail the same way
        elif chosen is show:
            open_folder_of(photos[0].path)
        elif chosen is copy:
            self.copy_paths()
        elif chosen is similar:
            self.find_similar_to_selection()
        elif chosen is add_tag:
            self.add_tag_to_selection()
        elif chosen is remove_tag:
            self.remove_tag_from_selection()
        elif chosen is confirm:
            self.controller.confirm_tags(ids)
        elif chosen is learn:
            self.create_label_from_selection()
        elif chosen is xmp:
            self.controller.write_xmp(ids)
        elif chosen is trash:
            self.trash_selection()

    def copy_paths(self) -> None:
        photos = self._selected_photos()
        if photos:
            copy_to_clipboard([p.path for p in photos])
            self.statusBar().showMessage(f"Copied {len(photos):,} path"
                                         f"{'s' if len(photos) != 1 else ''}", 4000)

    def _ask_label(self, title: str, question: str, offer: list[tuple[str, str]]
                   ) -> tuple[str, str] | None:
        """A tag to add or remove: picked from the known ones or typed. Nothing is chosen
        beforehand, so Enter on its own applies no tag by accident."""
        names = [f"{label}  ({s})" for s, label in offer]
        dialog = QInputDialog(self)
        dialog.setWindowTitle(title)
        dialog.setLabelText(question)
        dialog.setComboBoxItems(names)
        dialog.setComboBoxEditable(True)
        dialog.setTextValue("")
        dialog.setMinimumWidth(440)
        if not dialog.exec() or not dialog.textValue().strip():
            return None
        text = dialog.textValue()
        if text in names:
            return offer[names.index(text)]
        return MANUAL_SET, text.strip()

    def add_tag_to_selection(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        chosen = self._ask_label("Add a tag", f"Add a tag to {counted(len(ids), 'photo')} "
                                 "(pick one or type a new one):", self.tag_browser.known)
        if chosen is not None:
            self.controller.edit_tags(ids, chosen[0], chosen[1], "confirm")

    def remove_tag_from_selection(self) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        chosen = self._ask_label("Remove a tag", f"Remove a tag from "
                                 f"{counted(len(ids), 'photo')}:", self.tag_browser.known)
        if chosen is not None:
            self.controller.edit_tags(ids, chosen[0], chosen[1], "reject")

    def create_label_from_selection(self) -> None:
        """"Create label from these…": the selected photos are the new label's examples."""
        ids = self.selected_ids()
        if len(ids) < MIN_EXAMPLES:
            self.statusBar().showMessage(f"Select at least {MIN_EXAMPLES} photos that show "
                                         "what the label means", 8000)
            return
        LearnLabelDialog(self.controller, ids, self).exec()

    def _label_learned(self, set_name: str, label: str) -> None:
        """Show what the new label took, so its suggestions can be confirmed or removed."""
        self.set_view(replace(self.controller.view, tag=f"{set_name}:{label}", by_score=True,
                              weaker=False))

    def trash_selection(self) -> None:
        photos = self._selected_photos()
        if not photos:
            return
        n = len(photos)
        if self._confirm_destructive(
                "Move to trash", f"Move {n:,} photos to the trash?" if n > 1
                else f"Move “{shown_name(photos[0].path)}” to the trash?",
                "The files go to the system trash, where you can restore them; nothing is "
                "deleted. " + ("Edit → Undo puts them back." if uses_xdg_trash() else
                               "To put them back, restore them from the "
                               + ("Recycle Bin." if sys.platform == "win32" else "Trash.")),
                "Move to trash"):
            self.controller.trash([p.id for p in photos])

    def _trashed(self, result: Any, merged: Any) -> None:
        if result.restorable or merged is not None:
            self.undo_stack.push(TrashCommand(self.controller, result, merged))

    def _photo_tags(self, photo_id: int, tags: list[Any]) -> None:
        if self.details.photo is not None and self.details.photo.id == photo_id:
            self.details.tags.show_tags(tags)

    def _edit_tag(self, label_set: str, label: str, action: str) -> None:
        if self.details.photo is not None:
            self.controller.edit_tag(self.details.photo.id, label_set, label, action)

    def edit_label_sets(self) -> None:
        editor = LabelSetEditor(self.controller, self.thumbnails, self)
        editor.exec()
        editor.deleteLater()   # it listens to the thumbnails; one open at a time

    def find_duplicates(self) -> None:
        from photoclip.gui.duplicates import DuplicatesDialog

        DuplicatesDialog(self.controller, self.thumbnails, self).show()

    def show_trash_history(self) -> None:
        from photoclip.gui.duplicates import TrashHistoryDialog

        TrashHistoryDialog(self.controller, self).exec()

    # -- the viewer ------------------------------------------------------------------------

    def open_viewer(self, row: int | None = None) -> None:
        if row is None or isinstance(row, bool):
            current = self.grid.currentIndex()
            row = current.row() if current.isValid() else 0
        if not 0 <= row < self.model.rowCount():
            return
        self.stack.setCurrentIndex(VIEWER_PAGE)
        self.viewer.show_row(row)
        self.viewer.setFocus()

    preview_current = open_viewer

    def start_slideshow(self) -> None:
        self.open_viewer()
        if self.stack.currentIndex() == VIEWER_PAGE:
            self.viewer.slideshow.start()

    def close_viewer(self, row: int) -> None:
        self._full_screen(False)
        self.stack.setCurrentIndex(GRID_PAGE)
        if 0 <= row < self.model.rowCount():
            index = self.model.index(row)
            self.grid.setCurrentIndex(index)
            self.grid.scrollTo(index)
        self.grid.setFocus()

    def _viewer_row(self, row: int) -> None:
        index = self.model.index(row)
        if index.isValid() and self.grid.currentIndex() != index:
            self.grid.setCurrentIndex(index)

    def _full_screen(self, on: bool) -> None:
        chrome = [self.menuBar(), self.statusBar(), self.splitter.widget(0),
                  self.splitter.widget(2), self.search_field, self.dates_btn,
                  *self.findChildren(QToolBar)]
        for w in chrome:
            w.setVisible(not on)
        if on and not self.isFullScreen():
            self.showFullScreen()
        elif not on and self.isFullScreen():
            self.showNormal()

    def zoom(self, step: int) -> None:
        sizes = THUMB_SIZES
        current = min(range(len(sizes)), key=lambda i: abs(sizes[i] - self.settings.thumb_size))
        new = sizes[max(0, min(len(sizes) - 1, current + step))]
        self.settings.thumb_size = new
        self.model.set_thumb_size(new)
        self.grid.set_thumb_size(new)

    # -- model state and jobs --------------------------------------------------------------

    def _model_state(self, state: ModelState, message: str) -> None:
        if (state is ModelState.READY and self._wanted_model is not None
                and self.controller.model_spec == self._wanted_model):
            self.settings.model, self._wanted_model = self._wanted_model, None
            self.controller.save_settings(self.settings)
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
            self.banner.hide()
            self.request_model(f"local-dir:{folder}")

    def request_model(self, spec: str) -> None:
        """Switch to ``spec``; it becomes the remembered model only once it works, so a
        model that cannot be loaded (not downloaded, offline) never replaces a working one
        for the next start."""
        self._wanted_model = spec
        self.controller.use_model(spec)

    def _model_not_changed(self, spec: str, why: str) -> None:
        if spec != self._wanted_model:
            return
        self._wanted_model = None
        keep = short_model_name(self.controller.model_spec)
        box = QMessageBox(QMessageBox.Icon.Warning, "Model not changed",
                          why.rstrip(". ") + ".", QMessageBox.StandardButton.Ok, self)
        box.setInformativeText(
            f"Searches keep using {keep}, and it stays the model for the next start.\n\n"
            "To use the new model, try again when this computer is online. If you have the "
            "model's files (open_clip_config.json and the weights), choose their folder with "
            "the Folder… button beside Model in Settings.")
        box.exec()

    def _show_about(self, about: tuple[str, str]) -> None:
        text, details = about
        box = QMessageBox(QMessageBox.Icon.NoIcon, "About photoclip", text,
                          QMessageBox.StandardButton.Ok, self)
        box.setIconPixmap(self.windowIcon().pixmap(64, 64))
        if details:
            box.setDetailedText(details)
        box.exec()

    def _job_changed(self, job: Job) -> None:
        self._update_jobs()
        if not job.state.finished or not job.outcome:
            return
        # Jobs that end close together are summed up together: the last one's line used to
        # replace the one before it before anyone could read it.
        line = f"{job.title}: {job.outcome}" if job.state is JobState.FAILED else job.outcome
        now = time.monotonic()
        self._outcomes = [(t, jid, text) for t, jid, text in self._outcomes
                          if now - t < OUTCOME_MS / 1000 and jid != job.id] + [
                              (now, job.id, line)]
        self.statusBar().showMessage("  ·  ".join(text for _t, _j, text in self._outcomes),
                                     OUTCOME_MS)

    def _update_jobs(self) -> None:
        jobs = self.controller.jobs
        running = jobs.running()
        queued = [j for j in jobs.active() if j is not running]
        waiting = len(queued)
        if running is None:
            self._set_jobs_text(f"{waiting} job{'s' if waiting != 1 else ''} waiting"
                                if waiting else "")
            self.jobs_button.setVisible(bool(waiting))
            for w in (self.progress, self.pause_btn, self.cancel_btn):
                w.hide()
            return
        more = (f"  ·  next: {queued[0].title}" if len(queued) == 1
                else f"  ·  {waiting} more waiting" if queued else "")
        detail = running.summary()
        what = (running.title if detail.rstrip("…").lower() == running.title.lower()
                else f"{running.title}: {detail}")
        self._set_jobs_text(what + more)
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

    def _set_jobs_text(self, text: str) -> None:
        fm = self.jobs_button.fontMetrics()
        self.jobs_button.setText(fm.elidedText(text, Qt.TextElideMode.ElideMiddle,
                                               JOBS_TEXT_WIDTH - 12))
        self.jobs_button.setToolTip(f"{text}\n(click: all jobs)" if text else "Show all jobs")

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

    def _show_problem_count(self, n: int) -> None:
        self.problems_btn.setText(counted(n, "problem"))
        self.problems_btn.setVisible(bool(n))

    def _failed_ready(self, photos: list[Photo]) -> None:
        self._show_problem_count(len(photos))
        if self._open_problems:
            self._open_problems = False
            ProblemsDialog(photos, self).exec()

    def show_shortcuts(self) -> None:
        ShortcutsDialog(self.findChildren(QAction), self).exec()

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
                                self.controller.library_folder, self.library_note, self,
                                controller=self.controller)
        if dialog.exec():
            self.controller.save_settings(self.settings)
            self.model.set_thumb_size(self.settings.thumb_size)
            self.grid.set_thumb_size(self.settings.thumb_size)
            notes = []
            if dialog.model_changed:
                self.request_model(dialog.chosen_model)
                notes.append("switching the model in the background (see Jobs)")
            if dialog.pairing_changed:
                self.controller.set_pairing(dialog.pairing.isChecked())
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
            if self.isFullScreen():
                self._full_screen(False)
            self._save_layout()
            if self.jobs_dialog is not None:
                self.jobs_dialog.close()
            # Gone from the screen at once; the batch in flight finishes behind it.
            self.hide()
            self.viewer.shutdown()
            self.thumbnails.shutdown()
            self.controller.shutdown()
            self.controller.save_settings(self.settings, now=True)
        event.accept()


def _place(view: View) -> tuple:
    """What a view shows, leaving out how (order, grouping, weaker matches): Back's unit."""
    return (view.text.strip(), view.similar_to, view.similar_ids, view.tag, view.folder,
            view.date_from, view.date_to)

"""Reviewing near-duplicates: one group at a time, side by side, the best one kept.

Tools → Find duplicates… runs the search as a job; this dialog then shows each group with
the suggested keeper marked (most pixels, then the largest file, then the oldest). Keys:
→ or N skips to the next group, ← or P goes back, Space makes the next photo the keeper,
Enter moves the others to the system trash (never a permanent delete; Edit → Undo and the
trash history put them back). When the others carry tags the keeper lacks, the dialog offers
to give them to the keeper first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photoclip.gui.icons import icon
from photoclip.gui.jobs import Job
from photoclip.gui.names import shown, shown_name, telling_folders

THUMB = 220


class _PhotoCard(QFrame):
    def __init__(self, photo: Any, thumbnails: Any, keep: bool, folder: str) -> None:
        super().__init__(frameShape=QFrame.Shape.StyledPanel)
        self.photo = photo
        self.thumbnails = thumbnails
        self.image = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.image.setFixedSize(THUMB, THUMB)
        self.badge = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        when = datetime.fromtimestamp(photo.date).strftime("%Y-%m-%d %H:%M")
        size = (f"{photo.size / 1e6:.1f} MB" if photo.size >= 1e6
                else f"{photo.size / 1e3:.0f} KB")
        facts = [shown_name(photo.path),
                 f"{photo.width} × {photo.height}" if photo.width else "size unknown",
                 size, when + ("" if photo.taken_at else " (file time)"),
                 folder]
        info = QLabel("\n".join(facts), wordWrap=True, objectName="facts")
        info.setToolTip(shown(photo.path))
        info.setFixedWidth(THUMB)
        info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout = QVBoxLayout(self)
        layout.addWidget(self.badge)
        layout.addWidget(self.image)
        layout.addWidget(info)
        layout.addStretch(1)   # a tall dialog leaves room below the facts, not between them
        self.set_keep(keep)
        thumbnails.ready.connect(self._ready)
        self._ready(photo.path)

    def set_keep(self, keep: bool) -> None:
        self.badge.setText("KEEP" if keep else "to the trash")
        self.badge.setStyleSheet("font-weight: bold; color: #2e7d32;" if keep
                                 else "color: #b23b3b;")
        self.setStyleSheet("_PhotoCard { border: 3px solid #2e7d32; }" if keep else "")

    def _ready(self, path: str) -> None:
        if path != self.photo.path:
            return
        pix = self.thumbnails.get(path, THUMB)
        if pix is not None:
            self.image.setPixmap(pix)
        else:
            self.image.setText("…")


class DuplicatesDialog(QDialog):
    """The review: finds the groups (a job), then one group at a time."""

    def __init__(self, controller: Any, thumbnails: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Duplicates")
        self.resize(900, 560)
        self.controller = controller
        self.thumbnails = thumbnails
        self.groups: list[Any] = []
        self.index = 0
        self.keep: dict[int, int] = {}      # group index -> keeper's position
        self.trashed_groups: set[int] = set()         # groups already trashed
        self.heading = QLabel("Looking for duplicates… (progress in the status bar; it "
                              "compares what photoclip already knows of each photo and "
                              "changes nothing)")
        self.heading.setWordWrap(True)
        self.heading.setStyleSheet("font-weight: bold;")
        self.cards = QWidget()
        self.cards_layout = QHBoxLayout(self.cards)
        self.cards_layout.setAlignment(Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.cards)
        self.merge_box = QCheckBox()
        self.merge_box.setChecked(True)
        self.merge_box.hide()
        self.prev_btn = QPushButton("← Previous")
        self.prev_btn.clicked.connect(lambda: self.show_group(self.index - 1))
        self.swap_btn = QPushButton("Keep another (Space)")
        self.swap_btn.clicked.connect(self.swap_keep)
        self.trash_btn = QPushButton(icon("user-trash"), "Move the others to the trash (Enter)")
        self.trash_btn.clicked.connect(self.trash_others)
        self.next_btn = QPushButton("Skip →")
        self.next_btn.clicked.connect(lambda: self.show_group(self.index + 1))
        self.history_btn = QPushButton("Trash history…")
        self.history_btn.clicked.connect(self.show_history)
        buttons = QHBoxLayout()
        for b in (self.prev_btn, self.swap_btn, self.trash_btn, self.next_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.history_btn)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.merge_box)
        layout.addLayout(buttons)
        for b in (self.prev_btn, self.swap_btn, self.trash_btn, self.next_btn):
            b.setEnabled(False)
        # Shortcuts, not keyPressEvent: a focused button or the scroll area would take the
        # arrows (focus moves, scrolling) and Space (clicking whichever button has focus).
        keys: list[tuple[tuple[Qt.Key, ...], Any]] = [
            ((Qt.Key.Key_Right, Qt.Key.Key_N), lambda: self.show_group(self.index + 1)),
            ((Qt.Key.Key_Left, Qt.Key.Key_P), lambda: self.show_group(self.index - 1)),
            ((Qt.Key.Key_Space,), self.swap_keep),
            ((Qt.Key.Key_Return, Qt.Key.Key_Enter), self.trash_others),
        ]
        for key_list, act in keys:
            for key in key_list:
                QShortcut(QKeySequence(key), self, act)
        controller.duplicates_found.connect(self._found)
        self.finished.connect(self._closed)
        self.job: Job = controller.find_duplicates()

    def _found(self, report: Any) -> None:
        self.groups = report.groups
        if not self.groups:
            self.heading.setText(f"No duplicates among {report.photos:,} photos.")
            return
        self.show_group(0)

    def show_group(self, index: int) -> None:
        if not self.groups:
            return
        self.index = max(0, min(index, len(self.groups) - 1))
        group = self.groups[self.index]
        while self.cards_layout.count():
            item = self.cards_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        keep = self.keep.get(self.index, 0)
        folders = telling_folders([photo.path for photo in group.photos])
        for i, photo in enumerate(group.photos):
            self.cards_layout.addWidget(_PhotoCard(photo, self.thumbnails, i == keep,
                                                   folders[i]))
        kind = {"copies": "copies of one picture", "burst": "a burst (one camera, seconds "
                "apart)", "similar": "very similar photos"}.get(group.kind, group.kind)
        state = " — done: the others are in the trash" if self.index in self.trashed_groups else ""
        self.heading.setText(f"Group {self.index + 1} of {len(self.groups)}: {kind}, "
                             f"similarity {group.similarity:.3f}{state}")
        self.prev_btn.setEnabled(self.index > 0)
        self.next_btn.setEnabled(self.index + 1 < len(self.groups))
        self.swap_btn.setEnabled(self.index not in self.trashed_groups)
        self.trash_btn.setEnabled(self.index not in self.trashed_groups)
        self.merge_box.hide()
        self.merge_box.setChecked(True)   # until the offer arrives, merging is the default
        if self.index not in self.trashed_groups:
            keeper = group.photos[keep]
            others = [p.id for p in group.photos if p.id != keeper.id]
            shown = self.index
            self.controller.tags_to_merge(others, keeper.id,
                                          lambda tags: self._offer_merge(shown, tags))

    def _offer_merge(self, shown: int, tags: list[Any]) -> None:
        if shown != self.index or not tags:
            return
        names = ", ".join(t.label for t in tags[:6]) + ("…" if len(tags) > 6 else "")
        self.merge_box.setText(f"First give the kept photo the tags only the others have "
                               f"({names})")
        self.merge_box.show()

    def swap_keep(self) -> None:
        if self.groups and self.index not in self.trashed_groups:
            n = len(self.groups[self.index].photos)
            self.keep[self.index] = (self.keep.get(self.index, 0) + 1) % n
            self.show_group(self.index)

    def trash_others(self) -> None:
        if not self.groups or self.index in self.trashed_groups:
            return
        group = self.groups[self.index]
        keeper = group.photos[self.keep.get(self.index, 0)]
        others = [p.id for p in group.photos if p.id != keeper.id]
        # The merge is decided with the trashing, in the same job, so an Enter pressed
        # before the offer showed still merges; it adds only tags the keeper lacks.
        self.controller.trash(others,
                              merge_into=keeper.id if self.merge_box.isChecked() else None)
        self.trashed_groups.add(self.index)
        if self.index + 1 < len(self.groups):
            self.show_group(self.index + 1)
        else:
            self.show_group(self.index)

    def show_history(self) -> None:
        TrashHistoryDialog(self.controller, self).exec()

    def _closed(self) -> None:
        if not self.job.state.finished:   # closed before the search ended: stop it
            self.controller.cancel_job(self.job)


class TrashHistoryDialog(QDialog):
    """What photoclip moved to the trash, newest first; each action can be put back."""

    def __init__(self, controller: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Moved to the trash")
        self.resize(640, 360)
        self.controller = controller
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["When", "Photos", ""])
        self.tree.setRootIsDecorated(False)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Files photoclip moved to the system trash. Putting them back "
                                "works where the trash is the desktop's standard one (Linux); "
                                "elsewhere, use the system's trash window."))
        layout.addWidget(self.tree, 1)
        layout.addWidget(close)
        controller.trash_history.connect(self._show)
        controller.request_trash_history()

    def _show(self, actions: list[Any]) -> None:
        self.tree.clear()
        for action in actions:
            when = datetime.fromtimestamp(action.at).strftime("%Y-%m-%d %H:%M")
            waiting = action.restorable
            item = QTreeWidgetItem([when, f"{len(action.trashed):,} moved, "
                                          f"{len(waiting):,} still in the trash"])
            self.tree.addTopLevelItem(item)
            if waiting:
                button = QPushButton("Put back")
                button.clicked.connect(lambda _c=False, a=action: self._restore(a))
                self.tree.setItemWidget(item, 2, button)
        self.tree.resizeColumnToContents(0)

    def _restore(self, action: Any) -> None:
        self.controller.restore_trashed(action)
        self.controller.request_trash_history()

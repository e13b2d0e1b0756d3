"""Parts of the main window: the details panel, the folder list, the drop overlay, undo.

Like the window, nothing here reads a file or calls the core.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QFont,
    QPainter,
    QPalette,
    QPixmap,
    QUndoCommand,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photoclip.core.catalog import Photo
from photoclip.gui.icons import icon
from photoclip.gui.names import (
    copy_to_clipboard,
    counted,
    open_folder_of,
    open_with_desktop,
    shown,
    shown_name,
)
from photoclip.gui.tags import PhotoTags
from photoclip.gui.thumbnails import ThumbnailCache

RootRole = Qt.ItemDataRole.UserRole            # the folder's path (a root or inside one)
RootStatusRole = Qt.ItemDataRole.UserRole + 1  # a root's RootStatus
FolderRole = Qt.ItemDataRole.UserRole + 2      # a folder in a root: (photos, online, unreadable)


def set_folder(item: QTreeWidgetItem, path: str) -> None:
    """``item`` stands for the folder ``path``."""
    # Kept as a 1-tuple: a str in Qt's item data comes back re-encoded, without a name's
    # odd bytes (held as surrogates), and would name another folder.
    item.setData(0, RootRole, (path,))


def folder_of(data: Any) -> str | None:
    """The folder path in an item's or an index's RootRole data (None: not a folder)."""
    return data[0] if data else None


class ScaledPreview(QLabel):
    """A pixmap shown as large as the panel allows, never cropped, never blown up."""

    def __init__(self) -> None:
        super().__init__(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self._pixmap: QPixmap | None = None
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def set_image(self, pixmap: QPixmap | None, text: str = "") -> None:
        self._pixmap = pixmap
        if pixmap is None:
            self.setPixmap(QPixmap())
            self.setText(text)
        else:
            self._rescale()

    def _rescale(self) -> None:
        if self._pixmap is None:
            return
        target = self._pixmap.size().scaled(self.width(), max(self.height(), 120),
                                            Qt.AspectRatioMode.KeepAspectRatio)
        if target.width() >= self._pixmap.width():
            self.setPixmap(self._pixmap)
        else:
            self.setPixmap(self._pixmap.scaled(target, Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._rescale()

    def sizeHint(self) -> QSize:
        return QSize(256, 200)


class ElidedLabel(QLabel):
    """One line that ends in "…" when the pane is narrow, instead of widening the pane and
    squeezing the others; the whole text is in the tooltip. ``text()`` is the whole text."""

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def text(self) -> str:
        return self._full

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight,
                                              max(self.width(), 20))
        super().setText(shown)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._elide()

    def minimumSizeHint(self) -> QSize:
        return QSize(max(40, self.minimumWidth()), super().minimumSizeHint().height())


NO_PHOTO_TEXT = ("No photo selected.\n\nClick a photo to see when it was taken, with what "
                 "camera, and its tags. Double-click to view it large; Find similar shows "
                 "photos like it.")


class DetailsPanel(QWidget):
    find_similar = Signal(object)   # path (object: a str signal loses a name's odd bytes)

    def __init__(self, thumbnails: ThumbnailCache) -> None:
        super().__init__()
        self.thumbnails = thumbnails
        self.photo: Photo | None = None
        self.selected = 0
        self.preview = ScaledPreview()
        self.preview.setStyleSheet("color: palette(placeholder-text);")   # its words, if any
        self.info = QLabel(wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.
                           TextSelectableByMouse)
        self.info.setTextFormat(Qt.TextFormat.PlainText)
        self.similar_btn = QPushButton(icon("similar"), "Find similar")
        self.open_btn = QPushButton(icon("document-open"), "Open")
        self.folder_btn = QPushButton(icon("folder-open"), "Show in folder")
        self.copy_btn = QPushButton(icon("edit-copy"), "Copy path")
        self.tags = PhotoTags()
        self.similar_btn.clicked.connect(lambda: self.photo and
                                         self.find_similar.emit(self.photo.path))
        self.open_btn.clicked.connect(self.open_photo)
        self.folder_btn.clicked.connect(self.show_in_folder)
        self.copy_btn.clicked.connect(self.copy_path)
        layout = QVBoxLayout(self)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.info)
        layout.addWidget(self.tags)
        for b in (self.similar_btn, self.open_btn, self.folder_btn, self.copy_btn):
            layout.addWidget(b)
        self.setMinimumWidth(240)
        thumbnails.ready.connect(self._thumb_ready)
        self.show_photo(None)

    def show_photo(self, photo: Photo | None, score: float | None = None,
                   selected: int = 0) -> None:
        same = (photo is not None and self.photo is not None and photo.id == self.photo.id)
        self.photo = photo
        self.selected = selected
        for b in (self.similar_btn, self.open_btn, self.folder_btn, self.copy_btn):
            b.setEnabled(photo is not None)
        # With no photo the panel says what it is for, instead of an empty box and four
        # grey buttons.
        for w in (self.info, self.tags, self.similar_btn, self.open_btn, self.folder_btn,
                  self.copy_btn):
            w.setVisible(photo is not None)
        if photo is None:
            self.preview.set_image(None, NO_PHOTO_TEXT)
            self.info.setText("")
            self.tags.show_tags(None)
            return
        if not same:
            self.tags.show_tags([], loading=True)
        when = datetime.fromtimestamp(photo.date).strftime("%Y-%m-%d %H:%M")
        lines = [shown_name(photo.path), shown(photo.path), f"Date: {when}"
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
        if selected > 1:
            lines.insert(0, f"{selected:,} photos selected (right-click for what to do "
                            "with them); this one is shown:")
        self.info.setText("\n".join(lines))
        self._update_preview()

    def _update_preview(self) -> None:
        if self.photo is None:
            return
        pix = self.thumbnails.get(self.photo.path, 256)
        if pix is not None:
            self.preview.set_image(pix)
        elif self.photo.path in self.thumbnails.failed:
            self.preview.set_image(None, "No preview: the file could not be shown")
        else:
            self.preview.set_image(None, "…")

    def _thumb_ready(self, path: str) -> None:
        if self.photo is not None and path == self.photo.path:
            self._update_preview()

    def show_files(self, photo_id: int, files: list[str]) -> None:
        """A RAW+JPEG pair is one photo with two files: both are listed."""
        if self.photo is None or self.photo.id != photo_id or len(files) < 2:
            return
        text = self.info.text()
        extra = "\n".join(f"Also: {shown_name(f)}" for f in files[1:])
        if extra not in text:
            self.info.setText(f"{text}\n{extra}")

    def open_photo(self) -> None:
        if self.photo:
            open_with_desktop(self.photo.path)

    def show_in_folder(self) -> None:
        if self.photo:
            open_folder_of(self.photo.path)

    def copy_path(self) -> None:
        if self.photo:
            copy_to_clipboard([self.photo.path])


@dataclass
class FolderNode:
    """A folder inside a root, with the photos in it and in the folders below it."""
    path: str
    photos: int = 0
    children: dict[str, FolderNode] = field(default_factory=dict)
    unreadable: int = 0   # files here and below that could not be read (not in ``photos``)


def folder_tree(root: str, folders: dict[str, int],
                unreadable: dict[str, int] | None = None) -> FolderNode:
    """The folders under ``root`` that hold photos (``folders``: directory -> photos
    directly in it; ``unreadable``: directory -> files that could not be read), as a tree
    whose counts include everything below each folder."""
    top = FolderNode(root)

    def add(folder: str, photos: int, bad: int) -> None:
        top.photos += photos
        top.unreadable += bad
        rel = os.path.relpath(folder, root)
        if rel == os.curdir or rel.startswith(os.pardir):
            return
        node = top
        for part in rel.split(os.sep):
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = FolderNode(os.path.join(node.path, part))
            child.photos += photos
            child.unreadable += bad
            node = child

    for folder, n in folders.items():
        add(folder, n, 0)
    for folder, n in (unreadable or {}).items():
        add(folder, 0, n)
    return top


class _FolderDelegate(QStyledItemDelegate):
    """A root: its icon and name, and under them its count or why it is offline. A folder
    inside it: one line, its name and count."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        lines = 2 if index.data(RootStatusRole) is not None else 1
        return QSize(option.rect.width(), option.fontMetrics.height() * lines + 6 * lines)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex) -> None:
        status = index.data(RootStatusRole)
        style = option.widget.style() if option.widget else None
        if style is not None:
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter,
                                option.widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        pal = option.palette
        text = pal.color(QPalette.ColorRole.HighlightedText if selected
                         else QPalette.ColorRole.Text)
        dim = pal.color(QPalette.ColorRole.HighlightedText if selected
                        else QPalette.ColorRole.PlaceholderText)
        if status is None:
            self._paint_inner(painter, option, index, text, dim)
            return
        rect = option.rect.adjusted(4, 4, -6, -4)
        ico = icon("folder" if status.online else "folder-offline")
        ico.paint(painter, QRect(rect.left(), rect.top() + 2, 22, 22))
        line = option.fontMetrics.height()
        name = shown_name(status.path)
        bold = QFont(option.font)
        bold.setBold(True)
        painter.save()
        painter.setFont(bold)
        painter.setPen(text if status.online else dim)
        body = QRect(rect.left() + 30, rect.top(), rect.width() - 30, line)
        painter.drawText(body, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         option.fontMetrics.elidedText(name, Qt.TextElideMode.ElideMiddle,
                                                       body.width()))
        painter.setFont(option.font)
        painter.setPen(dim)
        n = counted(status.readable, "photo")
        bad = f" · {status.unreadable:,} unreadable" if status.unreadable else ""
        detail = (f"offline: drive or share not connected · {n} kept" if not status.online
                  else "waiting for its first scan" if not status.scanned
                  else n + bad + (" · checked by polling" if status.polling else ""))
        painter.drawText(body.translated(0, line + 2),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         option.fontMetrics.elidedText(detail, Qt.TextElideMode.ElideRight,
                                                       body.width()))
        painter.restore()

    def _paint_inner(self, painter: QPainter, option: QStyleOptionViewItem,
                     index: QModelIndex, text: Any, dim: Any) -> None:
        photos, online, bad = index.data(FolderRole) or (0, True, 0)
        fm = option.fontMetrics
        rect = option.rect.adjusted(2, 0, -6, 0)
        icon("folder").paint(painter, QRect(rect.left(), rect.center().y() - 8, 16, 16))
        count = f"{photos:,}" + (f" · {bad:,} unreadable" if bad else "")
        count_w = fm.horizontalAdvance(count) + 4
        body = QRect(rect.left() + 22, rect.top(), rect.width() - 22 - count_w, rect.height())
        painter.save()
        painter.setPen(text if online else dim)
        painter.drawText(body, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         fm.elidedText(shown_name(folder_of(index.data(RootRole))),
                                       Qt.TextElideMode.ElideMiddle, body.width()))
        painter.setPen(dim)
        painter.drawText(QRect(body.right(), rect.top(), count_w, rect.height()),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, count)
        painter.restore()


class FolderList(QTreeWidget):
    """The library's folders (roots), and inside each the folders that hold photos.

    Rebuilt from the controller's list at most once a second while indexing: when the
    folders are the same ones, items are updated in place, so what the user opened,
    selected or scrolled to stays put.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setHeaderHidden(True)
        self.setItemDelegate(_FolderDelegate(self))
        self.setIndentation(14)
        self.setRootIsDecorated(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self._shape: list[str] = []
        self._collapsed_roots: set[str] = set()
        self._expanded: set[str] = set()
        self.itemExpanded.connect(lambda item: self._remember(item, True))
        self.itemCollapsed.connect(lambda item: self._remember(item, False))

    def _remember(self, item: QTreeWidgetItem, expanded: bool) -> None:
        path = folder_of(item.data(0, RootRole))
        if item.parent() is None:
            (self._collapsed_roots.discard if expanded else self._collapsed_roots.add)(path)
        else:
            (self._expanded.add if expanded else self._expanded.discard)(path)

    def set_roots(self, roots: list[Any], current: str | None) -> None:
        trees = [folder_tree(r.path, r.folders, r.unreadable_folders) for r in roots]
        shape: list[str] = []
        for tree in trees:
            stack = [tree]
            while stack:
                node = stack.pop()
                shape.append(node.path)
                stack.extend(node.children.values())
        if shape == self._shape and self.topLevelItemCount() == len(roots):
            for i, (r, tree) in enumerate(zip(roots, trees, strict=True)):
                self._update(self.topLevelItem(i), r, tree)
        else:
            self._shape = shape
            self._rebuild(roots, trees)
        self.select_folder(current)

    def _rebuild(self, roots: list[Any], trees: list[FolderNode]) -> None:
        scroll = self.verticalScrollBar().value()
        self.clear()
        for r, tree in zip(roots, trees, strict=True):
            top = QTreeWidgetItem(self)
            self._fill(top, tree, r.online)
            self._update(top, r, tree)
            top.setExpanded(r.path not in self._collapsed_roots)
        self.verticalScrollBar().setValue(scroll)

    def _fill(self, parent: QTreeWidgetItem, node: FolderNode, online: bool) -> None:
        for name in sorted(node.children, key=lambda n: (n.casefold(), n)):
            child = node.children[name]
            item = QTreeWidgetItem(parent)
            set_folder(item, child.path)
            self._fill(item, child, online)
            item.setExpanded(child.path in self._expanded)

    def _update(self, top: QTreeWidgetItem, r: Any, tree: FolderNode) -> None:
        # A folder just added says it waits for its first scan, not "0 photos" (which
        # would say the folder is empty).
        top.setText(0, f"{shown_name(r.path)} — " + (
            "offline" if not r.online else counted(r.readable, "photo") if r.scanned
            else "waiting for its first scan"))
        set_folder(top, r.path)
        top.setData(0, RootStatusRole, r)
        top.setToolTip(0, f"{shown(r.path)}\nNot reachable now (an unplugged drive or a "
                       f"disconnected share?). Its {r.photos:,} photos are kept and come "
                       "back with it." if not r.online else shown(r.path) if r.scanned
                       else f"{shown(r.path)}\nWaiting for its first scan: its photos "
                       "show here as soon as it is done (Jobs shows where it stands).")
        nodes = {tree.path: tree}
        stack = list(tree.children.values())
        while stack:
            node = stack.pop()
            nodes[node.path] = node
            stack.extend(node.children.values())
        items = [top.child(i) for i in range(top.childCount())]
        while items:
            item = items.pop()
            path = folder_of(item.data(0, RootRole))
            node = nodes.get(path)
            photos = node.photos if node else 0
            bad = node.unreadable if node else 0
            flag = f" · {bad:,} unreadable" if bad else ""
            item.setText(0, f"{shown_name(path)} — {photos:,}{flag}")
            item.setData(0, FolderRole, (photos, r.online, bad))
            item.setToolTip(0, f"{shown(path)}\n{counted(photos, 'photo')} here and in the "
                            "folders inside it" + (
                                f"\n{counted(bad, 'file')} could not be read: Problems "
                                "lists them, with why" if bad else ""))
            items.extend(item.child(i) for i in range(item.childCount()))

    def select_folder(self, path: str | None) -> None:
        """Select the item of ``path`` (opening its parents), or nothing."""
        self.clearSelection()
        if not path:
            return
        found = self.findItems("*", Qt.MatchFlag.MatchWildcard | Qt.MatchFlag.MatchRecursive)
        for item in found:
            if folder_of(item.data(0, RootRole)) == path:
                parent = item.parent()
                while parent is not None:
                    parent.setExpanded(True)
                    parent = parent.parent()
                item.setSelected(True)
                return

    def folder_items(self) -> list[QTreeWidgetItem]:
        """Every item, roots and the folders inside them, top to bottom."""
        return self.findItems("*", Qt.MatchFlag.MatchWildcard | Qt.MatchFlag.MatchRecursive)


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


class _Done(QUndoCommand):
    """A command whose first ``redo`` happened before it was pushed (the edit itself)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._applied = True

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self.apply()

    def apply(self) -> None:
        """Do it again after an undo (commands that made themselves obsolete never are)."""
        raise NotImplementedError


class TagEditCommand(_Done):
    def __init__(self, controller: Any, edit: Any) -> None:
        super().__init__(edit.describe())
        self.controller, self.edit = controller, edit

    def apply(self) -> None:
        self.controller.restore_tag(self.edit, undo=False)

    def undo(self) -> None:
        self.controller.restore_tag(self.edit, undo=True)


class RemoveFolderCommand(_Done):
    def __init__(self, controller: Any, folder: str) -> None:
        super().__init__(f"Remove folder “{shown_name(folder)}”")
        self.controller, self.folder = controller, folder

    def undo(self) -> None:
        self.controller.restore_folder(self.folder)
        # Removing it again is a new removal (asked for again), not a redo.
        self.setObsolete(True)


class TrashCommand(_Done):
    """Undo puts the files back from the trash (where the platform lets us), and takes back
    the tags the kept duplicate was given with it."""

    def __init__(self, controller: Any, result: Any, merged: Any = None) -> None:
        n = len(result.trashed)
        super().__init__(f"Move {n:,} photo{'s' if n != 1 else ''} to the trash")
        self.controller, self.result, self.merged = controller, result, merged

    def undo(self) -> None:
        if self.result.restorable:
            self.controller.restore_trashed(self.result)
        if self.merged is not None:
            self.controller.restore_tag(self.merged, undo=True)
        self.setObsolete(True)

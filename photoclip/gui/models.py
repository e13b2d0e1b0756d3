"""Thin Qt item models over plain core rows (DESIGN.md rule 7)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap

from photoclip.core.catalog import Photo
from photoclip.gui.names import shown, shown_name
from photoclip.gui.thumbnails import ThumbnailCache

PhotoRole = Qt.ItemDataRole.UserRole + 1
PathRole = Qt.ItemDataRole.UserRole + 2
ScoreRole = Qt.ItemDataRole.UserRole + 3
IdRole = Qt.ItemDataRole.UserRole + 4

_Index = QModelIndex | QPersistentModelIndex


class PhotoListModel(QAbstractListModel):
    """Photos shown in the grid: a browse listing or a result set with scores.

    A new view replaces the rows (:meth:`set_photos`); a refresh of the same view changes
    only the rows that changed (:meth:`update_photos`), so the selection, the current photo
    and the scroll position survive the watcher adding one photo.
    """

    def __init__(self, thumbnails: ThumbnailCache, parent: Any = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.thumb_size = 160
        self._photos: list[Photo] = []
        self._scores: list[float | None] = []
        self._row_of: dict[str, int] = {}
        self._placeholders: dict[tuple[bool, int], QPixmap] = {}
        thumbnails.ready.connect(self._thumbnail_ready)

    # -- contents --------------------------------------------------------------------------

    def set_photos(self, photos: list[Photo], scores: list[float] | None = None) -> None:
        self.beginResetModel()
        self.thumbnails.forget_pending()
        self._photos = list(photos)
        self._scores = list(scores) if scores is not None else [None] * len(self._photos)
        self._reindex()
        self.endResetModel()

    def update_photos(self, photos: list[Photo], scores: list[float] | None = None) -> None:
        """Become ``photos`` by removing, inserting and moving rows, never by a reset."""
        new_scores: list[float | None] = (list(scores) if scores is not None
                                          else [None] * len(photos))
        new_ids = [p.id for p in photos]
        old_ids = [p.id for p in self._photos]
        before = {p.id: p for p in self._photos}
        if new_ids != old_ids:
            keep = set(new_ids)
            # 1. rows that went, in contiguous blocks from the bottom
            row = len(old_ids) - 1
            while row >= 0:
                if old_ids[row] in keep:
                    row -= 1
                    continue
                end = row
                while row >= 0 and old_ids[row] not in keep:
                    row -= 1
                self.beginRemoveRows(QModelIndex(), row + 1, end)
                del self._photos[row + 1:end + 1]
                del self._scores[row + 1:end + 1]
                self.endRemoveRows()
            # 2. rows that came, appended
            have = {p.id for p in self._photos}
            fresh = [(p, s) for p, s in zip(photos, new_scores, strict=True) if p.id not in have]
            if fresh:
                start = len(self._photos)
                self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
                self._photos += [p for p, _ in fresh]
                self._scores += [s for _, s in fresh]
                self.endInsertRows()
            # 3. into the new order, carrying persistent indexes (selection, current) along
            if [p.id for p in self._photos] != new_ids:
                self.layoutAboutToBeChanged.emit()
                target = {pid: i for i, pid in enumerate(new_ids)}
                moved_from = self.persistentIndexList()
                moved_to = [self.index(target[self._photos[i.row()].id]) if i.isValid()
                            else QModelIndex() for i in moved_from]
                self._photos = list(photos)
                self._scores = new_scores
                self._reindex()
                self.changePersistentIndexList(moved_from, moved_to)
                self.layoutChanged.emit()
        changed = [i for i, p in enumerate(photos) if before.get(p.id, p) != p]
        self._photos = list(photos)
        self._scores = new_scores
        self._reindex()
        if changed:
            # New content at the same path needs a new thumbnail; new metadata does not.
            redrawn = {p.path for p in (photos[i] for i in changed)
                       if (before[p.id].size, before[p.id].mtime, before[p.id].hash)
                       != (p.size, p.mtime, p.hash)}
            if redrawn:
                self.thumbnails.forget(redrawn)
            self.dataChanged.emit(self.index(changed[0]), self.index(changed[-1]))

    def _reindex(self) -> None:
        self._row_of = {p.path: i for i, p in enumerate(self._photos)}

    def set_thumb_size(self, size: int) -> None:
        self.thumb_size = size
        self._placeholders.clear()
        if self._photos:
            self.dataChanged.emit(self.index(0), self.index(len(self._photos) - 1))

    def photo(self, row: int) -> Photo | None:
        return self._photos[row] if 0 <= row < len(self._photos) else None

    def row_of_id(self, photo_id: int) -> int | None:
        return next((i for i, p in enumerate(self._photos) if p.id == photo_id), None)

    def paths(self) -> list[str]:
        return [p.path for p in self._photos]

    def rows(self) -> list[tuple[Photo, float | None]]:
        """(photo, score) of every row, in order."""
        return list(zip(self._photos, self._scores, strict=True))

    # -- Qt --------------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._photos)

    def _placeholder(self, broken: bool, size: int | None = None) -> QPixmap:
        size = size or self.thumb_size
        pix = self._placeholders.get((broken, size))
        if pix is None:
            pix = QPixmap(size, size * 3 // 4)
            pix.fill(QColor(128, 128, 128, 40 if broken else 60))
            if broken:
                # A crossed frame: "this file could not be shown", not "still loading".
                painter = QPainter(pix)
                painter.setPen(QColor(160, 60, 60))
                painter.drawRect(0, 0, pix.width() - 1, pix.height() - 1)
                painter.drawLine(0, 0, pix.width() - 1, pix.height() - 1)
                painter.drawLine(0, pix.height() - 1, pix.width() - 1, 0)
                painter.end()
            if len(self._placeholders) > 16:   # one pair per cell size the window had
                self._placeholders.clear()
            self._placeholders[(broken, size)] = pix
        return pix

    def cell(self, row: int, size: int) -> tuple[QPixmap, str, float | None]:
        """(thumbnail fitted in ``size``, or a placeholder; caption; score) of a row: what
        the grid paints, in one call instead of three ``QModelIndex.data`` trips through
        Qt, and at the size of the grid's cells (which share the width)."""
        photo = self._photos[row]
        pix = self.thumbnails.get(photo.path, size)
        if pix is None:
            pix = self._placeholder(photo.path in self.thumbnails.failed, size)
        return pix, shown_name(photo.path), self._scores[row]

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._photos):
            return None
        photo = self._photos[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            pix = self.thumbnails.get(photo.path, self.thumb_size)
            if pix is not None:
                return pix
            return self._placeholder(photo.path in self.thumbnails.failed)
        if role == Qt.ItemDataRole.DisplayRole:
            return shown_name(photo.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            score = self._scores[index.row()]
            dated = "" if photo.taken_at is not None else "\n(dated by its file: no capture date)"
            return shown(photo.path) + (f"\nmatch {score:.3f}" if score is not None
                                        else "") + dated
        if role == Qt.ItemDataRole.SizeHintRole:
            return QSize(self.thumb_size + 16, self.thumb_size + 36)
        if role == PhotoRole:
            return photo
        if role == PathRole:
            return photo.path
        if role == ScoreRole:
            return self._scores[index.row()]
        if role == IdRole:
            return photo.id
        return None

    def _thumbnail_ready(self, path: str) -> None:
        row = self._row_of.get(path)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

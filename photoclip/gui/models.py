"""Thin Qt item models over plain core rows (DESIGN.md rule 7)."""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QColor, QPixmap

from photoclip.core.catalog import Photo
from photoclip.gui.thumbnails import ThumbnailCache

PhotoRole = Qt.ItemDataRole.UserRole + 1
PathRole = Qt.ItemDataRole.UserRole + 2
ScoreRole = Qt.ItemDataRole.UserRole + 3

_Index = QModelIndex | QPersistentModelIndex


class PhotoListModel(QAbstractListModel):
    """Photos shown in the grid: a browse listing or a result set with scores."""

    def __init__(self, thumbnails: ThumbnailCache, parent: Any = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.thumb_size = 160
        self._photos: list[Photo] = []
        self._scores: list[float | None] = []
        self._row_of: dict[str, int] = {}
        self._placeholder: QPixmap | None = None
        thumbnails.ready.connect(self._thumbnail_ready)

    def set_photos(self, photos: list[Photo], scores: list[float] | None = None) -> None:
        self.beginResetModel()
        self.thumbnails.forget_pending()
        self._photos = list(photos)
        self._scores = list(scores) if scores is not None else [None] * len(self._photos)
        self._row_of = {p.path: i for i, p in enumerate(self._photos)}
        self.endResetModel()

    def set_thumb_size(self, size: int) -> None:
        self.thumb_size = size
        self._placeholder = None
        if self._photos:
            self.dataChanged.emit(self.index(0), self.index(len(self._photos) - 1))

    def photo(self, row: int) -> Photo | None:
        return self._photos[row] if 0 <= row < len(self._photos) else None

    def paths(self) -> list[str]:
        return [p.path for p in self._photos]

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._photos)

    def _placeholder_pixmap(self) -> QPixmap:
        if self._placeholder is None:
            pix = QPixmap(self.thumb_size, self.thumb_size * 3 // 4)
            pix.fill(QColor(128, 128, 128, 60))
            self._placeholder = pix
        return self._placeholder

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._photos):
            return None
        photo = self._photos[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            return (self.thumbnails.get(photo.path, self.thumb_size)
                    or self._placeholder_pixmap())
        if role == Qt.ItemDataRole.DisplayRole:
            return os.path.basename(photo.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            score = self._scores[index.row()]
            return photo.path + (f"\nscore {score:.3f}" if score is not None else "")
        if role == Qt.ItemDataRole.SizeHintRole:
            return QSize(self.thumb_size + 16, self.thumb_size + 36)
        if role == PhotoRole:
            return photo
        if role == PathRole:
            return photo.path
        if role == ScoreRole:
            return self._scores[index.row()]
        return None

    def _thumbnail_ready(self, path: str) -> None:
        row = self._row_of.get(path)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

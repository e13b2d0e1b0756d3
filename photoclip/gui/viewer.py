"""The viewer: one photo at a time, as large as the window (or the screen), with zoom.

Arrows move through the photos of the grid, in its order; F11 goes full screen; the wheel
zooms at the cursor, dragging pans, 1 shows 100%, 0 fits; I shows the photo's facts; S runs
a slideshow; Esc returns to the grid at the photo shown. Photos are decoded off the GUI
thread: first at the size of the screen, then at full size (up to a cap) when zoomed in,
and the neighbours are decoded ahead so the arrows feel instant.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QObject,
    QPointF,
    QRectF,
    QRunnable,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPalette
from PySide6.QtWidgets import QWidget

from photoclip.gui.models import PhotoListModel
from photoclip.gui.names import shown, shown_name
from photoclip.gui.thumbnails import decode_image
from photoclip.gui.workers import lower_thread_priority, thread_pool

FULL_SIZE_CAP = 8192    # longest side decoded for 100%: a 100 MP panorama stays in memory
SLIDESHOW_MS = 4000



# From the whole list down to the one key a person must know, for narrower windows.
KEY_HINTS = ("← → move · wheel zoom · 1 100% · 0 fit · I info · S slideshow · "
             "F11 full screen · Esc back",
             "← → move · I info · S slideshow · Esc back",
             "Esc back")

class _Signals(QObject):
    loaded = Signal(object, int, QImage)   # path (object: a str loses odd bytes), size, image


class _Load(QRunnable):
    def __init__(self, path: str, size: int, signals: _Signals) -> None:
        super().__init__()
        self.path, self.size, self.signals = path, size, signals

    def run(self) -> None:
        lower_thread_priority()
        try:
            image = decode_image(self.path, self.size)
        except Exception:   # shown as "cannot show this photo", never a crash
            image = QImage()
        self.signals.loaded.emit(self.path, self.size, image)


class PhotoViewer(QWidget):
    """A photo of ``model`` at a time; ``closed(row)`` when the user goes back."""

    closed = Signal(int)
    row_changed = Signal(int)
    full_screen = Signal(bool)

    def __init__(self, model: PhotoListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.row = -1
        self.zoom: float | None = None     # None: fit the window
        self.pan = QPointF(0, 0)
        self.info = False
        self._drag: QPointF | None = None
        self._images: OrderedDict[tuple[str, int], QImage] = OrderedDict()
        self._pending: set[tuple[str, int]] = set()
        self._failed: set[str] = set()
        self.pool = thread_pool(2, self)
        self._signals = _Signals()
        self._signals.loaded.connect(self._loaded)
        self.slideshow = QTimer(self, interval=SLIDESHOW_MS)
        self.slideshow.timeout.connect(self._slide)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAutoFillBackground(True)
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.Window, QColor(20, 20, 20))
        self.setPalette(pal)

    # -- what is shown ---------------------------------------------------------------------

    @property
    def photo(self) -> Any:
        return self.model.photo(self.row)

    def show_row(self, row: int) -> None:
        if not 0 <= row < self.model.rowCount():
            return
        self.row = row
        self.zoom = None
        self.pan = QPointF(0, 0)
        self._request(self.photo.path, self._screen_side())
        for near in (row + 1, row - 1):
            photo = self.model.photo(near)
            if photo is not None:
                self._request(photo.path, self._screen_side())
        self.row_changed.emit(row)
        self.update()

    def _screen_side(self) -> int:
        screen = self.screen().size() if self.screen() else QSize(1920, 1080)
        return max(screen.width(), screen.height())

    def _request(self, path: str, size: int) -> None:
        key = (path, size)
        if key in self._images or key in self._pending or path in self._failed:
            return
        self._pending.add(key)
        self.pool.start(_Load(path, size, self._signals))

    def _loaded(self, path: str, size: int, image: QImage) -> None:
        self._pending.discard((path, size))
        if image.isNull():
            self._failed.add(path)
        else:
            self._images[(path, size)] = image
            while len(self._images) > 8:
                self._images.popitem(last=False)
        if self.photo is not None and self.photo.path == path:
            self.update()

    def _best_image(self) -> QImage | None:
        photo = self.photo
        if photo is None:
            return None
        found = [(size, img) for (p, size), img in self._images.items() if p == photo.path]
        return max(found, key=lambda x: x[0])[1] if found else None

    # -- zoom ------------------------------------------------------------------------------

    def _full_size(self) -> QSize:
        photo = self.photo
        if photo is not None and photo.width and photo.height:
            return QSize(photo.width, photo.height)
        image = self._best_image()
        return image.size() if image is not None else QSize(1, 1)

    def _fit_scale(self) -> float:
        full = self._full_size()
        return min(self.width() / max(1, full.width()), self.height() / max(1, full.height()),
                   1.0)

    def scale(self) -> float:
        return self.zoom if self.zoom is not None else self._fit_scale()

    def set_zoom(self, zoom: float | None, at: QPointF | None = None) -> None:
        old = self.scale()
        self.zoom = None if zoom is None else max(self._fit_scale() / 4, min(8.0, zoom))
        if self.zoom is None:
            self.pan = QPointF(0, 0)
        elif at is not None:
            # Keep the point under the cursor where it is.
            centre = QPointF(self.width() / 2, self.height() / 2)
            factor = self.scale() / old
            self.pan = (self.pan + centre - at) * factor - centre + at
        if self.scale() > self._fit_scale() * 1.01 and self.photo is not None:
            full = self._full_size()
            self._request(self.photo.path, min(FULL_SIZE_CAP, max(full.width(), full.height())))
        self.update()

    # -- input -----------------------------------------------------------------------------

    def keyPressEvent(self, event: Any) -> None:
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.stop_slideshow()
            self.closed.emit(self.row)
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_PageDown, Qt.Key.Key_Space):
            self.stop_slideshow()
            self.show_row(min(self.row + 1, self.model.rowCount() - 1))
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up, Qt.Key.Key_PageUp, Qt.Key.Key_Backspace):
            self.stop_slideshow()
            self.show_row(max(self.row - 1, 0))
        elif key == Qt.Key.Key_Home:
            self.show_row(0)
        elif key == Qt.Key.Key_End:
            self.show_row(self.model.rowCount() - 1)
        elif key == Qt.Key.Key_F11:
            self.full_screen.emit(not self.window().isFullScreen())
        elif key == Qt.Key.Key_I:
            self.info = not self.info
            self.update()
        elif key == Qt.Key.Key_S:
            (self.stop_slideshow if self.slideshow.isActive() else self.slideshow.start)()
            self.update()
        elif key == Qt.Key.Key_1:
            self.set_zoom(1.0)
        elif key in (Qt.Key.Key_0, Qt.Key.Key_F):
            self.set_zoom(None)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.set_zoom(self.scale() * 1.25)
        elif key == Qt.Key.Key_Minus:
            self.set_zoom(self.scale() / 1.25)
        else:
            super().keyPressEvent(event)

    def stop_slideshow(self) -> None:
        self.slideshow.stop()

    def _slide(self) -> None:
        if self.row + 1 >= self.model.rowCount():
            self.stop_slideshow()
            self.update()
            return
        self.show_row(self.row + 1)

    def wheelEvent(self, event: Any) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.set_zoom(self.scale() * (1.2 ** steps), event.position())

    def mousePressEvent(self, event: Any) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.zoom is not None:
            self._drag = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: Any) -> None:
        if self._drag is not None:
            self.pan -= event.position() - self._drag
            self._drag = event.position()
            self.update()

    def mouseReleaseEvent(self, event: Any) -> None:
        self._drag = None
        self.unsetCursor()

    def mouseDoubleClickEvent(self, event: Any) -> None:
        self.set_zoom(None if self.zoom is not None else 1.0, event.position())

    # -- painting --------------------------------------------------------------------------

    def paintEvent(self, event: Any) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        photo = self.photo
        painter.setPen(QColor(230, 230, 230))
        if photo is None:
            return
        image = self._best_image()
        if image is None:
            text = ("Cannot show this photo" if photo.path in self._failed
                    else "Loading…")
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, text)
        else:
            full = self._full_size()
            scale = self.scale()
            w, h = full.width() * scale, full.height() * scale
            target = QRectF((self.width() - w) / 2 - self.pan.x(),
                            (self.height() - h) / 2 - self.pan.y(), w, h)
            painter.drawImage(target, image)
        small = QFont(self.font())
        painter.setFont(small)
        n = self.model.rowCount()
        status = f"{self.row + 1:,} / {n:,}   {shown_name(photo.path)}"
        if self.zoom is not None:
            status += f"   {self.scale() * 100:.0f}%"
        if self.slideshow.isActive():
            status += "   slideshow (S stops)"
        painter.fillRect(QRectF(0, self.height() - 26, self.width(), 26), QColor(0, 0, 0, 150))
        # The key hints shrink before the name does, and the two never overlap.
        fm = painter.fontMetrics()
        room = self.width() - 20
        hint = next((h for h in KEY_HINTS if fm.horizontalAdvance(h) <= room // 2), "")
        hint_w = fm.horizontalAdvance(hint) + (24 if hint else 0)
        status = fm.elidedText(status, Qt.TextElideMode.ElideMiddle, room - hint_w)
        painter.drawText(QRectF(10, self.height() - 26, room - hint_w, 26),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, status)
        painter.drawText(QRectF(10, self.height() - 26, room, 26),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, hint)
        if self.info:
            self._paint_info(painter, photo)

    def _paint_info(self, painter: QPainter, photo: Any) -> None:
        when = datetime.fromtimestamp(photo.date).strftime("%A %d %B %Y, %H:%M")
        lines = [shown_name(photo.path),
                 when + ("" if photo.taken_at else " (file time: no capture date)")]
        if photo.camera:
            lines.append(photo.camera)
        if photo.width and photo.height:
            mp = photo.width * photo.height / 1e6
            size = f"{photo.width} × {photo.height}"
            lines.append(f"{size} ({mp:.1f} MP)" if mp >= 0.1 else size)
        lines.append(f"{photo.size / 1e6:.1f} MB" if photo.size >= 1e6
                     else f"{photo.size / 1e3:.0f} KB")
        lines.append(shown(os.path.dirname(photo.path)))
        height = 22 * len(lines) + 16
        box = QRectF(12, 12, min(520, self.width() - 24), height)
        painter.fillRect(box, QColor(0, 0, 0, 170))
        for i, line in enumerate(lines):
            painter.drawText(box.adjusted(10, 8 + 22 * i, -10, 0),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, line)

    def shutdown(self) -> None:
        self.slideshow.stop()
        self.pool.clear()
        self.pool.waitForDone(10000)

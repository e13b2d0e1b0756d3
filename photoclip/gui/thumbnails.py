"""Thumbnails decoded off the GUI thread, cached on disk and in memory.

Decoding happens in a dedicated ``QThreadPool`` with ``QImageReader.setScaledSize`` (JPEGs
decode at reduced size, cheaply) and EXIF auto-rotation; the result is a ``QImage`` sent
back by signal and saved to the disk cache as a small JPEG keyed by path, size and mtime, so
the next start shows the grid without decoding a single photo. Only the GUI thread turns
images into ``QPixmap``s, lazily, when a cell is painted (DESIGN.md rule 7).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap

# Thumbnails are made at this size and scaled down for smaller grid settings.
THUMB_SIZE = 256


class _Signals(QObject):
    ready = Signal(str, QImage)
    failed = Signal(str)


class _Job(QRunnable):
    def __init__(self, path: str, cache_file: Path, signals: _Signals) -> None:
        super().__init__()
        self.path = path
        self.cache_file = cache_file
        self.signals = signals

    def run(self) -> None:
        image = QImage()
        if self.cache_file.is_file():
            image = QImage(str(self.cache_file))
        if image.isNull():
            image = _decode(self.path)
            if not image.isNull():
                self.cache_file.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.cache_file.with_suffix(".tmp.jpg")
                if image.save(str(tmp), "JPEG", 85):
                    tmp.replace(self.cache_file)
        if image.isNull():
            self.signals.failed.emit(self.path)
        else:
            self.signals.ready.emit(self.path, image)


def _decode(path: str, size: int = THUMB_SIZE) -> QImage:
    reader = QImageReader(path)
    reader.setAutoTransform(True)  # EXIF orientation
    src = reader.size()
    if src.isValid() and max(src.width(), src.height()) > size:
        reader.setScaledSize(src.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        return _decode_with_pillow(path, size)
    return image


def _decode_with_pillow(path: str, size: int) -> QImage:
    """Formats Qt lacks (HEIC with pillow-heif, 16-bit TIFF...) go through the core decoder."""
    from photoclip.core.errors import ImageDecodeError
    from photoclip.core.images import open_photo

    try:
        img = open_photo(path, size).image
    except ImageDecodeError:
        return QImage()
    img.thumbnail((size, size))
    data = img.tobytes("raw", "RGB")
    return QImage(data, img.width, img.height, 3 * img.width,
                  QImage.Format.Format_RGB888).copy()


class ThumbnailCache(QObject):
    """Ask with :meth:`get`; a ``ready`` signal follows for anything not already in memory."""

    ready = Signal(str)

    def __init__(self, cache_dir: Path, parent: QObject | None = None,
                 memory_items: int = 2000) -> None:
        super().__init__(parent)
        self.cache_dir = Path(cache_dir) / "thumbnails"
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(2)
        self._signals = _Signals()
        self._signals.ready.connect(self._on_ready)
        self._signals.failed.connect(self._on_failed)
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._pixmaps: OrderedDict[tuple[str, int], QPixmap] = OrderedDict()
        self._pending: set[str] = set()
        self._failed: set[str] = set()
        self.memory_items = memory_items

    def cache_file(self, path: str) -> Path:
        try:
            st = Path(path).stat()
            key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
        except OSError:
            key = path
        digest = hashlib.sha1(key.encode(), usedforsecurity=False).hexdigest()
        return self.cache_dir / digest[:2] / f"{digest}.jpg"

    def get(self, path: str, size: int) -> QPixmap | None:
        """The thumbnail at ``size`` if ready; otherwise None and a decode is queued."""
        key = (path, size)
        pix = self._pixmaps.get(key)
        if pix is not None:
            self._pixmaps.move_to_end(key)
            return pix
        image = self._images.get(path)
        if image is not None:
            pix = QPixmap.fromImage(image.scaled(QSize(size, size),
                                                 Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation))
            self._pixmaps[key] = pix
            while len(self._pixmaps) > self.memory_items:
                self._pixmaps.popitem(last=False)
            return pix
        if path not in self._pending and path not in self._failed:
            self._pending.add(path)
            self.pool.start(_Job(path, self.cache_file(path), self._signals))
        return None

    def forget_pending(self) -> None:
        """Drop queued decodes (a new result set replaced the one they were for)."""
        self.pool.clear()
        self._pending.clear()

    def _on_ready(self, path: str, image: QImage) -> None:
        self._pending.discard(path)
        self._images[path] = image
        while len(self._images) > self.memory_items:
            self._images.popitem(last=False)
        self.ready.emit(path)

    def _on_failed(self, path: str) -> None:
        self._pending.discard(path)
        self._failed.add(path)

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone(10000)

"""Thumbnails decoded off the GUI thread, cached on disk and in memory.

Decoding happens in a dedicated ``QThreadPool`` with ``QImageReader.setScaledSize`` (JPEGs
decode at reduced size, cheaply) and EXIF auto-rotation; the result is a ``QImage`` sent
back by signal and saved to the disk cache as a small JPEG keyed by path, size and mtime, so
the next start shows the grid without decoding a single photo. Only the GUI thread turns
images into ``QPixmap``s, lazily, when a cell is painted (DESIGN.md rule 7).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap

from photoclip.gui.workers import lower_thread_priority, thread_pool

log = logging.getLogger(__name__)

# Thumbnails are made at this size and scaled down for smaller grid settings.
THUMB_SIZE = 256


# Paths travel as ``object``: a str signal turns a name that is not UTF-8 (its odd bytes
# held as surrogates) into another path, and that photo's thumbnail would never land.
class _Signals(QObject):
    ready = Signal(object, QImage)   # path
    failed = Signal(object)          # path


class _Job(QRunnable):
    def __init__(self, path: str, cache_dir: Path, signals: _Signals) -> None:
        super().__init__()
        self.path = path
        self.cache_dir = cache_dir
        self.signals = signals

    def run(self) -> None:
        # Everything that touches the disk happens here, never on the GUI thread: a stat on
        # an unplugged network share can hang for a minute.
        lower_thread_priority()
        try:
            cache_file = cache_file_for(self.cache_dir, self.path)
            image = QImage()
            if cache_file.is_file():
                image = QImage(str(cache_file))
            if image.isNull():
                image = decode_image(self.path)
                if not image.isNull():
                    cache_file.parent.mkdir(parents=True, exist_ok=True)
                    tmp = cache_file.with_suffix(".tmp.jpg")
                    if image.save(str(tmp), "JPEG", 85):
                        tmp.replace(cache_file)
        except Exception:   # a decoder bug on one file must not take the pool thread down
            log.debug("no thumbnail for %r", self.path, exc_info=True)
            image = QImage()
        if image.isNull():
            self.signals.failed.emit(self.path)
        else:
            self.signals.ready.emit(self.path, image)


def cache_file_for(cache_dir: Path, path: str) -> Path:
    """Thumbnail file of a photo, keyed by path, size and mtime (a changed photo misses)."""
    try:
        st = os.stat(path)
        key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        key = path
    digest = hashlib.sha1(key.encode("utf-8", "surrogateescape"),
                          usedforsecurity=False).hexdigest()
    return cache_dir / digest[:2] / f"{digest}.jpg"


def decode_image(path: str, size: int = THUMB_SIZE) -> QImage:
    """``path`` as an upright QImage at most ``size`` on its longer side (any thread)."""
    from photoclip.core.raw import is_raw_path

    if is_raw_path(path):
        # Many RAW files are TIFF inside: Qt's TIFF reader would try them, fail on their
        # compressed preview and say so on stderr. The core reads their embedded preview.
        return _decode_with_pillow(path, size)
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
    """Formats Qt lacks (HEIC, camera RAW, 16-bit TIFF...) go through the core decoder."""
    from photoclip.core.errors import ImageDecodeError
    from photoclip.core.images import decode_for_display

    try:
        img = decode_for_display(path, size).convert("RGB")
    except ImageDecodeError:
        return QImage()
    data = img.tobytes("raw", "RGB")
    return QImage(data, img.width, img.height, 3 * img.width,
                  QImage.Format.Format_RGB888).copy()


class ThumbnailCache(QObject):
    """Ask with :meth:`get`; a ``ready`` signal follows for anything not already in memory."""

    ready = Signal(object)   # path (object: see _Signals)

    def __init__(self, cache_dir: Path, parent: QObject | None = None,
                 memory_items: int = 2000) -> None:
        super().__init__(parent)
        self.cache_dir = Path(cache_dir) / "thumbnails"
        self.pool = thread_pool(2)
        self._signals = _Signals()
        self._signals.ready.connect(self._on_ready)
        self._signals.failed.connect(self._on_failed)
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._pixmaps: OrderedDict[tuple[str, int], QPixmap] = OrderedDict()
        self._pending: set[str] = set()
        self.failed: set[str] = set()   # paths that cannot be shown (drawn as broken)
        self.memory_items = memory_items

    def get(self, path: str, size: int) -> QPixmap | None:
        """The thumbnail at ``size`` if ready; otherwise None and a decode is queued."""
        key = (path, size)
        pix = self._pixmaps.get(key)
        if pix is not None:
            self._pixmaps.move_to_end(key)
            return pix
        image = self._images.get(path)
        if image is not None:
            # A photo smaller than ``size`` is not blown up: it stays small and sharp.
            # (An image of THUMB_SIZE is a larger photo's thumbnail: that one may grow.)
            small = max(image.width(), image.height()) < THUMB_SIZE - 1
            fits = image.width() <= size and image.height() <= size
            if not (small and fits):
                image = image.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation)
            pix = QPixmap.fromImage(image)
            self._pixmaps[key] = pix
            while len(self._pixmaps) > self.memory_items:
                self._pixmaps.popitem(last=False)
            return pix
        if path not in self._pending and path not in self.failed:
            self._pending.add(path)
            self.pool.start(_Job(path, self.cache_dir, self._signals))
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
        self.failed.add(path)
        self.ready.emit(path)   # so the cell repaints, as broken

    def forget(self, paths: set[str] | None = None) -> None:
        """Photos changed on disk: decode them again when next asked (None: all)."""
        if paths is None:
            self._images.clear()
            self._pixmaps.clear()
            self.failed.clear()
            return
        for path in paths:
            self._images.pop(path, None)
            self.failed.discard(path)
        for key in [k for k in self._pixmaps if k[0] in paths]:
            del self._pixmaps[key]

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone(10000)

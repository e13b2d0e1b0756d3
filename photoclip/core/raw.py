"""Camera RAW files (CR2, CR3, NEF, ARW, RAF, ORF, RW2, PEF, SRW, DNG…) through LibRaw (rawpy).

Every RAW file carries a JPEG preview the camera made (what it showed on its screen). When
that preview is large enough for what is asked, it is what we decode: a few milliseconds
instead of a demosaic of 20+ million sensor values. Otherwise LibRaw demosaics at half size
(each 2×2 block of the sensor becomes one pixel, no interpolation), which is still far more
than a model or a thumbnail needs. Either way the result is upright, RGB, 8-bit.

Metadata (capture date, camera, orientation) comes from the RAW file itself: the TIFF
structure most RAW formats are built on, Canon CR3's CMT boxes, the preview's own EXIF
(Fujifilm RAF), and LibRaw's parse as a last resort.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass
from typing import Any

from PIL import Image, TiffImagePlugin

from photoclip.core.errors import CorruptImageError, UnsupportedFormatError
from photoclip.core.filenames import encodable

RAW_EXTENSIONS = frozenset({
    ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".raf", ".orf", ".rw2",
    ".pef", ".srw", ".dng", ".rwl", ".iiq", ".3fr", ".erf", ".mrw", ".x3f", ".kdc", ".dcr",
})

# LibRaw's "flip" to the EXIF orientation it means.
_FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}
_ORIENTATION_TAG, _MAKE, _MODEL, _DATETIME, _EXIF_IFD, _DATETIME_ORIGINAL = (
    0x0112, 0x010F, 0x0110, 0x0132, 0x8769, 0x9003)


def is_raw_path(path: str | os.PathLike[str]) -> bool:
    return os.path.splitext(os.fspath(path))[1].lower() in RAW_EXTENSIONS


def libraw_version() -> str | None:
    try:
        import rawpy
    except ImportError:
        return None
    return f"rawpy {rawpy.__version__} (LibRaw {rawpy.libraw_version_compiled})" if hasattr(
        rawpy, "libraw_version_compiled") else f"rawpy {rawpy.__version__}"


@dataclass
class RawMetadata:
    taken: str | None = None        # EXIF-style "YYYY:MM:DD HH:MM:SS"
    camera_make: str | None = None
    camera_model: str | None = None
    orientation: int | None = None


def _ifd(data: Any, order: bytes, offset: int) -> TiffImagePlugin.ImageFileDirectory_v2:
    header = (b"II*\0" if order == b"II" else b"MM\0*") + struct.pack(
        "<I" if order == b"II" else ">I", 8)
    ifd = TiffImagePlugin.ImageFileDirectory_v2(header)
    data.seek(offset)
    ifd.load(data)
    return ifd


def _from_tiff(data: Any, meta: RawMetadata, exif_only: bool = False) -> None:
    """Fill ``meta`` from a TIFF-structured file object (a RAW file, or a CR3 CMT box)."""
    data.seek(0)
    start = data.read(8)
    order = start[:2]
    if order not in (b"II", b"MM") or len(start) < 8:
        return
    offset = struct.unpack("<I" if order == b"II" else ">I", start[4:8])[0]
    try:
        first = _ifd(data, order, offset)
        if exif_only:
            exif = first
        else:
            meta.camera_make = meta.camera_make or _text(first.get(_MAKE))
            meta.camera_model = meta.camera_model or _text(first.get(_MODEL))
            value = first.get(_ORIENTATION_TAG)
            if meta.orientation is None and isinstance(value, int) and 1 <= value <= 8:
                meta.orientation = value
            meta.taken = meta.taken or _text(first.get(_DATETIME))
            pointer = first.get(_EXIF_IFD)
            exif = _ifd(data, order, int(pointer)) if pointer else None
        if exif is not None:
            meta.taken = _text(exif.get(_DATETIME_ORIGINAL)) or meta.taken
    except (OSError, ValueError, struct.error, KeyError, TypeError, SyntaxError):
        return  # a damaged header costs the metadata, never the photo


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return None
    value = value.strip().strip("\x00").strip()
    return value or None


def _cr3_boxes(head: bytes, meta: RawMetadata) -> None:
    """Canon CR3 (ISO base media file): CMT1 holds IFD0, CMT2 the EXIF IFD, each a TIFF."""
    for name, exif_only in ((b"CMT1", False), (b"CMT2", True)):
        at = head.find(name)
        if at >= 4:
            size = struct.unpack(">I", head[at - 4:at])[0]
            _from_tiff(io.BytesIO(head[at + 4:at - 4 + size]), meta, exif_only=exif_only)


def read_metadata(path: str) -> RawMetadata:
    """Date, camera and orientation as the RAW file states them (None where it does not)."""
    meta = RawMetadata()
    try:
        with open(path, "rb") as f:
            if f.read(8)[4:8] == b"ftyp":
                f.seek(0)
                _cr3_boxes(f.read(1 << 20), meta)  # CR3's boxes live up front
            else:
                _from_tiff(f, meta)
    except OSError:
        return meta
    return meta


@dataclass
class RawDecoded:
    image: Image.Image          # RGB, upright
    width: int                  # full size, upright
    height: int
    meta: RawMetadata
    source: str                 # "preview" or "demosaic"


_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
              6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
              8: Image.Transpose.ROTATE_90}


def _transpose(img: Image.Image, orientation: int | None) -> Image.Image:
    """Turn ``img`` as EXIF ``orientation`` says (what ImageOps.exif_transpose does)."""
    method = _TRANSPOSE.get(orientation or 1)
    return img.transpose(method) if method is not None else img


def _preview(raw: Any, rawpy: Any, min_side: int | None, max_side: int | None,
             full: tuple[int, int], orientation: int | None) -> Image.Image | None:
    """The camera's embedded preview, upright, if it is large enough for the request."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    except rawpy.LibRawError:
        return None
    try:
        if thumb.format == rawpy.ThumbFormat.JPEG:
            img = Image.open(io.BytesIO(thumb.data))
            w, h = img.size
        else:
            img = Image.fromarray(thumb.data)
            w, h = img.size
        short, long = min(w, h), max(w, h)
        if min_side is not None and short < min_side:
            return None
        if max_side is not None and long < max_side:
            return None
        if min_side is None and max_side is None and 2 * long < max(full):
            return None  # a full decode was asked: the preview must beat half size
        own = None
        if img.format == "JPEG":
            try:
                own = img.getexif().get(_ORIENTATION_TAG)
            except Exception:  # broken EXIF in the preview: the RAW's orientation holds
                own = None
            want = min_side or max_side
            if want:
                img.draft("RGB", (want, want))
        img.load()
        img = img.convert("RGB")
        # The preview's own EXIF orientation (if it has one) says how to turn it; else
        # the RAW's, since cameras store the preview as the sensor saw it.
        return _transpose(img, own if own and own != 1 else orientation)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None  # a damaged preview: demosaic instead


def open_raw(path: str, min_side: int | None = None,
             max_side: int | None = None) -> RawDecoded:
    """Decode a RAW file upright: the embedded preview when it is large enough (shorter
    side ≥ ``min_side``, longer side ≥ ``max_side``), else LibRaw's half-size demosaic.

    Raises :class:`ImageDecodeError` subclasses with reasons in words.
    """
    try:
        import rawpy
    except ImportError as exc:
        raise UnsupportedFormatError(
            path, "RAW support is not installed (rawpy, LibRaw)") from exc
    meta = read_metadata(path)
    try:
        raw = _imread(rawpy, path)
    except rawpy.LibRawFileUnsupportedError as exc:
        # A camera newer than this LibRaw, or a file damaged at its start; tried again
        # when LibRaw is updated.
        raise UnsupportedFormatError(
            path, "LibRaw cannot read this RAW file (a camera newer than this LibRaw, or a "
                  "damaged file)") from exc
    except rawpy.LibRawIOError as exc:
        raise CorruptImageError(path, "the RAW file is truncated or unreadable") from exc
    except (rawpy.LibRawError, OSError) as exc:
        raise CorruptImageError(path, f"LibRaw could not open it: {_words(exc)}") from exc
    with raw:
        sizes = raw.sizes
        flip_orientation = _FLIP_TO_ORIENTATION.get(sizes.flip, 1)
        if meta.orientation is None:
            meta.orientation = flip_orientation
        if meta.taken is None:
            stamp = getattr(raw.other, "timestamp", None) if hasattr(raw, "other") else None
            if stamp is not None and hasattr(stamp, "strftime"):
                meta.taken = stamp.strftime("%Y:%m:%d %H:%M:%S")
        full = (sizes.width, sizes.height)
        if flip_orientation in (5, 6, 7, 8):
            full = (full[1], full[0])
        img = _preview(raw, rawpy, min_side, max_side, full, flip_orientation)
        if img is not None:
            if meta.camera_make is None:
                _from_preview_exif(raw, rawpy, meta)
            return RawDecoded(img, full[0], full[1], meta, "preview")
        try:
            rgb = raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
        except MemoryError:
            raise
        except (rawpy.LibRawError, ValueError, OSError) as exc:
            raise CorruptImageError(
                path, "RAW file without a usable preview and LibRaw could not decode it: "
                      f"{_words(exc)}") from exc
        if meta.camera_make is None:
            _from_preview_exif(raw, rawpy, meta)
    # postprocess applies the RAW's orientation itself.
    return RawDecoded(Image.fromarray(rgb), full[0], full[1], meta, "demosaic")


def _imread(rawpy: Any, path: str) -> Any:
    """rawpy.imread, also for names that are not UTF-8 (rawpy encodes paths as UTF-8:
    those go through a file object, which LibRaw reads from memory)."""
    if encodable(path):
        return rawpy.imread(path)
    with open(path, "rb") as f:
        return rawpy.imread(f)


def _from_preview_exif(raw: Any, rawpy: Any, meta: RawMetadata) -> None:
    """Fujifilm RAF and others keep the full EXIF in the preview JPEG only."""
    try:
        thumb = raw.extract_thumb()
        if thumb.format != rawpy.ThumbFormat.JPEG:
            return
        exif = Image.open(io.BytesIO(thumb.data)).getexif()
    except Exception:  # metadata is a bonus; the photo is decoded already
        return
    meta.camera_make = meta.camera_make or _text(exif.get(_MAKE))
    meta.camera_model = meta.camera_model or _text(exif.get(_MODEL))
    try:
        meta.taken = meta.taken or _text(exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL))
    except Exception:
        return


def _words(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text) or type(exc).__name__

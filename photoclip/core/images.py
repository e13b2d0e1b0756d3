"""Opening photos for embedding and for thumbnails.

Everything a camera, phone or scanner produces should come out as an upright RGB image of
about the size asked for, as cheaply as possible: JPEGs are decoded with DCT scaling
("draft" mode) straight to the smallest size that is still at least the target, which is
most of the indexing speed-up on camera-sized files. Failures are typed
(:mod:`photoclip.core.errors`) with a short reason for the user, never a bare exception.
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from photoclip.core.errors import (
    CorruptImageError,
    ImageDecodeError,
    ImageTooLargeError,
    NotAnImageError,
)

# Extensions the scanner picks up. Files with other extensions are not photos to us.
PHOTO_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff",
    ".heic", ".heif", ".avif",
})

_EXIF_ORIENTATION = 0x0112
_EXIF_MAKE = 0x010F
_EXIF_MODEL = 0x0110
_EXIF_DATETIME = 0x0132
_EXIF_IFD = 0x8769
_EXIF_DATETIME_ORIGINAL = 0x9003

_heif_lock = threading.Lock()
_heif_registered: bool | None = None


def register_optional_plugins() -> bool:
    """Teach Pillow HEIC/HEIF/AVIF when pillow-heif is installed. Returns whether it is."""
    global _heif_registered
    with _heif_lock:
        if _heif_registered is None:
            try:
                from pillow_heif import register_heif_opener
            except ImportError:
                _heif_registered = False
            else:
                register_heif_opener()
                _heif_registered = True
        return _heif_registered


@dataclass
class DecodedPhoto:
    image: Image.Image      # RGB, upright
    width: int              # full size of the photo as displayed (after orientation)
    height: int
    taken_at: float | None  # EXIF DateTimeOriginal as a POSIX time (local time assumed)
    camera: str | None
    orientation: int | None


def _parse_exif_date(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    value = value.strip().rstrip("\x00")
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d"):
        try:
            return datetime.strptime(value[:19], fmt).timestamp()
        except ValueError:
            continue
    return None


def _read_exif(img: Image.Image) -> tuple[float | None, str | None, int | None]:
    try:
        exif = img.getexif()
    except Exception:  # a broken EXIF block must not cost us the photo
        return None, None, None
    if not exif:
        return None, None, None
    orientation = exif.get(_EXIF_ORIENTATION)
    try:
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:
        sub = {}
    taken = _parse_exif_date(sub.get(_EXIF_DATETIME_ORIGINAL)) or _parse_exif_date(
        exif.get(_EXIF_DATETIME))
    make = str(exif.get(_EXIF_MAKE, "") or "").strip().strip("\x00")
    model = str(exif.get(_EXIF_MODEL, "") or "").strip().strip("\x00")
    if make and model.lower().startswith(make.lower()):
        camera = model
    else:
        camera = " ".join(p for p in (make, model) if p) or None
    return taken, camera, orientation if isinstance(orientation, int) else None


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is laid on white, like a viewer shows it."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float32)
        top = float(arr.max()) if arr.size else 0.0
        scale = 255.0 / (65535.0 if top > 255 else max(top, 1.0) if img.mode == "F" else 255.0)
        arr = np.clip(arr * scale, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    # CMYK, YCbCr, LAB, L, 1, P without transparency: Pillow knows the conversion.
    return img.convert("RGB")


def open_photo(path: str | os.PathLike[str], min_side: int | None = None) -> DecodedPhoto:
    """Decode ``path`` upright in RGB, at least ``min_side`` on its shorter side if given.

    Raises a subclass of :class:`ImageDecodeError`; never anything else for a bad file.
    """
    path_str = os.fspath(path)
    register_optional_plugins()
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, for decompression bombs; we want only the raise.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path_str)
            try:
                decoded = _decode(img, min_side)
            except BaseException:
                img.close()
                raise
            if decoded.image is not img:
                img.close()
            return decoded
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(path_str, f"too many pixels ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise NotAnImageError(path_str, "not an image Pillow can read") from exc
    except FileNotFoundError as exc:
        raise ImageDecodeError(path_str, "file not found") from exc
    except PermissionError as exc:
        raise ImageDecodeError(path_str, "permission denied") from exc
    except (OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError,
            EOFError, MemoryError) as exc:
        text = str(exc) or type(exc).__name__
        if "truncated" in text:
            text = "file is truncated (incomplete copy or download?)"
        raise CorruptImageError(path_str, text) from exc


def _decode(img: Image.Image, min_side: int | None) -> DecodedPhoto:
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)  # animations: the first frame stands for the file
    taken, camera, orientation = _read_exif(img)
    full_w, full_h = img.size
    if orientation in (5, 6, 7, 8):
        full_w, full_h = full_h, full_w
    if min_side and img.format == "JPEG":
        # draft() picks the largest DCT scale (1/2, 1/4, 1/8) keeping both sides >= request.
        # It works on the stored (unrotated) size; a square request is rotation-proof.
        img.draft("RGB", (min_side, min_side))
    img.load()
    if orientation and orientation != 1:
        img = ImageOps.exif_transpose(img) or img
    img = to_rgb(img)
    if min_side and min(img.size) > 2 * min_side:
        # Cheap box reduce to at most 2x the target; the model's resize does the rest well.
        factor = min(img.size) // (2 * min_side)
        if factor > 1:
            img = img.reduce(factor)
    return DecodedPhoto(img, full_w, full_h, taken, camera, orientation)


def is_photo_path(path: str | Path) -> bool:
    name = os.path.basename(os.fspath(path))
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in PHOTO_EXTENSIONS

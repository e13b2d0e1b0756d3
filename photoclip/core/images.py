"""Opening photos for embedding and for thumbnails.

Everything a camera, phone or scanner produces should come out as an upright RGB image of
about the size asked for, as cheaply as possible: JPEGs are decoded with DCT scaling
("draft" mode) straight to the smallest size that is still at least the target, which is
most of the indexing speed-up on camera-sized files. Failures are typed
(:mod:`photoclip.core.errors`) with a short reason for the user, never a bare exception.
"""

from __future__ import annotations

import os
import re
import struct
import threading
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from photoclip.core.errors import (
    CorruptImageError,
    ImageDecodeError,
    ImageTooLargeError,
    NotAnImageError,
    UnsupportedFormatError,
)
from photoclip.core.raw import RAW_EXTENSIONS, is_raw_path, libraw_version, open_raw

# Extensions the scanner picks up. Files with other extensions are not photos to us.
PHOTO_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff",
    ".heic", ".heif", ".hif", ".avif",
}) | RAW_EXTENSIONS

_EXIF_ORIENTATION = 0x0112
_EXIF_MAKE = 0x010F
_EXIF_MODEL = 0x0110
_EXIF_DATETIME = 0x0132
_EXIF_IFD = 0x8769
_EXIF_DATETIME_ORIGINAL = 0x9003

HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".hif", ".avif"})

_heif_lock = threading.Lock()
_heif_registered: bool | None = None

# Pillow's codecs report a failed decode as "decoder error -N"; in words for the user.
_DECODER_ERRORS = {
    -1: "the image data ends too early or is damaged",
    -2: "the image data is damaged",
    -3: "the image data is damaged",
    -8: "the file's image settings are inconsistent",
    -9: "not enough memory to decode it",
}


def register_optional_plugins() -> bool:
    """Teach Pillow HEIC/HEIF (pillow-heif, a dependency; AVIF is Pillow's own). Returns
    whether it could: an install that lost the package still runs, and says so per photo."""
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


def _pillow_avif() -> bool:
    from PIL import features

    return bool(features.check("avif"))


def decoders() -> str:
    """Which decoders this process has, as stored with a failure: a photo that failed is
    tried again when this changes (a newer Pillow, a HEIC plugin installed)."""
    import PIL

    parts = [f"pillow {PIL.__version__}"]
    if register_optional_plugins():
        from pillow_heif import __version__ as heif_version

        parts.append(f"pillow-heif {heif_version}")
    libraw = libraw_version()
    if libraw:
        parts.append(libraw)
    return "; ".join(parts)


def _quiet_decoder_warnings() -> None:
    """Pillow warns about odd but readable files (EXIF oddities, huge photos): nothing a user
    can act on, printed once per file in the middle of indexing. The warning filter is
    process-wide (``catch_warnings`` is not thread-safe, and decoding is threaded)."""
    for category in (UserWarning, Image.DecompressionBombWarning):
        if not any(f[0] == "ignore" and f[2] is category and f[3] is not None
                   and f[3].pattern == _PIL_MODULES for f in warnings.filters):
            warnings.filterwarnings("ignore", category=category, module=_PIL_MODULES)


_PIL_MODULES = r"PIL(\.|$)"

# libtiff prints its warnings and errors straight to the process's stderr (dozens of lines
# for one damaged TIFF, in the middle of indexing), and Pillow then reports only "decoder
# error -2". We take the messages instead: warnings are dropped, the last error of the
# decoding thread becomes the reason given for the file.
_tiff_state = threading.local()
_tiff_hooked: bool | None = None
_tiff_callbacks: list[object] = []   # the C callbacks must outlive the library's use of them


def _loaded_libtiff() -> list[str]:
    """Paths of the libtiff Pillow loaded (its bundled copy, or the system's)."""
    import glob

    import PIL
    import PIL._imaging  # loads libtiff, so that it shows in the process's maps

    found: list[str] = []
    try:
        # Binary: a mapped file (the catalog's -shm) may live under a name that is not UTF-8.
        with open("/proc/self/maps", "rb") as maps:
            files = {os.fsdecode(line.split()[-1]) for line in maps if line.count(b" ") >= 5}
        found = sorted(f for f in files
                       if os.path.basename(f).startswith("libtiff") and ".so" in f)
    except OSError:
        pass
    if not found:  # macOS wheels keep their libraries beside the package
        found = glob.glob(os.path.join(os.path.dirname(PIL.__file__), ".dylibs", "libtiff*"))
    return [p for p in found if os.path.isfile(p)]


def _hook_libtiff() -> None:
    global _tiff_hooked
    with _heif_lock:
        if _tiff_hooked is not None:
            return
        _tiff_hooked = False
        try:
            import ctypes
            import ctypes.util

            libc = ctypes.CDLL(None if os.name != "nt" else ctypes.util.find_library("c"))
            vsnprintf = libc.vsnprintf
            vsnprintf.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                  ctypes.c_void_p]
            handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p,
                                            ctypes.c_void_p)

            def on_error(module: bytes | None, fmt: bytes | None, args: int | None) -> None:
                buf = ctypes.create_string_buffer(512)
                vsnprintf(buf, len(buf), fmt, args)
                text = buf.value.decode("utf-8", "replace").strip()
                name = (module or b"").decode("utf-8", "replace")
                if name and name != "tempfile.tif":  # Pillow's name for every file
                    text = f"{name}: {text}"
                _tiff_state.error = text

            def on_warning(_module: bytes | None, _fmt: bytes | None,
                           _args: int | None) -> None:
                return None

            for path in _loaded_libtiff():
                lib = ctypes.CDLL(path)
                for setter, fn in (("TIFFSetErrorHandler", on_error),
                                   ("TIFFSetWarningHandler", on_warning)):
                    callback = handler_type(fn)
                    _tiff_callbacks.append(callback)
                    getattr(lib, setter).restype = ctypes.c_void_p
                    getattr(lib, setter)(callback)
                _tiff_hooked = True
        except (OSError, AttributeError, ImportError):
            pass  # messages stay on stderr; nothing else changes


def _take_tiff_error() -> str | None:
    message = getattr(_tiff_state, "error", None)
    _tiff_state.error = None
    return message


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
    camera = camera_name(exif.get(_EXIF_MAKE), exif.get(_EXIF_MODEL))
    return taken, camera, orientation if isinstance(orientation, int) else None


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _raw_orientation(img: Image.Image) -> int | None:
    """The orientation tag read straight from the EXIF block's first directory.

    For when Pillow cannot parse the block at all (some Pillow versions give up on a whole
    block when one tag claims more data than the file holds): the orientation sits in
    the first directory and is still readable, and without it the photo would lie on its
    side.
    """
    raw = img.info.get("exif")
    if not isinstance(raw, bytes | bytearray):
        return None
    data = bytes(raw[6:]) if raw.startswith(b"Exif\x00\x00") else bytes(raw)
    if len(data) < 8 or data[:2] not in (b"II", b"MM"):
        return None
    order = "<" if data[:2] == b"II" else ">"
    try:
        (first,) = struct.unpack_from(order + "I", data, 4)
        (count,) = struct.unpack_from(order + "H", data, first)
        for i in range(min(count, 512)):
            tag, kind, n = struct.unpack_from(order + "HHI", data, first + 2 + 12 * i)
            if tag == _EXIF_ORIENTATION and kind == 3 and n == 1:
                (value,) = struct.unpack_from(order + "H", data, first + 2 + 12 * i + 8)
                return value if 1 <= value <= 8 else None
    except struct.error:
        return None
    return None


def camera_name(make: object, model: object) -> str | None:
    """"Canon EOS R6", not "Canon Canon EOS R6"."""
    make = str(make or "").strip().strip("\x00").strip()
    model = str(model or "").strip().strip("\x00").strip()
    if make and model.lower().startswith(make.lower()):
        return model
    return " ".join(p for p in (make, model) if p) or None


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
    Photos Pillow itself would open are decoded, however large (100 MP cameras and stitched
    panoramas are photos; JPEG draft mode keeps them cheap); only what Pillow refuses as a
    decompression bomb (over twice ``Image.MAX_IMAGE_PIXELS``) is refused.
    """
    return _open(os.fspath(path), min_side, None)


def decode_for_display(path: str | os.PathLike[str], max_side: int) -> Image.Image:
    """An upright RGB image of any supported photo (JPEG, PNG, TIFF, HEIC, AVIF, RAW…) that
    fits in ``max_side`` × ``max_side``, decoded as cheaply as that size allows (JPEG draft
    mode; a RAW file's embedded preview when it is large enough, else a half-size
    demosaic). For thumbnails and the viewer. Raises :class:`ImageDecodeError`."""
    decoded = _open(os.fspath(path), None, max_side)
    img = decoded.image
    if max(img.size) > max_side:
        img = img.copy() if img is decoded.image else img
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return img


def _open(path_str: str, min_side: int | None, max_side: int | None) -> DecodedPhoto:
    heif = register_optional_plugins()
    _quiet_decoder_warnings()
    _hook_libtiff()
    _tiff_state.error = None
    if is_raw_path(path_str):
        return _open_raw_photo(path_str, min_side, max_side)
    try:
        img = Image.open(path_str)
        try:
            decoded = _decode(img, min_side, max_side)
        except BaseException:
            img.close()
            raise
        if decoded.image is not img:
            img.close()
        return decoded
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(path_str, f"too many pixels ({exc})") from exc
    except UnidentifiedImageError as exc:
        ext = os.path.splitext(path_str)[1].lower()
        if not heif and ext in HEIF_EXTENSIONS and not (ext == ".avif" and _pillow_avif()):
            raise UnsupportedFormatError(
                path_str, "HEIC support is not installed (pillow-heif)") from exc
        raise _unidentified(path_str) from exc
    except FileNotFoundError as exc:
        raise ImageDecodeError(path_str, "file not found") from exc
    except PermissionError as exc:
        raise ImageDecodeError(path_str, "permission denied") from exc
    except MemoryError as exc:
        raise ImageTooLargeError(path_str, "not enough memory to decode it") from exc
    except (OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError,
            EOFError, struct.error, ZeroDivisionError) as exc:
        raise CorruptImageError(path_str, _reason(exc, _take_tiff_error())) from exc


# How image files begin: a file that starts like one but cannot be opened is a damaged
# photo, not something that is not a photo at all.
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"BM", "BMP"),
)


def _unidentified(path: str) -> ImageDecodeError:
    """Why Pillow could not tell what ``path`` is, as precisely as its first bytes say."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        head = b""
    if not head:
        return NotAnImageError(path, "the file is empty (0 bytes)")
    kind = next((name for magic, name in _SIGNATURES if head.startswith(magic)), None)
    if kind is None and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        kind = "WebP"
    if kind is None and head[4:8] == b"ftyp":
        kind = "HEIF/AVIF"
    if kind is not None:
        return CorruptImageError(path, f"a {kind} file whose header is damaged")
    return NotAnImageError(path, "its contents are no image format photoclip reads")


def _reason(exc: BaseException, detail: str | None = None) -> str:
    """A decoder's complaint in words a user can act on (``detail``: what libtiff said)."""
    text = str(exc) or type(exc).__name__
    if detail and "truncated" not in text:
        return f"the image data is damaged ({detail})"
    if "truncated" in text or isinstance(exc, EOFError):
        return "file is truncated (incomplete copy or download?)"
    if "could not create decoder object" in text:
        return f"the image data is damaged or cut short ({text})"
    match = re.search(r"decoder error (-?\d+)", text)
    if match:
        words = _DECODER_ERRORS.get(int(match.group(1)), "the image data is damaged")
        return f"{words} ({text})"
    if isinstance(exc, OSError) and exc.errno is not None:
        from photoclip.core.errors import describe_os_error

        return f"cannot read the file: {describe_os_error(exc)}"
    return text


def _open_raw_photo(path: str, min_side: int | None, max_side: int | None) -> DecodedPhoto:
    try:
        got = open_raw(path, min_side, max_side)
    except ImageDecodeError:
        raise
    except MemoryError as exc:
        raise ImageTooLargeError(path, "not enough memory to decode it") from exc
    except FileNotFoundError as exc:
        raise ImageDecodeError(path, "file not found") from exc
    except OSError as exc:
        raise CorruptImageError(path, _reason(exc)) from exc
    img = _reduce(got.image, min_side)
    meta = got.meta
    return DecodedPhoto(img, got.width, got.height, _parse_exif_date(meta.taken),
                        camera_name(meta.camera_make, meta.camera_model), meta.orientation)


def _reduce(img: Image.Image, min_side: int | None) -> Image.Image:
    if min_side and min(img.size) > 2 * min_side:
        # Cheap box reduce to at most 2x the target; the model's resize does the rest well.
        factor = min(img.size) // (2 * min_side)
        if factor > 1:
            img = img.reduce(factor)
    return img


def _decode(img: Image.Image, min_side: int | None,
            max_side: int | None = None) -> DecodedPhoto:
    if getattr(img, "n_frames", 1) > 1:
        img.seek(0)  # animations: the first frame stands for the file
    full_w, full_h = img.size
    # EXIF first where it is read from the header (JPEG: before draft changes the size;
    # TIFF: before load applies its orientation). Elsewhere (PNG keeps EXIF after the
    # pixels) only after load(), whose errors must not be swallowed by the EXIF reader.
    exif_first = img.format in ("JPEG", "MPO", "TIFF")
    if exif_first:
        taken, camera, orientation = _read_exif(img)
    want = min_side or max_side
    if want and img.format in ("JPEG", "MPO"):
        # draft() picks the largest DCT scale (1/2, 1/4, 1/8) keeping both sides >= request.
        # It works on the stored (unrotated) size; a square request is rotation-proof.
        img.draft("RGB", (want, want))
    img.load()
    if not exif_first:
        taken, camera, orientation = _read_exif(img)
    raw_orientation = _raw_orientation(img) if orientation is None else None
    if raw_orientation is not None:
        orientation = raw_orientation
    # pillow-heif turns HEIC photos on decode and resets the EXIF tag to 1; it keeps what
    # the camera said here.
    shown_as = img.info.get("original_orientation")
    if isinstance(shown_as, int) and 1 <= shown_as <= 8 and orientation in (None, 1):
        orientation = shown_as
    # Pillow's TIFF loader rotates on load itself (and drops the tag); size it reported
    # is then already upright. Otherwise we turn it, and so swap the full size.
    try:
        still_oriented = img.getexif().get(_EXIF_ORIENTATION) == orientation
    except Exception:  # a broken EXIF block: _read_exif found no orientation either
        still_oriented = orientation is None
    if raw_orientation is not None:
        still_oriented = True   # Pillow could not read the EXIF block: nothing turned it
    if isinstance(shown_as, int):
        still_oriented = False  # already turned by the decoder
    if orientation in (5, 6, 7, 8) and still_oriented:
        full_w, full_h = full_h, full_w
    if orientation in _TRANSPOSE and still_oriented:
        img = img.transpose(_TRANSPOSE[orientation])
    img = _reduce(to_rgb(img), min_side)
    return DecodedPhoto(img, full_w, full_h, taken, camera, orientation)


# What a camera writes beside a RAW file for the same shot (RAW+JPEG, RAW+HEIF).
PAIR_PARTNER_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".heic", ".heif", ".hif"})


def is_pair_partner(path: str | Path) -> bool:
    return os.path.splitext(os.fspath(path))[1].lower() in PAIR_PARTNER_EXTENSIONS


def is_photo_path(path: str | Path) -> bool:
    name = os.path.basename(os.fspath(path))
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in PHOTO_EXTENSIONS

"""Real DNG files, written here (tests never download): a Bayer mosaic of a picture, the
tags LibRaw needs, and optionally the embedded JPEG preview cameras write.

A DNG is a TIFF: with a preview, IFD0 holds the preview (a JPEG, NewSubFileType 1) and a
SubIFD the raw CFA data (NewSubFileType 0); without one, IFD0 is the raw data itself. Camera
make, model, orientation and the capture date are where cameras put them (IFD0 and the EXIF
IFD). Also used by the RAW benchmark and the frozen app's check.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image

_BYTE, _ASCII, _SHORT, _LONG, _RATIONAL, _SRATIONAL = 1, 2, 3, 4, 5, 10
_SIZES = {_BYTE: 1, _ASCII: 1, _SHORT: 2, _LONG: 4, _RATIONAL: 8, _SRATIONAL: 8}
_FORMATS = {_BYTE: "B", _SHORT: "H", _LONG: "I"}


def _pack(kind: int, values: object) -> tuple[bytes, int]:
    if kind == _ASCII:
        data = str(values).encode() + b"\0"
        return data, len(data)
    vals = list(values) if isinstance(values, (list, tuple)) else [values]
    if kind in (_RATIONAL, _SRATIONAL):
        fmt = "<ii" if kind == _SRATIONAL else "<II"
        data = b"".join(struct.pack(fmt, round(v * 10000), 10000) for v in vals)
        return data, len(vals)
    return struct.pack("<" + _FORMATS[kind] * len(vals), *vals), len(vals)


class _Tiff:
    """Appends blobs and IFDs to one little-endian TIFF buffer."""

    def __init__(self) -> None:
        self.buf = bytearray(b"II*\0\0\0\0\0")

    def blob(self, data: bytes) -> int:
        if len(self.buf) % 2:
            self.buf += b"\0"
        at = len(self.buf)
        self.buf += data
        return at

    def ifd(self, entries: dict[int, tuple[int, object]]) -> int:
        if len(self.buf) % 2:
            self.buf += b"\0"
        at = len(self.buf)
        count = len(entries)
        extra_at = at + 2 + 12 * count + 4
        table, extra = bytearray(struct.pack("<H", count)), bytearray()
        for tag in sorted(entries):
            kind, values = entries[tag]
            data, n = _pack(kind, values)
            if len(data) <= 4:
                field = data.ljust(4, b"\0")
            else:
                field = struct.pack("<I", extra_at + len(extra))
                extra += data + (b"\0" if len(data) % 2 else b"")
            table += struct.pack("<HHI", tag, kind, n) + field
        table += struct.pack("<I", 0)
        self.buf += table + extra
        return at

    def patch(self, ifd_at: int, tag: int, value: int) -> None:
        """Set a one-LONG entry written earlier (a data offset not known at the time)."""
        count = struct.unpack_from("<H", self.buf, ifd_at)[0]
        for i in range(count):
            at = ifd_at + 2 + 12 * i
            if struct.unpack_from("<H", self.buf, at)[0] == tag:
                struct.pack_into("<I", self.buf, at + 8, value)
                return
        raise KeyError(tag)

    def finish(self, first_ifd: int) -> bytes:
        self.buf[4:8] = struct.pack("<I", first_ifd)
        return bytes(self.buf)


def mosaic(img: Image.Image, white: int = 4095) -> np.ndarray:
    """An RGGB Bayer mosaic of ``img`` (even size), linear-ish, ``white`` at full scale."""
    rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    linear = rgb ** 2.2 * white
    h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
    out = np.empty((h, w), dtype=np.uint16)
    out[0::2, 0::2] = linear[0:h:2, 0:w:2, 0]
    out[0::2, 1::2] = linear[0:h:2, 1:w:2, 1]
    out[1::2, 0::2] = linear[1:h:2, 0:w:2, 1]
    out[1::2, 1::2] = linear[1:h:2, 1:w:2, 2]
    return out


def write_dng(path: Path, img: Image.Image, *, preview: tuple[int, int] | None = None,
              orientation: int = 1, make: str = "Testcam", model: str = "Testcam R1",
              taken: str = "2022:08:09 10:11:12") -> Path:
    """Write ``img`` as a DNG; ``preview`` = (w, h) embeds a JPEG of ``img`` that size."""
    raw = mosaic(img)
    h, w = raw.shape
    # Cameras put the directories first and the big data after them: a file cut short
    # keeps its header, as real damaged RAW files do.
    tiff = _Tiff()
    exif_ifd = tiff.ifd({36867: (_ASCII, taken), 36868: (_ASCII, taken)})
    dng = {
        271: (_ASCII, make), 272: (_ASCII, model), 274: (_SHORT, orientation),
        306: (_ASCII, taken), 34665: (_LONG, exif_ifd),
        50706: (_BYTE, [1, 4, 0, 0]), 50707: (_BYTE, [1, 1, 0, 0]),
        50708: (_ASCII, f"{make} {model}"),
        50721: (_SRATIONAL, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]),
        50728: (_RATIONAL, [1.0, 1.0, 1.0]), 50778: (_SHORT, 21),
    }
    raw_tags = {
        254: (_LONG, 0), 256: (_LONG, w), 257: (_LONG, h), 258: (_SHORT, 16),
        259: (_SHORT, 1), 262: (_SHORT, 32803), 273: (_LONG, 0), 277: (_SHORT, 1),
        278: (_LONG, h), 279: (_LONG, raw.nbytes), 284: (_SHORT, 1),
        33421: (_SHORT, [2, 2]), 33422: (_BYTE, [0, 1, 1, 2]),
        50714: (_SHORT, 0), 50717: (_SHORT, 4095),
    }
    if preview is None:
        first = raw_ifd = tiff.ifd({**raw_tags, **dng})
    else:
        jpeg = io.BytesIO()
        img.convert("RGB").resize(preview).save(jpeg, "JPEG", quality=90)
        raw_ifd = tiff.ifd(raw_tags)
        first = tiff.ifd({
            254: (_LONG, 1), 256: (_LONG, preview[0]), 257: (_LONG, preview[1]),
            258: (_SHORT, [8, 8, 8]), 259: (_SHORT, 7), 262: (_SHORT, 6),
            273: (_LONG, 0), 277: (_SHORT, 3), 278: (_LONG, preview[1]),
            279: (_LONG, len(jpeg.getvalue())), 284: (_SHORT, 1), 330: (_LONG, raw_ifd),
            **dng,
        })
        tiff.patch(first, 273, tiff.blob(jpeg.getvalue()))
    tiff.patch(raw_ifd, 273, tiff.blob(raw.astype("<u2").tobytes()))
    path.write_bytes(tiff.finish(first))
    return path

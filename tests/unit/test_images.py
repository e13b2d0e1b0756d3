from __future__ import annotations

import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from photoclip.core.errors import (
    CorruptImageError,
    ImageTooLargeError,
    NotAnImageError,
)
from photoclip.core.images import is_photo_path, open_photo, to_rgb


def _exif(orientation: int | None = None, date: str | None = None,
          make: str | None = None, model: str | None = None) -> Image.Exif:
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    if date:
        exif.get_ifd(0x8769)[0x9003] = date
    return exif


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    # Stored landscape, red on the left; orientation 6 means "rotate 90 CW to display".
    img = Image.new("RGB", (200, 100), "blue")
    img.paste((255, 0, 0), (0, 0, 50, 100))
    path = tmp_path / "rotated.jpg"
    img.save(path, exif=_exif(6, "2021:07:04 10:30:00", "Canon", "Canon EOS R6"), quality=95)
    got = open_photo(path)
    assert got.image.size == (100, 200)
    assert (got.width, got.height) == (100, 200)
    r, _g, b = got.image.getpixel((50, 10))  # the red band is now at the top
    assert r > 200
    assert b < 60
    assert got.orientation == 6
    assert got.camera == "Canon EOS R6"
    assert got.taken_at is not None


def test_jpeg_draft_decodes_small_but_not_below_request(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), "green").save(path, quality=90)
    got = open_photo(path, min_side=256)
    assert min(got.image.size) >= 256
    assert max(got.image.size) <= 1000  # DCT scaling did the heavy lifting
    assert (got.width, got.height) == (4000, 3000)


@pytest.mark.parametrize("mode", ["CMYK", "I;16", "P", "RGBA", "LA", "L", "1"])
def test_every_mode_becomes_rgb(tmp_path: Path, mode: str) -> None:
    if mode == "I;16":
        arr = np.full((40, 60), 40000, dtype=np.uint16)
        img = Image.fromarray(arr)
        path = tmp_path / "deep.png"
    elif mode == "CMYK":
        img = Image.new("CMYK", (60, 40), (0, 255, 255, 0))
        path = tmp_path / "cmyk.jpg"
    else:
        img = Image.new("RGBA", (60, 40), (255, 0, 0, 255)).convert(mode)
        path = tmp_path / f"m{mode.replace(';', '')}.png"
    img.save(path)
    got = open_photo(path)
    assert got.image.mode == "RGB"
    assert got.image.size == (60, 40)


def test_16_bit_keeps_brightness(tmp_path: Path) -> None:
    arr = np.full((10, 10), 65535 // 2, dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(arr).save(path)
    value = open_photo(path).image.getpixel((5, 5))[0]
    assert 120 <= value <= 135


def test_transparency_is_laid_on_white() -> None:
    img = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert to_rgb(img).getpixel((1, 1)) == (255, 255, 255)


def test_animation_uses_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (30, 30), c) for c in ("red", "blue", "green")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    r, g, b = open_photo(path).image.getpixel((15, 15))
    assert r > 200
    assert g < 50
    assert b < 50


def test_truncated_jpeg_is_a_corrupt_image(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    Image.effect_noise((400, 300), 60).convert("RGB").save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptImageError, match="truncated"):
        open_photo(path)


def test_non_image_file_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("shopping list: milk, eggs")
    with pytest.raises(NotAnImageError):
        open_photo(path)


def test_decompression_bomb_cap_stays_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.png"
    Image.new("RGB", (300, 300)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    with pytest.raises(ImageTooLargeError):
        open_photo(path)


def test_photo_extensions() -> None:
    assert is_photo_path("/x/IMG_0001.JPG")
    assert is_photo_path("a.heic")
    assert not is_photo_path("/x/.hidden.jpg")
    assert not is_photo_path("/x/movie.mp4")


# -- issue 13: what real libraries hold --------------------------------------------------


def test_a_101_megapixel_jpeg_is_a_photo(tmp_path: Path) -> None:
    # Pillow warns above MAX_IMAGE_PIXELS (89 MP) and refuses only above twice that:
    # 100 MP cameras and stitched panoramas are photos, and draft mode keeps them cheap.
    path = tmp_path / "pano.jpg"
    Image.new("RGB", (11700, 8700), (200, 30, 30)).save(path, quality=80)
    got = open_photo(path, min_side=224)
    assert (got.width, got.height) == (11700, 8700)
    assert min(got.image.size) >= 224
    assert max(got.image.size) <= 1500


def test_only_what_pillow_refuses_is_too_large(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    warned = tmp_path / "warned.png"     # 15,000 px: Pillow warns, and opens it
    Image.new("RGB", (150, 100), "blue").save(warned)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert open_photo(warned).image.size == (150, 100)
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]
    refused = tmp_path / "refused.png"   # 90,000 px: more than twice the limit
    Image.new("RGB", (300, 300)).save(refused)
    with pytest.raises(ImageTooLargeError):
        open_photo(refused)


@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
@pytest.mark.parametrize("fmt", ["tif", "jpg"])
def test_rotated_sizes_are_upright_for_tiff_and_jpeg(tmp_path: Path, orientation: int,
                                                      fmt: str) -> None:
    # Pillow's TIFF loader turns the image itself; the size must not be swapped twice.
    img = Image.new("RGB", (200, 100), "blue")
    img.paste((255, 0, 0), (0, 0, 50, 100))
    path = tmp_path / f"o{orientation}.{fmt}"
    img.save(path, exif=_exif(orientation), **({"quality": 95} if fmt == "jpg" else {}))
    got = open_photo(path)
    assert (got.width, got.height) == (100, 200)
    assert got.image.size == (100, 200)
    assert got.orientation == orientation
    reference = ImageOps.exif_transpose(Image.open(tmp_path / f"o{orientation}.{fmt}"))
    assert reference is not None
    ref = np.asarray(reference.convert("RGB"), dtype=np.int16)
    assert np.abs(np.asarray(got.image, dtype=np.int16) - ref).mean() < 8


def test_png_whose_pixels_pillow_rejects_is_corrupt_even_with_exif(tmp_path: Path) -> None:
    # The EXIF chunk comes after the damaged pixel data: reading EXIF made Pillow load the
    # pixels, the error was swallowed there, and the photo was indexed as fine.
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body +
                struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    exif = Image.Exif()
    exif[0x0112] = 6
    header = struct.pack(">IIBBBBB", 100, 100, 8, 2, 0, 0, 0)
    broken = b"\x78\x9c" + bytes(range(7, 250)) * 2
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", broken) +
                     chunk(b"eXIf", exif.tobytes()) + chunk(b"IEND", b""))
    with pytest.raises(CorruptImageError):
        open_photo(path)


def _garbled_lzw_tiff(path: Path) -> None:
    Image.effect_noise((300, 200), 50).convert("RGB").save(path, compression="tiff_lzw")
    data = bytearray(path.read_bytes())
    for i in range(400, 2400, 37):  # the strip data, not the header
        data[i] ^= 0x5A
    path.write_bytes(bytes(data))


def test_decoder_errors_are_in_words_and_libtiff_stays_quiet(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "garbled.tif"
    _garbled_lzw_tiff(path)
    with pytest.raises(CorruptImageError) as err:
        open_photo(path)
    reason = err.value.reason
    assert "decoder error" not in reason or "damaged" in reason
    assert reason.startswith("the image data is damaged")
    _out, errs = capfd.readouterr()
    assert "LZW" not in errs  # libtiff's messages became the reason, not stderr noise
    assert "table" not in errs


def test_odd_but_readable_files_print_no_warnings(tmp_path: Path) -> None:
    # EXIF with a tag claiming more data than the file holds: Pillow warns (once per file,
    # in the middle of indexing) and reads the rest. The photo is fine; the noise goes.
    built = Image.Exif()
    built[0x010E] = "x" * 100
    built[0x0112] = 6
    exif = bytearray(built.tobytes())
    at = exif.find(struct.pack(">HH", 0x010E, 2))
    struct.pack_into(">I", exif, at + 4, 100_000)
    path = tmp_path / "odd-exif.jpg"
    Image.new("RGB", (64, 48)).save(path, exif=bytes(exif))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = open_photo(path)
    assert got.orientation == 6
    assert got.image.size == (48, 64)
    assert [str(w.message) for w in caught] == []


def test_empty_and_damaged_headers_are_told_apart(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(NotAnImageError, match="empty"):
        open_photo(tmp_path / "empty.jpg")
    good = tmp_path / "good.png"
    Image.new("RGB", (20, 20)).save(good)
    data = bytearray(good.read_bytes())
    data[16:24] = b"\xff" * 8   # IHDR damaged, signature intact
    (tmp_path / "bad.png").write_bytes(bytes(data))
    with pytest.raises(CorruptImageError, match="PNG file whose header is damaged"):
        open_photo(tmp_path / "bad.png")


def test_out_of_memory_is_too_large_not_corrupt(tmp_path: Path) -> None:
    # A real MemoryError: a child process with little address space decodes a 144 MP PNG.
    resource = pytest.importorskip("resource")
    path = tmp_path / "huge.png"
    Image.new("L", (12000, 12000)).save(path)
    code = (
        "import resource, sys\n"
        "from photoclip.core.images import open_photo\n"
        "from photoclip.core.errors import ImageDecodeError\n"
        "import PIL.Image\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_AS)\n"
        "used = int(open('/proc/self/statm').read().split()[0]) * resource.getpagesize()\n"
        "resource.setrlimit(resource.RLIMIT_AS, (used + 150 * 2**20, hard))\n"
        "try:\n"
        f"    open_photo({str(path)!r})\n"
        "except ImageDecodeError as exc:\n"
        "    print(exc.kind, '|', exc.reason)\n"
    )
    if not Path("/proc/self/statm").exists():
        pytest.skip("needs /proc to size the child's address space")
    del resource
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "too large | not enough memory to decode it"


def test_heic_without_its_plugin_says_what_is_missing(tmp_path: Path) -> None:
    # In a child process where pillow-heif cannot be imported (absent from the install).
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    code = (
        "import sys\n"
        "sys.modules['pillow_heif'] = None\n"
        "from photoclip.core.images import open_photo, decoders\n"
        "from photoclip.core.errors import ImageDecodeError\n"
        "try:\n"
        f"    open_photo({str(path)!r})\n"
        "except ImageDecodeError as exc:\n"
        "    print(exc.kind, '|', exc.reason, '|', decoders())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    kind, reason, decoders = (part.strip() for part in out.stdout.split("|"))
    assert kind == "unsupported"
    assert reason == "HEIC support is not installed (pillow-heif)"
    assert "pillow-heif" not in decoders

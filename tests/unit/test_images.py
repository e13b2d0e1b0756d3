from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photoclip.core.errors import CorruptImageError, ImageTooLargeError, NotAnImageError
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

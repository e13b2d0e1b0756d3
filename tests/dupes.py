"""Drawn photos with their copies and bursts, for the duplicate tests.

A *family* is one original photo and the copies made of it here (re-encoded, resized,
slightly cropped). Look-alikes are different drawings of the same shape, colour and
background (the small model sees them as near-identical): they must never share a group.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw

from tests.models.shapes import COLOUR_NAMES, COLOURS, SHAPES, draw

SIZE = (320, 240)


@dataclass
class DrawnLibrary:
    families: list[list[Path]] = field(default_factory=list)   # original first, then copies
    singles: list[Path] = field(default_factory=list)          # photos with no copy
    bursts: list[list[Path]] = field(default_factory=list)

    def family_of(self) -> dict[str, int]:
        """path -> the index of the family or burst (offset by len(families)) it belongs to."""
        out = {str(p): i for i, fam in enumerate(self.families) for p in fam}
        out.update({str(p): len(self.families) + i for i, b in enumerate(self.bursts)
                    for p in b})
        return out


def copies_of(original: Path, out: Path) -> list[Path]:
    """A re-encoded, a resized (PNG) and a slightly cropped copy of ``original``."""
    img = Image.open(original).convert("RGB")
    w, h = img.size
    stem = original.stem
    (out / "messenger").mkdir(parents=True, exist_ok=True)
    (out / "exports").mkdir(parents=True, exist_ok=True)
    (out / "backup").mkdir(parents=True, exist_ok=True)
    reencoded = out / "backup" / f"{stem}-q60.jpg"
    img.save(reencoded, quality=60)
    resized = out / "messenger" / f"{stem}-small.png"
    img.resize((w // 2, h // 2), Image.Resampling.LANCZOS).save(resized)
    cropped = out / "exports" / f"{stem}-crop.jpg"
    img.crop((round(w * 0.04), round(h * 0.04), round(w * 0.96), round(h * 0.96))).save(
        cropped, quality=90)
    return [reencoded, resized, cropped]


def exif(camera: str, when: str) -> Image.Exif:
    """EXIF with a camera and a capture time ("YYYY:MM:DD HH:MM:SS")."""
    ex = Image.Exif()
    make = camera.partition(" ")[0]
    ex[0x010F] = make
    ex[0x0110] = camera
    ex.get_ifd(0x8769)[0x9003] = when
    return ex


def burst_frames(n: int, colour: str, background: str, step: float = 0.08
                 ) -> list[Image.Image]:
    """``n`` frames of one circle moving right by ``step`` of the width per frame: the same
    moment to a person, and different enough pictures that no content check joins them."""
    w, h = SIZE
    frames = []
    for i in range(n):
        img = Image.new("RGB", (w * 2, h * 2), COLOURS[background])
        r, cx, cy = h * 0.5, w * (0.7 + step * 2 * i), h
        ImageDraw.Draw(img).ellipse((cx - r, cy - r, cx + r, cy + r), fill=COLOURS[colour])
        frames.append(img.resize(SIZE, Image.Resampling.LANCZOS))
    return frames


def save_burst(folder: Path, name: str, frames: list[Image.Image], camera: str | None,
               spacing: int = 1) -> list[Path]:
    """Save frames taken ``spacing`` seconds apart by ``camera`` (no EXIF if None)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames):
        path = folder / f"{name}-{i}.jpg"
        if camera:
            t = i * spacing
            frame.save(path, quality=90,
                       exif=exif(camera, f"2023:06:01 10:{t // 60:02d}:{t % 60:02d}"))
        else:
            frame.save(path, quality=90)
        paths.append(path)
    return paths


def draw_duplicate_library(folder: Path, seed: int = 7, families: int = 8,
                           lookalikes: int = 4, singles: int = 10) -> DrawnLibrary:
    """Originals with copies, look-alike originals (with copies too), unrelated singles, and
    one burst of four frames."""
    rng = random.Random(seed)
    out = DrawnLibrary()
    originals = folder / "camera"
    originals.mkdir(parents=True, exist_ok=True)

    def original(name: str, shape: str, colour: str, bg: str) -> Path:
        path = originals / f"{name}.jpg"
        draw(shape, colour, bg, rng, SIZE).save(path, quality=92)
        return path

    for i in range(families):
        shape, colour = rng.choice(SHAPES), rng.choice(COLOUR_NAMES)
        bg = rng.choice([c for c in COLOUR_NAMES if c != colour])
        first = original(f"{colour}-{shape}-on-{bg}-{i}", shape, colour, bg)
        out.families.append([first, *copies_of(first, folder)])
        if i < lookalikes:
            # Another drawing of the very same shape, colour and background.
            twin = original(f"{colour}-{shape}-on-{bg}-{i}-twin", shape, colour, bg)
            out.families.append([twin, *copies_of(twin, folder / "twins")])
    for i in range(singles):
        shape, colour = rng.choice(SHAPES), rng.choice(COLOUR_NAMES)
        bg = rng.choice([c for c in COLOUR_NAMES if c != colour])
        out.singles.append(original(f"single-{colour}-{shape}-on-{bg}-{i}", shape, colour, bg))
    out.bursts.append(save_burst(folder / "burst", "burst", burst_frames(4, "orange", "blue"),
                                 "Canon EOS R6"))
    return out

"""Procedurally drawn test images: coloured shapes on plain backgrounds.

Shared by the training script of the small test model and by the tests that use it, so a
test's "red circle" is drawn exactly the way the model learned to see one.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "star")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (40, 170, 50),
    "blue": (35, 60, 215),
    "yellow": (245, 220, 30),
    "purple": (135, 45, 170),
    "orange": (250, 140, 20),
    "black": (15, 15, 15),
    "white": (245, 245, 245),
}
COLOUR_NAMES = tuple(COLOURS)


@dataclass(frozen=True)
class Drawing:
    shape: str
    colour: str
    background: str
    image: Image.Image


def _jitter(rgb: tuple[int, int, int], rng: random.Random, amount: int) -> tuple[int, int, int]:
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in rgb)  # type: ignore[return-value]


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if shape == "square":
        corners = 4
        radius = [r] * corners
        start = angle + math.pi / 4
    elif shape == "triangle":
        corners = 3
        radius = [r] * corners
        start = angle - math.pi / 2
    else:  # star: ten points alternating outer and inner radius
        corners = 10
        radius = [r if i % 2 == 0 else r * 0.42 for i in range(corners)]
        start = angle - math.pi / 2
    return [
        (cx + radius[i] * math.cos(start + 2 * math.pi * i / corners),
         cy + radius[i] * math.sin(start + 2 * math.pi * i / corners))
        for i in range(corners)
    ]


def draw(
    shape: str,
    colour: str,
    background: str,
    rng: random.Random,
    size: tuple[int, int] | None = None,
) -> Image.Image:
    """Draw one shape, kept inside the centred square a CLIP centre-crop keeps.

    ``size`` is the canvas (width, height); by default a random one between 64 and 320 px
    with a random aspect ratio up to 3:2, so the model sees varied scales.
    """
    if size is None:
        w = rng.randint(64, 320)
        h = int(w * rng.uniform(0.67, 1.5))
        size = (w, max(48, h))
    w, h = size
    # Draw at 2x and downsample for anti-aliased edges, like a photo of a real object.
    scale = 2
    img = Image.new("RGB", (w * scale, h * scale), _jitter(COLOURS[background], rng, 12))
    side = min(w, h) * scale
    x0, y0 = (w * scale - side) / 2, (h * scale - side) / 2
    r = side * rng.uniform(0.2, 0.4)
    margin = r * 1.05
    cx = x0 + rng.uniform(margin, side - margin)
    cy = y0 + rng.uniform(margin, side - margin)
    fill = _jitter(COLOURS[colour], rng, 15)
    d = ImageDraw.Draw(img)
    if shape == "circle":
        d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    else:
        d.polygon(_polygon(shape, cx, cy, r, rng.uniform(-0.5, 0.5)), fill=fill)
    return img.resize((w, h), Image.Resampling.LANCZOS)


def random_drawing(rng: random.Random, size: tuple[int, int] | None = None) -> Drawing:
    shape = rng.choice(SHAPES)
    colour = rng.choice(COLOUR_NAMES)
    background = rng.choice([c for c in COLOUR_NAMES if c != colour])
    return Drawing(shape, colour, background, draw(shape, colour, background, rng, size))

"""Drawn photos of a concept the test model has no words for, for the learned-label tests.

The small model was trained on captions that name *one* shape, its colour and the
background ("a black square on a white background"). The concept here is **two shapes in
one photo: a black square and a red star together on white**, which no caption it ever saw
describes. The library around it is built so that every description the model does know
fits other photos better:

- ``near``: what the words can say about the concept, without the concept: a black square
  alone on white, a red star alone on white, two black squares, two red stars;
- ``other_pairs``: the same pair on other backgrounds, and other pairs of shapes on white;
- ``random``: single shapes of any colour on any background.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw

from tests.models.shapes import COLOUR_NAMES, COLOURS, SHAPES, _jitter, _polygon, random_drawing

SIZE = (160, 120)
CONCEPT = (("square", "black"), ("star", "red"), "white")
# What someone would type for these photos in the model's own words (the text baseline).
DESCRIPTIONS = (
    "a black square and a red star",
    "a black square and a red star on a white background",
    "a black square on a white background",
    "a red star on a white background",
    "a black square",
    "a red star",
    "a white background",
)


def draw_shapes(shapes: list[tuple[str, str]], background: str, rng: random.Random,
                size: tuple[int, int] = SIZE) -> Image.Image:
    """One shape, or two side by side, inside the centred square the model's crop keeps."""
    w, h = size
    scale = 2   # drawn at 2x and downsampled, like tests/models/shapes.py
    img = Image.new("RGB", (w * scale, h * scale), _jitter(COLOURS[background], rng, 12))
    d = ImageDraw.Draw(img)
    side = min(w, h) * scale
    x0, y0 = (w * scale - side) / 2, (h * scale - side) / 2
    if len(shapes) == 1:
        r = side * rng.uniform(0.2, 0.4)
        slots = [(x0 + rng.uniform(r * 1.05, side - r * 1.05),
                  y0 + rng.uniform(r * 1.05, side - r * 1.05), r)]
    else:
        slots = []
        for half in (0, 1):
            r = side * rng.uniform(0.16, 0.22)
            lo = x0 + half * side / 2 + r * (1.05 if half == 0 else 0.2)
            hi = x0 + (half + 1) * side / 2 - r * (0.2 if half == 0 else 1.05)
            slots.append((rng.uniform(lo, hi), y0 + rng.uniform(r * 1.05, side - r * 1.05), r))
        if rng.random() < 0.5:
            slots.reverse()   # either shape may be on the left
    for (shape, colour), (cx, cy, r) in zip(shapes, slots, strict=True):
        fill = _jitter(COLOURS[colour], rng, 15)
        if shape == "circle":
            d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
        else:
            d.polygon(_polygon(shape, cx, cy, r, rng.uniform(-0.5, 0.5)), fill=fill)
    return img.resize((w, h), Image.Resampling.LANCZOS)


@dataclass
class ConceptLibrary:
    concept: list[Path] = field(default_factory=list)
    near: list[Path] = field(default_factory=list)
    other_pairs: list[Path] = field(default_factory=list)
    random: list[Path] = field(default_factory=list)

    def all(self) -> list[Path]:
        return [*self.concept, *self.near, *self.other_pairs, *self.random]


def draw_concept_library(folder: Path, seed: int, *, concept: int = 20, near: int = 10,
                         others: int = 10, randoms: int = 60) -> ConceptLibrary:
    """Write the concept photos and their look-alikes as JPEGs (see the module doc)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    (a, b, bg) = CONCEPT
    out = ConceptLibrary()

    def save(img: Image.Image, kind: str, n: int) -> Path:
        path = folder / f"{kind}-{seed}-{n:03d}.jpg"
        img.save(path, quality=92)
        return path

    for i in range(concept):
        out.concept.append(save(draw_shapes([a, b], bg, rng), "concept", i))
    for i in range(near):
        for j, shapes in enumerate(([a], [b], [a, a], [b, b])):
            out.near.append(save(draw_shapes(shapes, bg, rng), f"near{j}", i))
    for i in range(others):
        other_bg = rng.choice([c for c in COLOUR_NAMES if c not in (bg, a[1], b[1])])
        out.other_pairs.append(save(draw_shapes([a, b], other_bg, rng), "pair-elsewhere", i))
        pair = [(rng.choice(SHAPES), rng.choice([c for c in COLOUR_NAMES if c != bg]))
                for _ in range(2)]
        if set(pair) == {a, b}:
            pair[0] = ("triangle", "purple")
        out.other_pairs.append(save(draw_shapes(pair, bg, rng), "other-pair", i))
    for i in range(randoms):
        out.random.append(save(random_drawing(rng, SIZE).image, "random", i))
    return out

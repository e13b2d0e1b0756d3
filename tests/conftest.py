"""Shared fixtures: the small trained model, drawn photos, strictness about threads."""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

import pytest

# Tests never touch the network and never open a real display.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.models.shapes import COLOUR_NAMES, Drawing, draw, random_drawing

SHAPES_MODEL = Path(__file__).resolve().parent / "models" / "shapes-clip"
SHAPES_SPEC = f"local-dir:{SHAPES_MODEL}"


@pytest.fixture(scope="session")
def shapes_spec() -> str:
    assert (SHAPES_MODEL / "open_clip_config.json").is_file(), (
        "the test model is missing: python tests/models/train_shapes.py")
    return SHAPES_SPEC


@pytest.fixture(scope="session")
def shapes_embedder(shapes_spec: str):
    from photoclip.core.embedder import Embedder

    emb = Embedder(shapes_spec)
    emb.load()
    return emb


def draw_photos(folder: Path, n: int, seed: int = 0, size: tuple[int, int] = (160, 120),
                fmt: str = "jpg") -> list[tuple[Path, Drawing]]:
    """Write ``n`` drawn shapes as photo files named after what they show."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        d = random_drawing(rng, size)
        path = folder / f"{d.colour}-{d.shape}-on-{d.background}-{seed}-{i}.{fmt}"
        d.image.save(path, quality=92) if fmt == "jpg" else d.image.save(path)
        out.append((path, d))
    return out


def draw_shapes_library(folder: Path, n: int, seed: int, red_circles: int = 4
                        ) -> list[tuple[Path, Drawing]]:
    """``n`` random drawings plus ``red_circles`` red circles on random other backgrounds."""
    out = draw_photos(folder, n, seed=seed)
    rng = random.Random(seed + 1000)
    for i in range(red_circles):
        bg = rng.choice([c for c in COLOUR_NAMES if c != "red"])
        img = draw("circle", "red", bg, rng, (160, 120))
        path = folder / f"extra-red-circle-{seed}-{i}.jpg"
        img.save(path, quality=92)
        out.append((path, Drawing("circle", "red", bg, img)))
    return out


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    draw_photos(folder, 24, seed=1)
    draw_photos(folder / "trip", 16, seed=2)
    return folder


@pytest.fixture
def library(tmp_path: Path, shapes_embedder):
    from photoclip.core import Library

    lib = Library.open(tmp_path / "library", embedder=shapes_embedder, decode_threads=2)
    yield lib
    lib.close()


@pytest.fixture(autouse=True)
def _no_thread_left_behind():
    """Fail any test that leaves a thread of its own running (qutebrowser-style strictness)."""
    before = set(threading.enumerate())
    yield
    deadline = 50
    leftover: list[threading.Thread] = []
    for _ in range(deadline):
        leftover = [t for t in threading.enumerate()
                    if t not in before and t.is_alive() and not t.daemon]
        if not leftover:
            return
        threading.Event().wait(0.1)
    pytest.fail(f"threads left running: {[t.name for t in leftover]}")

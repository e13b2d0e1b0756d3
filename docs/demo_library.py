"""Draw the demo library the README's screenshots were taken from.

    .venv/bin/python docs/demo_library.py /tmp/demo/photos

Four album folders of drawn shapes (what the small test model recognises), with camera
EXIF and capture dates spread over three years, plus a few resized exports so that
Tools -> Find duplicates has something to show. Then index it with the test model:

    PHOTOCLIP_MODEL=local-dir:tests/models/shapes-clip .venv/bin/photoclip \\
        --library /tmp/demo/lib index /tmp/demo/photos
    .venv/bin/photoclip --library /tmp/demo/lib     # the app; the library keeps its model
"""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.dupes import exif
from tests.models.shapes import COLOUR_NAMES, SHAPES, draw

ALBUMS = {"2024 Trip": datetime(2024, 7, 3), "2025 Spring": datetime(2025, 4, 12),
          "2025 Holiday": datetime(2025, 12, 20), "2026 Summer": datetime(2026, 8, 1)}
SIZES = ((1600, 1200), (1200, 1600), (1800, 1200))


def main(out: Path, per_album: int = 36) -> None:
    rng = random.Random(11)
    n = 0
    for album, start in ALBUMS.items():
        folder = out / album
        folder.mkdir(parents=True, exist_ok=True)
        for _ in range(per_album):
            n += 1
            shape, colour = rng.choice(SHAPES), rng.choice(COLOUR_NAMES)
            bg = rng.choice([c for c in COLOUR_NAMES if c != colour])
            when = start + timedelta(days=rng.randint(0, 40), minutes=rng.randint(0, 600))
            img = draw(shape, colour, bg, rng, rng.choice(SIZES))
            meta = exif("Pentax K-3 III", when.strftime("%Y:%m:%d %H:%M:%S"))
            path = folder / f"IMG_{n:04d}.jpg"
            img.save(path, quality=90, exif=meta)
            if n % 40 == 0:  # an export at half size that kept the camera's EXIF
                img.resize((img.width // 2, img.height // 2)).save(
                    folder / f"IMG_{n:04d}-small.jpg", quality=80, exif=meta)


if __name__ == "__main__":
    main(Path(sys.argv[1]))

"""Make camera-sized JPEGs (4032x3024, quality 90) from real photographs.

The photographs are the colour sample images that ship inside scikit-image (astronaut,
cat, coffee, motorcycle, rocket...). Each output is a random crop, flip and colour shift of
one of them, upscaled to 12 MP with fine sensor-like grain added, so the files decode and
weigh like phone/camera photos (3-6 MB) rather than flat colours, which decode unrealistically
fast. Needs the benchmark extra: pip install -e '.[bench]'.

    python benchmarks/make_corpus.py bench-data/camera 200
"""

from __future__ import annotations

import argparse
import importlib.util
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

SOURCES = ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png",
           "motorcycle_right.png", "rocket.jpg", "hubble_deep_field.jpg", "retina.jpg",
           "color.png", "ihc.png")
CAMERA = (4032, 3024)


def source_images() -> list[Image.Image]:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("needs scikit-image for its sample photos: pip install -e '.[bench]'")
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    out = []
    for name in SOURCES:
        if (data / name).is_file():
            out.append(Image.open(data / name).convert("RGB"))
    if not out:
        raise SystemExit(f"no sample photos found in {data}")
    return out


def make_one(src: Image.Image, rng: random.Random, nrng: np.random.Generator) -> Image.Image:
    w, h = src.size
    crop_w = int(w * rng.uniform(0.6, 1.0))
    crop_h = min(h, int(crop_w * 3 / 4))
    crop_w = int(crop_h * 4 / 3)
    x, y = rng.randint(0, w - crop_w), rng.randint(0, h - crop_h)
    img = src.crop((x, y, x + crop_w, y + crop_h))
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    img = ImageEnhance.Color(img).enhance(rng.uniform(0.7, 1.3))
    img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.8, 1.2))
    big = np.asarray(img.resize(CAMERA, Image.Resampling.BICUBIC), dtype=np.int16)
    grain = nrng.normal(0, 6, size=(*big.shape[:2], 1)).astype(np.int16)
    return Image.fromarray(np.clip(big + grain, 0, 255).astype(np.uint8))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("count", type=int)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    sources = source_images()
    rng = random.Random(args.seed)
    nrng = np.random.default_rng(args.seed)
    for i in range(args.count):
        path = args.folder / f"IMG_{i:05d}.jpg"
        if path.exists():
            continue
        make_one(sources[i % len(sources)], rng, nrng).save(path, quality=90)
    total = sum(p.stat().st_size for p in args.folder.glob("*.jpg"))
    n = len(list(args.folder.glob("*.jpg")))
    print(f"{n} photos in {args.folder}, {total / n / 1e6:.1f} MB each on average")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

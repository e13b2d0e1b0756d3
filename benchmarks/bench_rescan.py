"""How long a run over an unchanged library takes (the target: under 2 s for 10,000 photos).

Makes N small distinct JPEGs in nested folders, indexes them once with the small test model,
then times a second run twice: in-process ``Library.index()`` and the real CLI
(``photoclip index`` in a subprocess, interpreter start-up included).

    python benchmarks/bench_rescan.py --count 10000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

SHAPES_MODEL = Path(__file__).resolve().parents[1] / "tests" / "models" / "shapes-clip"


def make_photos(folder: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(count):
        sub = folder / f"{2020 + i % 5}" / f"{i % 12 + 1:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, size=(48, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(sub / f"IMG_{i:05d}.jpg", quality=85)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10_000)
    args = ap.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    from photoclip.core import Library

    spec = f"local-dir:{SHAPES_MODEL}"
    with tempfile.TemporaryDirectory() as work:
        photos, lib_dir = Path(work) / "photos", Path(work) / "lib"
        t0 = time.perf_counter()
        make_photos(photos, args.count)
        print(f"made {args.count} photos in {time.perf_counter() - t0:.1f} s")
        with Library.open(lib_dir, model=spec) as lib:
            lib.add_root(photos)
            t0 = time.perf_counter()
            first = lib.index()
            print(f"first run : {first.index.embedded} embedded in "
                  f"{time.perf_counter() - t0:.1f} s")
        with Library.open(lib_dir, model=spec) as lib:
            t0 = time.perf_counter()
            second = lib.index()
            took = time.perf_counter() - t0
        print(f"second run, in process: {second.index.embedded} embedded, "
              f"{second.scan.touched} changes, {took:.2f} s")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "photoclip", "--library", str(lib_dir),
                               "index"], capture_output=True, text=True, check=True)
        took = time.perf_counter() - t0
        print(f"second run, `photoclip index` subprocess: {took:.2f} s wall  "
              f"({proc.stderr.strip().splitlines()[-1]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

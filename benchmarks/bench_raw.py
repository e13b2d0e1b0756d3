"""Indexing RAW files: photos/s from the embedded preview, from LibRaw's half-size demosaic,
and the same pictures as JPEGs, side by side.

Writes N camera-sized DNG files (tests/rawfiles.py: a Bayer mosaic, 16-bit, uncompressed,
like many cameras' lossless output) twice, once with a full-size JPEG preview (what recent
cameras embed) and once without, plus the same pictures as JPEGs. Then, per folder: the
decode cost alone (one thread, what the model is fed: shorter side ≥ 224) and a whole
``Library.index()`` run with the small test model, so the figure is the file path's cost
rather than a big model's.

    python benchmarks/bench_raw.py --count 16 --size 4000x3000
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.rawfiles import write_dng  # noqa: E402

SHAPES_MODEL = ROOT / "tests" / "models" / "shapes-clip"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def picture(i: int, size: tuple[int, int]) -> Image.Image:
    """Smooth gradients with some texture: decodes like a photo, compresses like one."""
    w, h = size
    rng = np.random.default_rng(i)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([(x / w) * 200 + 30, (y / h) * 180 + 40,
                     ((x + y) / (w + h)) * 150 + 60], axis=-1)
    noise = rng.normal(0, 12, (h // 8, w // 8, 3)).astype(np.float32)
    base += np.kron(noise, np.ones((8, 8, 1), np.float32))[:h, :w]
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--size", default="4000x3000", help="sensor size WxH")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    size = (width, height)
    os.environ["HF_HUB_OFFLINE"] = "1"
    from photoclip.core import Library
    from photoclip.core.embedder import Embedder
    from photoclip.core.images import open_photo

    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; {args.count} photos of "
          f"{size[0]}x{size[1]} ({size[0] * size[1] / 1e6:.0f} MP)")
    embedder = Embedder(f"local-dir:{SHAPES_MODEL}")
    embedder.load()
    with tempfile.TemporaryDirectory() as tmp:
        folders = {name: Path(tmp) / name for name in ("raw-preview", "raw-only", "jpeg")}
        for folder in folders.values():
            folder.mkdir()
        t0 = time.perf_counter()
        for i in range(args.count):
            img = picture(i, size)
            write_dng(folders["raw-preview"] / f"DSC_{i:04d}.dng", img, preview=size)
            write_dng(folders["raw-only"] / f"DSC_{i:04d}.dng", img)
            img.save(folders["jpeg"] / f"DSC_{i:04d}.jpg", quality=90)
        mb = {name: sum(p.stat().st_size for p in f.iterdir()) / args.count / 1e6
              for name, f in folders.items()}
        print(f"files written in {time.perf_counter() - t0:.0f} s; per photo: " +
              ", ".join(f"{name} {size:.1f} MB" for name, size in mb.items()))
        for name, folder in folders.items():
            files = sorted(folder.iterdir())
            open_photo(files[0], 224)  # warm the decoders
            t0 = time.perf_counter()
            for path in files:
                open_photo(path, 224)
            decode_ms = (time.perf_counter() - t0) / len(files) * 1000
            lib_dir = Path(tmp) / f"lib-{name}"
            with Library.open(lib_dir, embedder=embedder) as lib:
                lib.add_root(folder)
                run = lib.index()
            assert run.index.embedded == len(files), run.index.failed
            print(f"{name:12s} decode {decode_ms:6.0f} ms/photo (one thread); "
                  f"index {run.index.rate:5.1f} photos/s "
                  f"(decode {run.index.stage_seconds['decode']:.1f} s summed over "
                  f"{lib.indexer.decode_threads} threads, model "
                  f"{run.index.stage_seconds['model']:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

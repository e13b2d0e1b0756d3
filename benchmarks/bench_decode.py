"""JPEG decoding cost per photo, Pillow's draft path against other libjpeg-turbo front ends.

Answers "would another decoder make indexing faster?": each row decodes the same camera
JPEGs (read into memory first, so the disk is not measured) to at least the model's input
size on one thread. Decoders that are not installed are skipped; to compare them all, in a
scratch environment:

    pip install pillow numpy simplejpeg opencv-python-headless
    python benchmarks/bench_decode.py bench-data/camera --count 30
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, features


def pillow(size: int | None) -> Callable[[bytes], object]:
    def decode(data: bytes) -> object:
        img = Image.open(io.BytesIO(data))
        if size:
            img.draft("RGB", (size, size))
        img.load()
        return img

    return decode


def decoders(size: int) -> dict[str, Callable[[bytes], object]]:
    found = {
        "Pillow, full size": pillow(None),
        "Pillow, draft (DCT scaling)": pillow(size),
    }
    try:
        import simplejpeg

        found["simplejpeg, min size"] = lambda data: simplejpeg.decode_jpeg(
            data, min_height=size, min_width=size)
    except ImportError:
        pass
    try:
        import cv2
        import numpy as np

        cv2.setNumThreads(1)
        found["OpenCV, IMREAD_REDUCED_COLOR_8"] = lambda data: cv2.imdecode(
            np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_COLOR_8)
    except ImportError:
        pass
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="camera JPEGs (benchmarks/make_corpus.py)")
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--size", type=int, default=256, help="model input size")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    files = sorted(args.folder.glob("*.jpg"))[: args.count]
    if not files:
        raise SystemExit(f"no JPEGs in {args.folder}; run benchmarks/make_corpus.py first")
    blobs = [f.read_bytes() for f in files]
    mb = sum(map(len, blobs)) / len(blobs) / 1e6
    print(f"{len(blobs)} JPEGs, {mb:.1f} MB each on average; Pillow's libjpeg-turbo "
          f"{features.version('libjpeg_turbo')}; best of {args.rounds} rounds, one thread")
    for name, decode in decoders(args.size).items():
        decode(blobs[0])
        best = float("inf")
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for data in blobs:
                decode(data)
            best = min(best, (time.perf_counter() - t0) / len(blobs))
        print(f"{name:32s} {best * 1000:6.1f} ms per photo")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

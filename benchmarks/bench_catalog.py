"""What the catalog's safety costs: quick_check at open, the full check, a backup, a repair.

Builds a real catalog of N photos with 512-d embeddings (the default model's size) and a
tag on every third photo, through ``Catalog`` itself, then times (best of three, warm
file cache):

- opening it for writing with and without the quick_check every open now runs,
- ``photoclip check`` (SQLite's full integrity_check),
- the backup made after an indexing run (SQLite backup API + quick_check of the copy),
- ``photoclip repair`` of the whole file (salvage into a new catalog).

    python benchmarks/bench_catalog.py --count 100000
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def build(path: Path, count: int, dim: int = 512) -> None:
    from photoclip.core.catalog import Catalog, PhotoMetadata

    cat = Catalog(path)
    root = cat.add_root("/photos")
    with cat.transaction() as db:
        ids = [cat.insert_photo(db, root.id, f"/photos/{i // 500}/IMG_{i:06d}.jpg",
                                3_000_000 + i, 1.7e9 + i, f"{i:032x}") for i in range(count)]
    rng = np.random.default_rng(0)
    for start in range(0, count, 5000):
        chunk = ids[start:start + 5000]
        vecs = rng.standard_normal((len(chunk), dim)).astype(np.float32)
        cat.commit_embeddings("m", [(pid, v, PhotoMetadata(4032, 3024, 1.7e9, "Cam", 1))
                                    for pid, v in zip(chunk, vecs, strict=True)])
    cat.replace_auto_tags("scenes", [(pid, "beach", 0.9) for pid in ids[::3]])
    cat.close()


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def best_of(n: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100_000)
    args = ap.parse_args()
    from photoclip.core.catalog import Catalog
    from photoclip.core.library import catalog_problems
    from photoclip.core.repair import salvage

    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "catalog.sqlite"
        t0 = time.perf_counter()
        build(path, args.count)
        size = path.stat().st_size
        print(f"catalog of {args.count:,} photos: {size / 1e6:.0f} MB "
              f"(built in {time.perf_counter() - t0:.1f} s)")
        checked = best_of(3, lambda: Catalog(path).close())
        unchecked = best_of(3, lambda: Catalog(path, check=False).close())
        print(f"open for writing: {checked * 1000:.0f} ms with quick_check, "
              f"{unchecked * 1000:.0f} ms without (check: {(checked - unchecked) * 1000:.0f} ms)")
        print(f"full integrity check (photoclip check): "
              f"{best_of(3, lambda: catalog_problems(folder)) * 1000:.0f} ms")
        cat = Catalog(path)
        try:
            backups = folder / "backups"
            print(f"backup after a run (copy + quick_check of the copy): "
                  f"{best_of(3, lambda: cat.backup(backups, keep=1)) * 1000:.0f} ms")
        finally:
            cat.close()

        def repair() -> None:
            out = folder / "repaired.sqlite"
            out.unlink(missing_ok=True)
            salvage(path, out)

        print(f"repair (salvage every row into a new catalog): {best_of(1, repair):.2f} s")
        shutil.rmtree(folder / "backups", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

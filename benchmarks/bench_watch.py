"""Latency from a photo landing in a watched folder to being searchable (target: median <= 2 s).

Runs the real FolderWatcher with its default debounce and settle times on an idle library
(the small test model by default, or --model SPEC), copies photos in one at a time, and
measures until each is returned by a search. Prints median, p90 and max.

    python benchmarks/bench_watch.py --count 20
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--model", default=f"local-dir:{ROOT / 'tests' / 'models' / 'shapes-clip'}")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from photoclip.core import Library
    from photoclip.core.watcher import FolderWatcher
    from tests.conftest import draw_photos

    with tempfile.TemporaryDirectory() as work:
        root, incoming = Path(work) / "photos", Path(work) / "incoming"
        draw_photos(root, 20, seed=1, size=(1600, 1200))
        new = draw_photos(incoming, args.count, seed=2, size=(1600, 1200))
        with Library.open(Path(work) / "lib", model=args.model) as lib:
            lib.add_root(root)
            lib.index()
            lib.embedder.encode_texts(["a photo"])
            watcher = FolderWatcher(lib)  # default debounce and settle
            watcher.start()
            time.sleep(2.0)  # let the start-up reconcile finish: measure an idle app
            latencies = []
            try:
                for path, _ in new:
                    target = root / path.name
                    t0 = time.perf_counter()
                    shutil.copyfile(path, target)
                    while True:
                        photo = lib.catalog.photo_by_path(str(target))
                        if photo is not None and lib.catalog.embedding(
                                photo.id, lib.embedder.signature) is not None and any(
                                h.photo.path == str(target)
                                for h in lib.search("a photo", top=1000)):
                            break
                        time.sleep(0.01)
                    latencies.append(time.perf_counter() - t0)
            finally:
                watcher.stop()
    latencies.sort()
    print(f"{len(latencies)} photos, debounce {watcher.debounce}s, settle {watcher.settle}s, "
          f"model {args.model.rsplit('/', 1)[-1]}")
    print(f"landing -> searchable: median {statistics.median(latencies):.2f} s, "
          f"p90 {latencies[int(0.9 * (len(latencies) - 1))]:.2f} s, max {latencies[-1]:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``photoclip search TEXT`` as a whole process: what people who script the CLI feel.

Builds a library of the given photos with the benchmark model (random weights, real
architecture) once, then times complete ``photoclip search`` processes (interpreter start,
imports, opening the library, embedding the query, the k-NN search, printing), median of
``--runs``. By default a query is embedded by the library's exported text tower (numpy, no
torch); ``--torch`` removes the export first to time the torch path for comparison, in the
same run. Also prints the cosine between the two paths' query embeddings.

    python benchmarks/bench_search.py bench-data/camera --count 40
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_index import ROOT, cpu_line, make_random_model

QUERY = "kids on a beach at sunset"
WARM_QUERIES = [
    "grandma's birthday cake", "snowy mountain lake", "a dog on the sofa",
    "the red kayak on the river", "fireworks over the harbour", "a plate of spaghetti",
    "children building a sandcastle", "a cat asleep in the sun", "the old stone bridge",
    "a wedding dance", "autumn leaves in the park", "a train station at night",
    "people hiking in the fog", "a bowl of ramen", "a sailing boat at sea",
    "a crowded market street", "a snowman in the garden", "the northern lights",
    "a bicycle against a wall", "a rainy window",
]


def time_search(lib: str, env: dict[str, str], runs: int) -> tuple[float, float, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "photoclip", "--library", lib, "search", QUERY,
                        "--top", "10"], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), max(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--arch", default="ViT-B-32-256")
    ap.add_argument("--model-dir", type=Path, default=Path(tempfile.gettempdir()) /
                    "photoclip-bench-model")
    ap.add_argument("--torch", action="store_true", help="also time the torch path")
    args = ap.parse_args()
    model = make_random_model(args.arch, args.model_dir)
    print(cpu_line())
    with tempfile.TemporaryDirectory() as work:
        photos = Path(work) / "photos"
        photos.mkdir()
        for p in sorted(args.folder.glob("*.jpg"))[:args.count]:
            os.symlink(p.resolve(), photos / p.name)
        lib = str(Path(work) / "library")
        env = dict(os.environ, PHOTOCLIP_CACHE_DIR=str(Path(work) / "cache"),
                   PYTHONPATH=str(ROOT))
        subprocess.run([sys.executable, "-m", "photoclip", "--library", lib, "--model",
                        f"local-dir:{model}", "index", str(photos)], env=env, check=True,
                       capture_output=True)
        from photoclip.core import Library

        with Library.open(lib, readonly=True) as library:
            fast = library.text_vector(QUERY)
            exported = library.precision_report()["search"]
            library.embedder.load()
            slow = library.embedder.encode_texts([QUERY])[0]
            # The app's path: the model is loaded, every query a new text (repeats are
            # cached), the whole search_matches call as the grid's worker makes it.
            t0 = time.perf_counter()
            library.search_matches("the first query after the model has loaded")
            first = time.perf_counter() - t0   # builds the query tower (Embedder)
            warm = []
            for text in WARM_QUERIES:
                t0 = time.perf_counter()
                library.search_matches(text)
                warm.append(time.perf_counter() - t0)
            path = library.precision_report()["search"]
            # The same queries through each text tower alone (no cache, no search), for
            # the ratio: which tower is quicker depends on the CPU.
            torch_only, numpy_only = [], []
            import torch

            tower = library.embedder._numpy_text
            for text in WARM_QUERIES:
                t0 = time.perf_counter()
                library.embedder._torch_texts(torch, [text + "."])
                torch_only.append(time.perf_counter() - t0)
                if tower:
                    t0 = time.perf_counter()
                    tower.encode([text + "."])
                    numpy_only.append(time.perf_counter() - t0)
        print(f"query embedding, exported tower vs torch: cosine {float(fast @ slow):.6f}")
        print(f"warm query in process (model loaded, as the app searches): median "
              f"{1000 * statistics.median(warm):.0f} ms (min {1000 * min(warm):.0f}, max "
              f"{1000 * max(warm):.0f}; {len(warm)} different queries; {path}); the "
              f"query's embedding alone through torch: median "
              f"{1000 * statistics.median(torch_only):.0f} ms"
              + (f", through numpy: median {1000 * statistics.median(numpy_only):.0f} ms"
                 if numpy_only else "")
              + f"; the first query after loading {1000 * first:.0f} ms")
        load = os.getloadavg()[0]
        med, lo, hi = time_search(lib, env, args.runs)
        print(f"photoclip search as a process ({exported}): median {med:.2f} s "
              f"(min {lo:.2f}, max {hi:.2f}, {args.runs} runs; load before {load:.2f})")
        if args.torch:
            shutil.rmtree(Path(lib) / "text-tower")
            load = os.getloadavg()[0]
            med, lo, hi = time_search(lib, env, args.runs)
            print(f"photoclip search as a process (torch text tower): median {med:.2f} s "
                  f"(min {lo:.2f}, max {hi:.2f}; load before {load:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``photoclip index FOLDER`` into a new library, as a user runs it: end to end, and when
the first photos become searchable.

Each run starts the real CLI in a subprocess on a fresh library and measures, from the
moment the process starts:

- time to first searchable: the first embedding committed to the catalog (what a search
  from another process sees), polled every 50 ms through a read-only SQLite connection;
- the whole command: wall time, photos/s overall (model load, label-set prompts, tagging,
  the text-tower export: everything), and the process's peak RSS.

``--cache cold`` gives each run an empty user cache (the first library ever on this
computer: prompts embedded, precision checked); ``warm`` runs once beforehand to fill it
(a second library). ``--cpu-class`` runs the precision ladder of another CPU class
(PHOTOCLIP_CPU_CLASS): the choice is emulated, this CPU's instructions are not;
``--avx2-only`` also limits torch's kernels to AVX2 (what an AVX2-only CPU runs, on this
CPU's cores). ``--early-decode thread`` measures the decoding done while the model loads
on a thread instead of photoclip's helper process, side by side with ``--against .``.

    python benchmarks/bench_cli_index.py bench-data/camera --count 300 --runs 3
    git worktree add /tmp/before HEAD~3 && python benchmarks/bench_cli_index.py \
        bench-data/camera --runs 3 --against /tmp/before      # side by side
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_index import AVX2_ONLY_ENV, ROOT, cpu_line, make_random_model


def first_embedding(catalog: Path) -> bool:
    if not catalog.is_file():
        return False
    try:
        db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=0.05)
        try:
            return db.execute("SELECT 1 FROM embeddings LIMIT 1").fetchone() is not None
        finally:
            db.close()
    except sqlite3.Error:
        return False


def one_run(photos: Path, model: Path, cache: Path, env: dict[str, str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as lib:
        cmd = [sys.executable, "-m", "photoclip", "--library", lib, "--model",
               f"local-dir:{model}", "index", str(photos)]
        t0 = time.perf_counter()
        with tempfile.TemporaryFile("w+") as err:
            # cwd too: ``python -m`` puts the working folder first on sys.path.
            proc = subprocess.Popen(cmd, env={**env, "PHOTOCLIP_CACHE_DIR": str(cache)},
                                    cwd=env["PYTHONPATH"], stdout=subprocess.DEVNULL,
                                    stderr=err, text=True)
            first = None
            catalog = Path(lib) / "catalog.sqlite"
            while True:
                # wait4: this child's own peak RSS (RUSAGE_CHILDREN would be the largest
                # of every child so far, the other checkout's runs included).
                pid, status_code, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if first is None and first_embedding(catalog):
                    first = time.perf_counter() - t0
                time.sleep(0.05)
            wall = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status_code)
            if proc.returncode:
                err.seek(0)
                raise SystemExit(f"photoclip index failed:\n{err.read()}")
        if first is None:
            first = wall
        rss_kb = usage.ru_maxrss
        status = subprocess.run([sys.executable, "-m", "photoclip", "--library", lib, "status"],
                                env={**env, "PHOTOCLIP_CACHE_DIR": str(cache)},
                                cwd=env["PYTHONPATH"], capture_output=True, text=True,
                                check=True).stdout
        image = next((ln for ln in status.splitlines() if "image tower" in ln), "").strip()
        return {"first": first, "wall": wall, "rss_mb": rss_kb / 1024,
                "image": image}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="camera JPEGs (benchmarks/make_corpus.py)")
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--arch", default="ViT-B-32-256")
    ap.add_argument("--model-dir", type=Path, default=Path(tempfile.gettempdir()) /
                    "photoclip-bench-model")
    ap.add_argument("--cache", choices=["cold", "warm"], default="cold")
    ap.add_argument("--cpu-class", help="run this class's precision ladder (emulated choice)")
    ap.add_argument("--avx2-only", action="store_true",
                    help="limit torch's instructions to AVX2 too (the AVX2 ladder on the "
                         "kernels an AVX2-only CPU runs; this CPU's cores and clocks)")
    ap.add_argument("--early-decode", choices=["process", "thread"],
                    help="where photos are decoded while the model loads (default: as "
                         "photoclip chooses); with --against, for this checkout only")
    ap.add_argument("--against", type=Path, metavar="CHECKOUT",
                    help="another photoclip checkout (e.g. a git worktree of an older commit) "
                         "run in turn with this one, each run alternating, for a side-by-side "
                         "comparison on the same machine at the same time")
    args = ap.parse_args()
    photos = sorted(args.folder.glob("*.jpg"))[:args.count]
    if len(photos) < args.count:
        raise SystemExit(f"only {len(photos)} photos in {args.folder}")
    make_random_model(args.arch, args.model_dir)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if args.cpu_class:
        env["PHOTOCLIP_CPU_CLASS"] = args.cpu_class
    if args.avx2_only:
        env.update(AVX2_ONLY_ENV)
        os.environ.update(AVX2_ONLY_ENV)   # for cpu_line
    print(cpu_line(env.get("PHOTOCLIP_CPU_CLASS")))
    print(f"{len(photos)} photos, {args.arch} (random weights), user cache {args.cache}; "
          f"load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as work:
        subset = Path(work) / "photos"
        subset.mkdir()
        for p in photos:
            os.symlink(p.resolve(), subset / p.name)
        trees = [("this", ROOT)] + ([("against", args.against.resolve())]
                                    if args.against else [])
        for n in range(args.runs):
            for name, tree in trees:
                tree_env = dict(env, PYTHONPATH=str(tree))
                if args.early_decode and name == "this":
                    tree_env["PHOTOCLIP_EARLY_DECODE"] = args.early_decode
                cache = Path(work) / f"cache-{name}-{n}"
                if args.cache == "warm":
                    one_run(subset, args.model_dir, cache, tree_env)
                load = os.getloadavg()[0]
                r = one_run(subset, args.model_dir, cache, tree_env)
                label = f"run {n + 1}" + (f" [{name}: {tree}]" if args.against else "")
                print(f"{label}: first searchable {r['first']:5.2f} s, whole command "
                      f"{r['wall']:5.1f} s = {len(photos) / r['wall']:5.2f} photos/s, peak "
                      f"RSS {r['rss_mb']:.0f} MB (load before {load:.2f}); {r['image']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

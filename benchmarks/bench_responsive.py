"""How long the window's event loop stalls while the app loads its model and indexes.

Opens the real main window (offscreen), loads the model, then adds a folder of photos.
Meanwhile it records the time between ticks of a 10 ms timer while a user scrolls the grid
(one step every 150 ms). A tick late by more than ~100 ms is a stutter a person sees. For
each phase it prints the gaps' median, 99th percentile and worst, how many were over 50 and
100 ms, the garbage collector's full passes (each holds the GIL), and the indexing rate
(what the window's responsiveness costs the indexer).

Each run is a fresh process and a fresh library. ``--against CHECKOUT`` runs another
checkout in alternation (side by side on this machine); ``--switch-interval S`` runs this
checkout with sys.setswitchinterval(S) too, ``--background-nice N`` with the nice value
added to background threads (photoclip.gui.workers) set to N.

    git worktree add /tmp/before HEAD~1
    python benchmarks/bench_responsive.py bench-data/camera --count 120 --runs 3 \\
        --against /tmp/before
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_index import cpu_line, make_random_model

ROOT = Path(__file__).resolve().parents[1]


def child(folder: Path, model: str, switch: float | None, nice: int | None) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    # The checkout chosen by the parent, ahead of the one bench_index put first.
    sys.path.insert(0, os.environ["PYTHONPATH"])
    import gc

    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from photoclip.gui import workers
    from photoclip.gui.app import create_window
    from photoclip.gui.controller import ModelState
    from photoclip.settings import Settings

    app = QApplication([])
    work = Path(tempfile.mkdtemp())
    os.environ["PHOTOCLIP_CACHE_DIR"] = str(work / "cache")
    os.environ["PHOTOCLIP_CONFIG_DIR"] = str(work / "config")
    window = create_window(work / "library", model, Settings())
    if switch is not None:
        sys.setswitchinterval(switch)
    if nice is not None:
        workers._BACKGROUND_NICE = nice
    window.resize(1280, 800)
    window.show()
    controller = window.controller

    collections: list[tuple[int, float]] = []
    began = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            collections.append((info["generation"], (time.perf_counter() - began[0]) * 1000))

    clock = QElapsedTimer()
    clock.start()
    ticks: list[int] = []
    tick = QTimer(interval=10)
    tick.timeout.connect(lambda: ticks.append(clock.elapsed()))
    bar = window.grid.verticalScrollBar()
    steps = [0]

    def scroll() -> None:
        steps[0] += 1
        bar.setValue((steps[0] * 60) % max(1, bar.maximum() + 1))

    user = QTimer(interval=150)
    user.timeout.connect(scroll)

    def phase(start: Any) -> dict:
        """Ticks while ``start()``'s work runs, until no job is left."""
        ticks.clear()
        collections.clear()
        gc.callbacks.append(on_gc)
        tick.start()
        user.start()
        t0 = time.perf_counter()
        start()
        started = False
        while not started or not controller.jobs.settled():
            started = started or bool(controller.jobs.active())
            app.processEvents()
            time.sleep(0.002)
        wall = time.perf_counter() - t0
        tick.stop()
        user.stop()
        gc.callbacks.remove(on_gc)
        return {"gaps": [b - a for a, b in itertools.pairwise(ticks)], "wall": wall,
                "gc": list(collections)}

    ready: list[bool] = []
    controller.model_state.connect(
        lambda state, _m: ready.append(True) if state is ModelState.READY else None)
    loading = phase(controller.load_model)
    if not ready:
        raise SystemExit("the model did not load")
    indexing = phase(lambda: controller.add_folders([str(folder)]))
    indexing["photos"] = len(window.model.paths())
    indexing["code"] = str(Path(workers.__file__).parents[2])
    window.close()
    return {"loading": loading, "indexing": indexing,
            "interval": sys.getswitchinterval(), "nice": workers._BACKGROUND_NICE}


def summary(run: dict) -> str:
    gaps = sorted(run["gaps"])
    p99 = gaps[int(len(gaps) * 0.99)]
    rate = f"; {run['photos'] / run['wall']:.2f} photos/s" if "photos" in run else ""
    return (f"{run['wall']:.1f} s{rate}; event-loop gaps median "
            f"{statistics.median(gaps):.0f} ms, p99 {p99:.0f} ms, worst {gaps[-1]:.0f} ms, "
            f"over 50 ms {sum(g > 50 for g in gaps)}, over 100 ms "
            f"{sum(g > 100 for g in gaps)}; full collections "
            f"{[round(ms) for g, ms in run['gc'] if g == 2]} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, nargs="?", help="photos (benchmarks/make_corpus.py)")
    ap.add_argument("--count", type=int, default=120)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--arch", default="ViT-B-32-256")
    ap.add_argument("--model-dir", type=Path, default=Path(tempfile.gettempdir()) /
                    "photoclip-bench-model")
    ap.add_argument("--model", help="a model spec instead of --arch with random weights "
                    "(e.g. local-dir:tests/models/shapes-clip, the tests' small model)")
    ap.add_argument("--switch-interval", type=float, help="compare with this GIL interval")
    ap.add_argument("--background-nice", type=int, help="compare with this nice value")
    ap.add_argument("--against", type=Path, metavar="CHECKOUT",
                    help="another photoclip checkout (a git worktree of an older commit), run "
                         "in alternation with this one")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        folder, model, switch, nice = args.child
        assert "photoclip" not in sys.modules
        print(json.dumps(child(Path(folder), model, None if switch == "-" else float(switch),
                               None if nice == "-" else int(nice))))
        return 0
    photos = sorted(p for p in args.folder.iterdir() if p.is_file())[:args.count]
    model = args.model or f"local-dir:{make_random_model(args.arch, args.model_dir)}"
    print(cpu_line(None))
    print(f"{len(photos)} photos, {args.model or args.arch + ' (random weights)'}; load average "
          f"{os.getloadavg()[0]:.2f}")
    sides = [("this checkout", ROOT, "-", "-")]
    if args.against is not None:
        sides.append((f"{args.against}", args.against.resolve(), "-", "-"))
    if args.switch_interval is not None:
        sides.append((f"switch interval {args.switch_interval}", ROOT,
                      str(args.switch_interval), "-"))
    if args.background_nice is not None:
        sides.append((f"background nice {args.background_nice}", ROOT, "-",
                      str(args.background_nice)))
    with tempfile.TemporaryDirectory() as work:
        subset = Path(work) / "photos"
        subset.mkdir()
        for p in photos:
            os.symlink(p.resolve(), subset / p.name)
        for run in range(args.runs):
            for name, root, switch, nice in sides:
                env = dict(os.environ, PYTHONPATH=str(root), HF_HUB_OFFLINE="1")
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(subset),
                     model, switch, nice],
                    env=env, capture_output=True, text=True, check=True).stdout
                got = json.loads(out.strip().splitlines()[-1])
                assert got["indexing"]["code"] == str(root), got["indexing"]["code"]
                print(f"run {run + 1}, {name} (GIL interval {got['interval']}, nice "
                      f"{got['nice']}):\n  loading the model: {summary(got['loading'])}\n"
                      f"  indexing: {summary(got['indexing'])}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

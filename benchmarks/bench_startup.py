"""Time from `photoclip gui` to its window on screen, with a 10,000-photo library.

Needs a real X display (run under `xvfb-run -a`) and xdotool. Builds the library once in
--work (10,000 small photos indexed with the small test model), then starts the app
several times and waits for a mapped window titled "photoclip".

    xvfb-run -a python benchmarks/bench_startup.py --work /tmp/startup-bench
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rescan import SHAPES_MODEL, make_photos


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/photoclip-startup"))
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--screenshot", type=Path, help="save a screenshot of the last run")
    args = ap.parse_args()
    if not os.environ.get("DISPLAY"):
        raise SystemExit("needs an X display: xvfb-run -a python benchmarks/bench_startup.py")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PHOTOCLIP_MODEL": f"local-dir:{SHAPES_MODEL}",
           "PHOTOCLIP_CACHE_DIR": str(args.work / "cache"),
           "PHOTOCLIP_CONFIG_DIR": str(args.work / "config"), "QT_QPA_PLATFORM": "xcb"}
    lib = args.work / "lib"
    if not (lib / "catalog.sqlite").exists():
        make_photos(args.work / "photos", args.count)
        subprocess.run([sys.executable, "-m", "photoclip", "--library", str(lib), "index",
                        str(args.work / "photos")], env=env, check=True)
    times = []
    for run in range(args.runs):
        t0 = time.perf_counter()
        app = subprocess.Popen([sys.executable, "-m", "photoclip", "--library", str(lib), "gui"],
                               env=env)
        try:
            while subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^photoclip$"],
                                 capture_output=True).returncode != 0:
                if app.poll() is not None:
                    raise SystemExit(f"the app exited with {app.returncode}")
                time.sleep(0.02)
            times.append(time.perf_counter() - t0)
            if args.screenshot and run == args.runs - 1:
                time.sleep(4)
                subprocess.run(["import", "-window", "root", str(args.screenshot)], check=True)
        finally:
            app.terminate()
            app.wait(30)
    print(f"{args.count} photos: window on screen in {statistics.median(times):.2f} s "
          f"(median of {len(times)}: {', '.join(f'{t:.2f}' for t in times)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The timeline of 100,000 photos: time to open, and time per frame while scrolling it.

Fills the app's real grid (PhotoListModel + PhotoGridView) with N catalog rows dated over
ten years, grouped by month as the app's browse view shows them (sections computed as the
app's worker does), then scrolls from top to bottom one page at a time, forcing a repaint
each step, and prints the median, p99 and worst frame. The photos do not exist on disk, so
every cell paints the "could not be shown" placeholder after a failed thumbnail decode: the
worst case for a first scroll. Also times a "jump to a year" through the year list.

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_grid.py --count 100000
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--group", default="month", choices=("day", "month", "year", "none"))
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PYSIDE6_OPTION_LAZY", "0")   # as the app runs (gui/__init__.py)
    from PySide6.QtWidgets import QApplication

    from photoclip.core.catalog import Photo
    from photoclip.gui.grid import PhotoGridView
    from photoclip.gui.models import PhotoListModel
    from photoclip.gui.thumbnails import ThumbnailCache
    from photoclip.gui.timeline import sections_for

    app = QApplication([])
    now = time.time()
    span = 10 * 365 * 86400
    with tempfile.TemporaryDirectory() as cache:
        thumbs = ThumbnailCache(Path(cache))
        model = PhotoListModel(thumbs)
        # Newest first, as the browse query returns them; one in eight has no EXIF date.
        photos = [Photo(i, 1, f"/nowhere/IMG_{i:06d}.jpg", 1000, now - i * span / args.count,
                        "h", 4032, 3024, None if i % 8 == 0 else now - i * span / args.count,
                        None, None, "ok", None) for i in range(args.count)]
        view = PhotoGridView()
        view.setModel(model)
        view.resize(1200, 800)
        view.show()
        t0 = time.perf_counter()
        sections = sections_for(photos, args.group)
        grouped = time.perf_counter() - t0
        t1 = time.perf_counter()
        model.set_photos(photos)
        view.set_sections(sections)
        view.viewport().repaint()
        app.processEvents()
        shown = time.perf_counter() - t1
        bar = view.verticalScrollBar()
        steps = []
        while bar.value() < bar.maximum():
            t = time.perf_counter()
            bar.setValue(bar.value() + bar.pageStep())
            view.viewport().repaint()
            app.processEvents()
            steps.append((time.perf_counter() - t) * 1000)
        jumps = []
        years = [i for i, s in enumerate(sections) if i == 0 or s.year != sections[i - 1].year]
        for i in years:
            t = time.perf_counter()
            view.scroll_to_section(i)
            view.viewport().repaint()
            app.processEvents()
            jumps.append((time.perf_counter() - t) * 1000)
        thumbs.shutdown()
    p99 = sorted(steps)[int(0.99 * (len(steps) - 1))]
    print(f"{args.count:,} photos in {len(sections):,} {args.group} sections: grouped in "
          f"{grouped * 1000:.0f} ms (worker thread), model filled, laid out and first frame "
          f"painted in {shown * 1000:.0f} ms; scrolling {len(steps):,} page steps: median "
          f"{statistics.median(steps):.1f} ms, p99 {p99:.1f} ms, worst {max(steps):.1f} ms; "
          "jump to a year: median "
          f"{statistics.median(jumps):.1f} ms over {len(jumps)} years")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

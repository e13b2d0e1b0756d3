"""Scrolling the thumbnail grid through 100,000 photos: time per page step, offscreen.

Fills the real PhotoListModel/QListView of the app with N catalog rows (photos that do not
exist on disk, so every cell paints its placeholder after a failed thumbnail decode — the
worst case for a first scroll), then scrolls from top to bottom one page at a time, forcing a
repaint each step, and prints the median and worst step.

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
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSize
    from PySide6.QtWidgets import QApplication, QListView

    from photoclip.core.catalog import Photo
    from photoclip.gui.models import PhotoListModel
    from photoclip.gui.thumbnails import ThumbnailCache

    app = QApplication([])
    with tempfile.TemporaryDirectory() as cache:
        thumbs = ThumbnailCache(Path(cache))
        model = PhotoListModel(thumbs)
        photos = [Photo(i, 1, f"/nowhere/IMG_{i:06d}.jpg", 1000, 0.0, "h", 4032, 3024, None,
                        None, None, "ok", None) for i in range(args.count)]
        view = QListView()
        view.setViewMode(QListView.ViewMode.IconMode)
        view.setResizeMode(QListView.ResizeMode.Adjust)
        view.setUniformItemSizes(True)
        view.setLayoutMode(QListView.LayoutMode.Batched)
        view.setBatchSize(500)
        view.setIconSize(QSize(160, 160))
        view.setGridSize(QSize(176, 196))
        view.setModel(model)
        view.resize(1200, 800)
        view.show()
        t0 = time.perf_counter()
        model.set_photos(photos)
        while view.verticalScrollBar().maximum() < 100 or app.hasPendingEvents() \
                if hasattr(app, "hasPendingEvents") else False:
            app.processEvents()
        for _ in range(200):  # let the batched layout finish
            app.processEvents()
        filled = time.perf_counter() - t0
        bar = view.verticalScrollBar()
        steps = []
        while bar.value() < bar.maximum():
            t = time.perf_counter()
            bar.setValue(bar.value() + bar.pageStep())
            view.viewport().repaint()
            app.processEvents()
            steps.append((time.perf_counter() - t) * 1000)
        thumbs.shutdown()
    print(f"{args.count} photos: model filled and laid out in {filled:.2f} s; "
          f"{len(steps)} page steps, median {statistics.median(steps):.1f} ms, "
          f"p99 {sorted(steps)[int(0.99 * (len(steps) - 1))]:.1f} ms, "
          f"worst {max(steps):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

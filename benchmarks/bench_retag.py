"""Re-tagging time over 100,000 stored embeddings (target: <= 5 s), no image decoded.

Embeds --distinct drawn photos with the small test model, then stores those real
embeddings for --count photo rows (each distinct embedding repeated), and times
``Library.tag()`` for the shapes label set and for all sets, prompts already cached (as
after any first tagging) and with a cold prompt cache.

    python benchmarks/bench_retag.py --count 100000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--distinct", type=int, default=2000)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from photoclip.core import Library
    from photoclip.core.catalog import PhotoMetadata
    from tests.conftest import draw_photos

    with tempfile.TemporaryDirectory() as work:
        photos = Path(work) / "photos"
        draw_photos(photos, args.distinct, seed=5, size=(96, 72))
        spec = f"local-dir:{ROOT / 'tests' / 'models' / 'shapes-clip'}"
        with Library.open(Path(work) / "lib", model=spec) as lib:
            lib.add_root(photos)
            lib.index()
            lib.import_label_set(ROOT / "tests" / "data" / "shapes.toml")
            ids, vecs = lib.catalog.all_embeddings(lib.embedder.signature)
            root = lib.catalog.roots()[0]
            extra = args.count - len(ids)
            t0 = time.perf_counter()
            for start in range(0, extra, 10_000):
                with lib.catalog.transaction() as db:
                    new = [lib.catalog.insert_photo(db, root.id, f"{photos}/copy-{i}.jpg", 1,
                                                    0.0, f"h{i}")
                           for i in range(start, min(extra, start + 10_000))]
                lib.catalog.commit_embeddings(lib.embedder.signature, [
                    (pid, vecs[k % len(vecs)], PhotoMetadata(96, 72))
                    for k, pid in enumerate(new)])
            n = lib.status().indexed
            print(f"{n} stored embeddings ({len(ids)} distinct, from drawn photos); "
                  f"stored in {time.perf_counter() - t0:.1f} s")
            for label, set_name in (("shapes set (4 labels)", "shapes"),
                                    ("all sets", None)):
                t0 = time.perf_counter()
                tags = lib.tag(set_name)
                print(f"re-tag, {label}: {time.perf_counter() - t0:.2f} s, {tags} tags")
            with lib.catalog.transaction() as db:
                db.execute("DELETE FROM text_embeddings")
            t0 = time.perf_counter()
            lib.tag()
            print(f"re-tag, all sets, cold prompt cache: {time.perf_counter() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

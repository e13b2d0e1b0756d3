"""Duplicate search time over 100,000 stored embeddings, and the cost of the content check.

No model runs: the catalog is filled with --count synthetic 512-d unit vectors (the
default ViT-B-32-256's size) shaped like a photo library's, so the k-NN self-join has
realistic work to do:
- every photo shares a common direction with all others (CLIP embeddings of unrelated
  photos sit around cosine 0.25) and one of count/20 topics (same-topic photos ~0.70),
- 10% are in series of 5 shots of one scene (~0.86 apart: near, not duplicates),
- 3% have one to three copies (cosine 0.96-0.995), 1% are bursts of 3-8 frames (~0.94)
  from one camera one second apart.
The catalog is real SQLite, the index real hnswlib (built from the catalog, timed apart).

Timed: ``Library.find_duplicates`` with the embeddings only (``confirm=False``), and with
confirmation against content signatures already stored (the second and later searches: every
candidate's signature is in the catalog; copies get equal ones). The first search also
decodes each candidate once: that cost is measured per photo on --photos camera-sized JPEGs
(4032x3024, quality 90) and multiplied by the candidates of this library.

    python benchmarks/bench_duplicates.py --count 100000
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                flags = next((ln for ln in Path("/proc/cpuinfo").read_text().splitlines()
                              if ln.startswith("flags")), "")
                extra = [f for f in ("avx512_bf16", "amx_bf16") if f in flags.split()]
                return f"{name}, {os.cpu_count()} cores{', ' + ', '.join(extra) if extra else ''}"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def library_vectors(count: int, dim: int, rng: np.random.Generator
                    ) -> tuple[np.ndarray, list[tuple[int, int] | None], list[int]]:
    """(vectors, (burst id, frame) or None per photo, copy-family id per photo or -1)."""
    common = unit(rng.normal(size=dim))
    topics = unit(rng.normal(size=(max(1, count // 20), dim)))
    vecs: list[np.ndarray] = []
    burst: list[tuple[int, int] | None] = []
    family: list[int] = []

    def photo() -> np.ndarray:
        t = topics[rng.integers(len(topics))]
        return unit(0.5 * common + 0.67 * t + 0.55 * unit(rng.normal(size=dim)))

    n_burst = n_family = 0
    while len(vecs) < count:
        roll = rng.random()
        base = photo()
        if roll < 0.02:      # a series of 5 shots of one scene: near, not duplicates
            shots = [unit(base + 0.4 * unit(rng.normal(size=dim))) for _ in range(5)]
            vecs += shots
            burst += [None] * 5
            family += [-1] * 5
        elif roll < 0.03:    # a photo and its copies
            k = int(rng.integers(1, 4))
            copies = [unit(base + rng.uniform(0.1, 0.3) * unit(rng.normal(size=dim)))
                      for _ in range(k)]
            vecs += [base, *copies]
            burst += [None] * (k + 1)
            family += [n_family] * (k + 1)
            n_family += 1
        elif roll < 0.032:   # a burst
            k = int(rng.integers(3, 9))
            vecs += [unit(base + 0.25 * unit(rng.normal(size=dim))) for _ in range(k)]
            burst += [(n_burst, i) for i in range(k)]
            family += [-1] * k
            n_burst += 1
        else:
            vecs.append(base)
            burst.append(None)
            family.append(-1)
    return (np.asarray(vecs[:count], dtype=np.float32), burst[:count], family[:count])


def signature_cost(n: int, work: Path) -> float:
    """Seconds per photo for a content signature of a 4032x3024 JPEG (one thread)."""
    from PIL import Image, ImageDraw

    from photoclip.core.duplicates import content_signature

    rng = np.random.default_rng(3)
    paths = []
    for i in range(n):
        # Texture all over (noise at several scales) so the JPEG is camera-like in size.
        small = rng.integers(0, 255, size=(378, 504, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((4032, 3024), Image.Resampling.BILINEAR)
        noise = rng.integers(0, 40, size=(3024, 4032, 3), dtype=np.uint8)
        img = Image.fromarray(np.asarray(img) // 2 + noise)
        ImageDraw.Draw(img).ellipse((800 + 40 * i, 600, 2800, 2400), fill=(200, 40, 40))
        path = work / f"camera-{i}.jpg"
        img.save(path, quality=90)
        paths.append(path)
    size = sum(p.stat().st_size for p in paths) / n / 1e6
    content_signature(str(paths[0]))  # warm up
    t0 = time.perf_counter()
    for p in paths:
        content_signature(str(p))
    per = (time.perf_counter() - t0) / n
    print(f"content signature of a 4032x3024 JPEG ({size:.1f} MB): {per * 1000:.1f} ms "
          f"(1/8-scale DCT decode + 16x16 grey), one thread, mean of {n}")
    return per


def exact_pairs(vecs: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    """Every pair of rows at or above ``threshold`` (row numbers, lower first)."""
    out: set[tuple[int, int]] = set()
    for start in range(0, len(vecs), 2000):
        sims = vecs[start:start + 2000] @ vecs.T
        rows, cols = np.nonzero(sims >= threshold)
        out |= {(int(r) + start, int(c)) for r, c in zip(rows, cols, strict=True)
                if int(r) + start < int(c)}
    return out


def loose_pairs(lib: object, threshold: float) -> set[tuple[int, int]]:
    """The pairs the k-NN self-join finds, as row numbers (photo ids start at 1)."""
    from photoclip.core.duplicates import _candidate_pairs

    model = lib.embedder.signature  # type: ignore[attr-defined]
    ids, vecs = lib.catalog.all_embeddings(model)  # type: ignore[attr-defined]
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    pairs = _candidate_pairs(ids, vecs, lib._ensure_vectors(), threshold, None, None)  # type: ignore[attr-defined]
    return {(a - 1, b - 1) for a, b in pairs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--photos", type=int, default=12, help="camera JPEGs for the decode cost")
    ap.add_argument("--recall", action="store_true",
                    help="also count the exact pairs above the threshold (a blocked matrix "
                         "product over all vectors: about a minute at 100,000)")
    ap.add_argument("--threshold", type=float, default=None,
                    help="default: the fallback threshold other models than the test's get")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from photoclip.core import Library
    from photoclip.core.catalog import PhotoMetadata
    from photoclip.core.duplicates import FALLBACK_THRESHOLD

    threshold = FALLBACK_THRESHOLD if args.threshold is None else args.threshold
    print(f"CPU: {cpu_name()}")
    rng = np.random.default_rng(0)
    vecs, burst, family = library_vectors(args.count, args.dim, rng)
    with tempfile.TemporaryDirectory() as work:
        photos = Path(work) / "photos"
        photos.mkdir()
        per_photo = signature_cost(args.photos, Path(work))
        spec = f"local-dir:{ROOT / 'tests' / 'models' / 'shapes-clip'}"
        with Library.open(Path(work) / "lib", model=spec) as lib:  # the model is never loaded
            root = lib.add_root(photos)
            t0 = time.perf_counter()
            ids: list[int] = []
            for start in range(0, args.count, 10_000):
                stop = min(args.count, start + 10_000)
                with lib.catalog.transaction() as db:
                    ids += [lib.catalog.insert_photo(db, root.id, f"{photos}/p{i}.jpg",
                                                     10_000 + i, 0.0, f"h{i}")
                            for i in range(start, stop)]
                items = []
                for i in range(start, stop):
                    b = burst[i]
                    meta = (PhotoMetadata(4032, 3024, 1.7e9 + 100 * b[0] + b[1], "Camera X")
                            if b else PhotoMetadata(4032, 3024))
                    items.append((ids[i], vecs[i], meta))
                lib.catalog.commit_embeddings(lib.embedder.signature, items)
            print(f"{lib.status().indexed} stored embeddings ({args.dim}-d, synthetic); "
                  f"stored in {time.perf_counter() - t0:.1f} s")
            t0 = time.perf_counter()
            lib._ensure_vectors()
            print(f"hnswlib index built from the catalog in {time.perf_counter() - t0:.1f} s "
                  "(once; a library keeps it on disk)")

            t0 = time.perf_counter()
            loose = lib.find_duplicates(threshold=threshold, confirm=False)
            print(f"duplicate search, embeddings only, threshold {threshold}: "
                  f"{time.perf_counter() - t0:.2f} s; {loose.candidate_pairs} candidate pairs, "
                  f"{len(loose.groups)} groups")

            if args.recall:
                exact = exact_pairs(vecs, threshold)
                found = len(exact & loose_pairs(lib, threshold))
                print(f"k-NN recall: {found} of the {len(exact)} pairs at cosine >= "
                      f"{threshold} ({100 * found / max(1, len(exact)):.1f}%)")
            # Every photo's signature stored (copies share one), as after a first search.
            sig_rng = np.random.default_rng(1)
            fam_sig: dict[int, bytes] = {}
            sigs: dict[tuple[int, str], bytes] = {}
            for i in range(args.count):
                if family[i] >= 0:
                    sig = fam_sig.setdefault(family[i], sig_rng.integers(
                        0, 255, 256, dtype=np.uint8).tobytes())
                else:
                    sig = sig_rng.integers(0, 255, 256, dtype=np.uint8).tobytes()
                sigs[(10_000 + i, f"h{i}")] = sig
            lib.catalog.store_content_signatures(sigs)
            t0 = time.perf_counter()
            report = lib.find_duplicates(threshold=threshold)
            seconds = time.perf_counter() - t0
            kinds = {k: sum(g.kind == k for g in report.groups) for k in ("copies", "burst")}
            planted = (len({f for f in family if f >= 0}),
                       len({b[0] for b in burst if b is not None}))
            print(f"duplicate search, confirmed, signatures stored: {seconds:.2f} s; "
                  f"{report.candidate_pairs} candidate pairs, {report.confirmed_pairs} "
                  f"confirmed, {kinds['copies']} copy groups ({planted[0]} planted), "
                  f"{kinds['burst']} burst groups ({planted[1]} planted), "
                  f"{report.signatures_computed} signatures computed")
            candidates = loose.candidate_photos
            threads = min(4, os.cpu_count() or 1)
            print(f"a first search would also decode the {candidates} photos in candidate "
                  f"pairs once: ~{candidates * per_photo / threads:.0f} s on {threads} "
                  f"threads at {per_photo * 1000:.0f} ms each (camera JPEGs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Labels learned from a few photos: which way of scoring finds the rest (precision@10).

Draws the learned-label test library for several seeds (tests/concepts.py: a black square
and a red star *together* on white, a concept the repo's small model has no words for,
among photos that fit every description it does know better), indexes it with the small
model (tests/models/shapes-clip), takes 4 concept photos as the examples and measures how
many of the next 10 photos (examples left out) are the concept, and the
R-precision (of the next 16, as many as there are concept photos left), for:

- photoclip's learned label (the examples' mean, Rocchio; core/concepts.py), through
  ``Library.learn_label`` and ``Library.label_ranking``, as the app and CLI run it;
- the nearest example (a photo's best cosine to any one example);
- the best single example as the only query (an oracle: the best of the 4, chosen after
  the fact);
- a logistic regression over the whole embedding, examples against the library;
- the best text query in the model's vocabulary (an oracle over tests/concepts.DESCRIPTIONS);
- after feedback: the user rejects the 2 highest-ranked mistakes, and the direction is
  pushed away from them by gamma = 0 / 0.25 (photoclip) / 0.5 / 1.0;
- with words: the same label learned with the prompt "a black square and a red star".

    python benchmarks/bench_learned.py --seeds 5
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LABEL, SET = "square with star", "bench"


def p_at(ranked: list[str], good: set[str], k: int = 10) -> float:
    return float(np.mean([p in good for p in ranked[:k]]))


def rank(paths: list[str], scores: np.ndarray, leave_out: set[str]) -> list[str]:
    order = np.argsort(-scores, kind="stable")
    return [paths[i] for i in order if paths[i] not in leave_out]


def one_seed(seed: int, spec: str, work: Path) -> dict[str, tuple[float, float]]:
    from photoclip.core import Library
    from photoclip.core import concepts as c
    from tests.concepts import DESCRIPTIONS, draw_concept_library

    drawn = draw_concept_library(work / f"photos-{seed}", seed=seed)
    concept = {str(p) for p in drawn.concept}
    examples = [str(p) for p in drawn.concept[:4]]
    out: dict[str, tuple[float, float]] = {}

    def score(ranked: list[str]) -> tuple[float, float]:
        """(precision@10, R-precision: precision at the number of concept photos left)."""
        return p_at(ranked, concept), p_at(ranked, concept, len(concept) - 4)

    with Library.open(work / f"lib-{seed}", model=spec) as lib:
        lib.add_root(work / f"photos-{seed}")
        lib.index()
        model = lib.embedder.signature
        ids, vecs = lib.catalog.all_embeddings(model, lib.catalog.searchable_ids(model))
        photos = lib.catalog.photos_by_ids([int(i) for i in ids])
        paths = [photos[int(i)].path for i in ids]
        row = {p: i for i, p in enumerate(paths)}
        pos = vecs[[row[p] for p in examples]]
        leave = set(examples)

        lib.learn_label(LABEL, SET, examples)
        ranked = [r.photo.path for r in lib.label_ranking(SET, LABEL)]
        out["learned label (photoclip)"] = score([p for p in ranked if p not in leave])
        out["nearest example"] = score(rank(paths, (vecs @ pos.T).max(1), leave))
        out["best single example (oracle)"] = max(
            score(rank(paths, vecs @ e, leave)) for e in pos)
        # examples against the rest of the library, balanced, a mild ridge (a strong one
        # is the mean again; a weak one separates 4 points from the rest any way it likes)
        y = np.array([p in leave for p in paths], dtype=np.float64)
        w = np.where(y > 0, 0.5 / y.sum(), 0.5 / (len(y) - y.sum()))
        coef = c._logistic(vecs.astype(np.float64), y, w, l2=1e-2)
        out["logistic regression, whole embedding"] = score(
            rank(paths, vecs @ coef[:-1], leave))
        out["best text query (oracle)"] = max(
            score([h.photo.path for h in lib.search(q, top=40) if h.photo.path not in leave])
            for q in DESCRIPTIONS)

        # Feedback: the two highest-ranked mistakes are rejected.
        mistakes = [p for p in ranked if p not in leave and p not in concept][:2]
        neg = vecs[[row[p] for p in mistakes]]
        for gamma in (0.0, 0.25, 0.5, 1.0):
            q = pos.mean(0) - gamma * neg.mean(0)
            q /= np.linalg.norm(q)
            out[f"after 2 rejections, gamma {gamma:g}"] = score(
                rank(paths, vecs @ q, leave | set(mistakes)))

        lib.learn_label(LABEL + " w", SET, examples,
                        prompts=["a black square and a red star"])
        ranked = [r.photo.path for r in lib.label_ranking(SET, LABEL + " w")]
        out["learned label + words (photoclip)"] = score(
            [p for p in ranked if p not in leave])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    spec = f"local-dir:{ROOT / 'tests' / 'models' / 'shapes-clip'}"
    start = time.perf_counter()
    rows: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PHOTOCLIP_CACHE_DIR"] = str(Path(tmp) / "cache")
        for seed in range(args.seeds):
            for name, value in one_seed(seed, spec, Path(tmp)).items():
                rows.setdefault(name, []).append(value)
    print(f"{args.seeds} drawn libraries, 4 examples each, 16 concept photos left to find "
          f"({time.perf_counter() - start:.0f} s); mean (min) over the libraries:")
    width = max(map(len, rows))
    print(f"  {'':<{width}}  precision@10   R-precision")
    for name, values in rows.items():
        p10, rp = (np.array(v) for v in zip(*values, strict=True))
        print(f"  {name:<{width}}  {p10.mean():.2f} ({p10.min():.1f})    "
              f"{rp.mean():.2f} ({rp.min():.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

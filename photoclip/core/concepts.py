"""Labels learned from the user's own photos ("our dog Rex", "the striped tablecloth").

A learned label is defined by example photos (and photos the user said it is *not*), stored
by content (``size:hash``, as the scanner identifies a file) so a moved or renamed photo
stays an example. Scoring works on stored embeddings only, like every other label.

How a photo is scored (measured on drawn test concepts: benchmarks/bench_learned.py, figures
in the README's "Teach photoclip your own labels"):

- **Direction.** The mean of the examples' unit embeddings minus a quarter of the
  negatives' mean (Rocchio's relevance feedback), re-normalised. From 4 examples this ranked
  better than a logistic regression over the whole embedding (which learns "what differs
  from the library" rather than "what the examples share"), than the nearest example, and
  than the best single example chosen after the fact. After two rejections a quarter lifts
  R-precision (0.85 -> 0.91); a half or more pushes away true matches that resemble the
  rejected photos (0.76 at a half, nothing at 1).
- **Calibration.** Image-to-image cosines are not image-to-text cosines: a photo's cosine to
  its look-alikes' mean is 0.9 and more where a matching caption reaches 0.3 (real CLIP) or
  0.6 (the test model), and the spread differs from model to model. Rather than assume a
  scale, the cosine to the direction is turned into log-odds by a one-feature logistic
  regression fitted, each time the label changes, on the user's own library: the examples
  (each scored against the others, so it is not its own evidence) against a background
  sample of the library, rejected photos counting four times. Classes are balanced, so
  log-odds 0 means "as like the examples as like the library at large".
- **Words.** Prompts the user gives for a learned label enter as a second feature of the
  same regression (the label's zero-shot log-odds against the neutral class), so the
  examples decide how much the words count. (While this was built, a fixed-weight sum of
  the two let the words override the examples; that comparison is not kept as a benchmark.)

The label's score is then its softmax against the neutral class alone (``logit = neutral
logit + log-odds``, so the score is ``sigmoid(log-odds)``): a probability, compared with the
set's threshold like any other, but not in competition with the set's word labels (a
personal label usually refines one: "Rex" is a "dog"). Sharing the word labels' softmax
pushed the concept's own photos down its ranking when this was built (p@10 1.0 -> 0.6 in a
set with "square" and "star"; tests/unit/test_learned.py checks a shared set still finds
them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

MIN_EXAMPLES = 3            # what "Create label from these…" and `labels learn` ask for
NEGATIVE_WEIGHT = 0.25      # Rocchio's gamma: how far the negatives push the direction
NEGATIVE_EVIDENCE = 4.0     # a rejected photo counts as this many background photos
BACKGROUND_SAMPLE = 2000    # library photos the calibration compares the examples with
L2 = 1e-5                   # a weak prior: keeps the slope finite when the classes separate
LEARNED_THRESHOLD = 0.8     # new personal sets: measured (README), 4:1 for the examples

_CONTENT = re.compile(r"^(\d+):([0-9a-f]{8,64})$")


def content_key(size: int, digest: str) -> str:
    """A file's content identity as stored in label sets: ``"size:hash"``."""
    return f"{int(size)}:{digest}"


def parse_content(text: str) -> tuple[int, str] | None:
    """``"size:hash"`` -> (size, hash), or None if it is not one."""
    match = _CONTENT.match(text.strip())
    return (int(match.group(1)), match.group(2)) if match else None


@dataclass(frozen=True)
class Example:
    """One photo of a learned label, by content; ``path`` is where it was last seen."""

    content: str
    path: str = ""


@dataclass(frozen=True)
class Learned:
    """What defines a learned label: photos that show it, and photos that do not."""

    examples: tuple[Example, ...] = ()
    negatives: tuple[Example, ...] = ()

    def role(self, content: str) -> str | None:
        """"example", "negative" or None: what this content is to the label."""
        if any(e.content == content for e in self.examples):
            return "example"
        if any(e.content == content for e in self.negatives):
            return "negative"
        return None

    def with_role(self, content: str, path: str, role: str | None) -> Learned:
        """This definition with one photo made an example, a negative, or neither."""
        examples = tuple(e for e in self.examples if e.content != content)
        negatives = tuple(e for e in self.negatives if e.content != content)
        if role == "example":
            examples += (Example(content, path),)
        elif role == "negative":
            negatives += (Example(content, path),)
        return Learned(examples, negatives)

    def with_paths(self, paths: dict[str, str]) -> Learned:
        """The same photos with their last known paths brought up to date."""
        def fresh(items: tuple[Example, ...]) -> tuple[Example, ...]:
            return tuple(Example(e.content, paths.get(e.content, e.path)) for e in items)

        return Learned(fresh(self.examples), fresh(self.negatives))


@dataclass(frozen=True)
class ConceptData:
    """The stored embeddings a learned label is fitted on (rows are unit vectors)."""

    examples: np.ndarray                 # (P, D)
    negatives: np.ndarray                # (Q, D)
    background: np.ndarray               # (B, D): a sample of the library
    missing: tuple[str, ...] = ()        # contents with no embedding for this model
    # zero-shot log-odds of the label's prompts for the same rows (None: no prompts)
    text: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


@dataclass(frozen=True)
class Concept:
    """A fitted learned label: ``log_odds(x) = slope * (x . direction - offset) + w * text``."""

    direction: np.ndarray
    slope: float
    offset: float
    text_weight: float = 0.0
    examples: int = 0
    negatives: int = 0
    stats: dict[str, float] = field(default_factory=dict, compare=False)

    def log_odds(self, vecs: np.ndarray, text: np.ndarray | None = None) -> np.ndarray:
        out = self.slope * (vecs @ self.direction - self.offset)
        if text is not None and self.text_weight:
            out = out + self.text_weight * text
        return out.astype(np.float32)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v) + 1e-12)


def direction(examples: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """Rocchio: the examples' mean, pushed a little away from the negatives' mean."""
    q = examples.mean(0)
    if len(negatives):
        q = q - NEGATIVE_WEIGHT * negatives.mean(0)
    return _unit(q).astype(np.float32)


def _logistic(features: np.ndarray, y: np.ndarray, weights: np.ndarray,
              l2: float = L2, iters: int = 60) -> np.ndarray:
    """Weighted L2-regularised logistic regression by Newton's method; last weight: bias.

    Tiny problems (one or two features), so Newton converges in a handful of steps; the
    bias is not regularised.
    """
    x = np.hstack([features, np.ones((len(features), 1))]).astype(np.float64)
    w = np.zeros(x.shape[1])
    reg = np.full(x.shape[1], l2)
    reg[-1] = 1e-9
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -40, 40)))
        grad = x.T @ (weights * (p - y)) + reg * w
        hess = (x * (weights * p * (1 - p))[:, None]).T @ x + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def fit(data: ConceptData) -> Concept | None:
    """Fit a learned label on its examples, negatives and a library sample (see module doc).

    None when no example has an embedding for the model in use (nothing to learn from).
    """
    pos, neg, bg = data.examples, data.negatives, data.background
    if not len(pos):
        return None
    q = direction(pos, neg)
    # Each example is scored against a direction made without it: an example is always
    # close to a mean it is part of, which would make the calibration over-confident.
    pos_cos = np.empty(len(pos), dtype=np.float64)
    for i in range(len(pos)):
        others = np.delete(pos, i, axis=0)
        pos_cos[i] = float(pos[i] @ direction(others, neg)) if len(others) else 1.0
    # Likewise a rejected photo, against a direction its own rejection did not shape.
    neg_cos = np.array([float(neg[i] @ direction(pos, np.delete(neg, i, axis=0)))
                        for i in range(len(neg))])
    bg_cos = bg @ q if len(bg) else np.zeros(0)
    cos = np.concatenate([pos_cos, neg_cos, bg_cos])
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg) + len(bg))])
    # Balanced classes: the examples weigh as much as everything else together.
    other = NEGATIVE_EVIDENCE * len(neg) + len(bg)
    if other == 0:
        # Nothing to compare with (a library of only these photos): a fixed, gentle slope
        # centred halfway between the examples and orthogonality.
        return Concept(q, 10.0, float(pos_cos.mean()) / 2, 0.0, len(pos), len(neg))
    weights = np.concatenate([np.full(len(pos), 0.5 / len(pos)),
                              np.full(len(neg), 0.5 * NEGATIVE_EVIDENCE / other),
                              np.full(len(bg), 0.5 / other)])
    features = cos[:, None]
    if data.text is not None:
        t_pos, t_neg, t_bg = data.text
        features = np.hstack([features, np.concatenate([t_pos, t_neg, t_bg])[:, None]])
    w = _logistic(features, y, weights)
    slope = float(w[0])
    if slope <= 1e-6:
        # The examples are no closer to their own mean than the library is (examples of
        # nothing in common): keep a small positive slope so the ranking still follows them.
        slope = 1.0
    offset = -float(w[-1]) / slope
    text_weight = max(0.0, float(w[1])) if data.text is not None else 0.0
    stats = {"examples_cos": float(pos_cos.mean()),
             "background_cos": float(bg_cos.mean()) if len(bg) else float("nan"),
             "negatives_cos": float(neg_cos.mean()) if len(neg) else float("nan")}
    return Concept(q, slope, offset, text_weight, len(pos), len(neg), stats)


def sample_ids(ids: Sequence[int], n: int = BACKGROUND_SAMPLE) -> list[int]:
    """A deterministic sample of photo ids that changes little as a library grows.

    Ids are ranked by a multiplicative hash, so the same photos stay in the sample when
    others are added, and the calibration does not jump from one batch to the next.
    """
    if len(ids) <= n:
        return sorted(ids)
    return sorted(sorted(ids, key=lambda i: (int(i) * 2654435761) & 0xFFFFFFFF)[:n])

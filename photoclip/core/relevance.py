"""Where search results stop being relevant.

A fixed "top 500" fills the grid even for nonsense. Instead, the results of a query are cut
where the scores fall off, measured in the model's own units: its learned logit scale turns
a cosine difference into a log-likelihood ratio (CLIP's softmax over candidates is
``exp(scale * cosine)``), so one rule fits every model.

1. **Window**: only photos at least 1/1000 as likely as the best one, under the model's
   softmax, are candidates: ``score >= best - ln(1000) / scale``.
2. **Gap**: inside the window, the results are cut at the largest drop between consecutive
   scores. A query that describes some photos (and not others) shows a sharp drop right
   after the last photo it describes.
3. **Clear or not**: the cut is *clear* when that drop is at least ``ln(5)`` logits (the last
   photo kept is 5x more likely than the first one left out). Otherwise nothing stands
   out: a nonsense query, or one the library has no photo for. Then the largest drop is
   only the largest of many small ones, and may lie anywhere (measured: after the 2nd
   photo for "xyzzy", after the 123rd of 124 for "a photo of a cat"), so at most the
   closest :data:`UNCLEAR_KEEP` above it are shown, and the app and the CLI say there was
   no clear match. Photos that score the same (copies of one file: only the last bits of
   their scores differ, by how a batch was summed) are never split by that limit.
4. **Floor**: a photo is kept only if the query describes it better than a neutral caption
   ("a photo.", "a picture.", …) does: the same neutral class auto-tagging uses, so a query
   must beat "just a photo" to count as a match.

Measured on the drawn test photos with the small test model (benchmarks aside): real
queries ("a red circle", "a star", "a blue square on a yellow background") are cut at
exactly their matching drawings with drops of 2.9–3.7 logits; nonsense ("xyzzy",
"qwpoeiru blorf", "an invoice from the tax office") has its largest drop at 0.4–1.2 logits,
and so do queries for what no drawing shows ("a dog", "a beach at sunset", "a photo of a
cat": 0.2–0.3 logits); each keeps at most 8 photos. "Show weaker matches" lifts the cut
(``weaker=True``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

WINDOW_RATIO = 1000.0   # candidates: at least 1/1000 as likely as the best photo
CLEAR_RATIO = 5.0       # a clear cut: the last kept photo 5x as likely as the next
UNCLEAR_KEEP = 8        # no clear cut: "the closest few", one row of the app's grid
TIE = 1e-4              # cosines closer than this are one score (copies of one file)


@dataclass(frozen=True)
class Cut:
    keep: int          # how many of the best-first scores are relevant
    clear: bool        # whether they stand out (False: no clear match)
    window: int        # how many are within the window (what "weaker matches" adds up to)


def cut_scores(scores: np.ndarray, logit_scale: float) -> Cut:
    """Where ``scores`` (cosines, best first) stop being relevant; see the module doc."""
    n = len(scores)
    if n == 0:
        return Cut(0, False, 0)
    scale = max(float(logit_scale), 1e-6)
    floor = float(scores[0]) - math.log(WINDOW_RATIO) / scale
    window = int(np.searchsorted(-scores, -floor, side="right"))
    window = max(1, min(window, n))
    # The drop just past the window counts too: a set that fills the window ends there.
    span = scores[:min(window + 1, n)]
    if len(span) < 2:
        return Cut(window, False, window)
    drops = (span[:-1] - span[1:]) * scale
    at = int(np.argmax(drops))
    if drops[at] >= math.log(CLEAR_RATIO):
        return Cut(at + 1, True, window)
    keep = min(at + 1, UNCLEAR_KEEP)
    while keep < window and scores[keep - 1] - scores[keep] < TIE:
        keep += 1   # twelve copies of one photo are shown together, not four of them
    return Cut(keep, False, window)

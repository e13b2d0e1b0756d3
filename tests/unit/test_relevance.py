"""Where search results stop being relevant (core/relevance.py), on score lists."""

from __future__ import annotations

import numpy as np

from photoclip.core.relevance import UNCLEAR_KEEP, cut_scores


def test_copies_of_one_photo_are_never_split_by_the_closest_few() -> None:
    # Twelve copies of one file score alike up to the last bits (a batch's summation
    # order), then a slow slide with no clear drop: the closest few must take all twelve.
    rng = np.random.default_rng(3)
    copies = 0.57 + rng.uniform(-1e-6, 1e-6, 12)
    slide = np.linspace(0.56, 0.50, 45)
    scores = np.sort(np.concatenate([copies, slide]))[::-1]
    cut = cut_scores(scores, logit_scale=100.0)
    assert not cut.clear
    assert cut.keep == 12 > UNCLEAR_KEEP
    # Without ties the closest few stay few.
    cut = cut_scores(np.linspace(0.57, 0.50, 57), logit_scale=100.0)
    assert not cut.clear
    assert cut.keep <= UNCLEAR_KEEP

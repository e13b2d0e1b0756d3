"""Near-duplicates: copies, resized or re-encoded exports, slight crops and bursts.

How a library is searched (no image is compared with every other, and only the stored
embeddings are read until the last step):

1. **Candidates**: a k-NN self-join over the stored embeddings through the hnswlib index:
   every photo asks for its nearest neighbours in batches; pairs at or above the model's
   cosine ``threshold`` are candidates. A photo whose k-th neighbour is still above the
   threshold asks again with twice the k, so a burst of 40 frames is found whole.
2. **Confirmation** (``confirm=True``, the default): an embedding says "same subject", not
   "same photo" (two photos of one dog on one lawn look alike to CLIP). A candidate pair
   stays only if it is the same picture or the same moment:
   - *same picture*: their 16x16 grey thumbnails correlate at ``CONTENT_MATCH`` or more
     (re-encodes, resizes, format changes, slight crops) and their shapes agree within
     ``SHAPE_MATCH``; the thumbnail is computed only for candidates, once per file
     content, and kept in the catalog,
   - *same moment*: same camera, capture times at most ``burst_seconds`` apart (a burst,
     or an edited export that kept its EXIF).
3. **Groups by complete linkage**: agglomerative clustering where two groups merge only if
   *every* pair across them is a confirmed candidate, closest first. A chain of photos
   drifting a little at each step (a pan, a slow sunset) never becomes one group.

Each group suggests which photo to keep: the largest resolution, then the largest file,
then the oldest (capture time, else file time).

Thresholds were measured with the small test model on drawn photos and their copies (see
``DEFAULT_THRESHOLDS``); other models fall back to ``FALLBACK_THRESHOLD``, and the caller
can always pass its own.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from photoclip.core.catalog import Catalog, Photo
from photoclip.core.errors import ImageDecodeError
from photoclip.core.images import open_photo
from photoclip.core.vectors import VectorIndex

log = logging.getLogger(__name__)

# Cosine threshold for candidates, per model (matched on the model signature's start).
# shapes-clip (the test model, 64-d), measured on 80 drawn photos x {re-encoded at q60,
# resized to half, cropped 4% on every side, cropped 8% on two sides}: copies are at
# >= 0.9596 of each other except the 8%-crops (>= 0.905); two different drawings of the
# same shape, colour and background reach 0.996, so for this model the embedding alone
# cannot tell copies from look-alikes and the confirmation step does that work.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "local-dir:shapes-clip@": 0.95,
}
# Any other model, the default ViT-B-32-256 included: not measured here (its weights cannot
# be downloaded on the development machine). CLIP image embeddings of re-encodes and
# resizes sit well above 0.95 and slight crops around it; with confirmation on, a low
# candidate threshold costs only thumbnail work, never a wrong group.
FALLBACK_THRESHOLD = 0.92
# Correlation of two 16x16 grey thumbnails above which two files show the same picture.
# Measured on the drawings above: copies (re-encode, resize, 4% crop) >= 0.918; different
# drawings of the same shape, colour and background <= 0.839.
CONTENT_MATCH = 0.88
# Width-to-height ratios of copies agree within this share (a 4% crop on every side keeps
# the ratio; 3:2 and 4:3 differ by 11%).
SHAPE_MATCH = 0.05
BURST_SECONDS = 5.0
SIGNATURE_SIDE = 16

_FIRST_K = 16
_BATCH = 2048


def default_threshold(model_signature: str) -> float:
    """The candidate threshold for a model's embeddings (see ``DEFAULT_THRESHOLDS``)."""
    for prefix, value in DEFAULT_THRESHOLDS.items():
        if model_signature.startswith(prefix):
            return value
    return FALLBACK_THRESHOLD


@dataclass(frozen=True)
class DuplicateProgress:
    phase: str           # "neighbours", "compare", "group"
    done: int = 0
    total: int = 0
    message: str = ""


DuplicateProgressCallback = Callable[[DuplicateProgress], None]


@dataclass(frozen=True)
class DuplicateGroup:
    """Photos that are one photo, or one moment. ``photos[0]`` is the suggested keeper.

    ``similarity``: the lowest cosine between any two of them (every pair is at least this
    close). ``kind``: "copies" (every pair is the same picture), "burst" (same camera and
    moment, not all the same picture) or "similar" (embeddings only, ``confirm=False``).
    """

    photos: list[Photo]
    similarity: float
    kind: str

    @property
    def keep(self) -> Photo:
        return self.photos[0]

    @property
    def others(self) -> list[Photo]:
        return self.photos[1:]

    def to_json(self) -> dict[str, Any]:
        keep = self.keep.id
        return {"similarity": round(self.similarity, 6), "kind": self.kind,
                "photos": [{"path": p.path, "width": p.width, "height": p.height,
                            "bytes": p.size, "taken_at": p.taken_at, "keep": p.id == keep,
                            "id": p.id, "camera": p.camera} for p in self.photos]}


@dataclass
class DuplicateReport:
    """The groups found, and what the search looked at."""

    groups: list[DuplicateGroup] = field(default_factory=list)
    threshold: float = 0.0
    photos: int = 0             # embedded photos searched
    candidate_pairs: int = 0    # pairs at or above the threshold
    candidate_photos: int = 0   # photos in those pairs
    confirmed_pairs: int = 0    # of those, the same picture or the same moment
    signatures_computed: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)   # (path, reason)
    cancelled: bool = False
    seconds: float = 0.0


def suggest_keep(photos: Sequence[Photo]) -> list[Photo]:
    """Best keeper first: most pixels, then largest file, then oldest, then lowest id."""
    def key(p: Photo) -> tuple:
        pixels = (p.width or 0) * (p.height or 0)
        return (-pixels, -p.size, p.date, p.id)

    return sorted(photos, key=key)


# -- content signatures ----------------------------------------------------------------

def content_signature(path: str) -> bytes:
    """A 16x16 grey thumbnail of the upright photo (256 bytes); raises ImageDecodeError.

    JPEGs decode at 1/8 scale (DCT draft), which is most of the cost.
    """
    decoded = open_photo(path, SIGNATURE_SIDE)
    grey = decoded.image.convert("L").resize((SIGNATURE_SIDE, SIGNATURE_SIDE),
                                             Image.Resampling.BOX)
    return grey.tobytes()


def _normalised(signature: bytes) -> tuple[np.ndarray, float]:
    a = np.frombuffer(signature, dtype=np.uint8).astype(np.float32)
    mean = float(a.mean())
    a = a - mean
    norm = float(np.linalg.norm(a))
    return (a / norm if norm > 1e-3 else np.zeros_like(a)), mean


def same_picture(a: bytes, b: bytes) -> bool:
    """Whether two signatures show the same picture (correlation >= ``CONTENT_MATCH``).

    Flat pictures (no contrast at all) match when their brightness does.
    """
    va, ma = _normalised(a)
    vb, mb = _normalised(b)
    if not va.any() or not vb.any():
        return not va.any() and not vb.any() and abs(ma - mb) < 8
    return float(va @ vb) >= CONTENT_MATCH


def _same_moment(a: Photo, b: Photo, seconds: float) -> bool:
    return (a.camera is not None and a.camera == b.camera and a.taken_at is not None
            and b.taken_at is not None and abs(a.taken_at - b.taken_at) <= seconds)


def _same_shape(a: Photo, b: Photo, tolerance: float) -> bool | None:
    """Whether the two photos' width-to-height ratios agree within ``tolerance`` (a
    share); None when a size is not known."""
    if not (a.width and a.height and b.width and b.height):
        return None
    ra, rb = a.width / a.height, b.width / b.height
    return abs(ra - rb) <= tolerance * max(ra, rb)


def _resized_copy(a: Photo, b: Photo) -> bool:
    """Same bytes, or the same frame at another resolution: an export that kept its EXIF
    moment is a copy, not a burst (burst frames share one sensor size)."""
    if a.hash == b.hash:
        return True
    if a.width == b.width:
        return False
    return bool(_same_shape(a, b, 0.01))


# -- the search ----------------------------------------------------------------------------

class _Cancelled(Exception):
    pass


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise _Cancelled


def _candidate_pairs(ids: np.ndarray, vecs: np.ndarray, vectors: VectorIndex,
                     threshold: float, progress: DuplicateProgressCallback | None,
                     cancel: threading.Event | None) -> dict[tuple[int, int], float]:
    """All pairs (lower id, higher id) -> cosine at or above ``threshold``, by batched k-NN."""
    pairs: dict[tuple[int, int], float] = {}
    n = len(ids)
    threads = max(1, os.cpu_count() or 1)
    rows = np.arange(n)
    k = _FIRST_K + 1  # each photo finds itself first
    done = 0
    while len(rows):
        again: list[np.ndarray] = []
        for start in range(0, len(rows), _BATCH):
            _check(cancel)
            batch = rows[start:start + _BATCH]
            labels, sims = vectors.query_many(vecs[batch], k, num_threads=threads)
            if labels.shape[1] == 0:
                continue
            src = np.repeat(ids[batch], labels.shape[1])
            dst, sim = labels.ravel(), sims.ravel()
            keep = (sim >= threshold) & (dst != src)
            for a, b, s in zip(src[keep].tolist(), dst[keep].tolist(), sim[keep].tolist(),
                               strict=True):
                pairs[(a, b) if a < b else (b, a)] = s
            # Saturated rows (their farthest neighbour is still close) may have more.
            if labels.shape[1] == k and k < n:
                again.append(batch[sims[:, -1] >= threshold])
            if k == _FIRST_K + 1:
                done += len(batch)
                if progress:
                    progress(DuplicateProgress("neighbours", done, n,
                                               f"comparing embeddings: {done}/{n} photos"))
        rows = np.concatenate(again) if again else np.empty(0, dtype=np.int64)
        k = min(2 * k, n)
    return pairs


def _signatures(catalog: Catalog, photos: dict[int, Photo], store: bool,
                report: DuplicateReport, progress: DuplicateProgressCallback | None,
                cancel: threading.Event | None) -> dict[int, bytes]:
    """Content signatures of these photos: stored ones, then the rest decoded in a pool."""
    keys = {pid: (p.size, p.hash) for pid, p in photos.items()}
    stored = catalog.content_signatures(keys.values())
    out = {pid: stored[k] for pid, k in keys.items() if k in stored}
    todo = [photos[pid] for pid in photos if pid not in out]
    total = len(todo)
    done = 0
    if progress:
        progress(DuplicateProgress("compare", 0, total,
                                   f"looking at {total} candidate photos"))
    threads = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(threads, thread_name_prefix="photoclip-signature") as pool:
        for start in range(0, total, 64):
            _check(cancel)
            chunk = todo[start:start + 64]
            fresh: dict[tuple[int, str], bytes] = {}
            for photo, result in zip(chunk, pool.map(_try_signature, [p.path for p in chunk]),
                                     strict=True):
                if isinstance(result, bytes):
                    out[photo.id] = result
                    fresh[keys[photo.id]] = result
                else:
                    report.unreadable.append((photo.path, result[0]))
            report.signatures_computed += len(fresh)
            if store and fresh:
                catalog.store_content_signatures(fresh)
            done += len(chunk)
            if progress:
                progress(DuplicateProgress("compare", done, total,
                                           f"looking at candidate photos: {done}/{total}"))
    return out


def _try_signature(path: str) -> bytes | tuple[str]:
    try:
        return content_signature(path)
    except ImageDecodeError as exc:
        return (exc.reason,)


def _components(edges: Iterable[tuple[int, int]]) -> list[list[int]]:
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for x in list(parent):
        groups.setdefault(find(x), []).append(x)
    return [sorted(g) for g in groups.values()]


def complete_linkage(members: Sequence[int], links: dict[tuple[int, int], float],
                     threshold: float) -> list[tuple[list[int], float]]:
    """Split ``members`` into groups where every pair is in ``links`` (>= ``threshold``).

    Agglomerative, closest pair of groups first; two groups merge at the similarity of
    their least similar pair, and only while that pair is linked. Returns (ids, weakest
    pair) for each group of two or more.
    """
    m = len(members)
    sim = np.full((m, m), -np.inf, dtype=np.float64)
    index = {pid: i for i, pid in enumerate(members)}
    for (a, b), s in links.items():
        if a in index and b in index and s >= threshold and a != b:
            sim[index[a], index[b]] = sim[index[b], index[a]] = s
    clusters: list[list[int] | None] = [[i] for i in range(m)]
    level = [np.inf] * m
    while m > 1:
        flat = int(np.argmax(sim))
        i, j = divmod(flat, m)
        best = float(sim[i, j])
        if not np.isfinite(best) or best < threshold:
            break
        # Complete linkage: the merged group is as close to another as its farthest member.
        merged = np.minimum(sim[i, :], sim[j, :])
        sim[i, :] = merged
        sim[:, i] = merged
        sim[i, i] = -np.inf
        sim[j, :] = -np.inf   # j is gone
        sim[:, j] = -np.inf
        cluster_i, cluster_j = clusters[i], clusters[j]
        assert cluster_i is not None
        assert cluster_j is not None
        clusters[i], clusters[j] = cluster_i + cluster_j, None
        level[i] = min(level[i], level[j], best)
    return [([members[x] for x in c], level[i]) for i, c in enumerate(clusters)
            if c is not None and len(c) > 1]


def find_duplicates(catalog: Catalog, vectors: VectorIndex, model: str, *,
                    threshold: float | None = None, confirm: bool = True,
                    burst_seconds: float = BURST_SECONDS, store_signatures: bool = True,
                    progress: DuplicateProgressCallback | None = None,
                    cancel: threading.Event | None = None) -> DuplicateReport:
    """Group the library's near-duplicates (see the module docstring for how).

    ``vectors`` must be open and in sync with ``catalog`` for ``model``. ``cancel`` is
    checked between batches; a cancelled search returns ``cancelled=True`` and no groups
    (content signatures computed so far are kept, so the next search is quicker).
    Photos that cannot be read are listed in ``unreadable`` and simply not confirmed.
    """
    started = time.perf_counter()
    limit = default_threshold(model) if threshold is None else float(threshold)
    report = DuplicateReport(threshold=limit)
    try:
        _check(cancel)
        ids, vecs = catalog.all_embeddings(model, catalog.searchable_ids(model))
        report.photos = len(ids)
        if len(ids) < 2:
            return report
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-12
        pairs = _candidate_pairs(ids, vecs, vectors, limit, progress, cancel)
        report.candidate_pairs = len(pairs)
        involved = {pid for pair in pairs for pid in pair}
        report.candidate_photos = len(involved)
        photos = catalog.photos_by_ids(involved)
        pairs = {p: s for p, s in pairs.items() if p[0] in photos and p[1] in photos}
        kinds: dict[tuple[int, int], str] = {}
        if confirm:
            moment = {p for p in pairs
                      if _same_moment(photos[p[0]], photos[p[1]], burst_seconds)}
            need = {pid for p in pairs if p not in moment for pid in p}
            sigs = _signatures(catalog, {pid: photos[pid] for pid in need},
                               store_signatures and not catalog.readonly, report, progress,
                               cancel)
            confirmed: dict[tuple[int, int], float] = {}
            for p, s in pairs.items():
                a, b = sigs.get(p[0]), sigs.get(p[1])
                # A copy keeps the picture's shape (a resize, a re-encode, a slight crop
                # all round); the grey thumbnails are squares, so two different photos
                # with one layout (a red ball on yellow, 3:2 and 4:3) could pass them.
                if (a is not None and b is not None and same_picture(a, b)
                        and _same_shape(photos[p[0]], photos[p[1]], SHAPE_MATCH) is not False):
                    confirmed[p], kinds[p] = s, "copies"
                elif p in moment:
                    kind = ("copies" if _resized_copy(photos[p[0]], photos[p[1]])
                            else "burst")
                    confirmed[p], kinds[p] = s, kind
            pairs = confirmed
        report.confirmed_pairs = len(pairs)
        _check(cancel)
        components = _components(pairs)
        where = {pid: n for n, members in enumerate(components) for pid in members}
        local: list[dict[tuple[int, int], float]] = [{} for _ in components]
        for p, s in pairs.items():
            local[where[p[0]]][p] = s
        groups: list[DuplicateGroup] = []
        for n, members in enumerate(components, 1):
            if n % 200 == 0:
                _check(cancel)
                if progress:
                    progress(DuplicateProgress("group", n, len(components), "grouping"))
            for group_ids, level in complete_linkage(members, local[n - 1], limit):
                kind = "similar"
                if confirm:
                    ordered = sorted(group_ids)
                    pair_kinds = {kinds[(a, b)] for i, a in enumerate(ordered)
                                  for b in ordered[i + 1:]}
                    kind = "copies" if pair_kinds == {"copies"} else "burst"
                groups.append(DuplicateGroup(suggest_keep([photos[i] for i in group_ids]),
                                             level, kind))
        groups.sort(key=lambda g: (-g.similarity, g.keep.path))
        report.groups = groups
        if progress:
            progress(DuplicateProgress("group", len(components), len(components),
                                       f"{len(groups)} groups"))
    except _Cancelled:
        report.cancelled = True
        report.groups = []
    report.seconds = time.perf_counter() - started
    return report

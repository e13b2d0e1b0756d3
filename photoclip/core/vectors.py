"""The hnswlib index over photo ids: a cache of the catalog's embeddings, for fast k-NN.

The catalog is the truth; this file can always be rebuilt from it. A small JSON manifest
names the index file and holds the model signature, the dimension, the highest catalog
sequence number the index holds, the ids marked deleted and the identity of the catalog it
was made from. Each save writes a new index file under a new name, checks it is complete,
and then replaces the manifest in one atomic rename: whatever moment a crash hits, the
manifest names a complete index that matches it. On open the index is brought in line with
the catalog (``sync``): new or re-embedded vectors are added, photos that are gone, missing
or on an offline root are marked deleted, returning ones are un-marked. A file that is
missing, of another model, unreadable, made from another catalog (a repaired one, a restored
backup) or ahead of the catalog is rebuilt.

hnswlib is not safe for adding and querying at once, so both happen under one lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import struct
import threading
import time
from pathlib import Path

import hnswlib
import numpy as np

from photoclip.core.catalog import Catalog
from photoclip.core.errors import library_os_error

log = logging.getLogger(__name__)

_VERSION = 2   # manifest format; version 1 (a fixed index file name) is rebuilt once
_EF_CONSTRUCTION = 200
_M = 16


class VectorIndex:
    def __init__(self, folder: Path, model: str, dim: int | None = None) -> None:
        self.folder = Path(folder)
        self.model = model
        self.dim = dim
        self._tag = _safe_name(model)
        self.meta_path = self.folder / f"vectors-{self._tag}.json"
        self.index_path = self.folder / f"vectors-{self._tag}.hnsw"   # until a manifest says
        self._lock = threading.RLock()
        self._index: hnswlib.Index | None = None
        self._live: set[int] = set()
        self._deleted: set[int] = set()
        self._seq = 0
        self._dirty = False
        self.catalog_id: str | None = None

    # -- loading and syncing ---------------------------------------------------------------

    def _new_index(self, dim: int, capacity: int) -> hnswlib.Index:
        index = hnswlib.Index(space="cosine", dim=dim)
        index.init_index(max_elements=max(1024, capacity), ef_construction=_EF_CONSTRUCTION,
                         M=_M)
        index.set_ef(64)
        return index

    def _read_manifest(self) -> dict | None:
        try:
            meta = json.loads(self.meta_path.read_text())
        except (OSError, ValueError):
            return None
        if (not isinstance(meta, dict) or meta.get("model") != self.model
                or meta.get("version") != _VERSION or not isinstance(meta.get("file"), str)
                or os.path.basename(meta["file"]) != meta["file"]):
            return None
        return meta

    def _load_file(self, catalog: Catalog) -> bool:
        self.catalog_id = catalog.get_meta("catalog_id")
        meta = self._read_manifest()
        if meta is not None and not (self.folder / meta["file"]).is_file():
            meta = self._read_manifest()   # another process saved in between: look again
        if meta is None:
            return False
        made_for = meta.get("catalog")
        if (made_for is not None and made_for != self.catalog_id) or \
                int(meta.get("seq", 0)) > catalog.max_seq():
            log.info("vector index %s belongs to another catalog; rebuilding", self.meta_path)
            return False
        self.index_path = self.folder / meta["file"]
        try:
            dim = int(meta["dim"])
            index = hnswlib.Index(space="cosine", dim=dim)
            index.load_index(os.fsencode(self.index_path), max_elements=int(meta["capacity"]))
            ids = set(int(i) for i in index.get_ids_list())
            deleted = set(int(i) for i in meta.get("deleted", []))
            if len(ids) != int(meta["count"]) or not deleted <= ids:
                return False
        except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
            log.info("vector index %s unusable (%s); rebuilding", self.index_path, exc)
            return False
        index.set_ef(64)
        self._index, self.dim = index, dim
        self._deleted = deleted
        self._live = ids - deleted
        self._seq = int(meta.get("seq", 0))
        return True

    def open(self, catalog: Catalog) -> None:
        """Load the saved index if it is usable, then bring it in line with the catalog."""
        with self._lock:
            self.catalog_id = catalog.get_meta("catalog_id")
            if self._index is None and self.meta_path.exists():
                self._load_file(catalog)
            self.sync(catalog)

    def sync(self, catalog: Catalog) -> None:
        """Apply every catalog change the index has not seen (cheap when there are none)."""
        with self._lock:
            seq = catalog.max_seq()
            valid = catalog.searchable_ids(self.model)
            if self._index is None:
                ids, vecs = catalog.all_embeddings(self.model, valid)
                self._rebuild(ids, vecs, seq)
                return
            if seq > self._seq:
                # Every newer vector goes in, valid or not, so a photo that is hidden now
                # (offline root) comes back later with its current vector.
                ids, vecs = catalog.embeddings_since(self.model, self._seq)
                self._add(ids, vecs)
                self._seq = seq
            gone = self._live - valid
            for pid in gone:
                self._index.mark_deleted(pid)
            self._live -= gone
            self._deleted |= gone
            back = valid - self._live
            if back:
                revive = back & self._deleted
                for pid in revive:
                    self._index.unmark_deleted(pid)
                self._deleted -= revive
                self._live |= revive
                fresh = back - revive
                if fresh:
                    ids, vecs = catalog.all_embeddings(self.model, fresh)
                    self._add(ids, vecs)
            self._dirty = self._dirty or bool(gone or back)

    def _rebuild(self, ids: np.ndarray, vecs: np.ndarray, seq: int) -> None:
        if self.dim is None and len(ids):
            self.dim = int(vecs.shape[1])
        self._index = None
        self._live, self._deleted = set(), set()
        if self.dim is not None:
            self._index = self._new_index(self.dim, 2 * len(ids))
            self._add(ids, vecs)
        self._seq = seq
        self._dirty = True

    def _add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        if not len(ids):
            return
        if self._index is None:
            self.dim = int(vecs.shape[1])
            self._index = self._new_index(self.dim, 2 * len(ids))
        index = self._index
        revive = [int(i) for i in ids if int(i) in self._deleted]
        for pid in revive:
            index.unmark_deleted(pid)
        self._deleted -= set(revive)
        need = index.get_current_count() + len(ids)
        if need > index.get_max_elements():
            index.resize_index(max(need, 2 * index.get_max_elements()))
        index.add_items(vecs.astype(np.float32), ids.astype(np.int64),
                        num_threads=1)
        self._live |= {int(i) for i in ids}
        self._dirty = True

    # -- writes from the indexer -----------------------------------------------------------

    def add(self, ids: np.ndarray, vecs: np.ndarray, seq: int) -> None:
        """Add freshly committed vectors (``seq``: the catalog's stamp of that commit)."""
        with self._lock:
            self._add(np.asarray(ids, dtype=np.int64), vecs)
            # Only advance when nothing older can be missing from the index.
            if seq == self._seq + 1:
                self._seq = seq

    def remove(self, ids: set[int] | list[int]) -> None:
        with self._lock:
            if self._index is None:
                return
            for pid in set(ids) & self._live:
                self._index.mark_deleted(pid)
                self._live.discard(pid)
                self._deleted.add(pid)
                self._dirty = True

    def save(self) -> None:
        """Write a new index file, then switch the manifest to it in one atomic rename.

        A crash before the rename leaves the old manifest naming the old, complete file; after
        it, the new one. Files no manifest names are removed by the next save. A full or
        read-only disk raises a :class:`LibraryError` subclass after removing what this save
        wrote; the previous files stay as they were.
        """
        with self._lock:
            if self._index is None or not self._dirty:
                return
            name = f"vectors-{self._tag}-{self._seq}-{time.time_ns():x}.hnsw"
            new_index = self.folder / name
            tmp_meta = self.meta_path.with_name(self.meta_path.name + ".tmp")
            meta = {"version": _VERSION, "model": self.model, "file": name, "dim": self.dim,
                    "seq": self._seq, "count": self._index.get_current_count(),
                    "capacity": self._index.get_max_elements(),
                    "deleted": sorted(self._deleted), "catalog": self.catalog_id}
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                try:
                    self._index.save_index(os.fsencode(new_index))
                except RuntimeError as exc:
                    raise _write_failure(self.folder) from exc
                # hnswlib does not check its writes: a full disk or a file-size limit
                # leaves a short file, and a folder it cannot write no file at all, both
                # without an error. Walk the file as hnswlib's loader would.
                if not _complete_index_file(new_index, self._index.get_current_count()):
                    raise _write_failure(self.folder)
                tmp_meta.write_text(json.dumps(meta))
                for path in (new_index, tmp_meta):
                    with path.open("rb") as f:
                        os.fsync(f.fileno())
                os.replace(tmp_meta, self.meta_path)   # the commit point
            except BaseException as exc:
                for path in (new_index, tmp_meta):
                    with contextlib.suppress(OSError):
                        path.unlink(missing_ok=True)
                if isinstance(exc, OSError):
                    raise library_os_error(exc, f"the search index in {self.folder}") from exc
                raise
            _fsync_dir(self.folder)
            self.index_path = new_index
            self._dirty = False
            stale = [*self.folder.glob(f"vectors-{self._tag}*.hnsw"),
                     *self.folder.glob(f"vectors-{self._tag}*.tmp")]   # older versions' names
            for old in stale:
                if old != new_index:
                    old.unlink(missing_ok=True)

    # -- queries ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._live)

    def vectors_of(self, ids: list[int]) -> np.ndarray:
        """Unit vectors of these (live) ids, in order: (len(ids), dim) float32."""
        with self._lock:
            if self._index is None or not ids:
                return np.empty((0, self.dim or 0), dtype=np.float32)
            vecs = np.asarray(self._index.get_items(np.asarray(ids, dtype=np.int64)),
                              dtype=np.float32)
        return vecs / (np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-12)

    def live_ids(self) -> frozenset[int]:
        """Ids a query may return now (a snapshot)."""
        with self._lock:
            return frozenset(self._live)

    def query(self, vector: np.ndarray, k: int, allowed: set[int] | None = None
              ) -> list[tuple[int, float]]:
        """The ``k`` nearest photo ids with cosine similarity, optionally among ``allowed``."""
        with self._lock:
            if self._index is None or not self._live:
                return []
            candidates = self._live if allowed is None else (self._live & allowed)
            k = min(k, len(candidates))
            if k <= 0:
                return []
            index = self._index
            index.set_ef(max(64, 2 * k))
            filt = None if allowed is None else (lambda i: i in candidates)
            try:
                labels, dists = index.knn_query(np.asarray(vector, dtype=np.float32)[None, :],
                                                k=k, filter=filt, num_threads=1)
            except RuntimeError:
                # hnswlib gives up when a narrow filter leaves too few reachable items;
                # an exact scan of the candidates is then both correct and cheap.
                return self._exact(vector, candidates, k)
            return [(int(i), 1.0 - float(d)) for i, d in zip(labels[0], dists[0], strict=True)]

    def query_many(self, vectors: np.ndarray, k: int, *, num_threads: int = 1
                   ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest live ids of each row: (ids, cosine similarities), both (n, k).

        One hnswlib call for the whole batch (threads inside hnswlib), so a k-NN self-join
        of the library costs n/batch calls instead of n. ``k`` is capped at the number of
        live photos; rows come back best first.
        """
        with self._lock:
            n = len(vectors)
            if self._index is None or not self._live or n == 0:
                return np.empty((n, 0), np.int64), np.empty((n, 0), np.float32)
            k = min(k, len(self._live))
            data = np.asarray(vectors, dtype=np.float32)
            try:
                # Near-duplicates are each other's closest points: a small beam finds
                # them. Among 100,000 synthetic 512-d vectors (benchmarks/
                # bench_duplicates.py) ef 32 found 99.7% of the 5,453 pairs at cosine
                # >= 0.92, ef 17 98.5%; among 20,000, ef 32 found all.
                for ef in (max(32, k), max(512, 8 * k)):
                    self._index.set_ef(ef)
                    try:
                        labels, dists = self._index.knn_query(data, k=k,
                                                              num_threads=num_threads)
                    except RuntimeError:
                        continue  # too few reachable live items for k: widen the search
                    return labels.astype(np.int64), (1.0 - dists).astype(np.float32)
            finally:
                self._index.set_ef(64)
            # Many deleted items can still starve the graph search; exact is always right.
            ids = np.fromiter(self._live, dtype=np.int64)
            live = np.asarray(self._index.get_items(ids), dtype=np.float32)
            live /= np.linalg.norm(live, axis=1, keepdims=True) + 1e-12
            data = data / (np.linalg.norm(data, axis=1, keepdims=True) + 1e-12)
            sims = data @ live.T
            order = np.argsort(-sims, axis=1)[:, :k]
            return ids[order], np.take_along_axis(sims, order, axis=1).astype(np.float32)

    def _exact(self, vector: np.ndarray, candidates: set[int], k: int) -> list[tuple[int, float]]:
        assert self._index is not None
        ids = np.fromiter(candidates, dtype=np.int64)
        vecs = np.asarray(self._index.get_items(ids), dtype=np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-12
        scores = vecs @ np.asarray(vector, dtype=np.float32)
        order = np.argsort(-scores)[:k]
        return [(int(ids[i]), float(scores[i])) for i in order]


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; Windows has no directory handles)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
_HEADER = struct.Struct("<6QiI3QdQ")   # hnswlib's saveIndex header (96 bytes)


def _complete_index_file(path: Path, count: int) -> bool:
    """True when ``path`` holds all of an hnswlib index of ``count`` items: the header,
    the level-0 block and one link list per item, and nothing after."""
    try:
        with open(path, "rb") as f:
            header = f.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return False
            fields = _HEADER.unpack(header)
            current, per_item = fields[2], fields[3]
            if current != count:
                return False
            f.seek(_HEADER.size + current * per_item)
            tail = f.read()
    except OSError:
        return False
    pos = 0
    for _ in range(current):
        if pos + 4 > len(tail):
            return False
        pos += 4 + int.from_bytes(tail[pos:pos + 4], "little")
    return pos == len(tail)


def _disk_full(folder: Path) -> bool:
    """No space left at all: a write just made may have been cut short."""
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs on Windows
        return False
    # root may write into the blocks reserved for it
    return (st.f_bfree if os.geteuid() == 0 else st.f_bavail) == 0


def _write_failure(folder: Path) -> OSError:
    """The OSError behind a write that failed without one: a full disk, else read-only."""
    import errno

    if _disk_full(folder):
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if not os.access(folder, os.W_OK):
        return OSError(errno.EROFS, os.strerror(errno.EROFS))
    return OSError(errno.EIO, "the index file could not be written")


def _safe_name(model: str) -> str:
    import hashlib

    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in model)[:40]
    return f"{slug}-{hashlib.blake2b(model.encode(), digest_size=4).hexdigest()}"

"""``Library``: the one facade the CLI and the GUI use, and the composition root of the core.

It owns the catalog, the vector index, the embedder and the indexer of one library folder.
Collaborators can be passed in (tests swap one piece); otherwise they are built here.

Writing needs the library's lock file: one writing process per library (the app, a
``photoclip watch`` or an ``index`` run). Read-only libraries (``readonly=True``) take no
lock and never write, so ``status``/``search``/``similar`` work beside a running writer and
see everything it has committed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from photoclip.core import scanner
from photoclip.core.catalog import Catalog, Photo, Root
from photoclip.core.embedder import DEFAULT_MODEL, DownloadProgress, Embedder
from photoclip.core.errors import FolderError, LibraryError, LibraryLockedError
from photoclip.core.images import open_photo
from photoclip.core.indexer import Indexer, IndexSummary, ProgressCallback
from photoclip.core.vectors import VectorIndex

log = logging.getLogger(__name__)

CATALOG_NAME = "catalog.sqlite"
LOCK_NAME = "write.lock"


@dataclass(frozen=True)
class SearchResult:
    photo: Photo
    score: float

    def to_json(self) -> dict[str, Any]:
        p = self.photo
        return {"path": p.path, "score": round(self.score, 6), "id": p.id,
                "date": p.date, "width": p.width, "height": p.height, "camera": p.camera}


@dataclass(frozen=True)
class RootStatus:
    path: str
    online: bool
    photos: int
    polling: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "online": self.online, "photos": self.photos,
                "polling": self.polling}


@dataclass
class LibraryStatus:
    library: str
    model: str
    photos: int
    indexed: int
    failed: int
    pending: int
    missing: int
    roots: list[RootStatus] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"library": self.library, "model": self.model, "photos": self.photos,
                "indexed": self.indexed, "failed": self.failed, "pending": self.pending,
                "missing": self.missing, "roots": [r.to_json() for r in self.roots]}


@dataclass
class RunSummary:
    """What ``Library.index`` did: the scan's changes and the indexer's work."""

    scan: scanner.ScanSummary
    index: IndexSummary


class _WriteLock:
    """An exclusive, non-blocking OS lock on a file in the library; freed if we die."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Any = None

    def acquire(self) -> None:
        f = self.path.open("a+")
        try:
            if os.name == "nt":
                import msvcrt

                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
            else:
                import fcntl

                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            f.seek(0)
            holder = f.read().strip() or "?"
            f.close()
            raise LibraryLockedError(
                f"the library {self.path.parent} is being written by another photoclip "
                f"process (pid {holder}); close it or wait for it to finish") from exc
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class Library:
    def __init__(self, folder: str | os.PathLike[str], *, model: str | None = None,
                 readonly: bool = False, embedder: Embedder | None = None,
                 batch_size: int = 32, decode_threads: int | None = None) -> None:
        self.folder = Path(folder).expanduser().absolute()
        self.readonly = readonly
        self._lock: _WriteLock | None = None
        self._closed = False
        if readonly:
            if not (self.folder / CATALOG_NAME).is_file():
                raise LibraryError(f"no photoclip library at {self.folder} "
                                   "(add a folder first: photoclip add FOLDER)")
        else:
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LibraryError(f"cannot create the library folder {self.folder}: "
                                   f"{exc.strerror}") from exc
            self._lock = _WriteLock(self.folder / LOCK_NAME)
            self._lock.acquire()
        try:
            self.catalog = Catalog(self.folder / CATALOG_NAME, readonly=readonly)
        except BaseException:
            if self._lock:
                self._lock.release()
            raise
        spec = model or self.catalog.get_meta("model") or DEFAULT_MODEL
        self.embedder = embedder or Embedder(spec)
        self.vectors = VectorIndex(self.folder, self.embedder.signature)
        self.indexer = Indexer(self.catalog, self.embedder, self.vectors,
                               batch_size=batch_size, decode_threads=decode_threads)
        self._vectors_open = False
        self._vectors_lock = threading.Lock()
        self._index_lock = threading.RLock()

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if not self.readonly and self._vectors_open:
                self.vectors.save()
        finally:
            self.catalog.close()
            if self._lock:
                self._lock.release()

    def _require_writable(self) -> None:
        if self.readonly:
            raise LibraryError("this library was opened read-only")

    def _ensure_vectors(self) -> VectorIndex:
        """Open (or rebuild) the vector index on first use and catch up with the catalog."""
        with self._vectors_lock:
            if not self._vectors_open:
                self.vectors.open(self.catalog)
                self._vectors_open = True
            else:
                self.vectors.sync(self.catalog)
        return self.vectors

    def set_model(self, embedder: Embedder) -> None:
        """Switch models (not while indexing). Vectors of the old model stay in the catalog."""
        with self._vectors_lock:
            if not self.readonly and self._vectors_open:
                self.vectors.save()
            self.embedder = embedder
            self.vectors = VectorIndex(self.folder, embedder.signature)
            self.indexer = Indexer(self.catalog, embedder, self.vectors,
                                   batch_size=self.indexer.batch_size,
                                   decode_threads=self.indexer.decode_threads)
            self._vectors_open = False

    @property
    def model_spec(self) -> str:
        return str(self.embedder.spec)

    # -- roots -----------------------------------------------------------------------------

    def add_root(self, folder: str | os.PathLike[str]) -> Root:
        """Add a photo folder. A folder already inside a root is already covered."""
        self._require_writable()
        path = Path(folder).expanduser()
        if not path.exists():
            raise FolderError(f"folder not found: {path}")
        if not path.is_dir():
            raise FolderError(f"not a folder: {path}")
        resolved = str(path.resolve())
        for root in self.catalog.roots():
            if resolved == root.path or resolved.startswith(root.path.rstrip(os.sep) + os.sep):
                return root
        return self.catalog.add_root(resolved)

    def find_root(self, folder: str | os.PathLike[str]) -> Root:
        candidates = {str(Path(folder).expanduser().absolute())}
        with contextlib.suppress(OSError):
            candidates.add(str(Path(folder).expanduser().resolve()))
        for root in self.catalog.roots():
            if root.path in candidates:
                return root
        raise FolderError(f"not a library folder: {folder}")

    def remove_root(self, folder: str | os.PathLike[str]) -> int:
        """Forget a folder and what was indexed in it (the photos on disk are untouched)."""
        self._require_writable()
        root = self.find_root(folder)
        n = self.catalog.remove_root(root.id)
        if self._vectors_open:
            self.vectors.sync(self.catalog)
        return n

    def roots(self) -> list[RootStatus]:
        counts = self.catalog.root_counts()
        return [RootStatus(r.path, r.online, counts.get(r.id, 0), r.polling)
                for r in self.catalog.roots()]

    # -- indexing --------------------------------------------------------------------------

    def scan(self, roots: list[Root] | None = None, *, files: list[str] | None = None,
             folders: list[str] | None = None, min_age: float = 0.0,
             cancel: threading.Event | None = None) -> scanner.ScanSummary:
        self._require_writable()
        summary = scanner.scan(self.catalog, roots if roots is not None else self.catalog.roots(),
                               files=files, folders=folders, min_age=min_age, cancel=cancel)
        if self._vectors_open and (summary.touched or summary.offline_roots):
            self.vectors.sync(self.catalog)
        return summary

    def index(self, *, progress: ProgressCallback | None = None,
              cancel: threading.Event | None = None, pause: threading.Event | None = None,
              scan: bool = True, download: DownloadProgress | None = None,
              min_age: float = 0.0) -> RunSummary:
        """Scan every root, then embed everything pending. Safe to interrupt at any point."""
        self._require_writable()
        from photoclip.core.indexer import IndexProgress

        # The app's indexer and the folder watcher may both ask; one runs at a time.
        with self._index_lock:
            if progress:
                progress(IndexProgress("scan", message="looking for new and changed photos"))
            scan_summary = (self.scan(cancel=cancel, min_age=min_age) if scan
                            else scanner.ScanSummary())
            self._ensure_vectors()
            if self.catalog.get_meta("model") != self.model_spec:
                self.catalog.set_meta("model", self.model_spec)
            summary = self.indexer.run(progress=progress, cancel=cancel, pause=pause,
                                       download=download)
        return RunSummary(scan_summary, summary)

    def apply_changes(self, *, files: list[str] = (),  # type: ignore[assignment]
                      folders: list[str] = (),  # type: ignore[assignment]
                      cancel: threading.Event | None = None,
                      min_age: float = 0.0) -> RunSummary:
        """Bring just these paths in line with disk, then embed what is pending.

        What the watcher calls with settled events: ``files`` are looked at one by one
        (new, changed, moved, gone), ``folders`` are walked (a folder moved in or out).
        """
        self._require_writable()
        with self._index_lock:
            total = self.scan(files=list(files), folders=list(folders), cancel=cancel,
                              min_age=min_age)
            self._ensure_vectors()
            summary = self.indexer.run(cancel=cancel)
        return RunSummary(total, summary)

    # -- queries ---------------------------------------------------------------------------

    def _results(self, hits: list[tuple[int, float]]) -> list[SearchResult]:
        photos = self.catalog.photos_by_ids(i for i, _ in hits)
        return [SearchResult(photos[i], s) for i, s in hits if i in photos]

    def _allowed(self, folder: str | None, date_from: float | None,
                 date_to: float | None) -> set[int] | None:
        if folder is None and date_from is None and date_to is None:
            return None
        if folder is not None:
            folder = str(Path(folder).expanduser().resolve())
        return self.catalog.searchable_ids(self.embedder.signature, folder=folder,
                                           date_from=date_from, date_to=date_to)

    def search_vector(self, vector: np.ndarray, top: int = 20, *, folder: str | None = None,
                      date_from: float | None = None, date_to: float | None = None,
                      exclude: int | None = None) -> list[SearchResult]:
        vectors = self._ensure_vectors()
        allowed = self._allowed(folder, date_from, date_to)
        if exclude is not None:
            allowed = (allowed if allowed is not None else set(vectors._live)) - {exclude}
        return self._results(vectors.query(vector, top, allowed))

    def search(self, text: str, top: int = 20, **filters: Any) -> list[SearchResult]:
        """Photos best matching a description, best first, with cosine scores."""
        text = text.strip()
        if not text:
            return []
        vec = self.embedder.encode_texts([text])[0]
        return self.search_vector(vec, top, **filters)

    def similar(self, path: str | os.PathLike[str], top: int = 20,
                **filters: Any) -> list[SearchResult]:
        """Photos most like the one at ``path`` (in the library or not), itself excluded."""
        resolved = str(Path(path).expanduser().resolve())
        photo = self.catalog.photo_by_path(resolved)
        vec = self.catalog.embedding(photo.id, self.embedder.signature) if photo else None
        if vec is None:
            self.embedder.load()
            pre = self.embedder.preprocessor()
            decoded = open_photo(resolved, pre.min_side)  # raises a typed ImageDecodeError
            vec = self.embedder.encode_images(pre(decoded.image)[None])[0]
        return self.search_vector(vec, top, exclude=photo.id if photo else None, **filters)

    def photos(self, limit: int | None = None, offset: int = 0,
               folder: str | None = None) -> list[Photo]:
        """Browse: present photos newest first."""
        return self.catalog.list_photos(limit=limit, offset=offset, folder=folder)

    def failed(self) -> list[Photo]:
        return self.catalog.failed_photos()

    def status(self) -> LibraryStatus:
        counts = self.catalog.counts(self.embedder.signature)
        return LibraryStatus(str(self.folder), self.model_spec, roots=self.roots(), **counts)

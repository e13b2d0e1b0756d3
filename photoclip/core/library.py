"""``Library``: the one facade the CLI and the GUI use, and the composition root of the core.

It owns the catalog, the vector index, the embedder, the indexer and the label-set files of
one library folder. ``Library.open`` assembles them; the constructor takes them, so tests
can build a library from parts.

Writing needs the library's lock file: one writing process per library (the app, a
``photoclip watch`` or an ``index`` run). Read-only libraries (``readonly=True``) take no
lock and never write, so ``status``/``search``/``similar`` work beside a running writer and
see everything it has committed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from photoclip import paths
from photoclip.core import duplicates, relevance, scanner, trash
from photoclip.core.catalog import Catalog, Photo, Root, list_backups
from photoclip.core.concepts import (
    LEARNED_THRESHOLD,
    MIN_EXAMPLES,
    ConceptData,
    Example,
    Learned,
    content_key,
    parse_content,
    sample_ids,
)
from photoclip.core.embedder import DEFAULT_MODEL, DownloadProgress, Embedder
from photoclip.core.errors import (
    CatalogDamagedError,
    FolderError,
    LabelSetError,
    LibraryError,
    LibraryLockedError,
    ModelUnavailableError,
    PhotoclipError,
    ReadOnlyLibraryError,
    describe_os_error,
    library_os_error,
)
from photoclip.core.events import (
    LibraryEvent,
    Listener,
    ModelChanged,
    PhotosChanged,
    RootsChanged,
    TagsChanged,
)
from photoclip.core.filenames import display_path
from photoclip.core.images import decoders, open_photo
from photoclip.core.indexer import Indexer, IndexSummary, ProgressCallback
from photoclip.core.labelsets import LabelSetStore
from photoclip.core.tagging import (
    LabelSet,
    PromptCache,
    Scorer,
    Tag,
    choose_tags,
    parse_label_set,
    read_label_set,
)
from photoclip.core.vectors import VectorIndex

log = logging.getLogger(__name__)

CATALOG_NAME = "catalog.sqlite"
LOCK_NAME = "write.lock"
# Prompt embeddings no cache holds wait until this many batches are committed, so the
# first photos are searchable before tagging costs anything; then they are embedded a
# chunk per batch and the photos committed meanwhile are tagged at once.
DEFER_TAGGING_BATCHES = 2
PROMPTS_PER_BATCH = 128
# Catalog meta key: photos were committed untagged; the next run re-tags the library
# (survives a crash between a batch and its deferred tags).
TAGS_PENDING = "tags_pending"


def default_prompt_cache() -> PromptCache:
    return PromptCache(paths.cache_dir() / "prompt-embeddings.sqlite")

BACKUPS_DIR = "backups"
BACKUP_GENERATIONS = 3
# Between backups made after the watcher's small runs (a full index run always makes one
# when it changed something).
BACKUP_INTERVAL = 3600.0


@dataclass(frozen=True)
class SearchResult:
    photo: Photo
    score: float

    def to_json(self) -> dict[str, Any]:
        p = self.photo
        return {"path": p.path, "score": round(self.score, 6), "id": p.id,
                "date": p.date, "width": p.width, "height": p.height, "camera": p.camera}


@dataclass(frozen=True)
class Matches:
    """What a search found: the relevant photos, whether they stand out, and how many
    weaker matches "show weaker matches" would add."""

    results: list[SearchResult]
    clear: bool
    weaker: int


@dataclass(frozen=True)
class RootStatus:
    path: str
    online: bool
    photos: int           # present files, unreadable ones included
    polling: bool = False
    # directory -> readable photos directly in it (only when asked for: the folder tree)
    folders: dict[str, int] = field(default_factory=dict)
    unreadable: int = 0   # of ``photos``, files that could not be read (the Problems list)
    # directory -> unreadable files directly in it, where there are some (with ``folders``)
    unreadable_folders: dict[str, int] = field(default_factory=dict)
    scanned: bool = True  # False until its first scan has finished (a folder just added)

    @property
    def readable(self) -> int:
        """What the grid shows of this folder."""
        return self.photos - self.unreadable

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "online": self.online, "photos": self.photos,
                "unreadable": self.unreadable, "polling": self.polling,
                "scanned": self.scanned}


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
    # Embedder.precision_report(), plus "search": how a query is embedded
    precision: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"library": self.library, "model": self.model, "photos": self.photos,
                "indexed": self.indexed, "failed": self.failed, "pending": self.pending,
                "missing": self.missing, "roots": [r.to_json() for r in self.roots],
                "precision": self.precision}


@dataclass
class RunSummary:
    """What ``Library.index`` did: the scan's changes, the indexer's work, sets re-tagged.

    ``warnings`` are things the user should hear that did not stop the run (a backup or
    the search index that could not be saved); ``retried`` counts failed photos tried
    again because the decoders changed (or ``retry_failed`` was asked).
    """

    scan: scanner.ScanSummary
    index: IndexSummary
    retagged: list[str] = field(default_factory=list)
    retag_error: str | None = None
    warnings: list[str] = field(default_factory=list)
    retried: int = 0
    backup: Path | None = None


@dataclass
class XmpReport:
    """What ``Library.write_xmp`` did: sidecars written, and (path, reason) per failure.

    ``len()`` is the number written, so callers that only count keep working.
    """

    written: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.written)

    def __iter__(self) -> Any:
        return iter(self.written)


class WriteLock:
    """One writing process per library: an OS lock (filelock) on ``write.lock``, freed if we die.

    filelock does the platform work (flock on POSIX, LockFileEx on Windows) that a library
    open by the app and by ``photoclip index`` at once must get right everywhere.
    """

    def __init__(self, path: Path) -> None:
        from filelock import FileLock

        self.path = path
        self._lock = FileLock(str(path), timeout=0)

    def _refused(self, exc: OSError) -> LibraryError:
        error = library_os_error(exc, f"the library's lock file {self.path}")
        if isinstance(error, ReadOnlyLibraryError):
            return ReadOnlyLibraryError(
                f"the library {self.path.parent} cannot be changed: it is on a read-only "
                f"disk or folder ({describe_os_error(exc)}); status, search and similar "
                "still work")
        return error

    def acquire(self) -> None:
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout as exc:
            raise LibraryLockedError(
                f"the library {self.path.parent} is being written by another photoclip "
                "process (the app, photoclip watch or an index run); close it or wait for "
                "it to finish",
                reason=f"the library {self.path.parent} is being written by another photoclip "
                       "(another window, or photoclip running in a terminal); close it or "
                       "wait for it to finish") from exc
        except OSError as exc:
            raise self._refused(exc) from exc

    def release(self) -> None:
        self._lock.release()


class Library:
    """The facade over one library folder. Build it with :meth:`open`.

    The constructor takes the parts (catalog, embedder, label-set store, vectors, lock) so
    tests can assemble one from pieces; :meth:`open` is the factory that builds them.

    Threads (docs/ARCHITECTURE.md has the whole picture): any thread may read (search,
    browse, status) at any time. Writes that change what is indexed (scan, index, model
    switch, folder removal) hold ``_index_lock``, one at a time; tagging holds
    ``_tag_lock``; small writes (a tag, a label set) are single catalog transactions. Lock
    order: ``_index_lock`` → ``_tag_lock`` → ``_vectors_lock`` → the vector index's lock →
    the catalog's write lock; the embedder's locks are leaves.
    """

    def __init__(self, folder: str | os.PathLike[str], catalog: Catalog, embedder: Embedder,
                 *, label_sets: LabelSetStore | None = None,
                 vectors: VectorIndex | None = None, lock: WriteLock | None = None,
                 readonly: bool = False, batch_size: int = 32,
                 decode_threads: int | None = None,
                 prompt_cache: PromptCache | None = None) -> None:
        self.folder = Path(folder).expanduser().absolute()
        self.readonly = readonly
        self.catalog = catalog
        self.embedder = embedder
        self._lock = lock
        self._closed = False
        self.vectors = vectors or VectorIndex(self.folder, embedder.signature)
        self.indexer = self._make_indexer(embedder, self.vectors, batch_size, decode_threads)
        self._vectors_open = False
        self._vectors_lock = threading.Lock()
        # Tagging (a batch's, or a whole set's after an edit) reads embeddings and writes
        # the set's tags as one step: a re-tag in the app's interactive lane must not
        # replace the tags a batch of a running index wrote in between, nor a batch write
        # tags of a set version the re-tag just replaced.
        self._tag_lock = threading.RLock()
        self._index_lock = threading.RLock()
        self.labelsets = label_sets or LabelSetStore(self.folder / "labelsets", catalog,
                                                     readonly=readonly)
        self._prompt_cache = prompt_cache or default_prompt_cache()
        self._scorer = Scorer(embedder, catalog, self._prompt_cache,
                              concept_data=self._concept_data)
        self._listeners: list[Listener] = []
        self._untagged: list[int] = []     # committed in this run, waiting for prompts
        self._batches = 0
        self._text_tower: Any = None       # textexport.TextTower, or False: none usable
        # Writes that are only a scan's bookkeeping (when each root was last looked at) do
        # not call for a backup; everything else the connection writes does.
        self._bookkeeping_changes = 0
        self._changes_at_backup = 0
        self._reported: set[str] = set()   # warnings already handed to the caller

    @classmethod
    def open(cls, folder: str | os.PathLike[str], *, model: str | None = None,
             readonly: bool = False, embedder: Embedder | None = None, batch_size: int = 32,
             decode_threads: int | None = None) -> Library:
        """Open (creating if needed) the library in ``folder``: the composition root.

        A writable library takes the folder's write lock (one writing process at a time);
        a read-only one takes none and never writes, so it can run beside a writer.
        """
        folder = Path(folder).expanduser().absolute()
        lock: WriteLock | None = None
        if readonly:
            if not (folder / CATALOG_NAME).is_file():
                raise LibraryError(f"no photoclip library at {folder} "
                                   "(add a folder first: photoclip add FOLDER)")
        else:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LibraryError(f"cannot create the library folder {folder}: "
                                   f"{exc.strerror}") from exc
            lock = WriteLock(folder / LOCK_NAME)
            lock.acquire()
        try:
            # Read-only opens (search, status) are checked too (17 ms on 10,000 photos,
            # 170 ms on 100,000): a damaged page they never read would otherwise let them
            # answer as if nothing were wrong.
            catalog = Catalog(folder / CATALOG_NAME, readonly=readonly)
            try:
                spec = model or catalog.get_meta("model") or DEFAULT_MODEL
                library = cls(folder, catalog, embedder or Embedder(spec), lock=lock,
                              readonly=readonly, batch_size=batch_size,
                              decode_threads=decode_threads)
                if not readonly:
                    try:
                        library.labelsets.seed(paths.resources_dir())
                    except OSError as exc:
                        raise library_os_error(
                            exc, f"the label sets in {library.labelsets_dir}") from exc
                    catalog.purge_removed_roots()   # removals of a session that ended
            except BaseException:
                catalog.close()
                raise
        except BaseException:
            if lock:
                lock.release()
            raise
        return library

    def _make_indexer(self, embedder: Embedder, vectors: VectorIndex, batch_size: int,
                      decode_threads: int | None) -> Indexer:
        indexer = Indexer(self.catalog, embedder, vectors, batch_size=batch_size,
                          decode_threads=decode_threads)
        indexer.batch_hooks.append(self._batch_committed)
        return indexer

    def _batch_committed(self, ids: list[int]) -> None:
        """New photos become visible at once, and are tagged as soon as tagging is free.

        Tagging a batch is one matrix product once the label sets' prompt embeddings are
        known. When no cache holds them (the first library of a model), embedding them
        must not delay the first photos: the first batches are committed untagged, then
        the prompts are embedded a chunk per batch, and the photos that waited are tagged
        together (see :data:`DEFER_TAGGING_BATCHES`).
        """
        self._batches += 1
        if not ids:
            return
        sets = self.labelsets.current()
        missing = self._scorer.missing(sets) if sets else []
        if not missing and not self._untagged:
            if sets:
                self.tag(ids=ids, sets=sets)
            self._emit(PhotosChanged.of(added=ids))
            return
        if not self._untagged and self.catalog.get_meta(TAGS_PENDING) != "1":
            self.catalog.set_meta(TAGS_PENDING, "1")
        self._untagged += ids
        self._emit(PhotosChanged.of(added=ids))
        if self._batches > DEFER_TAGGING_BATCHES:
            self._scorer.embed(missing[:PROMPTS_PER_BATCH])
            if len(missing) <= PROMPTS_PER_BATCH:
                self._tag_waiting(sets)

    def _export_quietly(self) -> None:
        try:
            self.export_text_tower()
        except (OSError, ValueError) as exc:   # searches keep working through torch
            log.info("could not export the text tower to %s: %s", self.folder, exc)

    def _tag_waiting(self, sets: list[LabelSet]) -> None:
        waiting, self._untagged = self._untagged, []
        if sets and waiting:
            self.tag(ids=waiting, sets=sets)
        self.catalog.set_meta(TAGS_PENDING, "0")

    def _finish_tagging(self, cancelled: bool) -> None:
        """After a run: tag what waited for prompts, or re-tag after a crash left some
        untagged. A cancelled run leaves it to the next one (the catalog remembers)."""
        if cancelled:
            self._untagged = []
            return
        if self._untagged:
            sets = self.labelsets.current()
            self._scorer.embed(self._scorer.missing(sets))
            self._tag_waiting(sets)
        elif self.catalog.get_meta(TAGS_PENDING) == "1":
            self.tag()
            self.catalog.set_meta(TAGS_PENDING, "0")

    # -- events ----------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(event)`` after each committed change (see core/events.py)."""
        self._listeners.append(listener)

    def _emit(self, event: LibraryEvent) -> None:
        if not event:
            return
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("library listener failed")

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> Library:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(quiet=exc_type is not None)

    def close(self, *, quiet: bool = False) -> None:
        """Save the vector index and let go of the catalog and the lock.

        Never raises for a full or read-only disk: the index is a cache of the catalog,
        caught up next time; the failure is logged (the CLI prints it as one line) unless
        ``quiet`` (an error the caller reports is already on its way).
        """
        if self._closed:
            return
        self._closed = True
        try:
            with self._index_lock:
                if not self.readonly:
                    try:
                        self.catalog.purge_removed_roots()
                    except PhotoclipError as exc:
                        log.warning("%s; folders removed in this session are forgotten next "
                                    "time", exc)
                if not self.readonly and self._vectors_open:
                    self.vectors.save()
        except PhotoclipError as exc:
            message = f"{exc}; the search index is rebuilt from the catalog next time"
            (log.info if quiet or message in self._reported else log.warning)("%s", message)
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
        """Use another model from now on (waits for an indexing run in flight to finish).

        Vectors of the old model stay in the catalog. :meth:`switch_model` is the way to
        change models without a moment where search has nothing to answer with.
        """
        with self._index_lock, self._tag_lock, self._vectors_lock:
            if not self.readonly and self._vectors_open:
                try:
                    self.vectors.save()
                except PhotoclipError as exc:
                    log.warning("%s; it is rebuilt from the catalog next time", exc)
            self._install_model(embedder, VectorIndex(self.folder, embedder.signature))
            self._vectors_open = False

    def _install_model(self, embedder: Embedder, vectors: VectorIndex) -> None:
        self.embedder = embedder
        self.vectors = vectors
        self.indexer = self._make_indexer(embedder, vectors, self.indexer.batch_size,
                                          self.indexer.decode_threads)
        self._scorer = Scorer(embedder, self.catalog, self._prompt_cache,
                              concept_data=self._concept_data)

    def switch_model(self, embedder: Embedder, *, progress: ProgressCallback | None = None,
                     cancel: threading.Event | None = None, pause: threading.Event | None = None,
                     download: DownloadProgress | None = None) -> IndexSummary:
        """Re-embed the library with ``embedder`` in the background, then switch to it.

        Until every photo has a vector of the new model, searches keep using the old one.
        Cancelled (or failed), nothing switches; what was embedded is kept, so asking again
        resumes. On success the library is re-tagged with the new model and remembers it.
        """
        self._require_writable()
        cancel = cancel or threading.Event()
        embedder.load(progress=download)   # ModelUnavailableError: nothing has changed
        vectors = VectorIndex(self.folder, embedder.signature)
        vectors.open(self.catalog)
        indexer = Indexer(self.catalog, embedder, vectors, batch_size=self.indexer.batch_size,
                          decode_threads=self.indexer.decode_threads)
        total = IndexSummary()

        def run() -> bool:
            summary = indexer.run(progress=progress, cancel=cancel, pause=pause)
            total.embedded += summary.embedded
            total.failed += summary.failed
            total.seconds += summary.seconds
            total.cancelled = summary.cancelled
            return not summary.cancelled

        if not run():   # the bulk of the work, beside indexing of the old model
            vectors.save()
            return total
        with self._index_lock:
            if not run():   # photos that arrived meanwhile
                vectors.save()
                return total
            with self._tag_lock, self._vectors_lock:
                if self._vectors_open and not self.readonly:
                    self.vectors.save()
                self._install_model(embedder, vectors)
                self._vectors_open = True
            self.catalog.set_meta("model", str(embedder.spec))
            self.tag()
            self._export_quietly()
        self._emit(ModelChanged(str(embedder.spec)))
        self._emit(TagsChanged())
        return total

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
        if _inside(resolved, str(self.folder.resolve())):
            raise FolderError(f"{display_path(resolved)} is photoclip's own library folder "
                              "(its catalog and index), not a folder of photos")
        for root in self.catalog.roots():
            if resolved == root.path or resolved.startswith(root.path.rstrip(os.sep) + os.sep):
                return root
        hidden = any(_inside(r.path, resolved) for r in self.catalog.removed_roots())
        root = self.catalog.add_root(resolved)
        self._emit(RootsChanged())
        if hidden:   # a removal undone: its photos are back as they were
            self._sync_vectors()
            self._emit(PhotosChanged(everything=True))
        return root

    def find_root(self, folder: str | os.PathLike[str]) -> Root:
        candidates = {str(Path(folder).expanduser().absolute())}
        with contextlib.suppress(OSError):
            candidates.add(str(Path(folder).expanduser().resolve()))
        for root in self.catalog.roots():
            if root.path in candidates:
                return root
        raise FolderError(f"not a library folder: {folder}")

    def remove_root(self, folder: str | os.PathLike[str], *, undoable: bool = False) -> int:
        """Forget a folder and what was indexed in it (the photos on disk are untouched).

        The user's own tags are kept by content for when the photos come back. With
        ``undoable`` the folder is only hidden until the library closes, so
        :meth:`restore_root` can bring it back at once. Returns the photos it held.
        """
        self._require_writable()
        root = self.find_root(folder)
        if undoable:
            # Hiding deletes nothing, so a batch in flight can still commit: no need to wait.
            n = self.catalog.hide_root(root.id)
        else:
            with self._index_lock:
                n = self.catalog.remove_root(root.id)
        self._sync_vectors()
        self._emit(RootsChanged())
        self._emit(PhotosChanged(everything=True))
        self._emit(TagsChanged())
        return n

    def restore_root(self, folder: str | os.PathLike[str]) -> Root:
        """Undo :meth:`remove_root` with ``undoable=True`` (before the library closed)."""
        self._require_writable()
        path = str(folder)
        hidden = next((r for r in self.catalog.removed_roots() if r.path == path), None)
        if hidden is None:
            raise FolderError(f"{path} was not removed in this session; add it again instead")
        self.catalog.restore_root(hidden.id)
        self._sync_vectors()
        self._emit(RootsChanged())
        self._emit(PhotosChanged(everything=True))
        self._emit(TagsChanged())
        return hidden

    def user_tag_count(self, folder: str | os.PathLike[str]) -> int:
        """Tags the user set or removed by hand in a folder (what a removal must speak of)."""
        return self.catalog.user_tag_count(self.find_root(folder).id)

    def _sync_vectors(self) -> None:
        with self._vectors_lock:
            if self._vectors_open:
                self.vectors.sync(self.catalog)

    def check_roots(self) -> bool:
        """Mark folders online or offline as they are reachable now: quick, no scan.

        How an unplugged drive greys out, and a returning one comes back, within seconds.
        Returns whether any folder changed state.
        """
        if self.readonly:
            return False
        counts = self.catalog.root_counts()
        changed = False
        for root in self.catalog.roots():
            online = scanner.root_reachable(root.path, counts.get(root.id, (0, 0))[0])
            if online != root.online:
                self.catalog.set_root_state(root.id, online=online)
                changed = True
        if changed:
            self._sync_vectors()
            self._emit(RootsChanged())
            self._emit(PhotosChanged(everything=True))
        return changed

    def set_root_polling(self, folder: str, polling: bool) -> None:
        """Record that a folder is watched by polling (a network share, or no inotify
        watches left), which ``status`` reports."""
        if self.readonly:
            return
        root = self.find_root(folder)
        if root.polling != polling:
            self.catalog.set_root_state(root.id, polling=polling)

    def roots(self, *, folders: bool = False) -> list[RootStatus]:
        """Each folder of the library with its photo count; ``folders``: also how many
        photos each directory under it holds directly."""
        counts = self.catalog.root_counts()
        inside = self.catalog.folder_counts() if folders else {}
        bad = self.catalog.folder_unreadable() if folders else {}
        out = []
        for r in self.catalog.roots():
            present, unreadable = counts.get(r.id, (0, 0))
            out.append(RootStatus(r.path, r.online, present, r.polling, inside.get(r.id, {}),
                                  unreadable, bad.get(r.id, {}), r.last_scan is not None))
        return out

    # -- indexing --------------------------------------------------------------------------

    def scan(self, roots: list[Root] | None = None, *, files: list[str] | None = None,
             folders: list[str] | None = None, min_age: float = 0.0,
             cancel: threading.Event | None = None) -> scanner.ScanSummary:
        self._require_writable()
        online_before = {r.id: r.online for r in self.catalog.roots()}
        before = self.catalog.total_changes
        summary = scanner.scan(self.catalog, roots if roots is not None else self.catalog.roots(),
                               files=files, folders=folders, min_age=min_age, cancel=cancel,
                               skip=self.skip_folders(), pairs=self.pairing())
        if not summary.touched:
            self._bookkeeping_changes += self.catalog.total_changes - before
        if summary.touched or summary.offline_roots:
            self._sync_vectors()
        if {r.id: r.online for r in self.catalog.roots()} != online_before:
            self._emit(RootsChanged())
            self._emit(PhotosChanged(everything=True))
        elif summary.touched == summary.new:
            self._emit(PhotosChanged.of(added=summary.new_ids))
        else:
            self._emit(PhotosChanged(everything=True))
        return summary

    def index(self, *, progress: ProgressCallback | None = None,
              cancel: threading.Event | None = None, pause: threading.Event | None = None,
              scan: bool = True, download: DownloadProgress | None = None,
              min_age: float = 0.0, embed: bool = True,
              retry_failed: bool = False) -> RunSummary:
        """Scan every root, embed everything pending, re-tag label sets edited since.

        Safe to interrupt at any point: every committed batch stays. ``embed=False`` only
        scans (browsing shows new photos while the model is not available). Photos that
        failed with other decoders than this process has are tried again (all failed
        photos with ``retry_failed``). After a run that changed the catalog, a backup of it
        is made in ``backups/`` (the newest few are kept).
        """
        self._require_writable()
        from photoclip.core.indexer import IndexProgress

        # The app's indexer and the folder watcher may both ask; one runs at a time.
        with self._index_lock:
            if progress:
                progress(IndexProgress("scan", message="looking for new and changed photos"))
            scan_summary = (self.scan(cancel=cancel, min_age=min_age) if scan
                            else scanner.ScanSummary())
            if not embed:
                return RunSummary(scan_summary, IndexSummary())
            retried = self.catalog.retry_failed(None if retry_failed else decoders())
            self._ensure_vectors()
            if not self.catalog.has_embeddings(self.embedder.signature):
                # Nothing is tagged yet: record the sets as they are now, so the per-batch
                # tagging of this first run counts as tagging the whole library (else the
                # run would end by tagging everything a second time).
                for ls in self.labelsets.sync().changed:
                    self.labelsets.mark_tagged(ls)
            self._batches, self._untagged = 0, []
            summary = self.indexer.run(progress=progress, cancel=cancel, pause=pause,
                                       download=download)
            try:
                self._finish_tagging(summary.cancelled)
            except ModelUnavailableError as exc:
                log.info("tagging waits for the model: %s", exc)
            # Only a model that loaded becomes the library's: a mistyped --model must not
            # leave every later search failing.
            if self.embedder.loaded and self.catalog.get_meta("model") != self.model_spec:
                self.catalog.set_meta("model", self.model_spec)
            if self.embedder.loaded and not summary.cancelled:
                self._export_quietly()
            retagged: list[str] = []
            retag_error = None
            if not summary.cancelled:
                try:
                    retagged = self.retag_changed_label_sets()
                except ModelUnavailableError as exc:
                    retag_error = str(exc)   # embedded work stands; re-tagged next time
            run = RunSummary(scan_summary, summary, retagged, retag_error, retried=retried)
            self._after_run(run, min_interval=0.0)
        return run

    def _after_run(self, run: RunSummary, min_interval: float) -> None:
        """Pass on what the indexer could not save, and back the catalog up if it changed."""
        run.warnings += run.index.warnings
        try:
            run.backup = self.backup_catalog(min_interval=min_interval)
        except PhotoclipError as exc:
            run.warnings.append(f"no catalog backup made: {exc}")
        except OSError as exc:
            run.warnings.append(f"no catalog backup made: {describe_os_error(exc)}")
        for message in run.warnings:
            log.info("%s", message)
        self._reported.update(run.warnings)

    @property
    def backups_dir(self) -> Path:
        return self.folder / BACKUPS_DIR

    def backup_catalog(self, min_interval: float = 0.0, *, force: bool = False
                       ) -> Path | None:
        """Copy the catalog to ``backups/`` if it changed since the last copy (and the newest
        copy is at least ``min_interval`` seconds old). Returns the new file, if any."""
        self._require_writable()
        changed = self.catalog.total_changes - self._bookkeeping_changes
        if not force and changed == self._changes_at_backup:
            return None
        existing = list_backups(self.backups_dir)
        if not force and existing and min_interval > 0:
            with contextlib.suppress(OSError):
                if time.time() - existing[0].stat().st_mtime < min_interval:
                    return None
        path = self.catalog.backup(self.backups_dir, keep=BACKUP_GENERATIONS)
        self._changes_at_backup = changed
        return path

    def apply_changes(self, *, files: list[str] = (),  # type: ignore[assignment]
                      folders: list[str] = (),  # type: ignore[assignment]
                      cancel: threading.Event | None = None,
                      progress: ProgressCallback | None = None,
                      pause: threading.Event | None = None,
                      min_age: float = 0.0, embed: bool = True) -> RunSummary:
        """Bring just these paths in line with disk, then embed what is pending.

        What the watcher calls with settled events: ``files`` are looked at one by one
        (new, changed, moved, gone), ``folders`` are walked (a folder moved in or out).
        """
        self._require_writable()
        with self._index_lock:
            total = self.scan(files=list(files), folders=list(folders), cancel=cancel,
                              min_age=min_age)
            if not embed:
                return RunSummary(total, IndexSummary())
            self._ensure_vectors()
            self._batches, self._untagged = 0, []
            summary = self.indexer.run(cancel=cancel, progress=progress, pause=pause)
            try:
                self._finish_tagging(summary.cancelled)
            except ModelUnavailableError as exc:
                log.info("tagging waits for the model: %s", exc)
            run = RunSummary(total, summary)
            self._after_run(run, min_interval=BACKUP_INTERVAL)
        return run

    # -- RAW+JPEG pairs ----------------------------------------------------------------------

    def pairing(self) -> bool:
        """Whether a RAW file beside a JPEG/HEIF of the same name is one photo with it (the
        default: embedded and shown once, from the cheaper JPEG; tags apply to both)."""
        return self.catalog.get_meta("pair_raw_jpeg", "1") != "0"

    def set_pairing(self, enabled: bool) -> int:
        """Turn pairing on or off for the whole library now. Returns the RAW files that
        joined or left a pair (those leaving are embedded on their own by the next run)."""
        self._require_writable()
        self.catalog.set_meta("pair_raw_jpeg", "1" if enabled else "0")
        with self.catalog.transaction() as db:
            changed = self.catalog.update_pairs(db, None, enabled)
        if changed:
            self._sync_vectors()
            self._emit(PhotosChanged(everything=True))
        return changed

    def visible_photo_ids(self, photo_ids: Iterable[int]) -> set[int]:
        """Which of these photos are still there to show (not deleted, trashed, in a folder
        removed or offline): a list held on screen keeps those, and only those."""
        return self.catalog.visible_ids(photo_ids)

    def files_of(self, photo_id: int) -> list[str]:
        """The files of a photo: its own first, then the RAW files paired with it (for the
        details view: a RAW+JPEG pair is one photo with two files)."""
        return self.catalog.files_of(photo_id)

    # -- folders skipped by scans ----------------------------------------------------------

    def skip_folders(self) -> list[str]:
        """Folder-name patterns scans do not look into (see scanner.DEFAULT_SKIP_FOLDERS)."""
        stored = self.catalog.get_meta("skip_folders")
        if stored is None:
            return list(scanner.DEFAULT_SKIP_FOLDERS)
        try:
            value = json.loads(stored)
        except ValueError:
            return list(scanner.DEFAULT_SKIP_FOLDERS)
        return [str(p) for p in value] if isinstance(value, list) else \
            list(scanner.DEFAULT_SKIP_FOLDERS)

    def set_skip_folders(self, patterns: list[str] | None) -> list[str]:
        """Replace the patterns (``None``: back to the defaults). The next scan applies them:
        photos in newly skipped folders count as missing (kept), newly allowed ones are
        found."""
        self._require_writable()
        if patterns is None:
            self.catalog.set_meta("skip_folders", json.dumps(list(scanner.DEFAULT_SKIP_FOLDERS)))
        else:
            clean = list(dict.fromkeys(p.strip() for p in patterns if p.strip()))
            self.catalog.set_meta("skip_folders", json.dumps(clean))
        return self.skip_folders()

    # -- queries ---------------------------------------------------------------------------

    def _results(self, hits: list[tuple[int, float]]) -> list[SearchResult]:
        photos = self.catalog.photos_by_ids(i for i, _ in hits)
        return [SearchResult(photos[i], s) for i, s in hits if i in photos]

    def _allowed(self, folder: str | None, date_from: float | None,
                 date_to: float | None, tag: str | None = None) -> set[int] | None:
        if folder is None and date_from is None and date_to is None and tag is None:
            return None
        if folder is not None:
            folder = str(Path(folder).expanduser().resolve())
        allowed = self.catalog.searchable_ids(self.embedder.signature, folder=folder,
                                              date_from=date_from, date_to=date_to)
        if tag is not None:
            allowed &= self.ids_with_tag(tag)
        return allowed

    def search_vector(self, vector: np.ndarray, top: int = 20, *, folder: str | None = None,
                      date_from: float | None = None, date_to: float | None = None,
                      tag: str | None = None, exclude: int | set[int] | None = None
                      ) -> list[SearchResult]:
        vectors = self._ensure_vectors()
        allowed = self._allowed(folder, date_from, date_to, tag)
        if exclude is not None:
            drop = {exclude} if isinstance(exclude, int) else set(exclude)
            allowed = (allowed if allowed is not None else set(vectors.live_ids())) - drop
        return self._results(vectors.query(vector, top, allowed))

    def text_vector(self, text: str) -> np.ndarray:
        """A query's unit vector: the loaded model's, else the library's exported text tower
        run without torch (a search process, or the app before its model is ready), else
        the model's after loading it."""
        if not self.embedder.loaded:
            tower = self._exported_text_tower()
            if tower is not None:
                return tower.encode([text])[0]
        return self.embedder.encode_texts([text], query=True)[0]

    def _logit_scale(self) -> float:
        """The model's logit scale, from the exported tower when the model is not loaded."""
        if not self.embedder.loaded:
            tower = self._exported_text_tower()
            if tower is not None and tower.logit_scale:
                return float(tower.logit_scale)
        return self.embedder.logit_scale

    def _exported_text_tower(self) -> Any:
        from photoclip.core import textexport

        if self._text_tower is None:
            self._text_tower = textexport.open_tower(self.folder, self.embedder.signature) \
                or False
        return self._text_tower or None

    def export_text_tower(self) -> str | None:
        """Keep the library's torch-free text tower in step with its model (quick searches).

        Returns None when it is there, else why it is not (the library then searches with
        torch). Cheap when the export is current; otherwise loads the model.
        """
        if self.readonly:
            return "the library is read-only"
        why = self.embedder.export_text_tower(self.folder)
        self._text_tower = None
        if why:
            log.info("searches of %s use torch: %s", self.folder, why)
        return why

    def search(self, text: str, top: int | None = 20, **filters: Any) -> list[SearchResult]:
        """Photos best matching a description, best first, with cosine scores.

        ``top=N``: exactly the N best. ``top=None``: as many as are relevant (see
        :meth:`search_matches`).
        """
        if top is None:
            return self.search_matches(text, **filters).results
        text = text.strip()
        if not text:
            return []
        return self.search_vector(self.text_vector(text), top, **filters)

    def search_matches(self, text: str, *, weaker: bool = False, limit: int = 500,
                       **filters: Any) -> Matches:
        """The photos a description is relevant to, cut where the scores fall off.

        See core/relevance.py for the rule. ``weaker`` lifts the cut to everything within
        the relevance window; ``limit`` caps either.
        """
        text = text.strip()
        if not text:
            return Matches([], False, 0)
        vec = self.text_vector(text)
        vectors = self._ensure_vectors()
        allowed = self._allowed(filters.get("folder"), filters.get("date_from"),
                                filters.get("date_to"), filters.get("tag"))
        scale = self._logit_scale()
        k = 256
        while True:
            hits = vectors.query(vec, k, allowed)
            scores = np.array([s for _i, s in hits], dtype=np.float32)
            cut = relevance.cut_scores(scores, scale)
            pool = len(allowed) if allowed is not None else len(vectors)
            if cut.window < len(hits) or len(hits) >= pool or k >= 16 * limit:
                break
            k *= 4   # the window reaches past what was asked for: look further
        # A match must describe the photo better than "a photo" does (the neutral class).
        # Judged over the whole window, so "weaker matches" counts only what it would add.
        tower = None if self.embedder.loaded else self._exported_text_tower()
        neutral = self._scorer.neutral(tower.encode if tower is not None else None)
        window = hits[:min(cut.window, limit)]
        base = vectors.vectors_of([i for i, _ in window]) @ neutral
        passing = [rank for rank, (h, b) in enumerate(zip(window, base, strict=True))
                   if h[1] >= b]
        take = cut.window if weaker else cut.keep
        kept = [window[rank] for rank in passing if rank < take]
        return Matches(self._results(kept), cut.clear and bool(kept),
                       len(passing) - len(kept))

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

    def similar_to_photos(self, photo_ids: list[int], top: int = 20, **filters: Any
                          ) -> list[SearchResult]:
        """Photos most like these (their mean embedding), the photos themselves excluded."""
        _ids, vecs = self.catalog.all_embeddings(self.embedder.signature, photo_ids)
        if not len(vecs):
            return []
        mean = vecs.mean(0)
        mean /= np.linalg.norm(mean) + 1e-12
        return self.search_vector(mean, top, exclude=set(photo_ids), **filters)

    def photos(self, limit: int | None = None, offset: int = 0,
               folder: str | None = None, tag: str | None = None,
               date_from: float | None = None, date_to: float | None = None) -> list[Photo]:
        """Browse: present photos newest first, optionally only those with ``tag``."""
        if folder is not None:
            folder = str(Path(folder).expanduser().resolve())
        photos = self.catalog.list_photos(limit=None if tag else limit, offset=offset,
                                          folder=folder, date_from=date_from, date_to=date_to)
        if tag is not None:
            ids = self.ids_with_tag(tag)
            photos = [p for p in photos if p.id in ids][:limit]
        return photos

    # -- label sets and tags ---------------------------------------------------------------

    @property
    def labelsets_dir(self) -> Path:
        return self.labelsets.folder

    @property
    def label_set_errors(self) -> list[str]:
        """Problems with set files (file, line, reason); their last good versions are used."""
        return self.labelsets.errors

    def label_sets(self) -> list[LabelSet]:
        return self.labelsets.all()

    def label_set(self, name: str) -> LabelSet:
        return self.labelsets.get(name)

    def save_label_set(self, label_set: LabelSet, *, retag: bool = True,
                       keep_layout: bool = True) -> LabelSet:
        """Store a set (from a file or the editor) as a file the user owns, then re-tag.

        ``keep_layout``: edit the existing file in place, keeping the user's comments.
        """
        self._require_writable()
        try:
            parsed = self.labelsets.save(label_set, keep_layout=keep_layout)
        except OSError as exc:
            raise library_os_error(exc, f"the label set file of “{label_set.name}”") from exc
        if retag:
            self.tag(parsed.name)
        return parsed

    def import_label_set(self, path: str | os.PathLike[str]) -> LabelSet:
        return self.save_label_set(read_label_set(Path(path)), keep_layout=False)

    def remove_label_set(self, name: str) -> None:
        self._require_writable()
        self.labelsets.remove(name)
        self._emit(TagsChanged(label_sets=frozenset({name})))

    def edited_label_sets(self) -> list[str]:
        """Sets whose file changed since the library was tagged with them (read-only: what
        the next :meth:`retag_changed_label_sets` would re-tag)."""
        return sorted(ls.name for ls in self.labelsets.sync().changed)

    def retag_changed_label_sets(self) -> list[str]:
        """Re-tag the whole library for every set whose file changed since it was tagged.

        How hand edits (and edits while photoclip was closed) reach the tags: called by
        ``index``, by the watcher when the labelsets folder changes, and by the app.
        """
        self._require_writable()
        found = self.labelsets.sync()
        if found.removed:
            self._emit(TagsChanged(label_sets=frozenset(found.removed)))
        for ls in found.changed:
            self.tag(ls.name)
        return [ls.name for ls in found.changed]

    def tag(self, set_name: str | None = None, ids: list[int] | None = None,
            sets: list[LabelSet] | None = None) -> int:
        """Score photos (``ids``, else all) against label sets; returns auto tags written.

        Works on stored embeddings only: no image is decoded. Tagging the whole library
        records each set's version as the one the tags follow.
        """
        self._require_writable()
        with self._tag_lock:
            if sets is not None and ids is not None:
                # A batch's sets were read before it waited for the lock: an edit saved
                # meanwhile has re-tagged the library, and the batch must follow it too.
                names = {ls.name for ls in sets}
                sets = [ls for ls in self.labelsets.current() if ls.name in names]
            elif sets is None:
                sets = [self.label_set(set_name)] if set_name else self.label_sets()
            return self._tag_locked(sets, ids)

    def _tag_locked(self, sets: list[LabelSet], ids: list[int] | None) -> int:
        if not sets:
            return 0
        model = self.embedder.signature
        if ids is None:
            self._scorer.forget_concepts()   # learned labels: calibrate on the library now
        # Given ids are a batch the indexer just embedded: no need to list the whole library
        # (this runs once per batch).
        photo_ids, vecs = self.catalog.all_embeddings(
            model, ids if ids is not None else self.catalog.searchable_ids(model))
        written = 0
        for ls in sets:
            if len(photo_ids):
                chosen = choose_tags(ls, photo_ids, self._scorer.scores(ls, vecs))
                self.catalog.replace_auto_tags(ls.name, chosen, ids=ids, labels=ls.labels)
                written += len(chosen)
            elif ids is None:
                self.catalog.replace_auto_tags(ls.name, [], labels=ls.labels)
            if ids is None:
                self.labelsets.mark_tagged(ls)
        self._emit(TagsChanged(None if ids is None else frozenset(ids),
                               frozenset(ls.name for ls in sets)))
        return written

    def warm_label_sets(self) -> None:
        """Load every set's prompt embeddings that a cache holds (no model work).

        Prompts no cache holds are embedded beside the first batches of the next index
        run (see :meth:`_batch_committed`), or when a set is first scored.
        """
        self._scorer.missing(self.label_sets())

    def prepare_label_sets(self) -> None:
        """Embed every set's prompts now (what a benchmark counts as fixed cost)."""
        self._scorer.embed(self._scorer.missing(self.label_sets()))

    def preview_label_set(self, label_set: LabelSet, limit: int = 60
                          ) -> dict[str, tuple[int, list[tuple[Photo, float]]]]:
        """What a (possibly unsaved) set would tag: label -> (count, best photos)."""
        model = self.embedder.signature
        photo_ids, vecs = self.catalog.all_embeddings(model, self.catalog.searchable_ids(model))
        chosen = choose_tags(label_set, photo_ids, self._scorer.scores(label_set, vecs))
        by_label: dict[str, list[tuple[int, float]]] = {lb: [] for lb in label_set.labels}
        for pid, label, score in chosen:
            by_label[label].append((pid, score))
        best = {lb: sorted(v, key=lambda x: -x[1])[:limit] for lb, v in by_label.items()}
        photos = self.catalog.photos_by_ids({pid for v in best.values() for pid, _ in v})
        return {lb: (len(by_label[lb]), [(photos[pid], s) for pid, s in best[lb]
                                         if pid in photos]) for lb in label_set.labels}

    def tags(self, photo_id: int, include_rejected: bool = False) -> list[Tag]:
        return [Tag(s, label, score, src) for _pid, s, label, score, src
                in self.catalog.tag_rows([photo_id])
                if include_rejected or src != "rejected"]

    def all_tags(self, set_name: str | None = None) -> dict[str, list[Tag]]:
        """path -> tags (best first) for every present photo that has any."""
        rows = self.catalog.tag_rows(label_set=set_name)
        photos = self.catalog.photos_by_ids({r[0] for r in rows})
        out: dict[str, list[Tag]] = {}
        for pid, s, label, score, src in rows:
            p = photos.get(pid)
            if src == "rejected" or p is None or p.state == "missing":
                continue
            out.setdefault(p.path, []).append(Tag(s, label, score, src))
        return out

    def add_tag(self, photo_id: int, label_set: str, label: str) -> None:
        """The user says this photo has this label (confirm or add): never auto-replaced.

        For a learned label the photo also becomes one of its examples (see
        :meth:`edit_tags`).
        """
        self.edit_tags([photo_id], label_set, label, "manual")

    def reject_tag(self, photo_id: int, label_set: str, label: str) -> None:
        """The user removed this tag: remembered, so auto-tagging never brings it back.

        For a learned label the photo also becomes one of its negatives.
        """
        self.edit_tags([photo_id], label_set, label, "rejected")

    def tag_state(self, photo_id: int, label_set: str, label: str
                  ) -> tuple[float | None, str] | None:
        """One tag as it is now, for undo: (score, source) or None."""
        return self.catalog.tag_state(photo_id, label_set, label)

    def restore_tag(self, photo_id: int, label_set: str, label: str,
                    state: tuple[float | None, str] | None) -> None:
        """Put one tag back as :meth:`tag_state` saw it (undo of an edit)."""
        self.restore_tags([(photo_id, label_set, label, state)])

    def restore_tags(self, entries: list[tuple[int, str, str, Any]]) -> None:
        """Put many tags back as they were, in one transaction (undo of a bulk edit).

        A state is what :meth:`tag_state` or :meth:`edit_tags` gave: ``(score, source)``,
        None (no tag), or for a learned label a :class:`LearnedTagState`, whose role is put
        back too (the photo is an example, a negative, or neither again; the label is
        re-scored).
        """
        self._require_writable()
        plain = [(pid, s, label, st.tag if isinstance(st, LearnedTagState) else st)
                 for pid, s, label, st in entries]
        self.catalog.restore_tags(plain)
        roles: dict[tuple[str, str], dict[int, str | None]] = {}
        for pid, s, label, st in entries:
            if isinstance(st, LearnedTagState):
                roles.setdefault((s, label), {})[pid] = st.role
        for (s, label), by_photo in roles.items():
            self._set_roles(s, label, by_photo)
        self._emit(TagsChanged(frozenset(e[0] for e in entries)))

    def edit_tags(self, photo_ids: list[int], label_set: str, label: str, source: str
                  ) -> list[tuple[int, str, str, tuple[float | None, str] | None,
                                  tuple[float | None, str] | None]]:
        """Set one tag on many photos (``manual``: has it; ``rejected``: has it not).

        Returns (photo, set, label, before, after) per photo, which is what undo needs.

        For a learned label (core/concepts.py) the decision also teaches it: a confirmed
        photo becomes one of its examples, a removed one a negative; the set's file is
        updated and the set re-scored from stored embeddings. The states returned are then
        :class:`LearnedTagState`, so undo (:meth:`restore_tags`) puts the examples back too.
        """
        self._require_writable()
        learned = self._learned_label(label_set, label)
        before = self._states(photo_ids, label_set, label, learned)
        if learned is not None:   # first: a refused change (no example left) changes nothing
            role = "example" if source == "manual" else "negative"
            self._set_roles(label_set, label, dict.fromkeys(photo_ids, role))
        self.catalog.set_tags([(pid, label_set, label) for pid in photo_ids], source)
        after = self._states(photo_ids, label_set, label,
                             self._learned_label(label_set, label))
        self._emit(TagsChanged(frozenset(photo_ids)))
        return [(pid, label_set, label, b, a)
                for pid, b, a in zip(photo_ids, before, after, strict=True)]

    def confirm_tags(self, photo_ids: list[int]) -> list[tuple[int, str, str, Any, Any]]:
        """Make every automatic tag of these photos the user's own (undo entries back).

        Confirmed tags of learned labels make the photos examples of those labels.
        """
        self._require_writable()
        rows = [r for r in self.catalog.tag_rows(photo_ids) if r[4] == "auto"]
        learned_keys = {(s, label) for _pid, s, label, _sc, _src in rows
                        if self._learned_label(s, label) is not None}
        befores = {(pid, s, label): self._states([pid], s, label,
                                                 self._learned_label(s, label))[0]
                   for pid, s, label, _sc, _src in rows if (s, label) in learned_keys}
        for s, label in learned_keys:
            self._set_roles(s, label, {pid: "example" for pid, s2, l2, _sc, _src in rows
                                       if (s2, l2) == (s, label)})
        self.catalog.set_tags([(pid, s, label) for pid, s, label, _sc, _src in rows], "manual")
        entries: list[tuple[int, str, str, Any, Any]] = []
        for pid, s, label, score, _src in rows:
            if (s, label) in learned_keys:
                after = self._states([pid], s, label, self._learned_label(s, label))[0]
                entries.append((pid, s, label, befores[(pid, s, label)], after))
            else:
                entries.append((pid, s, label, (score, "auto"), (score, "manual")))
        self._emit(TagsChanged(frozenset(photo_ids)))
        return entries

    # -- learned labels (issue 18: labels taught by example photos) --------------------------

    def _learned_label(self, set_name: str, label: str) -> Learned | None:
        """The definition of a learned label, or None for a word label or an unknown set."""
        try:
            return self.labelsets.get(set_name).learned.get(label)
        except LabelSetError:
            return None

    def _contents(self, photo_ids: list[int]) -> dict[int, tuple[str, str]]:
        """photo id -> (content key, path as shown) for the photos of the catalog."""
        photos = self.catalog.photos_by_ids(photo_ids)
        return {pid: (content_key(p.size, p.hash), display_path(p.path))
                for pid, p in photos.items()}

    def _states(self, photo_ids: list[int], set_name: str, label: str,
                learned: Learned | None) -> list[Any]:
        tags = [self.catalog.tag_state(pid, set_name, label) for pid in photo_ids]
        if learned is None:
            return tags
        contents = self._contents(photo_ids)
        return [LearnedTagState(tag, learned.role(contents[pid][0]) if pid in contents
                                else None) for pid, tag in zip(photo_ids, tags, strict=True)]

    def _set_roles(self, set_name: str, label: str, roles: dict[int, str | None]) -> None:
        """Make photos examples / negatives / neither of a learned label, keep the set's file
        in step (last known paths refreshed) and re-score the set from stored embeddings."""
        ls = self.labelsets.get(set_name)
        learned = ls.learned.get(label)
        if learned is None:
            return
        updated = learned
        for pid, (content, path) in self._contents(list(roles)).items():
            updated = updated.with_role(content, path, roles[pid])
        updated = updated.with_paths(self._current_paths(updated))
        if updated == learned:
            return
        if not updated.examples:
            raise LabelSetError(f"“{label}” needs at least one example photo; it was not "
                                "changed (remove the label in the label-set editor instead)")
        self.save_label_set(replace(ls, source="", learned={**ls.learned, label: updated}))

    def _current_paths(self, learned: Learned) -> dict[str, str]:
        keys = {e.content: parse_content(e.content)
                for e in (*learned.examples, *learned.negatives)}
        rows = self.catalog.content_rows(self.embedder.signature,
                                         [k for k in keys.values() if k is not None])
        return {content: display_path(rows[key][1]) for content, key in keys.items()
                if key is not None and key in rows}

    def _concept_data(self, learned: Learned) -> ConceptData:
        """A learned label's photos, as stored embeddings of the model in use, and a sample
        of the library to calibrate against (core/concepts.py)."""
        model = self.embedder.signature

        def vectors(items: tuple[Example, ...]) -> tuple[list[int], list[str]]:
            keys = {e.content: parse_content(e.content) for e in items}
            rows = self.catalog.content_rows(model, [k for k in keys.values() if k])
            ids, missing = [], []
            for content, key in keys.items():
                row = rows.get(key) if key else None
                if row is not None and row[2]:
                    ids.append(row[0])
                else:
                    missing.append(content)
            return ids, missing

        pos_ids, pos_missing = vectors(learned.examples)
        neg_ids, neg_missing = vectors(learned.negatives)
        taken = set(pos_ids) | set(neg_ids)
        sample = [i for i in sample_ids(list(self.catalog.searchable_ids(model)))
                  if i not in taken]

        def load(ids: list[int]) -> np.ndarray:
            _got, vecs = self.catalog.all_embeddings(model, ids) if ids else (None, None)
            return vecs if vecs is not None and vecs.size else np.zeros((0, 0), np.float32)

        pos, neg, bg = load(pos_ids), load(neg_ids), load(sample)
        width = max(a.shape[1] for a in (pos, neg, bg))
        pos, neg, bg = (a if a.size else np.zeros((0, width), np.float32)
                        for a in (pos, neg, bg))
        return ConceptData(pos, neg, bg, tuple(pos_missing + neg_missing))

    def learn_label(self, label: str, set_name: str, examples: list[int | str],
                    negatives: list[int | str] = (),  # type: ignore[assignment]
                    prompts: list[str] | None = None) -> LabelSet:
        """Create (or teach more) a label defined by example photos, and tag the library.

        ``examples`` and ``negatives`` are photo ids or paths of photos in the library,
        embedded with the current model. A new label needs at least
        :data:`~photoclip.core.concepts.MIN_EXAMPLES` examples; an existing learned label
        gets these added. The set is created (threshold
        :data:`~photoclip.core.concepts.LEARNED_THRESHOLD`) if it does not exist. The
        examples become the user's own tags of the label, the negatives rejected ones, and
        the set is saved (examples by content with their last known path) and re-scored.
        Raises LabelSetError / FolderError with the reason, changing nothing.
        """
        self._require_writable()
        label = " ".join(label.split())
        if not label:
            raise LabelSetError("the label needs a name")
        pos = [self._resolve_photo(ref) for ref in examples]
        neg = [self._resolve_photo(ref) for ref in negatives]
        both = {p.id for p in pos} & {p.id for p in neg}
        if both:
            raise LabelSetError(f"{display_path(self.catalog.photo(min(both)).path)} is "  # type: ignore[union-attr]
                                "given both as an example and as a negative")
        try:
            ls: LabelSet | None = self.labelsets.get(set_name)
        except LabelSetError:
            ls = None
        if ls is not None and label in ls.labels and label not in ls.learned:
            raise LabelSetError(f"“{label}” in the set “{set_name}” is a label described by "
                                "words; give the learned label another name")
        learned = (ls.learned.get(label) if ls is not None else None) or Learned()
        for photos, role in ((pos, "example"), (neg, "negative")):
            for p in photos:
                learned = learned.with_role(content_key(p.size, p.hash), display_path(p.path),
                                            role)
        if len(learned.examples) < MIN_EXAMPLES:
            raise LabelSetError(f"a learned label needs at least {MIN_EXAMPLES} example "
                                f"photos (“{label}” would have {len(learned.examples)})")
        extra = tuple(p.strip() for p in (prompts or ()) if p.strip())
        if ls is None:
            draft = LabelSet(set_name, (label,), None, LEARNED_THRESHOLD,
                             learned={label: learned},
                             prompts={label: extra} if extra else {})
            parse_label_set(draft.to_toml(), set_name)   # the set's name, checked
        else:
            prompts_now = dict(ls.prompts)
            if extra:
                prompts_now[label] = tuple(dict.fromkeys((*prompts_now.get(label, ()),
                                                          *extra)))
            draft = replace(ls, source="", labels=tuple(dict.fromkeys((*ls.labels, label))),
                            prompts=prompts_now, learned={**ls.learned, label: learned})
        saved = self.save_label_set(draft)
        self.catalog.set_tags([(p.id, set_name, label) for p in pos], "manual")
        self.catalog.set_tags([(p.id, set_name, label) for p in neg], "rejected")
        self._emit(TagsChanged(frozenset(p.id for p in (*pos, *neg)),
                               frozenset({set_name})))
        return saved

    def label_ranking(self, set_name: str, label: str, top: int | None = None
                      ) -> list[SearchResult]:
        """Every searchable photo ranked by its score for one label of a set (best first),
        whatever the threshold: what a learned label would suggest next. Stored embeddings
        only."""
        ls = self.labelsets.get(set_name)
        if label not in ls.labels:
            raise LabelSetError(f"the set “{set_name}” has no label “{label}”")
        model = self.embedder.signature
        ids, vecs = self.catalog.all_embeddings(model, self.catalog.searchable_ids(model))
        if not len(ids):
            return []
        scores = self._scorer.scores(ls, vecs)[:, ls.labels.index(label)]
        order = np.argsort(-scores, kind="stable")[:top]
        return self._results([(int(ids[i]), float(scores[i])) for i in order])

    def _resolve_photo(self, ref: int | str) -> Photo:
        """A photo of the library with an embedding for the model in use, by id or path."""
        if isinstance(ref, int):
            photo = self.catalog.photo(ref)
            where = f"photo #{ref}"
        else:
            path = str(Path(ref).expanduser().resolve())
            photo = self.catalog.photo_by_path(path)
            where = path
        if photo is None:
            raise FolderError(f"{display_path(where)} is not in the library (add its folder "
                              "and index it first)")
        if self.catalog.embedding(photo.id, self.embedder.signature) is None:
            what = f"{display_path(photo.path)} is not indexed yet with the current model"
            raise FolderError(f"{what} (run photoclip index, or wait for the app)",
                              reason=f"{what}; it will be once indexing reaches it")
        return photo

    def learned_examples(self, set_name: str, label: str
                         ) -> list[tuple[str, str, str | None, bool]]:
        """A learned label's photos as they are now: (role, content, current path or None
        when no photo of the library has that content, embedded with the current model)."""
        learned = self.labelsets.get(set_name).learned.get(label)
        if learned is None:
            raise LabelSetError(f"“{label}” in “{set_name}” is not a learned label")
        items = [("example", e) for e in learned.examples] + [
            ("negative", e) for e in learned.negatives]
        keys = [parse_content(e.content) for _r, e in items]
        rows = self.catalog.content_rows(self.embedder.signature, [k for k in keys if k])
        out = []
        for (role, e), key in zip(items, keys, strict=True):
            row = rows.get(key) if key else None
            out.append((role, e.content, row[1] if row else None,
                        bool(row and row[2])))
        return out

    def write_xmp(self, photo_ids: list[int] | None = None, *,
                  progress: Callable[[int, int], None] | None = None,
                  cancel: threading.Event | None = None) -> XmpReport:
        """Write tags to XMP sidecars (merged into existing ones): ``photo.jpg.xmp`` for
        photos, ``NAME.xmp`` for RAW files (see ``metadata.sidecar_paths``); a RAW+JPEG
        pair gets both.

        A sidecar that cannot be written (read-only folder, name too long, an existing
        sidecar that is not valid XMP) is reported in ``failed`` and the rest are still
        written. The photos themselves are never modified. ``progress(done, total)`` is
        told after each photo; ``cancel`` stops between photos (what is written stays).
        """
        from photoclip.core import metadata

        rows = self.catalog.tag_rows(photo_ids)
        by_photo: dict[int, list[tuple[str, str]]] = {}
        for pid, s, label, _score, src in rows:
            if src != "rejected":
                by_photo.setdefault(pid, []).append((s, label))
        photos = self.catalog.photos_by_ids(by_photo)
        report = XmpReport()
        for done, (pid, tags) in enumerate(by_photo.items()):
            if cancel is not None and cancel.is_set():
                break
            if progress is not None:
                progress(done, len(by_photo))
            photo = photos.get(pid)
            if photo is None or photo.state == "missing" or not os.path.exists(photo.path):
                continue
            for path in self.catalog.files_of(pid):
                if path != photo.path and not os.path.exists(path):
                    continue
                try:
                    report.written += [str(p) for p in metadata.write_tags(path, tags)]
                except metadata.SidecarError as exc:
                    report.failed.append((path, exc.reason))
        return report

    def tag_counts(self) -> dict[tuple[str, str], int]:
        return self.catalog.tag_counts()

    def ids_with_tag(self, tag: str) -> set[int]:
        """``label`` or ``set:label``."""
        set_name, _, label = tag.rpartition(":")
        return self.catalog.ids_with_tag(label, set_name or None)

    def unknown_tag(self, tag: str) -> str | None:
        """Why ``tag`` (``label`` or ``set:label``) names nothing in this library, or None
        when it names a label of a set or one that photos carry (a search filtered by a
        misspelt label would otherwise just find nothing)."""
        set_name, _, label = tag.rpartition(":")
        sets = self.label_sets()
        named = {(ls.name, lb) for ls in sets for lb in ls.labels} | set(self.tag_counts())
        if any(lb == label and set_name in ("", s) for s, lb in named):
            return None
        if set_name and set_name not in {ls.name for ls in sets} | {s for s, _ in named}:
            return (f"no label set “{set_name}” in this library (photoclip labels list "
                    "shows them)")
        where = f"the label set “{set_name}”" if set_name else "this library's label sets"
        return (f"no label “{label}” in {where}, and no photo carries it (photoclip labels "
                "list shows the sets)")

    def tag_scores(self, tag: str) -> dict[int, float | None]:
        """Photo id -> the tag's score (``None`` for tags the user gave): ``set:label``."""
        set_name, _, label = tag.rpartition(":")
        return self.catalog.tag_scores(label, set_name or None)

    def failed(self) -> list[Photo]:
        return self.catalog.failed_photos()

    def status(self) -> LibraryStatus:
        counts = self.catalog.counts(self.embedder.signature)
        return LibraryStatus(str(self.folder), self.model_spec, roots=self.roots(),
                             precision=self.precision_report(), **counts)

    def check(self) -> list[str]:
        """SQLite's full integrity check of the catalog: empty when it is sound."""
        return self.catalog.integrity_problems()


    def precision_report(self) -> dict[str, Any]:
        """Which precision each tower runs in and why, and how searches embed a query."""
        from photoclip.core import textexport

        report = self.embedder.precision_report()
        manifest = textexport.read_manifest(self.folder)
        exported = bool(manifest and manifest.get("format") == textexport.FORMAT
                        and manifest.get("signature") == self.embedder.signature)
        if self.embedder.loaded:
            report["search"] = self.embedder.query_path
        else:
            report["search"] = ("library's exported text tower (numpy, no torch)" if exported
                                else "model's text tower (torch)")
        return report

    # -- duplicate review: find, trash and restore, merge tags ------------------------------
    # (issue 17; the app's review view and the CLI's `duplicates` build on these)

    def default_duplicate_threshold(self) -> float:
        """The current model's cosine threshold for duplicate candidates."""
        return duplicates.default_threshold(self.embedder.signature)

    def find_duplicates(self, *, threshold: float | None = None, confirm: bool = True,
                        burst_seconds: float = duplicates.BURST_SECONDS,
                        progress: duplicates.DuplicateProgressCallback | None = None,
                        cancel: threading.Event | None = None) -> duplicates.DuplicateReport:
        """Groups of near-duplicate photos, suggested keeper first (see core/duplicates.py).

        Reads stored embeddings only, plus a small thumbnail of each candidate photo the
        first time it is a candidate (kept in the catalog when the library is writable).
        Works on a read-only library. Cancel with ``cancel``: the report says
        ``cancelled`` and holds no groups.
        """
        vectors = self._ensure_vectors()
        return duplicates.find_duplicates(
            self.catalog, vectors, self.embedder.signature, threshold=threshold,
            confirm=confirm, burst_seconds=burst_seconds, progress=progress, cancel=cancel)

    def trash_photos(self, photo_ids: list[int] | set[int]) -> trash.TrashResult:
        """Move these photos' files to the system trash; never deletes anything.

        The photos leave search, browse and status at once: their rows are marked missing,
        keeping embedding and tags, so a file that comes back (``restore_from_trash``, the
        system's trash window, a copy) is recognised by its content and returns as it was,
        nothing re-embedded. A file that cannot be moved is listed in ``failed`` with a
        reason, and the others go on. The action is recorded in ``trash_history``.
        """
        self._require_writable()
        result = trash.TrashResult(at=time.time())
        photos = self.catalog.photos_by_ids(photo_ids)
        for pid in dict.fromkeys(photo_ids):
            photo = photos.get(pid)
            if photo is None or photo.state == "missing":
                result.failed.append(trash.TrashFailure(
                    photo.path if photo else f"photo #{pid}",
                    "not in the library (already moved or deleted)", pid))
                continue
            try:
                result.trashed.append(trash.move_to_trash(photo.path, pid))
            except trash.TrashError as exc:
                result.failed.append(trash.TrashFailure(photo.path, _reason_of(exc,
                                                                               photo.path), pid))
        if result.trashed:
            self.catalog.hide_photos([f.photo_id for f in result.trashed
                                      if f.photo_id is not None])
            result.action_id = self.catalog.record_trash(
                result.at, [(f.photo_id, f.path, f.trash_path, f.info_path)
                            for f in result.trashed])
            self._sync_vectors()
            self._emit(PhotosChanged.of(removed=[f.photo_id for f in result.trashed
                                                 if f.photo_id is not None]))
            self._emit(TagsChanged())
        return result

    def restore_from_trash(self, result: trash.TrashResult) -> trash.RestoreResult:
        """Put the files of one trash action back where they were, then back in the library.

        Possible where the trash is the XDG one (Linux, BSD): elsewhere every file is listed
        in ``failed`` with a sentence saying to use the system's trash window. A file whose
        place is taken now, or that left the trash, fails alone. Restored photos come back
        with their embedding and tags (same content at the same path).
        """
        self._require_writable()
        out = trash.RestoreResult()
        for item in result.trashed:
            if item.restored_at is not None:
                continue
            try:
                trash.restore(item)
            except trash.TrashError as exc:
                out.failed.append(trash.TrashFailure(item.path, _reason_of(exc, item.path),
                                                     item.photo_id))
                continue
            out.restored.append(item)
        if out.restored:
            now = time.time()
            self.scan(files=[f.path for f in out.restored])
            if result.action_id is not None:
                self.catalog.mark_restored(result.action_id, [f.path for f in out.restored],
                                           now)
            restored = {f.path for f in out.restored}
            result.trashed = [trash.TrashedFile(f.path, f.photo_id, f.trash_path, f.info_path,
                                                now if f.path in restored else f.restored_at)
                              for f in result.trashed]
        return out

    def trash_history(self, limit: int = 50) -> list[trash.TrashResult]:
        """Past "move to trash" actions, newest first, each restorable by
        ``restore_from_trash`` (files already restored are marked so)."""
        return [trash.TrashResult(at=at, action_id=action_id, trashed=[
                    trash.TrashedFile(path, pid, trash_path, info_path, restored_at)
                    for pid, path, trash_path, info_path, restored_at in files])
                for action_id, at, files in self.catalog.trash_actions(limit)]

    def tags_to_merge(self, from_ids: list[int] | set[int], to_id: int, *,
                      include_auto: bool = False) -> list[Tag]:
        """Tags the photos ``from_ids`` have that ``to_id`` lacks, manual ones first.

        Left out: tags ``to_id`` already has, and tags the user removed from ``to_id``
        (rejected: never brought back). Automatic tags only with ``include_auto`` (the
        keeper's own automatic tags come from the same model, so they rarely differ).
        Returned tags carry the source and score they had on the duplicate.
        """
        own = {(s, label) for _pid, s, label, _score, _src in self.catalog.tag_rows([to_id])}
        found: dict[tuple[str, str], Tag] = {}
        for _pid, s, label, score, src in self.catalog.tag_rows(
                [i for i in from_ids if i != to_id]):
            if (s, label) in own or src == "rejected" or (src == "auto" and not include_auto):
                continue
            prev = found.get((s, label))
            if prev is None or (prev.source == "auto" and src == "manual"):
                found[(s, label)] = Tag(s, label, score, src)
        return sorted(found.values(),
                      key=lambda t: (t.source != "manual", t.label_set, t.label))

    def merge_tags(self, from_ids: list[int] | set[int], to_id: int, *,
                   include_auto: bool = False) -> list[Tag]:
        """Give ``to_id`` the tags of ``tags_to_merge`` as the user's own (manual) tags.

        The user chose to keep them, so auto-tagging never takes them away. Returns what
        was added.
        """
        self._require_writable()
        added = self.tags_to_merge(from_ids, to_id, include_auto=include_auto)
        for t in added:
            self.catalog.set_tag(to_id, t.label_set, t.label, "manual", t.score)
        if added:
            self._emit(TagsChanged(frozenset({to_id})))
        return added


class LearnedTagState(NamedTuple):
    """A learned label's tag on one photo as it was, for undo: the tag row's state and
    what the photo was to the label's definition ("example", "negative" or None)."""

    tag: tuple[float | None, str] | None
    role: str | None


def _reason_of(exc: Exception, path: str) -> str:
    """A trash error's sentence without the path in front (the result lists the path)."""
    text = str(exc)
    return text[len(path) + 2:] if text.startswith(path + ": ") else text

def _inside(child: str, parent: str) -> bool:
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


def catalog_problems(folder: str | os.PathLike[str]) -> list[str]:
    """SQLite's full integrity check of a library's catalog, opened read-only (so it works
    on a catalog too damaged to open as a library). Empty when it is sound."""
    import sqlite3

    catalog = Path(folder).expanduser().absolute() / CATALOG_NAME
    if not catalog.is_file():
        raise LibraryError(f"no photoclip library at {catalog.parent}")
    if catalog.stat().st_size == 0:
        return ["the catalog is empty (0 bytes)"]
    from photoclip.core.catalog import check_lines, open_readonly, storage_error

    try:
        db = open_readonly(catalog)
        try:
            rows = db.execute("PRAGMA integrity_check(20)").fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        mapped = storage_error(exc, catalog)
        if mapped is not None and not isinstance(mapped, CatalogDamagedError):
            raise mapped from exc  # cannot open it at all: that is not damage
        return [str(exc)]
    return check_lines(rows)


def repair_library(folder: str | os.PathLike[str], *, force: bool = False) -> Any:
    """Salvage a damaged catalog into a new one (``photoclip repair``).

    Takes the library's write lock, reads what SQLite can from the damaged catalog (opened
    read-only), fills in from the newest good backup, keeps the damaged file as
    ``catalog-damaged-STAMP.sqlite`` and puts the new catalog in its place. Photos and the
    vector index are not touched (the index is rebuilt from the new catalog on next use).
    Returns a :class:`photoclip.core.repair.RepairReport`, or None when the catalog is
    sound and ``force`` is not given (nothing is written then).
    """
    import sqlite3

    from photoclip.core.catalog import storage_error
    from photoclip.core.repair import repair_catalog

    root = Path(folder).expanduser().absolute()
    catalog = root / CATALOG_NAME
    if not catalog.exists():
        raise LibraryError(f"no photoclip library at {root} (nothing to repair)")
    lock = WriteLock(root / LOCK_NAME)
    lock.acquire()
    try:
        if not force and not catalog_problems(root):
            return None
        return repair_catalog(catalog, root / BACKUPS_DIR)
    except OSError as exc:
        raise library_os_error(exc, f"the repaired catalog in {root}") from exc
    except sqlite3.Error as exc:
        raise (storage_error(exc, catalog) or LibraryError(str(exc))) from exc
    finally:
        lock.release()

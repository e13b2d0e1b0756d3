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
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from photoclip import paths
from photoclip.core import scanner
from photoclip.core.catalog import Catalog, Photo, Root, list_backups
from photoclip.core.embedder import DEFAULT_MODEL, DownloadProgress, Embedder
from photoclip.core.errors import (
    CatalogDamagedError,
    FolderError,
    LabelSetError,
    LibraryError,
    LibraryLockedError,
    PhotoclipError,
    ReadOnlyLibraryError,
    describe_os_error,
    library_os_error,
)
from photoclip.core.images import decoders, open_photo
from photoclip.core.indexer import Indexer, IndexSummary, ProgressCallback
from photoclip.core.tagging import (
    LabelSet,
    Scorer,
    Tag,
    choose_tags,
    default_label_set_files,
    label_set_filename,
    parse_label_set,
    read_label_set,
)
from photoclip.core.vectors import VectorIndex

log = logging.getLogger(__name__)

CATALOG_NAME = "catalog.sqlite"
LOCK_NAME = "write.lock"
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
    """What ``Library.index`` did: the scan's changes and the indexer's work.

    ``warnings`` are things the user should hear that did not stop the run (a backup or
    the search index that could not be saved); ``retried`` counts failed photos tried
    again because the decoders changed (or ``retry_failed`` was asked).
    """

    scan: scanner.ScanSummary
    index: IndexSummary
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


class _WriteLock:
    """An exclusive, non-blocking OS lock on a file in the library; freed if we die."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Any = None

    def _refused(self, exc: OSError) -> LibraryError:
        error = library_os_error(exc, f"the library's lock file {self.path}")
        if isinstance(error, ReadOnlyLibraryError):
            return ReadOnlyLibraryError(
                f"the library {self.path.parent} cannot be changed: it is on a read-only "
                f"disk or folder ({describe_os_error(exc)}); status, search and similar "
                "still work")
        return error

    def acquire(self) -> None:
        try:
            f = self.path.open("a+")
        except OSError as exc:
            raise self._refused(exc) from exc
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
            with contextlib.suppress(OSError):
                f.close()
            raise LibraryLockedError(
                f"the library {self.path.parent} is being written by another photoclip "
                f"process (pid {holder}); close it or wait for it to finish") from exc
        try:
            f.seek(0)
            f.truncate()
            f.write(str(os.getpid()))
            f.flush()
        except OSError as exc:
            with contextlib.suppress(OSError):  # (closing flushes, and fails, again)
                f.close()
            raise self._refused(exc) from exc
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
        self.indexer = self._make_indexer(batch_size, decode_threads)
        self._vectors_open = False
        self._vectors_lock = threading.Lock()
        self._index_lock = threading.RLock()
        self.labelsets_dir = self.folder / "labelsets"
        self.label_set_errors: list[str] = []
        self._label_sets: dict[str, LabelSet] = {}
        self._scorer = Scorer(self.embedder, self.catalog)
        # Writes that are only a scan's bookkeeping (when each root was last looked at) do
        # not call for a backup; everything else the connection writes does.
        self._bookkeeping_changes = 0
        self._changes_at_backup = 0
        self._reported: set[str] = set()   # warnings already handed to the caller
        if not readonly:
            try:
                self._seed_label_sets()
            except OSError as exc:
                self.close()
                raise library_os_error(exc, f"the label sets in {self.labelsets_dir}") from exc
            except BaseException:
                self.close()
                raise

    def _make_indexer(self, batch_size: int, decode_threads: int | None) -> Indexer:
        indexer = Indexer(self.catalog, self.embedder, self.vectors, batch_size=batch_size,
                          decode_threads=decode_threads)
        # New photos are tagged as they are committed.
        indexer.batch_hooks.append(lambda ids: ids and self.tag(ids=ids))
        return indexer

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
        """Switch models (not while indexing). Vectors of the old model stay in the catalog."""
        with self._vectors_lock:
            if not self.readonly and self._vectors_open:
                try:
                    self.vectors.save()
                except PhotoclipError as exc:
                    log.warning("%s; it is rebuilt from the catalog next time", exc)
            self.embedder = embedder
            self.vectors = VectorIndex(self.folder, embedder.signature)
            self.indexer = self._make_indexer(self.indexer.batch_size,
                                              self.indexer.decode_threads)
            self._scorer = Scorer(embedder, self.catalog)
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
        before = self.catalog.total_changes
        summary = scanner.scan(self.catalog, roots if roots is not None else self.catalog.roots(),
                               files=files, folders=folders, min_age=min_age, cancel=cancel,
                               skip=self.skip_folders(), pairs=self.pairing())
        if not summary.touched:
            self._bookkeeping_changes += self.catalog.total_changes - before
        if self._vectors_open and (summary.touched or summary.offline_roots):
            self.vectors.sync(self.catalog)
        return summary

    def index(self, *, progress: ProgressCallback | None = None,
              cancel: threading.Event | None = None, pause: threading.Event | None = None,
              scan: bool = True, download: DownloadProgress | None = None,
              min_age: float = 0.0, retry_failed: bool = False) -> RunSummary:
        """Scan every root, then embed everything pending. Safe to interrupt at any point.

        Photos that failed with other decoders than this process has are tried again (all
        failed photos with ``retry_failed``). After a run that changed the catalog, a backup
        of it is made in ``backups/`` (the newest few are kept).
        """
        self._require_writable()
        from photoclip.core.indexer import IndexProgress

        # The app's indexer and the folder watcher may both ask; one runs at a time.
        with self._index_lock:
            if progress:
                progress(IndexProgress("scan", message="looking for new and changed photos"))
            scan_summary = (self.scan(cancel=cancel, min_age=min_age) if scan
                            else scanner.ScanSummary())
            retried = self.catalog.retry_failed(None if retry_failed else decoders())
            self._ensure_vectors()
            summary = self.indexer.run(progress=progress, cancel=cancel, pause=pause,
                                       download=download)
            # Only a model that loaded becomes the library's: a mistyped --model must not
            # leave every later search failing.
            if self.embedder.loaded and self.catalog.get_meta("model") != self.model_spec:
                self.catalog.set_meta("model", self.model_spec)
            run = RunSummary(scan_summary, summary, retried=retried)
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
        if changed and self._vectors_open:
            self.vectors.sync(self.catalog)
        return changed

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
                      tag: str | None = None, exclude: int | None = None
                      ) -> list[SearchResult]:
        vectors = self._ensure_vectors()
        allowed = self._allowed(folder, date_from, date_to, tag)
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
               folder: str | None = None, tag: str | None = None) -> list[Photo]:
        """Browse: present photos newest first, optionally only those with ``tag``."""
        photos = self.catalog.list_photos(limit=None if tag else limit, offset=offset,
                                          folder=folder)
        if tag is not None:
            ids = self.ids_with_tag(tag)
            photos = [p for p in photos if p.id in ids][:limit]
        return photos

    # -- label sets and tags ---------------------------------------------------------------

    def _seed_label_sets(self) -> None:
        """Copy the shipped label sets into the library once; from then on they are the user's."""
        if self.catalog.get_meta("labelsets_seeded"):
            return
        self.labelsets_dir.mkdir(exist_ok=True)
        for src in default_label_set_files(paths.resources_dir()):
            dest = self.labelsets_dir / src.name
            if not dest.exists():
                dest.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
        self.catalog.set_meta("labelsets_seeded", "1")

    def sync_label_sets(self) -> list[LabelSet]:
        """Read the label-set files; a malformed file keeps its last good version.

        Errors (file, line, reason) are kept in ``label_set_errors`` for the UI.
        Returns the sets whose definition changed since the catalog last saw them.
        """
        stored = {name: parse_label_set(src, f"{name} (stored)")
                  for name, src in self.catalog.label_set_sources().items()}
        current: dict[str, LabelSet] = dict(stored)
        changed: list[LabelSet] = []
        errors: list[str] = []
        on_disk: set[str] = set()
        files = sorted(self.labelsets_dir.glob("*.toml")) if self.labelsets_dir.is_dir() else []
        for path in files:
            try:
                ls = read_label_set(path)
            except LabelSetError as exc:
                errors.append(str(exc))
                # Keep the last good version of whichever set this file defined.
                on_disk.update(n for n in stored if label_set_filename(n) == path.name)
                continue
            on_disk.add(ls.name)
            if stored.get(ls.name) is None or stored[ls.name].source != ls.source:
                changed.append(ls)
                if not self.readonly:
                    self.catalog.save_label_set(ls.name, ls.source)
            current[ls.name] = ls
        if not self.readonly:
            for name in set(stored) - on_disk:
                self.catalog.delete_label_set(name)  # its file was deleted by hand
                current.pop(name, None)
        self.label_set_errors = errors
        self._label_sets = current
        return changed

    def label_sets(self) -> list[LabelSet]:
        self.sync_label_sets()
        return [self._label_sets[n] for n in sorted(self._label_sets)]

    def label_set(self, name: str) -> LabelSet:
        self.sync_label_sets()
        if name not in self._label_sets:
            raise LabelSetError(f"no label set named {name!r} "
                                f"(have: {', '.join(sorted(self._label_sets)) or 'none'})")
        return self._label_sets[name]

    def save_label_set(self, label_set: LabelSet, *, retag: bool = True) -> LabelSet:
        """Store a set (from a file or the editor) as a file the user owns, then re-tag."""
        self._require_writable()
        text = label_set.source or label_set.to_toml()
        parsed = parse_label_set(text, label_set.name)  # never store what we cannot read
        target = self.labelsets_dir / label_set_filename(parsed.name)
        tmp = target.with_suffix(".tmp")
        try:
            self.labelsets_dir.mkdir(exist_ok=True)
            tmp.write_text(text, encoding="utf-8")
            self._delete_label_set_files(parsed.name)
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise library_os_error(exc, f"the label set file {target}") from exc
        self.catalog.save_label_set(parsed.name, text)
        self.sync_label_sets()
        if retag:
            self.tag(parsed.name)
        return parsed

    def import_label_set(self, path: str | os.PathLike[str]) -> LabelSet:
        return self.save_label_set(read_label_set(Path(path)))

    def _delete_label_set_files(self, name: str) -> None:
        for path in self.labelsets_dir.glob("*.toml"):
            try:
                defines = read_label_set(path).name == name
            except LabelSetError:
                defines = path.name == label_set_filename(name)
            if defines:
                path.unlink()

    def remove_label_set(self, name: str) -> None:
        self._require_writable()
        self.label_set(name)
        self._delete_label_set_files(name)
        self.catalog.delete_label_set(name)
        self.sync_label_sets()

    def tag(self, set_name: str | None = None, ids: list[int] | None = None) -> int:
        """Score photos (``ids``, else all) against label sets; returns auto tags written.

        Works on stored embeddings only: no image is decoded.
        """
        self._require_writable()
        sets = [self.label_set(set_name)] if set_name else self.label_sets()
        if not sets:
            return 0
        model = self.embedder.signature
        # Given ids are a batch the indexer just embedded: no need to list the whole library
        # (this runs once per batch).
        photo_ids, vecs = self.catalog.all_embeddings(
            model, ids if ids is not None else self.catalog.searchable_ids(model))
        written = 0
        for ls in sets:
            chosen = choose_tags(ls, photo_ids, self._scorer.scores(ls, vecs))
            self.catalog.replace_auto_tags(ls.name, chosen, ids=ids, labels=ls.labels)
            written += len(chosen)
        return written

    def warm_label_sets(self) -> None:
        """Compute (or load) every set's prompt embeddings now, not in the first batch."""
        for ls in self.label_sets():
            self._scorer.label_matrix(ls)

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
        """The user says this photo has this label (confirm or add): never auto-replaced."""
        self._require_writable()
        self.catalog.set_tag(photo_id, label_set, label, "manual")

    def reject_tag(self, photo_id: int, label_set: str, label: str) -> None:
        """The user removed this tag: remembered, so auto-tagging never brings it back."""
        self._require_writable()
        self.catalog.set_tag(photo_id, label_set, label, "rejected")

    def write_xmp(self, photo_ids: list[int] | None = None) -> XmpReport:
        """Write tags to XMP sidecars (merged into existing ones): ``photo.jpg.xmp`` for
        photos, ``NAME.xmp`` for RAW files (see ``metadata.sidecar_paths``); a RAW+JPEG
        pair gets both.

        A sidecar that cannot be written (read-only folder, name too long, an existing
        sidecar that is not valid XMP) is reported in ``failed`` and the rest are still
        written. The photos themselves are never modified.
        """
        from photoclip.core import metadata

        rows = self.catalog.tag_rows(photo_ids)
        by_photo: dict[int, list[tuple[str, str]]] = {}
        for pid, s, label, _score, src in rows:
            if src != "rejected":
                by_photo.setdefault(pid, []).append((s, label))
        photos = self.catalog.photos_by_ids(by_photo)
        report = XmpReport()
        for pid, tags in by_photo.items():
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

    def failed(self) -> list[Photo]:
        return self.catalog.failed_photos()

    def status(self) -> LibraryStatus:
        counts = self.catalog.counts(self.embedder.signature)
        return LibraryStatus(str(self.folder), self.model_spec, roots=self.roots(), **counts)

    def check(self) -> list[str]:
        """SQLite's full integrity check of the catalog: empty when it is sound."""
        return self.catalog.integrity_problems()


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
    lock = _WriteLock(root / LOCK_NAME)
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

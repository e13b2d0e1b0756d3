"""Live folder watching: file-system events become settled change sets for the indexer.

Events are hints, not facts. Each one only marks a path as "look at this again"; a worker
thread waits until a path has been quiet for ``debounce`` seconds and, for a file that
exists, until its size and mtime have not changed for ``settle`` seconds (a photo still
being copied is indexed once, when complete). Settled paths go to
:meth:`Library.apply_changes`, the same scanner and indexer a full scan uses.

Because events can be lost (overflow, a crash, a drive unplugged), the catalog is also
reconciled with a full scan at start, periodically, after any watcher error, and when a
root appears or disappears. Roots whose file system refuses more inotify watches, or that
live on a network share, are watched by polling instead, and say so in ``status``.

The library's ``labelsets`` folder is watched too: a set edited by hand re-tags the library.

Who does the work: by default the watcher's own thread calls the library (``photoclip
watch``). The app passes ``apply`` instead, which hands each settled change to its job queue,
so indexing in the app has one queue, one progress display and one cancel button.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from photoclip.core.errors import PhotoclipError

log = logging.getLogger(__name__)

# watchdog re-adds an inotify watch for a folder that comes back inside a watched tree (a
# subfolder moved away and back) and warns that it replaces the old one, which it does
# correctly (watchdog/observers/inotify_c.py). People would read it on the app's stderr.
warnings.filterwarnings("ignore", message=r"Callback with id .* already exists for watch",
                        category=RuntimeWarning, module=r"watchdog\.")

NETWORK_FS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "sshfs", "fuse.sshfs", "9p",
                        "afs", "davfs", "fuse.rclone", "ncpfs", "glusterfs", "ceph"})


def filesystem_type(path: str) -> str | None:
    """The mount type holding ``path`` (Linux /proc/mounts); None where unknown."""
    try:
        with open("/proc/mounts") as f:
            mounts = [line.split()[:3] for line in f]
    except OSError:
        return None
    best, fstype = "", None
    real = os.path.realpath(path)
    for _dev, mount_point, kind in mounts:
        mount_point = mount_point.replace("\\040", " ")
        inside = real == mount_point or real.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) > len(best):
            best, fstype = mount_point, kind
    return fstype


@dataclass
class Change:
    """What the watcher wants done: a full reconcile, settled paths, or label sets re-read."""

    reconcile: bool = False
    files: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    label_sets: bool = False
    min_age: float = 0.0

    def describe(self) -> str:
        if self.reconcile:
            return "Checking folders for changes"
        if self.label_sets:
            return "Re-tagging edited label sets"
        n = len(self.files) + len(self.folders)
        return f"Indexing {n} changed item{'s' if n != 1 else ''} in your folders"


# Applies a change; returns the run's summary (or None), raises on failure. ``cancel`` is
# set when the watcher stops.
Apply = Callable[[Change, threading.Event], Any]


@dataclass
class _Pending:
    is_dir: bool
    last_event: float
    signature: tuple[int, int] | None = None
    stable_since: float = 0.0


class _LabelSetHandler(FileSystemEventHandler):
    def __init__(self, watcher: FolderWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in ("opened", "closed_no_write"):
            self.watcher.note_label_sets()


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: FolderWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory and event.event_type == "modified":
            return  # "its contents changed": the events of those contents say which
        paths = [event.src_path]
        dest = getattr(event, "dest_path", "")
        if dest:
            paths.append(dest)
        for raw in paths:
            path = os.fsdecode(raw)
            self.watcher.note(path, event.is_directory)


class FolderWatcher:
    """Watches every root of a library while running; ``start`` / ``stop``.

    ``on_change`` is called from the worker thread with each applied change summary;
    ``on_error`` with exceptions, which never stop the watcher.
    """

    def __init__(self, library: Any, *, debounce: float = 0.3, settle: float = 0.7,
                 reconcile_every: float = 900.0, root_check_every: float = 2.0,
                 poll_interval: float = 2.0, force_polling: bool = False,
                 on_change: Callable[[Any], None] | None = None,
                 on_error: Callable[[Exception], None] | None = None,
                 apply: Apply | None = None) -> None:
        self.library = library
        self.debounce = debounce
        self.settle = settle
        self.reconcile_every = reconcile_every
        self.root_check_every = root_check_every
        self.poll_interval = poll_interval
        self.force_polling = force_polling
        self.on_change = on_change
        self.on_error = on_error
        self.apply = apply or self._apply_here
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()         # guards _pending
        self._roots_lock = threading.Lock()   # guards _watches (sync_roots runs on two threads)
        self._label_sets_dirty: float | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._cancel = threading.Event()
        self._reconcile = threading.Event()
        self._resync = threading.Event()
        self._thread: threading.Thread | None = None
        self._roots_thread: threading.Thread | None = None
        self._native: Any = None
        self._polling: Any = None
        self._watches: dict[str, tuple[Any, Any]] = {}   # root path -> (observer, watch)
        self._label_set_watch: Any = None
        self.handler = _Handler(self)
        self.label_set_handler = _LabelSetHandler(self)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the threads and return: the folders are looked at on the watcher's own
        thread (the app calls this on its GUI thread, and a dead network share can hang
        the first look at a folder)."""
        self._native = Observer()
        self._polling = PollingObserver(timeout=self.poll_interval)
        self._native.start()
        self._polling.start()
        self._reconcile.set()  # first thing the worker does: watch the roots, catch up
        self._wake.set()
        self._thread = threading.Thread(target=self._run, name="photoclip-watcher")
        self._thread.start()
        # Drives coming and going are checked on a thread of their own, so a replugged
        # drive shows as online within seconds even while a long indexing run keeps the
        # worker busy.
        self._roots_thread = threading.Thread(target=self._check_roots_loop,
                                              name="photoclip-watcher-roots")
        self._roots_thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching; an indexing batch in flight is finished and committed first."""
        self._stop.set()
        self._cancel.set()
        self._wake.set()
        for obs in (self._native, self._polling):
            if obs is not None:
                obs.stop()
        for thread in (self._thread, self._roots_thread):
            if thread is not None:
                thread.join(timeout)
        for obs in (self._native, self._polling):
            if obs is not None:
                obs.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def request_reconcile(self) -> None:
        self._reconcile.set()
        self._wake.set()

    def request_root_sync(self) -> None:
        """Folders were added or removed: start or stop watching them (on the watcher's thread)."""
        self._resync.set()
        self._wake.set()

    # -- observers -------------------------------------------------------------------------

    def _wants_polling(self, path: str) -> bool:
        return self.force_polling or filesystem_type(path) in NETWORK_FS

    def _watch_label_sets(self) -> None:
        folder = self.library.labelsets_dir
        try:
            folder.mkdir(exist_ok=True)
            self._label_set_watch = self._native.schedule(self.label_set_handler, str(folder))
        except OSError as exc:
            # Without a watch the set files are still compared at every reconcile.
            log.warning("cannot watch the label sets in %s: %s", folder, exc)

    def note_label_sets(self) -> None:
        with self._lock:
            self._label_sets_dirty = time.monotonic()
        self._wake.set()

    def sync_roots(self) -> None:
        """Watch every online root, stop watching removed or offline ones (thread-safe)."""
        roots = {r.path: r for r in self.library.roots()}
        with self._roots_lock:
            watched = set(self._watches)
        # isdir() outside the lock: on a dead share it may take long.
        present = {path for path in set(roots) | watched if os.path.isdir(path)}
        with self._roots_lock:
            self._sync_roots(roots, present)

    def _sync_roots(self, roots: dict[str, Any], present: set[str]) -> None:
        for path in list(self._watches):
            if path not in roots or path not in present:
                observer, watch = self._watches.pop(path)
                with contextlib.suppress(KeyError, OSError):
                    observer.unschedule(watch)
        for path, root in roots.items():
            if path in self._watches or path not in present:
                continue
            polling = self._wants_polling(path)
            try:
                if not polling:
                    try:
                        self._watches[path] = (self._native,
                                               self._native.schedule(self.handler, path,
                                                                     recursive=True))
                    except FileNotFoundError:
                        raise
                    except OSError as exc:
                        # ENOSPC / EMFILE: the OS refuses more inotify watches.
                        log.warning("cannot watch %s natively (%s); polling it instead",
                                    path, exc)
                        polling = True
                if polling:
                    self._watches[path] = (self._polling,
                                           self._polling.schedule(self.handler, path,
                                                                  recursive=True))
            except FileNotFoundError:
                # Gone since it was looked at (a drive unplugged just now): offline, which
                # the root checks record; it is watched again when it comes back.
                log.info("%s went away before it could be watched", path)
                continue
            if polling != root.polling:
                self.library.set_root_polling(path, polling)

    def note(self, path: str, is_dir: bool) -> None:
        """An event touched ``path``: look at it again once it has settled."""
        now = time.monotonic()
        with self._lock:
            entry = self._pending.get(path)
            if entry is None:
                self._pending[path] = _Pending(is_dir, now)
            else:
                entry.last_event = now
                entry.is_dir = entry.is_dir or is_dir
        self._wake.set()

    # -- the worker ------------------------------------------------------------------------

    def _settled(self, now: float) -> tuple[list[str], list[str]]:
        files, dirs = [], []
        with self._lock:
            quiet = [(path, entry.is_dir) for path, entry in self._pending.items()
                     if now - entry.last_event >= self.debounce]
        # stat() outside the lock: on a slow share it must not hold up the event threads.
        sigs: dict[str, tuple[int, int] | None] = {}
        for path, is_dir in quiet:
            if not is_dir:
                try:
                    st = os.stat(path)
                    sigs[path] = (st.st_size, st.st_mtime_ns)
                except OSError:
                    sigs[path] = None  # deleted or moved away: nothing to wait for
        with self._lock:
            for path, _is_dir in quiet:
                entry = self._pending.get(path)
                if entry is None or now - entry.last_event < self.debounce:
                    continue   # a new event came in meanwhile: wait again
                if entry.is_dir:
                    dirs.append(path)
                    del self._pending[path]
                    continue
                sig = sigs.get(path)
                if sig is not None and sig != entry.signature:
                    entry.signature, entry.stable_since = sig, now
                    continue
                if sig is not None and now - entry.stable_since < self.settle:
                    continue
                files.append(path)
                del self._pending[path]
        return files, dirs

    def _next_wait(self) -> float:
        with self._lock:
            return 0.1 if self._pending or self._label_sets_dirty is not None else 1.0

    def _label_sets_settled(self, now: float) -> bool:
        with self._lock:
            if self._label_sets_dirty is None or now - self._label_sets_dirty < self.debounce:
                return False
            self._label_sets_dirty = None
            return True

    def _apply_here(self, change: Change, cancel: threading.Event) -> Any:
        """Do the work on the watcher's thread (``photoclip watch``)."""
        if change.label_sets:
            self.library.retag_changed_label_sets()
            return None
        if change.reconcile:
            return self.library.index(cancel=cancel, min_age=change.min_age)
        return self.library.apply_changes(files=change.files, folders=change.folders,
                                          cancel=cancel, min_age=change.min_age)

    def _roots_changed(self) -> bool:
        """A drive came or went: the library marks it at once, then we reconcile."""
        return bool(self.library.check_roots())

    def _check_roots_loop(self) -> None:
        while not self._stop.wait(self.root_check_every):
            try:
                if self._roots_changed():
                    self._reconcile.set()
                    self._wake.set()
            except Exception as exc:   # a full disk while marking a drive: try again later
                log.warning("watching: %s", exc,
                            exc_info=not isinstance(exc, PhotoclipError))

    def _run(self) -> None:
        last_reconcile = time.monotonic()
        failures = 0
        self._watch_label_sets()
        while not self._stop.is_set():
            self._wake.wait(self._next_wait())
            self._wake.clear()
            if self._stop.is_set():
                break
            now = time.monotonic()
            try:
                if self._resync.is_set():
                    self._resync.clear()
                    self.sync_roots()
                min_age = self.settle + self.debounce
                if self._reconcile.is_set() or now - last_reconcile >= self.reconcile_every:
                    self._reconcile.clear()
                    last_reconcile = now
                    self.sync_roots()
                    self._run_change(Change(reconcile=True, min_age=min_age))
                    continue
                if self._label_sets_settled(now):
                    self._run_change(Change(label_sets=True))
                files, dirs = self._settled(now)
                if files or dirs:
                    self._run_change(Change(files=files, folders=dirs, min_age=min_age))
                failures = 0
            except Exception as exc:
                # A failure here (a full disk, a bug) must not end watching: log it, and
                # reconcile soon so whatever the failed batch held is not lost, backing off
                # while the failure persists.
                failures += 1
                if isinstance(exc, PhotoclipError):  # disk full, read-only: said in words
                    log.warning("watching: %s", exc)
                else:
                    log.warning("watching: %s", exc, exc_info=failures == 1)
                self._reconcile.set()
                if self.on_error is not None:
                    self.on_error(exc)
                self._stop.wait(min(60.0, 2.0 ** (failures - 1)))

    def _run_change(self, change: Change) -> None:
        summary = self.apply(change, self._cancel)
        if summary is None:
            return
        for path in summary.scan.young:
            self.note(path, False)
        self._report(summary)

    def _report(self, summary: Any) -> None:
        s, i = summary.scan, summary.index
        if s.touched or i.embedded or i.failed or s.offline_roots:
            log.info("changes: %d new, %d changed, %d moved, %d removed, %d back; "
                     "%d embedded, %d failed", s.new, s.changed, s.moved, s.missing, s.returned,
                     i.embedded, len(i.failed))
            if self.on_change is not None:
                self.on_change(summary)

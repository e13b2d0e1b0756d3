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
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from photoclip.core.errors import PhotoclipError
from photoclip.core.scanner import root_reachable

log = logging.getLogger(__name__)

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
class _Pending:
    is_dir: bool
    last_event: float
    signature: tuple[int, int] | None = None
    stable_since: float = 0.0


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
                 on_error: Callable[[Exception], None] | None = None) -> None:
        self.library = library
        self.debounce = debounce
        self.settle = settle
        self.reconcile_every = reconcile_every
        self.root_check_every = root_check_every
        self.poll_interval = poll_interval
        self.force_polling = force_polling
        self.on_change = on_change
        self.on_error = on_error
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._cancel = threading.Event()
        self._reconcile = threading.Event()
        self._thread: threading.Thread | None = None
        self._native: Any = None
        self._polling: Any = None
        self._watches: dict[str, tuple[Any, Any]] = {}   # root path -> (observer, watch)
        self._root_online: dict[str, bool] = {}
        self.handler = _Handler(self)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._native = Observer()
        self._polling = PollingObserver(timeout=self.poll_interval)
        self._native.start()
        self._polling.start()
        self.sync_roots()
        self._reconcile.set()  # first thing the worker does: catch up with the disk
        self._thread = threading.Thread(target=self._run, name="photoclip-watcher")
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching; an indexing batch in flight is finished and committed first."""
        self._stop.set()
        self._cancel.set()
        self._wake.set()
        for obs in (self._native, self._polling):
            if obs is not None:
                obs.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        for obs in (self._native, self._polling):
            if obs is not None:
                obs.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def request_reconcile(self) -> None:
        self._reconcile.set()
        self._wake.set()

    # -- observers -------------------------------------------------------------------------

    def _wants_polling(self, path: str) -> bool:
        return self.force_polling or filesystem_type(path) in NETWORK_FS

    def sync_roots(self) -> None:
        """Watch every online root, stop watching removed or offline ones."""
        roots = {r.path: r for r in self.library.catalog.roots()}
        for path in list(self._watches):
            if path not in roots or not os.path.isdir(path):
                observer, watch = self._watches.pop(path)
                with contextlib.suppress(KeyError, OSError):
                    observer.unschedule(watch)
        for path, root in roots.items():
            if path in self._watches or not os.path.isdir(path):
                continue
            polling = self._wants_polling(path)
            if not polling:
                try:
                    self._watches[path] = (self._native,
                                           self._native.schedule(self.handler, path,
                                                                 recursive=True))
                except OSError as exc:
                    # ENOSPC / EMFILE: the OS refuses more inotify watches.
                    log.warning("cannot watch %s natively (%s); polling it instead", path, exc)
                    polling = True
            if polling:
                self._watches[path] = (self._polling,
                                       self._polling.schedule(self.handler, path, recursive=True))
            if polling != root.polling:
                self.library.catalog.set_root_state(root.id, polling=polling)

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
            for path, entry in list(self._pending.items()):
                if now - entry.last_event < self.debounce:
                    continue
                if entry.is_dir:
                    dirs.append(path)
                    del self._pending[path]
                    continue
                try:
                    st = os.stat(path)
                    sig: tuple[int, int] | None = (st.st_size, st.st_mtime_ns)
                except OSError:
                    sig = None  # deleted or moved away: nothing to wait for
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
            return 0.1 if self._pending else 1.0

    def _roots_changed(self) -> bool:
        changed = False
        counts = self.library.catalog.root_counts()
        for root in self.library.catalog.roots():
            online = root_reachable(root.path, counts.get(root.id, 0),
                                    self.library.skip_folders())
            if self._root_online.get(root.path) != online:
                changed = changed or root.path in self._root_online or online != root.online
                self._root_online[root.path] = online
        return changed

    def _run(self) -> None:
        last_reconcile = last_root_check = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(self._next_wait())
            self._wake.clear()
            if self._stop.is_set():
                break
            now = time.monotonic()
            try:
                if now - last_root_check >= self.root_check_every:
                    last_root_check = now
                    if self._roots_changed():
                        self._reconcile.set()
                if self._reconcile.is_set() or now - last_reconcile >= self.reconcile_every:
                    self._reconcile.clear()
                    last_reconcile = now
                    self.sync_roots()
                    summary = self.library.index(cancel=self._cancel,
                                                 min_age=self.settle + self.debounce)
                    for path in summary.scan.young:
                        self.note(path, False)
                    self._report(summary)
                    continue
                files, dirs = self._settled(now)
                if files or dirs:
                    summary = self.library.apply_changes(
                        files=files, folders=dirs, cancel=self._cancel,
                        min_age=self.settle + self.debounce)
                    for path in summary.scan.young:
                        self.note(path, False)
                    self._report(summary)
            except Exception as exc:
                # A failure here (disk error, a bug) must not end watching: log it, and
                # reconcile soon so whatever the failed batch held is not lost.
                if isinstance(exc, PhotoclipError):  # disk full, read-only: said in words
                    log.warning("watching: %s", exc)
                else:
                    log.exception("watcher batch failed")
                self._reconcile.set()
                if self.on_error is not None:
                    self.on_error(exc)
                self._stop.wait(1.0)

    def _report(self, summary: Any) -> None:
        s, i = summary.scan, summary.index
        if s.touched or i.embedded or i.failed or s.offline_roots:
            log.info("changes: %d new, %d changed, %d moved, %d removed, %d back; "
                     "%d embedded, %d failed", s.new, s.changed, s.moved, s.missing, s.returned,
                     i.embedded, len(i.failed))
            if self.on_change is not None:
                self.on_change(summary)

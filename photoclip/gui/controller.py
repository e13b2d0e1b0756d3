"""The GUI's handle on the core: every ``Library`` call goes through here, off the GUI thread.

Widgets ask (``search``, ``add_folders``…) and listen to signals; nothing here touches a
widget, and nothing in the widgets calls the core directly.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from photoclip.core import Library, ModelUnavailableError, PhotoclipError
from photoclip.core.embedder import Embedder
from photoclip.core.images import is_photo_path
from photoclip.core.indexer import IndexProgress
from photoclip.core.watcher import FolderWatcher
from photoclip.gui.workers import Task, Workers

log = logging.getLogger(__name__)

BROWSE_LIMIT = 200_000


class LibraryController(QObject):
    roots_changed = Signal(object)            # list[RootStatus]
    results = Signal(object, object, str)     # photos, scores or None, what they are
    model_state = Signal(str, str)            # "loading" | "ready" | "unavailable", message
    download = Signal(str, int, int)          # message, bytes done, total
    index_started = Signal()
    index_progress = Signal(object)           # IndexProgress
    index_finished = Signal(object)           # RunSummary, or None when it failed
    library_changed = Signal(object)          # the watcher applied changes (RunSummary)
    tags_changed = Signal(object, object)     # [(set, labels)], {(set, label): count}
    preview_ready = Signal(object)            # label -> (count, [(photo, score)])
    message = Signal(str)                     # for the status bar
    error = Signal(str)                       # something the user must see

    def __init__(self, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.workers = Workers()
        self.model_ready = False
        self.index_task: Task | None = None
        self._index_again = False
        self._query_serial = 0
        self._closing = False
        self.watcher: FolderWatcher | None = None
        self.watch_enabled = True

    # -- plumbing --------------------------------------------------------------------------

    def _run(self, fn: Callable[..., Any], *args: Any, on_result: Callable[[Any], None] | None
             = None, on_error: Callable[[Exception], None] | None = None, bulk: bool = False,
             with_progress: bool = False) -> Task:
        task = Task(fn, *args, with_progress=with_progress)
        if self._closing:
            return task  # never started: the library is closing
        if on_result:
            task.signals.result.connect(on_result)
        task.signals.error.connect(on_error or self._report)
        return self.workers.start(task, bulk=bulk)

    def _report(self, exc: Exception) -> None:
        self.error.emit(str(exc) if isinstance(exc, PhotoclipError) else
                        f"unexpected error: {type(exc).__name__}: {exc}")

    # -- model -----------------------------------------------------------------------------

    def load_model(self) -> None:
        self.model_ready = False
        self.model_state.emit("loading", f"Loading model {self.library.model_spec}…")

        def load() -> str:
            self.library.embedder.load(progress=self.download.emit)
            self.library.warm_label_sets()
            return self.library.model_spec

        def loaded(spec: str) -> None:
            self.model_ready = True
            self.model_state.emit("ready", f"Model {spec} ready")
            self.start_indexing()

        def failed(exc: Exception) -> None:
            self.model_state.emit("unavailable", str(exc) if isinstance(
                exc, ModelUnavailableError) else f"The model could not be loaded: {exc}")
            # Browsing works without a model: still find new photos on disk.
            self._run(self.library.scan, on_result=lambda _s: (self.refresh_roots(),
                                                               self.browse()))

        self._run(load, on_result=loaded, on_error=failed)

    def use_model(self, spec: str) -> None:
        if self.index_task is not None:
            self.index_task.cancel.set()
            self.index_task.done.wait(30)
        self.library.set_model(Embedder(spec))
        self.load_model()

    # -- folders ---------------------------------------------------------------------------

    def refresh_roots(self) -> None:
        if not self._closing:
            self.roots_changed.emit(self.library.roots())

    def add_folders(self, folders: list[str]) -> None:
        added = 0
        for folder in folders:
            try:
                root = self.library.add_root(folder)
            except PhotoclipError as exc:
                self.error.emit(str(exc))
                continue
            added += 1
            self.message.emit(f"Added {root.path}")
        if added:
            self.refresh_roots()
            self._roots_edited()
            if self.model_ready:
                self.start_indexing()
            else:
                self._run(self.library.scan, on_result=lambda _s: (self.refresh_roots(),
                                                                   self.browse()))

    def remove_folder(self, folder: str) -> None:
        if self.index_task is not None:
            self.index_task.cancel.set()
            self.index_task.done.wait(30)
        try:
            n = self.library.remove_root(folder)
        except PhotoclipError as exc:
            self.error.emit(str(exc))
            return
        self._roots_edited()
        self.message.emit(f"Removed {folder} ({n} photos forgotten; files untouched)")
        self.refresh_roots()
        self.browse()

    # -- indexing --------------------------------------------------------------------------

    def start_indexing(self) -> None:
        if self._closing or not self.model_ready:
            return
        if self.index_task is not None:
            self._index_again = True   # folders added mid-run: go again when it ends
            return
        task = self._run(self.library.index, bulk=True, with_progress=True,
                         on_result=self._indexed, on_error=self._index_failed)
        task.signals.progress.connect(self._progress)
        self.index_task = task
        self.index_started.emit()

    def _progress(self, p: IndexProgress) -> None:
        self.index_progress.emit(p)
        if p.phase == "embed" and p.done == p.total and not self._closing:
            self.refresh_roots()

    def _indexed(self, summary: Any) -> None:
        self.index_task = None
        if self._closing:
            return
        if self._index_again:
            # Folders arrived during the run: go again before telling anyone we are idle.
            self._index_again = False
            self.start_indexing()
            return
        self.index_finished.emit(summary)
        self.refresh_roots()
        self.refresh_tags()
        self.start_watching()

    def _index_failed(self, exc: Exception) -> None:
        self.index_task = None
        if self._closing:
            return
        self._report(exc)
        self.index_finished.emit(None)

    # -- watching --------------------------------------------------------------------------

    def start_watching(self) -> None:
        """Watch the library's folders while the app is open (after the first catch-up)."""
        if self.watcher is not None or not self.watch_enabled or self._closing:
            return
        self.watcher = FolderWatcher(self.library, on_change=self.library_changed.emit,
                                     on_error=lambda exc: self.error.emit(
                                         f"Folder watching hit a problem (will retry): {exc}"))
        self.watcher.start()

    def _roots_edited(self) -> None:
        if self.watcher is not None:
            self.watcher.sync_roots()
            self.watcher.request_reconcile()

    def pause_indexing(self, paused: bool) -> None:
        if self.index_task is not None:
            (self.index_task.pause.set if paused else self.index_task.pause.clear)()

    def cancel_indexing(self) -> None:
        if self.index_task is not None:
            self.index_task.cancel.set()
            self.index_task.pause.clear()

    # -- queries ---------------------------------------------------------------------------

    def _deliver(self, serial: int, title: str) -> Callable[[Any], None]:
        def emit(value: Any) -> None:
            if serial != self._query_serial:
                return  # a newer query replaced this one while it ran
            photos, scores = value
            self.results.emit(photos, scores, title)
        return emit

    def browse(self, folder: str | None = None, tag: str | None = None) -> None:
        self._query_serial += 1
        title = (f"Photos tagged {tag}" if tag else f"Photos in {folder}" if folder
                 else "All photos, newest first")
        self._run(lambda: (self.library.photos(limit=BROWSE_LIMIT, folder=folder, tag=tag),
                           None),
                  on_result=self._deliver(self._query_serial, title))

    def search(self, text: str, top: int = 500, tag: str | None = None) -> None:
        text = text.strip()
        if not text:
            self.browse(tag=tag)
            return
        if not self.model_ready:
            self.error.emit("Searching needs the model, which is not loaded yet.")
            return
        self._query_serial += 1

        def run() -> tuple[list, list]:
            hits = self.library.search(text, top, tag=tag)
            return [h.photo for h in hits], [h.score for h in hits]

        title = f"Best matches for “{text}”" + (f" tagged {tag}" if tag else "")
        self._run(run, on_result=self._deliver(self._query_serial, title))

    def similar(self, path: str, top: int = 200) -> None:
        if not self.model_ready:
            self.error.emit("Finding similar photos needs the model, which is not loaded yet.")
            return
        if not is_photo_path(path):
            self.error.emit(f"Not a photo: {path}")
            return
        self._query_serial += 1

        def run() -> tuple[list, list]:
            hits = self.library.similar(path, top)
            return [h.photo for h in hits], [h.score for h in hits]

        self._run(run, on_result=self._deliver(self._query_serial,
                                               f"Photos like {os.path.basename(path)}"))

    def failed_photos(self) -> list:
        return self.library.failed()

    # -- tags ------------------------------------------------------------------------------

    def refresh_tags(self) -> None:
        def load() -> tuple[list, dict]:
            sets = [(ls.name, list(ls.labels)) for ls in self.library.label_sets()]
            return sets, self.library.tag_counts()

        self._run(load, on_result=lambda v: self.tags_changed.emit(*v))

    def photo_tags(self, photo_id: int) -> list:
        return self.library.tags(photo_id)

    def confirm_tag(self, photo_id: int, label_set: str, label: str) -> None:
        self.library.add_tag(photo_id, label_set, label)
        self.refresh_tags()

    def reject_tag(self, photo_id: int, label_set: str, label: str) -> None:
        self.library.reject_tag(photo_id, label_set, label)
        self.refresh_tags()

    def save_label_set(self, label_set: Any) -> None:
        if not self.model_ready:
            self.error.emit("Tagging needs the model, which is not loaded yet.")
            return

        def done(_ls: Any) -> None:
            self.message.emit(f"Label set “{label_set.name}” saved; library re-tagged")
            self.refresh_tags()

        self._run(self.library.save_label_set, label_set, on_result=done)

    def preview_label_set(self, label_set: Any) -> None:
        if self.model_ready:
            self._run(self.library.preview_label_set, label_set,
                      on_result=self.preview_ready.emit)

    def write_xmp(self, photo_ids: list[int] | None = None) -> None:
        self._run(self.library.write_xmp, photo_ids, on_result=lambda written: self.message.emit(
            f"Wrote tags to {len(written)} XMP sidecar files (photos untouched)"))

    # -- shutdown --------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop workers (cancelling indexing between batches), then close the library."""
        self._closing = True
        if self.watcher is not None:
            self.watcher.stop(timeout=10)
        self.workers.wait(60000)
        self.library.close()

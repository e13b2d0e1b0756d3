"""The GUI's only handle on the core: every ``Library`` call goes through here, off the GUI thread.

Threads (docs/ARCHITECTURE.md has the full table):

- the GUI thread calls the public methods below, which only queue work and return;
- ``reads`` (2 threads): searches, browsing, a photo's tags, counts; each thread reads the
  catalog through its own connection, so a search is answered while a batch commits;
- ``writes`` (1 thread): quick edits in the order they were made (tags, folders);
- ``jobs`` (1 thread, :class:`~photoclip.gui.jobs.JobQueue`): everything long, one at a
  time, each with progress, pause and cancel; the folder watcher hands its work here too.

Results come back as Qt signals, queued onto the GUI thread. The core's change events
(photos added, tags changed, a folder offline) arrive the same way and mark what is on
screen as stale; :meth:`_refresh` brings it up to date a moment later, at most once a
second, so a busy indexing run updates the window steadily without flooding it.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from photoclip.core import DownloadCancelled, Library, PhotoclipError, models
from photoclip.core.embedder import Embedder
from photoclip.core.events import (
    LibraryEvent,
    ModelChanged,
    PhotosChanged,
    RootsChanged,
    TagsChanged,
)
from photoclip.core.filenames import display_path
from photoclip.core.images import is_photo_path
from photoclip.core.indexer import IndexProgress
from photoclip.core.watcher import Change, FolderWatcher
from photoclip.gui.grid import cell_shape
from photoclip.gui.jobs import Job, JobQueue, JobState
from photoclip.gui.names import counted, shown_name
from photoclip.gui.timeline import GROUPINGS, Section, sections_for
from photoclip.gui.workers import Task, Workers, collect_frozen_if_alive, long_lived

log = logging.getLogger(__name__)

BROWSE_LIMIT = 200_000
SEARCH_TOP = 500
SIMILAR_TOP = 200
REFRESH_MS = 1000

# How the About box says what the image tower runs in, for anyone (the details name it).
PRECISION_WORDS = {
    "fp32": "at full precision",
    "bf16": "at half precision on this processor's matrix units (faster), checked to find "
            "the same photos as full precision",
    "int8": "with 8-bit arithmetic (faster), checked to find the same photos as full "
            "precision",
    "int8-mlp": "partly with 8-bit arithmetic (faster), checked to find the same photos as "
                "full precision",
}


class ModelState(enum.Enum):
    UNKNOWN = "unknown"          # not asked for yet (first run, before the welcome)
    LOADING = "loading"
    READY = "ready"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class View:
    """What the grid shows: the one source of truth for the grid, its header and the search box."""

    text: str = ""                 # a description to search for
    similar_to: str | None = None  # a photo path: photos like it
    tag: str | None = None         # "set:label"
    folder: str | None = None      # only photos under this folder
    similar_ids: tuple[int, ...] = ()   # photos like these (a selection)
    date_from: float | None = None      # taken on or after
    date_to: float | None = None        # taken before
    group: str = "month"           # the timeline's sections: day, month, year, none
    by_date: bool = False          # search results in date order instead of relevance
    weaker: bool = False           # search results past the relevance cut
    by_score: bool = False         # a tag's photos by its score (yours first), not by date

    @property
    def needs_model(self) -> bool:
        return bool(self.text.strip() or self.similar_to or self.similar_ids)

    @property
    def is_search(self) -> bool:
        return self.needs_model

    @property
    def ranked(self) -> bool:
        """Best first rather than newest first (no date sections)."""
        if self.is_search:
            return not self.by_date
        return bool(self.tag) and self.by_score

    def title(self) -> str:
        if self.similar_ids:
            n = len(self.similar_ids)
            what = f"Photos like the {n} selected" if n > 1 else "Photos like the selected one"
        elif self.similar_to:
            what = f"Photos like {display_path(os.path.basename(self.similar_to))}"
        elif self.text.strip():
            what = f"Best matches for “{self.text.strip()}”"
        elif self.folder:
            name = os.path.basename(self.folder.rstrip(os.sep)) or self.folder
            what = f"Photos in {display_path(name)}"
        elif self.tag and self.by_score:
            what = f"Photos tagged {self.tag.partition(':')[2] or self.tag}, best match first"
        else:
            what = "All photos, newest first"
        if self.tag and not self.by_score:
            what += f", tagged {self.tag.partition(':')[2] or self.tag}"
        if self.folder and (self.text.strip() or self.similar_to):
            what += f", in {display_path(os.path.basename(self.folder.rstrip(os.sep)))}"
        if self.date_from is not None or self.date_to is not None:
            # The dates filter is in the title too: "All photos" under it read as if off.
            what += f", taken {self.dates_text()}"
        return what

    def dates_text(self) -> str:
        """The dates filter in words: "2024-01-01 – 2024-12-31", "since …", "before …"."""
        def day(t: float) -> str:
            return datetime.fromtimestamp(t).strftime("%Y-%m-%d")

        if self.date_from is not None and self.date_to is not None:
            return f"{day(self.date_from)} – {day(self.date_to - 1)}"
        if self.date_from is not None:
            return f"since {day(self.date_from)}"
        if self.date_to is not None:
            return f"before {day(self.date_to)}"
        return ""

    def to_json(self) -> dict[str, Any]:
        """What is worth remembering across sessions (not a selection, not weaker matches)."""
        out = asdict(self)
        for key in ("similar_ids", "weaker", "similar_to"):
            out.pop(key)
        return out

    @classmethod
    def from_json(cls, raw: Any) -> View:
        if not isinstance(raw, dict):
            return cls()
        kinds = {"text": str, "tag": str, "folder": str, "date_from": float, "date_to": float,
                 "group": str, "by_date": bool, "by_score": bool}
        values = {k: raw[k] for k, kind in kinds.items()
                  if k in raw and (isinstance(raw[k], kind) or (
                      raw[k] is None and k not in ("group", "by_date", "by_score")))}
        if values.get("group") not in GROUPINGS:
            values.pop("group", None)
        return cls(**values)


@dataclass(frozen=True)
class Results:
    """One answer for the grid: photos, their scores (searches), the timeline sections."""

    photos: list[Any]
    scores: list[float] | None
    sections: list[Section]
    clear: bool = True     # a search found photos that clearly match
    weaker: int = 0        # how many more "show weaker matches" would add
    capped: bool = False   # "photos like this" stopped at SIMILAR_TOP: the closest, not all
    shape: float = 1.0     # the grid's thumbnail box, height / width (grid.cell_shape)
    # A search's refresh: which photos delivered for this view before and left out now
    # are still in the library, what a list held on screen may keep
    # (MainWindow._hold_new_matches).
    present: frozenset[int] = frozenset()


class LibraryController(QObject):
    roots_changed = Signal(object)            # list[RootStatus]
    results = Signal(object, object, bool)    # view, Results, same view (a refresh)?
    view_waiting = Signal(object, str)        # view, why it shows nothing yet
    model_state = Signal(object, str)         # ModelState, message in words
    tags_changed = Signal(object, object)     # [(set, labels)], {(set, label): count}
    photo_tags = Signal(int, object)          # photo id, [Tag]
    photo_files = Signal(int, object)         # photo id, [path]: a RAW+JPEG pair has two
    label_sets = Signal(object, object)       # [LabelSet], [error lines]
    preview_ready = Signal(object)            # label -> (count, [(photo, score)])
    failed_ready = Signal(object)             # [Photo]
    problems = Signal(int)                    # photos that could not be read, now
    tag_edited = Signal(object)               # TagEdit, for the undo stack
    folder_removed = Signal(object, int)      # path (object keeps odd bytes), photos hidden
    trashed = Signal(object, object)          # TrashResult, TagEdit of merged tags or None
    duplicates_found = Signal(object)         # DuplicateReport
    about = Signal(object)                    # the About box: (text, technical details)
    trash_history = Signal(object)            # [TrashResult], newest first
    xmp_candidates = Signal(object, int)      # photo ids or None (all), photos with tags
    label_learned = Signal(str, str)          # set, label: a label learned from photos
    model_catalog = Signal(object)            # [(KnownModel or None, state, Speed or None)]
    model_not_changed = Signal(str, str)      # the model asked for, why not (in words)
    message = Signal(str)                     # for the status bar
    error = Signal(str)                       # something the user must see, in words
    _event = Signal(object)                   # a core event, from any thread
    _submit = Signal(object)                  # a Job to queue, from any thread

    def __init__(self, library: Library, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._library = library
        self.workers = Workers()
        self.jobs = JobQueue(parent=self)
        self.state = ModelState.UNKNOWN
        self._model_message = ""
        self.model_spec = library.model_spec       # a plain copy: the GUI never asks the core
        self.library_folder = str(library.folder)
        self.view = View()
        self._pending_view: View | None = None
        self._serial = 0
        self._closing = False
        self.watcher: FolderWatcher | None = None
        self.watch_enabled = True
        self._stale: set[str] = set()
        self._delivered: set[int] = set()   # photos sent to the window for this view
        self._refresh_timer = QTimer(self, singleShot=True, interval=REFRESH_MS)
        self._refresh_timer.timeout.connect(self._refresh)
        self._event.connect(self._on_event)
        self._submit.connect(self.jobs.submit)
        library.add_listener(self._event.emit)

    # -- plumbing --------------------------------------------------------------------------

    def _run(self, fn: Callable[..., Any], *args: Any,
             on_result: Callable[[Any], None] | None = None,
             on_error: Callable[[Exception], None] | None = None, write: bool = False) -> None:
        """``fn(*args)`` on the reads pool (or the writes pool), the result by signal."""
        if self._closing:
            return
        task = Task(fn, *args)
        if on_result:
            task.signals.result.connect(on_result)
        task.signals.error.connect(on_error or self._report)
        self.workers.start(task, write=write)

    def _report(self, exc: Exception) -> None:
        self.error.emit(describe_error(exc))

    def _queue(self, job: Job) -> Job:
        """Queue a job; callable from any thread (the watcher's included)."""
        if QThread.currentThread() is self.thread():
            return self.jobs.submit(job)
        job.moveToThread(self.thread())
        self._submit.emit(job)
        return job

    # -- start and model -------------------------------------------------------------------

    def start(self, *, load_model: bool) -> None:
        """After the window is up: show what we have, watch the folders, load the model."""
        self._mark_stale("roots", "tags", "problems")
        self._refresh()
        if load_model:
            self.load_model()
        self.start_watching()

    def load_model(self) -> Job:
        """Load (downloading if needed, with progress) the library's model, as a job."""
        self._set_model_state(ModelState.LOADING,
                              f"Loading the model {short_model_name(self.model_spec)}…")
        library = self._library

        def run(job: Job) -> str:
            def download(_msg: str, done: int, total: int) -> None:
                if job.cancel_event.is_set():
                    raise DownloadCancelled("the download was stopped")
                job.title = "Downloading the model"
                job.unit = "MB"
                job.cancellable = True    # a download can stop; loading from disk cannot
                job.report(done // 1_000_000, total // 1_000_000, "Downloading the model…")

            job.report(0, 0, "Loading the model…")
            with long_lived():
                try:
                    library.embedder.load(progress=download)
                finally:
                    job.cancellable = False
                # Beside indexing, not before it: the first search then answers at once.
                library.embedder.prepare_queries()
                library.warm_label_sets()
            return library.model_spec

        job = Job("Loading the model", run, pausable=False, cancellable=False)
        job.finished.connect(self._model_loaded)
        return self._queue(job)

    @Slot(object)
    def _model_loaded(self, job: Job) -> None:
        if self._closing:
            return
        if job.error is None and job.result is not None:   # loaded (a late cancel is moot)
            job.state = JobState.DONE
            job.outcome = f"Model {short_model_name(job.result)} ready"
            self._set_model_state(ModelState.READY, job.outcome)
            self.index_now()
            pending, self._pending_view = self._pending_view, None
            if pending is not None:
                self.set_view(pending)
        else:
            if isinstance(job.error, DownloadCancelled):
                job.state = JobState.CANCELLED
                reason = ("The download was stopped; what arrived is kept, and the next "
                          "download resumes from there.")
            else:
                reason = describe_error(job.error) if job.error else "loading was cancelled"
            job.outcome = reason
            self._set_model_state(ModelState.UNAVAILABLE, reason)
            if self._pending_view is not None:
                self.view_waiting.emit(self._pending_view, self._no_model_text())

    def request_about(self) -> None:
        """What the About box says about the model: which precision runs, and why.

        Reads what the embedder already decided (no model work); comes by ``about`` as
        (words for anyone, the technical lines for "Show Details").
        """
        from photoclip import __version__

        library = self._library
        model_state, problem = self.state, self._model_message

        def text() -> tuple[str, str]:
            from photoclip.core.precision import describe_compute

            report = library.precision_report()
            where = describe_compute(report["device"], report["cpu_class"])
            # Plain words on top; the instruction sets go under Show Details.
            plainly = ("the graphics card" if report["device"] != "cpu"
                       else "this computer's processor")
            head = (f"photoclip {__version__}\nFinds your photos by describing them. Everything "
                    f"runs on this computer.\n\nModel: "
                    f"{short_model_name(library.model_spec)}\nRuns on: {plainly}\n")
            if not report.get("loaded") and model_state is ModelState.UNAVAILABLE:
                return head + (f"The model is not running: {problem.rstrip('.')}.\n"
                               "Help → Set up the model… offers a download or a folder."), ""
            details = (f"Runs on: {where}.\n"
                       f"Image tower: {report['image']}. Text tower: {report['text']}.\n"
                       f"Why: {report['reason']}.\nSearches embed a query with the "
                       f"{report['search']}.")
            if not report.get("loaded"):
                when = ("loads now" if model_state is ModelState.LOADING
                        else "is not loaded yet")
                return head + f"The model {when}.", details
            plain = PRECISION_WORDS.get(report["image"], f"in {report['image']}")
            quick = ("Searches start at once: a query needs only a small part of the "
                     "model, kept beside the library." if "numpy" in report["search"]
                     else "")
            return head + f"Photos are analysed {plain}.\n{quick}".rstrip(), details

        self._run(text, on_result=self.about.emit)

    def _set_model_state(self, state: ModelState, message: str) -> None:
        self.state = state
        self._model_message = message
        self.model_state.emit(state, message)
        if state is ModelState.LOADING and self._pending_view is not None:
            # A search waiting since the model was "not set up": now it is on its way.
            self.view_waiting.emit(self._pending_view, self._no_model_text())

    @property
    def model_ready(self) -> bool:
        return self.state is ModelState.READY

    def _no_model_text(self) -> str:
        if self.state is ModelState.LOADING:
            return "Loading the model… your search runs as soon as it is ready."
        return ("Searching needs the model, which is not set up yet. Browsing works "
                "meanwhile: clear the search to see all photos.")

    def use_model(self, spec: str) -> Job | None:
        """Switch to another model without a restart: a job re-embeds in the background.

        The current model keeps answering searches until every photo has a vector of the
        new one; if the new one cannot be loaded, nothing changes.
        """
        if spec == self.model_spec and self.model_ready:
            return None
        if not self.model_ready:
            # Nothing to keep answering with: just use the new one from now on.
            def swap(_job: Job) -> None:
                self._library.set_model(Embedder(spec))

            job = Job("Choosing the model", swap, pausable=False, cancellable=False)
            job.finished.connect(lambda j: (self._model_swapped(spec)
                                            if j.state is JobState.DONE else
                                            self.model_not_changed.emit(
                                                spec, describe_error(j.error or RuntimeError(
                                                    "cancelled")))))
            return self._queue(job)
        library = self._library
        old = weakref.ref(library.embedder)

        def run(job: Job) -> Any:
            def download(_msg: str, done: int, total: int) -> None:
                job.report(done // 1_000_000, total // 1_000_000, "Downloading the new model…")

            return library.switch_model(Embedder(spec), progress=_index_progress(job),
                                        cancel=job.cancel_event, pause=job.pause_event,
                                        download=download)

        job = Job(f"Switching to the model {short_model_name(spec)}", run)
        job.finished.connect(lambda j: self._model_switched(j, spec, old))
        return self._queue(job)

    def _model_swapped(self, spec: str) -> None:
        self.model_spec = spec
        self.load_model()

    def _model_switched(self, job: Job, spec: str, old: weakref.ref[Any]) -> None:
        if job.state is JobState.FAILED:
            job.outcome = describe_error(job.error)
            self.model_not_changed.emit(spec, job.outcome)
        elif job.state is JobState.CANCELLED:
            job.outcome = "Cancelled; the current model stays, and a new try resumes"
        else:
            job.outcome = f"Now searching with {self.model_spec}"
            self._run(collect_frozen_if_alive, old)

    # -- folders ---------------------------------------------------------------------------

    def add_folders(self, folders: list[str]) -> None:
        def add() -> list[str]:
            added, problems, covered = [], [], []
            known = {r.path for r in self._library.roots()}
            for folder in folders:
                try:
                    root = self._library.add_root(folder)
                except PhotoclipError as exc:
                    problems.append(describe_error(exc))
                    continue
                if root.path in known:
                    covered.append(f"{display_path(folder)} is already in the library"
                                   + ("" if os.path.realpath(folder) == root.path else
                                      f" (inside {display_path(root.path)})"))
                else:
                    added.append(root.path)
                    known.add(root.path)
            for p in problems + covered:
                self.error.emit(p)
            return added

        def done(added: list[str]) -> None:
            if not added:
                return
            self.message.emit("Added " + ", ".join(display_path(a) for a in added))
            if self.watcher is not None:
                self.watcher.request_root_sync()
            self.index_now(folders=added)

        self._run(add, on_result=done, write=True)

    def remove_folder(self, folder: str) -> None:
        """Remove a folder from view at once; undo (``restore_folder``) until the app closes."""
        def done(n: int) -> None:
            self.folder_removed.emit(folder, n)
            if self.watcher is not None:
                self.watcher.request_root_sync()
            shown = self.view.folder
            if shown and (shown == folder or shown.startswith(folder.rstrip(os.sep) + os.sep)):
                self.set_view(View())   # the folder shown (or one inside it) is gone

        self._run(lambda: self._library.remove_root(folder, undoable=True), on_result=done,
                  write=True)

    def restore_folder(self, folder: str) -> None:
        def done(_root: Any) -> None:
            self.message.emit(f"{folder} is back in the library")
            if self.watcher is not None:
                self.watcher.request_root_sync()

        self._run(lambda: self._library.restore_root(folder), on_result=done, write=True)

    def folder_facts(self, folder: str,
                     on_result: Callable[[tuple[int, int, int]], None]) -> None:
        """(photos, files that could not be read, the user's own tag choices) of a folder:
        what a removal must speak of."""
        def facts() -> tuple[int, int, int]:
            root = next((r for r in self._library.roots() if r.path == folder), None)
            return ((root.readable, root.unreadable) if root else (0, 0)) + (
                self._library.user_tag_count(folder),)

        self._run(facts, on_result=on_result)

    def handle_drop(self, paths: list[str]) -> None:
        """Folders are added; a photo becomes a find-similar query. Sorted out off the GUI
        thread: looking at a path can hang on a dead network share."""
        def classify() -> tuple[list[str], list[str]]:
            folders = [p for p in paths if os.path.isdir(p)]
            photos = [p for p in paths if is_photo_path(p) and os.path.isfile(p)]
            return folders, photos

        def route(found: tuple[list[str], list[str]]) -> None:
            folders, photos = found
            if folders:
                self.add_folders(folders)
            if photos:
                self.set_view(View(similar_to=photos[0]))
            if not folders and not photos:
                self.error.emit("Only folders (to add them) or a photo (to find similar ones) "
                                "can be dropped here")

        self._run(classify, on_result=route)

    # -- indexing and watching -------------------------------------------------------------

    def index_now(self, title: str = "Indexing new photos",
                  folders: list[str] | None = None) -> Job | None:
        """Queue a scan + index run, unless one is already waiting to start (the watcher's
        first look at the folders, say): it will scan everything when it starts, and two
        would index the same photos one after the other. A run already going has scanned,
        so a new one is queued behind it. ``folders``: the folders just added, which name
        the run ("Indexing Holidays"), those of a run waiting to start with them."""
        if self._closing:
            return None
        for job in self.jobs.active():
            if job.scans_all and job.state is JobState.QUEUED:
                # It does this work now: say so, naming every folder it was queued for.
                job.folders += folders or []
                job.title = _indexing_title(job.folders) if job.folders else title
                job.changed.emit(job)
                return job
        library = self._library

        def run(job: Job) -> Any:
            job.embeds = self.model_ready
            return library.index(progress=_index_progress(job), cancel=job.cancel_event,
                                 pause=job.pause_event, embed=job.embeds)

        job = Job(_indexing_title(folders) if folders else title, run, quiet=True)
        job.indexes = job.scans_all = True
        job.folders = list(folders or [])
        job.finished.connect(self._indexed)
        return self._queue(job)

    @Slot(object)
    def _indexed(self, job: Job) -> None:
        self._mark_stale("problems")   # a run's failures may come in batches of their own
        job.outcome = job.outcome or _index_outcome(job)
        if job.state is JobState.FAILED:
            self.error.emit(job.outcome)

    def start_watching(self) -> None:
        """Watch the library's folders while the app is open; the watcher's work is queued
        as jobs here, so there is one queue, one progress display and one cancel."""
        if self.watcher is not None or not self.watch_enabled or self._closing:
            return
        self.watcher = FolderWatcher(self._library, apply=self._apply_change,
                                     on_error=lambda exc: self.error.emit(
                                         "Watching your folders hit a problem (it retries): "
                                         + describe_error(exc)))
        self.watcher.start()

    def _apply_change(self, change: Change, cancel: threading.Event) -> Any:
        """Called on the watcher's thread: queue the change as a job and wait for it."""
        if self._closing:
            return None
        library = self._library

        def run(job: Job) -> Any:
            if change.label_sets:
                names = library.retag_changed_label_sets()
                job.outcome = ("Re-tagged " + ", ".join(f"“{n}”" for n in names)) if names else ""
                return None
            progress = _index_progress(job)
            embed = job.embeds = self.model_ready
            if change.reconcile:
                def named(p: IndexProgress, report: Any = progress) -> None:
                    # A full check that finds photos to embed is indexing them: say so.
                    if p.phase == "embed" and p.total and job.title == change.describe():
                        job.title = "Indexing new photos"
                    report(p)

                progress = named
                return library.index(progress=progress, cancel=job.cancel_event,
                                     pause=job.pause_event, min_age=change.min_age, embed=embed)
            return library.apply_changes(files=change.files, folders=change.folders,
                                         cancel=job.cancel_event, progress=progress,
                                         pause=job.pause_event, min_age=change.min_age,
                                         embed=embed)

        job = Job(change.describe(), run, quiet=True)
        job.indexes = not change.label_sets
        job.scans_all = change.reconcile
        job.finished.connect(self._indexed)
        self._queue(job)
        while not job.ended.wait(0.2):
            if cancel.is_set():
                job.cancel()
                if job.state is JobState.QUEUED:
                    return None   # never started; the app is closing
        if job.error is not None:
            raise job.error
        return job.result

    def pause_jobs(self, paused: bool) -> None:
        running = self.jobs.running()
        if running is not None:
            running.set_paused(paused)

    def cancel_job(self, job: Job | None = None) -> None:
        """Cancel a job (the one the status bar shows by default). Cancelling indexing
        stops indexing: the indexing runs waiting behind it are cancelled too (the next
        change in a folder, or the next start, indexes what is left)."""
        job = job or self.jobs.running()
        if job is None:
            return
        self.jobs.cancel(job)
        if job.indexes:
            for waiting in self.jobs.active():
                if waiting.indexes and waiting.state is JobState.QUEUED:
                    self.jobs.cancel(waiting)

    # -- what is on screen -----------------------------------------------------------------

    def set_view(self, view: View) -> None:
        """Show ``view``: run its query now, or as soon as the model is ready."""
        self.view = view
        self._serial += 1
        if view.needs_model and not self.model_ready:
            self._pending_view = view
            self.view_waiting.emit(view, self._no_model_text())
            return
        self._pending_view = None
        self._query(view, self._serial, same=False)

    def refresh_view(self) -> None:
        self._mark_stale("view")

    def _query(self, view: View, serial: int, *, same: bool) -> None:
        library = self._library
        delivered = frozenset(self._delivered) if same and view.is_search else frozenset()

        def run() -> Results:
            filters = {"tag": view.tag, "folder": view.folder, "date_from": view.date_from,
                       "date_to": view.date_to}
            clear, weaker = True, 0
            if view.similar_ids:
                hits = library.similar_to_photos(list(view.similar_ids), SIMILAR_TOP, **filters)
            elif view.similar_to:
                hits = library.similar(view.similar_to, SIMILAR_TOP, **filters)
            elif view.text.strip():
                found = library.search_matches(view.text, weaker=view.weaker,
                                               limit=SEARCH_TOP, **filters)
                hits, clear, weaker = found.results, found.clear, found.weaker
            elif view.ranked:
                photos = library.photos(**filters)
                scores = library.tag_scores(view.tag or "")
                # The user's own photos of the label first, then suggestions best first.
                photos.sort(key=lambda p: _tag_rank(scores.get(p.id, float("-inf"))))
                photos = photos[:BROWSE_LIMIT]
                return Results(photos, [scores.get(p.id) for p in photos],
                               sections_for(photos, "none"), shape=cell_shape(photos))
            else:
                photos = library.photos(limit=BROWSE_LIMIT, **filters)
                return Results(photos, None, sections_for(photos, view.group),
                               shape=cell_shape(photos))
            if view.by_date:
                hits = sorted(hits, key=lambda h: -h.photo.date)
                photos = [h.photo for h in hits]
                sections = sections_for(photos, view.group)
            else:
                photos = [h.photo for h in hits]
                sections = sections_for(photos, "none")
            capped = bool(view.similar_ids or view.similar_to) and len(hits) >= SIMILAR_TOP
            left_out = delivered - {p.id for p in photos}
            return Results(photos, [h.score for h in hits], sections, clear, weaker, capped,
                           cell_shape(photos),
                           frozenset(library.visible_photo_ids(left_out)) if left_out
                           else frozenset())

        def deliver(value: Results) -> None:
            if serial != self._serial or self._closing:
                return   # a newer view replaced this one while it ran
            ids = {p.id for p in value.photos}
            self._delivered = self._delivered | ids if same else ids
            self.results.emit(view, value, same)

        def failed(exc: Exception) -> None:
            if serial == self._serial:
                self.view_waiting.emit(view, describe_error(exc))

        self._run(run, on_result=deliver, on_error=failed)

    def _mark_stale(self, *what: str) -> None:
        self._stale.update(what)
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    @Slot(object)
    def _on_event(self, event: LibraryEvent) -> None:
        if self._closing:
            return
        if isinstance(event, PhotosChanged):
            self._mark_stale("view", "roots", "tags", "problems")
        elif isinstance(event, TagsChanged):
            self._mark_stale("tags", "photo-tags")
            if self.view.tag:
                self._mark_stale("view")
        elif isinstance(event, RootsChanged):
            self._mark_stale("roots", "view")
        elif isinstance(event, ModelChanged):
            self.model_spec = event.spec
            self._set_model_state(ModelState.READY, f"Now searching with {event.spec}")
            self._mark_stale("view")

    @Slot()
    def _refresh(self) -> None:
        """Bring what is on screen up to date with the library (after change events)."""
        if self._closing:
            return
        stale, self._stale = self._stale, set()
        if "roots" in stale:
            self._run(lambda: self._library.roots(folders=True),
                      on_result=self.roots_changed.emit)
        if "tags" in stale:
            self.refresh_tags()
        if "problems" in stale:
            self._run(lambda: len(self._library.failed()), on_result=self.problems.emit)
        if "photo-tags" in stale and self._details_photo is not None:
            self.request_photo_tags(self._details_photo)
        if "view" in stale and (not self.view.needs_model or self.model_ready):
            self._query(self.view, self._serial, same=True)

    # -- details ---------------------------------------------------------------------------

    _details_photo: int | None = None

    def request_photo_tags(self, photo_id: int | None) -> None:
        """The details panel shows this photo: its tags follow by ``photo_tags``."""
        self._details_photo = photo_id
        if photo_id is None:
            return
        self._run(lambda: (self._library.tags(photo_id), self._library.files_of(photo_id)),
                  on_result=lambda found: (self.photo_tags.emit(photo_id, found[0]),
                                           self.photo_files.emit(photo_id, found[1])))

    def request_failed(self) -> None:
        self._run(self._library.failed, on_result=self.failed_ready.emit)

    # -- tags ------------------------------------------------------------------------------

    def refresh_tags(self) -> None:
        def load() -> tuple[list, dict]:
            sets = [(ls.name, list(ls.labels)) for ls in self._library.label_sets()]
            return sets, self._library.tag_counts()

        self._run(load, on_result=lambda v: self.tags_changed.emit(*v))

    def edit_tag(self, photo_id: int, label_set: str, label: str, action: str) -> None:
        """``action``: "confirm" (or add) or "reject". The edit comes back for the undo stack."""
        self.edit_tags([photo_id], label_set, label, action)

    def edit_tags(self, photo_ids: list[int], label_set: str, label: str, action: str) -> None:
        """One tag on many photos: "confirm" (add) or "reject" (remove), undoable."""
        source = "rejected" if action == "reject" else "manual"
        n = len(photo_ids)

        def edit() -> TagEdit:
            entries = tuple(self._library.edit_tags(photo_ids, label_set, label, source))
            # "Confirm" a suggestion the photo had; "Add" a tag it did not have.
            verb = ("Remove" if action == "reject" else
                    "Confirm" if n == 1 and entries[0][3] is not None else "Add")
            return TagEdit(f"{verb} tag “{label}”" + (f" on {n:,} photos" if n > 1 else ""),
                           entries)

        self._run(edit, on_result=self._tag_edit_done, write=True)

    def confirm_tags(self, photo_ids: list[int]) -> None:
        """Make the automatic tags of these photos the user's own, undoably."""
        n = len(photo_ids)
        what = f"Confirm the tags of {n:,} photo{'s' if n != 1 else ''}"
        self._run(lambda: TagEdit(what, tuple(self._library.confirm_tags(photo_ids))),
                  on_result=self._tag_edit_done, write=True)

    def _tag_edit_done(self, edit: TagEdit) -> None:
        self.tag_edited.emit(edit)
        self._show_edited_tags({e[0] for e in edit.entries})

    def _show_edited_tags(self, photo_ids: set[int]) -> None:
        # The user's own edit shows at once in the details panel, not with the next
        # refresh a second later (the tag tree's counts can wait for that).
        if self._details_photo in photo_ids:
            self.request_photo_tags(self._details_photo)

    def restore_tag(self, edit: TagEdit, *, undo: bool) -> None:
        """Undo (or redo) a tag edit by putting the tags back as they were."""
        entries = [(pid, s, label, before if undo else after)
                   for pid, s, label, before, after in edit.entries]
        self._run(lambda: self._library.restore_tags(entries), write=True,
                  on_result=lambda _r: self._show_edited_tags({e[0] for e in entries}))

    def trash(self, photo_ids: list[int], merge_into: int | None = None) -> Job:
        """Move photos' files to the system trash (a job); undo restores where possible.

        ``merge_into``: first give that photo (the duplicate kept) the tags only the
        trashed ones have, as one step with the trashing: undo takes both back.
        """
        library = self._library
        n = len(photo_ids)

        def run(job: Job) -> Any:
            merged: TagEdit | None = None
            if merge_into is not None:
                added = library.merge_tags(photo_ids, merge_into)
                if added:
                    merged = TagEdit(f"Give the kept photo {counted(len(added), 'tag')}",
                                     tuple((merge_into, t.label_set, t.label, None,
                                            (t.score, "manual")) for t in added))
            job.report(0, n, "Moving to the trash…")
            return library.trash_photos(photo_ids), merged

        def done(job: Job) -> None:
            if job.state is JobState.FAILED:
                job.outcome = describe_error(job.error)
                self.error.emit(f"Nothing was moved to the trash: {job.outcome}")
                return
            result, merged = job.result
            job.outcome = trash_outcome(result)
            if result.failed:
                self.error.emit(job.outcome)
            if result.trashed or merged is not None:
                self.trashed.emit(result, merged)

        job = Job(f"Moving {n:,} photo{'s' if n != 1 else ''} to the trash", run,
                  unit="files", pausable=False, cancellable=False, interactive=True)
        job.finished.connect(done)
        return self._queue(job)

    def find_duplicates(self) -> Job:
        """Look for near-duplicate groups (a job); the report comes by ``duplicates_found``."""
        library = self._library

        def run(job: Job) -> Any:
            def progress(p: Any) -> None:
                what = {"neighbours": "Comparing every photo with its neighbours",
                        "compare": "Checking the candidates", "group": "Grouping"}
                job.unit = "photos" if p.phase != "compare" else "pairs"
                job.report(p.done, p.total, what.get(p.phase, p.message))

            return library.find_duplicates(progress=progress, cancel=job.cancel_event)

        def done(job: Job) -> None:
            if job.state is JobState.DONE and not job.result.cancelled:
                n = len(job.result.groups)
                job.outcome = f"Found {n:,} group{'s' if n != 1 else ''} of duplicates"
                self.duplicates_found.emit(job.result)
            elif job.state is JobState.FAILED:
                job.outcome = describe_error(job.error)
                self.error.emit(f"The duplicate search stopped: {job.outcome}")
            else:
                job.outcome = "Cancelled"

        job = Job("Finding duplicates", run, pausable=False, interactive=True)
        job.finished.connect(done)
        return self._queue(job)

    def tags_to_merge(self, from_ids: list[int], to_id: int,
                      on_result: Callable[[list[Any]], None]) -> None:
        self._run(lambda: self._library.tags_to_merge(from_ids, to_id), on_result=on_result)

    def request_trash_history(self) -> None:
        self._run(self._library.trash_history, on_result=self.trash_history.emit)

    def restore_trashed(self, result: Any) -> None:
        def done(out: Any) -> None:
            if out.failed:
                self.error.emit(f"{len(out.failed)} could not be put back: "
                                f"{out.failed[0].reason}")
            if out.restored:
                self.message.emit(f"Put {counted(len(out.restored), 'photo')} back from the trash")

        self._run(lambda: self._library.restore_from_trash(result), on_result=done, write=True)

    def request_pairing(self, on_result: Callable[[bool], None]) -> None:
        """Whether RAW+JPEG pairs are one photo in this library (answered by ``on_result``)."""
        self._run(self._library.pairing, on_result=on_result)

    def set_pairing(self, enabled: bool) -> Job:
        """Pair RAW files with the JPEG beside them, or make each a photo of its own (a job:
        the whole library is looked at); RAW files that leave a pair are then indexed."""
        library = self._library

        def run(job: Job) -> int:
            job.report(0, 0, "Looking for RAW files beside a JPEG of the same name…")
            return library.set_pairing(enabled)

        def done(job: Job) -> None:
            if job.state is JobState.FAILED:
                job.outcome = describe_error(job.error)
                self.error.emit(f"Pairing was not changed: {job.outcome}")
                return
            n = job.result or 0
            job.outcome = (f"A RAW file and the JPEG beside it are one photo "
                           f"({counted(n, 'RAW file')} joined a JPEG)" if enabled else
                           f"Every RAW file is a photo of its own ({counted(n, 'RAW file')} "
                           "left its JPEG)")
            self.message.emit(job.outcome)
            if n and not enabled:
                self.index_now("Indexing RAW files on their own")

        job = Job("Pairing RAW and JPEG files", run, pausable=False, cancellable=False)
        job.finished.connect(done)
        return self._queue(job)

    def request_label_sets(self) -> None:
        self._run(lambda: (self._library.label_sets(), list(self._library.label_set_errors)),
                  on_result=lambda v: self.label_sets.emit(*v))

    def save_label_set(self, label_set: Any) -> Job | None:
        if not self.model_ready:
            self.error.emit("Tagging needs the model, which is not ready yet.")
            return None
        library = self._library

        def run(job: Job) -> Any:
            job.report(0, 0, "Scoring every photo against the edited set…")
            return library.save_label_set(label_set)

        # Seconds even for a large library (one matrix product), so it is not cancellable.
        job = Job(f"Re-tagging “{label_set.name}”", run, pausable=False, cancellable=False,
                  interactive=True)
        job.finished.connect(lambda j: self._retagged(j, label_set.name))
        return self._queue(job)

    def _retagged(self, job: Job, name: str) -> None:
        if job.state is JobState.DONE:
            job.outcome = f"Label set “{name}” saved; the library is re-tagged"
            self.message.emit(job.outcome)
            self.request_label_sets()
        elif job.state is JobState.FAILED:
            job.outcome = describe_error(job.error)
            self.error.emit(f"The label set was not saved: {job.outcome}")

    def preview_label_set(self, label_set: Any) -> None:
        if self.model_ready:
            self._run(self._library.preview_label_set, label_set,
                      on_result=self.preview_ready.emit)

    def count_xmp(self, photo_ids: list[int] | None) -> None:
        """How many photos an XMP export would write: answered by ``xmp_candidates``."""
        def count() -> int:
            return len(self._library.all_tags()) if photo_ids is None else len(photo_ids)

        self._run(count, on_result=lambda n: self.xmp_candidates.emit(photo_ids, n))

    def write_xmp(self, photo_ids: list[int] | None = None) -> Job:
        library = self._library

        def run(job: Job) -> Any:
            job.report(0, 0, "Writing sidecar files next to your photos…")
            return library.write_xmp(photo_ids, progress=job.report, cancel=job.cancel_event)

        def done(job: Job) -> None:
            if job.state in (JobState.DONE, JobState.CANCELLED) and job.result is not None:
                report = job.result
                failed = (f"; {len(report.failed):,} could not be written, e.g. "
                          f"{display_path(report.failed[0][0])}: {report.failed[0][1]}"
                          if report.failed else "")
                stopped = "Stopped after writing" if job.cancelled else "Wrote"
                job.outcome = (f"{stopped} tags to {len(report):,} XMP sidecar files "
                               f"(photos untouched){failed}")
                self.message.emit(job.outcome)
            elif job.state is JobState.FAILED:
                job.outcome = describe_error(job.error)
                self.error.emit(f"XMP export stopped: {job.outcome}")

        job = Job("Writing tags to XMP sidecars", run, unit="photos", pausable=False,
                  interactive=True)
        job.finished.connect(done)
        return self._queue(job)

    # -- learned labels and the model picker (issue 18) --------------------------------------

    def learn_label(self, label: str, set_name: str, photo_ids: list[int],
                    prompts: list[str] | None = None) -> Job | None:
        """Create a label from example photos (a job: the library is re-scored from stored
        embeddings). ``label_learned`` says when it is there; refusals come by ``error``."""
        if not self.model_ready:
            self.error.emit("Learning a label needs the model, which is not ready yet.")
            return None
        library = self._library

        def run(job: Job) -> Any:
            job.report(0, 0, "Learning from the examples and scoring every photo…")
            ls = library.learn_label(label, set_name, list(photo_ids), prompts=prompts)
            return ls, library.tag_counts().get((ls.name, label), 0)

        def done(job: Job) -> None:
            if job.state is JobState.DONE:
                ls, count = job.result
                job.outcome = (f"“{label}” learned from {len(photo_ids):,} photos; "
                               f"{count:,} photo{'s' if count != 1 else ''} carry it")
                self.message.emit(job.outcome)
                self.label_learned.emit(ls.name, label)
            elif job.state is JobState.FAILED:
                job.outcome = describe_error(job.error)
                self.error.emit(f"The label was not created: {job.outcome}")

        job = Job(f"Learning “{label}”", run, pausable=False, cancellable=False,
                  interactive=True)
        job.finished.connect(done)
        return self._queue(job)

    def request_model_catalog(self) -> None:
        """The models photoclip knows, whether each is here, and the speeds measured here
        (answered by ``model_catalog``: [(KnownModel, state in words, Speed or None)])."""
        current = self.model_spec

        def load() -> list[tuple[Any, str, Any]]:
            speeds = models.SpeedCache().all()
            rows = [(m, models.availability(m), speeds.get(m.spec))
                    for m in models.KNOWN_MODELS]
            if models.known(current) is None:   # a folder or a spec of the user's own
                rows.insert(0, (None, "in use", speeds.get(current)))
            return rows

        self._run(load, on_result=self.model_catalog.emit)

    def measure_model_speeds(self) -> Job:
        """Time every known model whose weights are here, and the one in use (a job: each
        model is loaded in turn; nothing is downloaded). Results by ``model_catalog``."""
        library = self._library
        current = self.model_spec

        def run(job: Job) -> list[str]:
            todo = [m.spec for m in models.KNOWN_MODELS
                    if m.spec != current and models.availability(m) == "ready"]
            todo.insert(0, current)
            cache, failed = models.SpeedCache(), []
            for done, spec in enumerate(todo):
                if job.cancel_event.is_set():
                    break
                job.report(done, len(todo), f"Timing {short_model_name(spec)}…")
                try:
                    cache.put(models.measure_speed(
                        spec, embedder=library.embedder if spec == current else None))
                except PhotoclipError as exc:
                    failed.append(f"{short_model_name(spec)}: {describe_error(exc)}")
            return failed

        def done(job: Job) -> None:
            failed = job.result if job.state is JobState.DONE else []
            job.outcome = ("Model speeds measured" if not failed else
                           "Some models could not be timed: " + "; ".join(failed))
            if job.state is JobState.FAILED:
                job.outcome = describe_error(job.error)
            self.request_model_catalog()

        job = Job("Timing the models on this computer", run, unit="models", pausable=False,
                  interactive=True)
        job.finished.connect(done)
        return self._queue(job)

    def save_settings(self, settings: Any, *, now: bool = False) -> None:
        """Write the app's settings file off the GUI thread (a copy, as they are now).

        ``now``: here and at once, for quitting, when no pool runs any more.
        """
        snapshot = dataclasses.replace(settings)

        def failed(exc: Exception) -> None:
            message = f"Your settings could not be saved: {describe_error(exc)}"
            log.warning("%s", message)
            if not self._closing:
                self.error.emit(message)

        if not now:
            self._run(snapshot.save, write=True, on_error=failed)
            return
        try:
            snapshot.save()
        except OSError as exc:
            failed(exc)

    # -- shutdown --------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Cancel jobs (they stop at a batch boundary), stop watching, close the library.

        Order matters: the jobs first, so the watcher waiting on one is released; then the
        watcher, so nothing new is queued; then the pools; the library last.
        """
        self._closing = True
        self._refresh_timer.stop()
        self.jobs.cancel_all()
        if self.watcher is not None:
            self.watcher.stop(timeout=10)
        self.jobs.shutdown(60000)
        self.workers.wait(60000)
        self._library.close()


@dataclass(frozen=True)
class TagEdit:
    """Tags edited by one action, each with its state before and after: what undo needs."""

    what: str    # "Remove tag “circle”", for the Edit menu
    entries: tuple[tuple[int, str, str, Any, Any], ...]   # (photo, set, label, before, after)

    def describe(self) -> str:
        return self.what


def _index_progress(job: Job) -> Callable[[IndexProgress], None]:
    """The core's indexing progress, as job progress."""
    def report(p: IndexProgress) -> None:
        if p.phase == "scan":
            job.report(0, 0, "Looking for new and changed photos…")
        elif p.phase == "load-model":
            job.report(0, p.total, "Loading the model…")
        elif p.phase in ("embed", "done"):
            job.message = f"{p.failed:,} could not be read" if p.failed else ""
            job.report(p.done, p.total)
    return report


def _indexing_title(folders: list[str]) -> str:
    return f"Indexing {_folder_names(folders)}"


def _folder_names(folders: list[str]) -> str:
    names = [shown_name(f) for f in folders]
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{len(names)} folders"


def _index_outcome(job: Job) -> str:
    if job.state is JobState.FAILED:
        return describe_error(job.error)
    summary = job.result
    if summary is None:
        return ""
    i = summary.index
    failed = f", {len(i.failed):,} could not be read" if i.failed else ""
    if job.state is JobState.CANCELLED or i.cancelled:
        return (f"Cancelled after {i.embedded:,} photos{failed}; the rest wait for the next run"
                if i.embedded else "Cancelled; nothing was lost")
    if i.embedded or i.failed:
        # Named after the folders it was queued for: two runs ending together read
        # "Indexed 240 photos · Indexed 12 photos".
        where = f" in {_folder_names(job.folders)}" if job.folders else ""
        return f"Indexed {counted(i.embedded, 'photo')}{where}{failed}"
    s = summary.scan
    if s.touched:   # what happened only: "80 new", not "80 new, 0 moved, 0 gone"
        return "Folders checked: " + ", ".join(f"{n:,} {what}" for n, what in (
            (s.new, "new"), (s.changed, "changed"), (s.moved, "moved"), (s.missing, "gone"),
            (s.returned, "back"), (s.paired, "RAW+JPEG pairs changed")) if n)
    return ""


def _tag_rank(score: float | None) -> tuple[int, float]:
    return (0, 0.0) if score is None else (1, -score)


def short_model_name(spec: str) -> str:
    """A model as a person reads it: a folder by its name, a hub model by its name."""
    if spec.startswith("local-dir:"):
        return f"“{os.path.basename(spec[len('local-dir:'):].rstrip(os.sep))}” (a folder)"
    return spec.removeprefix("hf-hub:")


def describe_error(exc: BaseException | None) -> str:
    """An error in words a person understands: never a class name or a command-line flag."""
    if exc is None:
        return "something went wrong"
    if isinstance(exc, PhotoclipError):
        return exc.reason
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or 'a file operation failed'}{where}"
    log.error("unexpected error", exc_info=exc)
    return "an unexpected problem occurred (details are in the log)"


def trash_outcome(result: Any) -> str:
    """What a move to the trash did, in one line that also says why any photo stayed (the
    Jobs list keeps this line; the status bar's message soon goes)."""
    if not result.failed:
        return f"Moved {counted(len(result.trashed), 'photo')} to the trash"
    reasons = list(dict.fromkeys(f.reason for f in result.failed))
    why = reasons[0] + ("" if len(reasons) == 1
                        else f" (and {counted(len(reasons) - 1, 'other reason')})")
    if not result.trashed:
        return (f"{counted(len(result.failed), 'photo')} could not be moved to the trash: "
                f"{why}")
    return (f"Moved {counted(len(result.trashed), 'photo')} to the trash; "
            f"{len(result.failed):,} could not be moved: {why}")

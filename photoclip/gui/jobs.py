"""Long work as jobs: one progress model, one queue, pause and cancel for all of them.

Every long operation of the app (indexing at start, a folder added, changes seen by the
watcher, re-tagging, XMP export, a model download or switch) is a :class:`Job`. Jobs run
in two lanes, each one job at a time in the order asked: **bulk** work (loading or
switching the model, every indexing run) so it never competes with itself, and
**interactive** work a person asked for and waits to see (re-tagging an edited set,
learning a label, moving photos to the trash, finding duplicates, writing XMP), which
never waits behind a long indexing run. (The core keeps the two consistent: tagging takes
its own lock, and none of the interactive work needs the indexing lock.) Quick requests
(a search, a tag edit) never enter this queue at all.

A job's function runs on the queue's thread and reports with :meth:`Job.report`; the job
works out rate and time left the same way for everything, and tells the GUI thread by the
``changed`` signal (queued across threads). Cancel and pause are ``threading.Event``s that
the core checks between batches (DESIGN.md rule 4).
"""

from __future__ import annotations

import enum
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from photoclip.gui.workers import lower_thread_priority, thread_pool

log = logging.getLogger(__name__)


class JobState(enum.Enum):
    QUEUED = "waiting"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.CANCELLED, JobState.FAILED)


_ids = itertools.count(1)


class Job(QObject):
    """One unit of long work. Fields are written by the worker and read by the GUI thread."""

    changed = Signal(object)     # self: progress, state
    finished = Signal(object)    # self, once, on the GUI thread's side of the queue

    def __init__(self, title: str, fn: Callable[[Job], Any], *, unit: str = "photos",
                 pausable: bool = True, cancellable: bool = True, quiet: bool = False,
                 interactive: bool = False) -> None:
        super().__init__()
        self.id = next(_ids)
        self.title = title
        self.fn = fn
        self.unit = unit
        self.pausable = pausable
        self.cancellable = cancellable
        self.interactive = interactive   # its own lane: never waits behind bulk work
        self.indexes = False             # an indexing run (see LibraryController.index_now)
        self.scans_all = False           # ...that looks at every folder, not a few files
        self.embeds = False              # ...that embeds (the model was ready when it began)
        self.folders: list[str] = []     # ...queued for these added folders (its title)
        self.quiet = quiet            # dropped from the list when it ends with nothing done
        self.state = JobState.QUEUED
        self.done = 0
        self.total = 0
        self.message = ""
        self.outcome = ""             # one line when it ended: what it did, or why not
        # Set on the GUI thread once the ``finished`` handlers have run: ``state`` says the
        # work ended (worker thread) before the outcome is written (GUI thread).
        self.wrapped_up = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.cancel_event = threading.Event()
        self.pause_event = threading.Event()
        self.ended = threading.Event()
        self._started = 0.0
        self._samples: deque[tuple[float, int]] = deque(maxlen=30)
        self._last_emit = 0.0

    # -- called on the worker thread -------------------------------------------------------

    def report(self, done: int, total: int, message: str = "") -> None:
        """Progress from the work: ``done`` of ``total`` (0: not known yet)."""
        now = time.monotonic()
        if done < self.done or total != self.total:
            self._samples.clear()
        self.done, self.total = done, total
        if message:
            self.message = message
        self._samples.append((now, done))
        self.state = JobState.PAUSED if self.pause_event.is_set() else JobState.RUNNING
        # A few updates a second is what a person can read; more only costs the GUI thread.
        if now - self._last_emit >= 0.1 or (total and done >= total):
            self._last_emit = now
            self.changed.emit(self)

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    # -- derived, for display --------------------------------------------------------------

    @property
    def rate(self) -> float:
        """Units per second over the last samples (what time left is based on)."""
        if len(self._samples) < 2:
            return 0.0
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 and d1 > d0 else 0.0

    @property
    def eta(self) -> float | None:
        rate = self.rate
        if not self.total or rate <= 0:
            return None
        return max(0.0, (self.total - self.done) / rate)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started if self._started else 0.0

    def summary(self) -> str:
        """One line: what it is doing now (or did)."""
        if self.state.finished:
            return self.outcome or self.state.value.capitalize()
        if self.state is JobState.QUEUED:
            return "Waiting"
        parts = []
        paused = self.state is JobState.PAUSED
        if self.total:
            parts.append(f"{self.done:,} of {self.total:,} {self.unit}")
            if self.rate > 0 and not paused:
                parts.append(f"{self.rate:.1f}/s" if self.rate < 100 else f"{self.rate:,.0f}/s")
            if self.eta is not None and not paused:
                parts.append(format_eta(self.eta))
        elif self.message:
            parts.append(self.message)
        if paused:
            parts.append("paused")
        return " · ".join(parts) or "Starting…"

    # -- control (any thread) --------------------------------------------------------------

    def cancel(self) -> None:
        self.cancel_event.set()
        self.pause_event.clear()

    def set_paused(self, paused: bool) -> None:
        if not self.pausable or self.state.finished:
            return
        # The rate is measured from work done while running: a pause in the samples would
        # read as a slow rate (and a long time left) once it resumes.
        self._samples.clear()
        (self.pause_event.set if paused else self.pause_event.clear)()
        if self.state in (JobState.RUNNING, JobState.PAUSED):
            self.state = JobState.PAUSED if paused else JobState.RUNNING
        self.changed.emit(self)


def format_eta(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min left"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60} s left"
    return f"{seconds} s left"


class _Runner(QRunnable):
    def __init__(self, job: Job, queue: JobQueue) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.job = job
        self.queue = queue

    def run(self) -> None:
        lower_thread_priority()
        job = self.job
        if job.cancelled:
            job.state = JobState.CANCELLED
            job.outcome = "Cancelled before it started"
        else:
            job.state = JobState.RUNNING
            job._started = time.monotonic()
            job.changed.emit(job)
            try:
                job.result = job.fn(job)
            except Exception as exc:
                log.debug("job %r failed", job.title, exc_info=True)
                job.error = exc
                job.state = JobState.FAILED
            else:
                job.state = JobState.CANCELLED if job.cancelled else JobState.DONE
        job.ended.set()
        self.queue._ended.emit(job)


class JobQueue(QObject):
    """Runs jobs one at a time per lane, each lane on a thread of its own; keeps the recent
    ones for display."""

    added = Signal(object)       # Job
    changed = Signal(object)     # Job (progress or state)
    removed = Signal(object)     # Job dropped from the list
    _ended = Signal(object)      # internal: from the worker thread

    def __init__(self, keep_finished: int = 20, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = thread_pool(1)              # bulk
        self.interactive_pool = thread_pool(1)
        for pool in (self.pool, self.interactive_pool):
            pool.setExpiryTimeout(-1)   # one long-lived thread, not a new one per job
        self.keep_finished = keep_finished
        self.jobs: list[Job] = []
        self._runners: dict[int, _Runner] = {}
        self._closed = False
        self._ended.connect(self._on_ended)

    def submit(self, job: Job) -> Job:
        if self._closed:
            job.cancel()
            job.state = JobState.CANCELLED
            job.ended.set()
            job.wrapped_up = True
            return job
        job.changed.connect(self.changed.emit)
        self.jobs.append(job)
        runner = _Runner(job, self)
        self._runners[job.id] = runner
        self.added.emit(job)
        self._pool_of(job).start(runner)
        return job

    def _pool_of(self, job: Job) -> QThreadPool:
        return self.interactive_pool if job.interactive else self.pool

    def active(self) -> list[Job]:
        return [j for j in self.jobs if not j.state.finished]

    def settled(self) -> bool:
        """No job runs or waits, and every ended job's ``finished`` handlers have run (a
        job's state says it ended before the GUI thread has heard so)."""
        return not self._runners and not self.active()

    def running(self) -> Job | None:
        """The job the status bar shows: what the user asked for last, if it runs."""
        running = [j for j in self.jobs if j.state in (JobState.RUNNING, JobState.PAUSED)]
        return next((j for j in running if j.interactive), running[0] if running else None)

    def cancel(self, job: Job) -> None:
        job.cancel()
        runner = self._runners.get(job.id)
        if job.state is JobState.QUEUED and runner is not None and \
                self._pool_of(job).tryTake(runner):
            runner.run()   # not started: end it now, on this thread, as cancelled
        else:
            self.changed.emit(job)

    def cancel_all(self) -> None:
        for job in self.active():
            self.cancel(job)

    @Slot(object)
    def _on_ended(self, job: Job) -> None:
        self._runners.pop(job.id, None)
        job.finished.emit(job)     # first: its handlers write the job's outcome
        job.wrapped_up = True
        self.changed.emit(job)
        if job.quiet and job.state is JobState.DONE and not job.outcome:
            self._drop(job)
        finished = [j for j in self.jobs if j.state.finished]
        for old in finished[:-self.keep_finished] if self.keep_finished else finished:
            self._drop(old)

    def _drop(self, job: Job) -> None:
        if job in self.jobs:
            self.jobs.remove(job)
            self.removed.emit(job)

    def clear_finished(self) -> None:
        for job in [j for j in self.jobs if j.state.finished]:
            self._drop(job)

    def shutdown(self, msecs: int = 60000) -> bool:
        """Cancel everything and wait for the job in flight to reach a batch boundary."""
        self._closed = True
        self.cancel_all()
        quick = self.interactive_pool.waitForDone(msecs)
        return self.pool.waitForDone(msecs) and quick

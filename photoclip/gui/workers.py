"""Run quick core calls off the GUI thread and hand results back as Qt signals.

A :class:`Task` is a ``QRunnable`` plus a ``QObject`` of signals (``result``, ``error``).
Signals cross back to the GUI thread through queued connections, so only the GUI thread
ever touches widgets (DESIGN.md rule 5). Long work is not a Task but a Job
(:mod:`photoclip.gui.jobs`), with progress, pause and cancel.

Two pools: ``reads`` (two threads: a search and a browse can run at once, each with its
own catalog connection) and ``writes`` (one thread, so edits apply in the order made).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

_BACKGROUND_NICE = 5
_lowered = threading.local()


def lower_thread_priority() -> None:
    """Let the calling thread yield the CPU to the GUI thread (Linux: a higher nice value).

    Background work (indexing, thumbnails) calls this on its threads, so on a 2-core laptop
    the window keeps painting while every core is busy. Linux keeps a nice value per thread
    and new threads inherit it, so the decode threads and the model's threads that a job
    starts are lowered with it. Elsewhere this does nothing.

    The value is the GUI thread's plus ``_BACKGROUND_NICE``, never this thread's plus it: a
    pool thread started from a lowered thread has inherited the lowered value, and adding
    to that again left some workers at 19. Then the one holding the GIL could wait behind
    the others for the CPU while the GUI thread waited for the GIL.
    """
    if getattr(_lowered, "done", False) or not sys.platform.startswith("linux"):
        return
    _lowered.done = True
    try:
        tid = threading.get_native_id()
        # The process id is the GUI (main) thread's id, so this reads that thread's value.
        target = min(19, os.getpriority(os.PRIO_PROCESS, os.getpid()) + _BACKGROUND_NICE)
        if os.getpriority(os.PRIO_PROCESS, tid) < target:
            os.setpriority(os.PRIO_PROCESS, tid, target)
    except OSError:
        log.debug("could not lower the priority of %s", threading.current_thread().name)


@contextlib.contextmanager
def long_lived() -> Iterator[None]:
    """Build what lives as long as the app (the model, the modules it imports) inside this,
    and the garbage collector's passes never walk it (gc.freeze).

    A full pass holds the GIL while it walks every container object: 135 ms for the
    263,000 of the app with ViT-B-32 loaded (AMD EPYC Zen 1), run by whichever thread
    allocates at that moment, mostly an indexing thread. Meanwhile the GUI thread, waiting
    for the GIL, painted nothing: the window stuttered while it indexed. Loading the model
    ran three such passes of 40-100 ms. So the collector is off while the model loads and
    what it built is frozen after; later passes walk only what came later. Frozen objects
    are still freed when their last reference goes; reference cycles among them wait for
    :func:`collect_frozen_if_alive`.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def collect_frozen_if_alive(old: weakref.ref[Any]) -> None:
    """After a model switch: if the old model is still held (in a reference cycle that
    freezing kept), collect everything once; then freeze what is left, the new model too.
    Off the GUI thread: a full pass holds the GIL."""
    if old() is not None:
        gc.unfreeze()
        gc.collect()
    gc.freeze()


_pools: weakref.WeakSet[QThreadPool] = weakref.WeakSet()


def thread_pool(threads: int, parent: QObject | None = None) -> QThreadPool:
    """A pool of the app's own (never Qt's global one), known to :func:`busy_threads`."""
    pool = QThreadPool(parent)
    pool.setMaxThreadCount(threads)
    _pools.add(pool)
    return pool


def busy_threads() -> int:
    """Threads of the app's pools running work now: the tests fail a test that leaves one
    (work that outlives its window writes to a closed library)."""
    busy = 0
    for pool in list(_pools):
        try:
            busy += pool.activeThreadCount()
        except RuntimeError:   # its C++ side is gone: nothing runs there
            continue
    return busy


class TaskSignals(QObject):
    result = Signal(object)
    error = Signal(object)      # the exception
    finished = Signal()


class Task(QRunnable):
    """Call ``fn(*args, **kwargs)`` on a pool thread; its value or exception comes by signal."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the Python side holds it until finished
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.signals = TaskSignals()

    def run(self) -> None:
        try:
            value = self.fn(*self.args, **self.kwargs)
        except Exception as exc:
            log.debug("task failed", exc_info=True)
            self.signals.error.emit(exc)
        else:
            self.signals.result.emit(value)
        finally:
            self.signals.finished.emit()


class Workers:
    """The app's pools for quick work: ``reads`` and the single-threaded ``writes``."""

    def __init__(self) -> None:
        self.reads = thread_pool(2)
        self.writes = thread_pool(1)
        self._live: set[Task] = set()

    def start(self, task: Task, *, write: bool = False) -> Task:
        self._live.add(task)
        task.signals.finished.connect(lambda: self._live.discard(task))
        (self.writes if write else self.reads).start(task)
        return task

    def wait(self, msecs: int = 30000) -> bool:
        ok = self.writes.waitForDone(msecs)
        return self.reads.waitForDone(msecs) and ok

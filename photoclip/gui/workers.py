"""Run core work off the GUI thread and hand results back as Qt signals.

A :class:`Task` is a ``QRunnable`` plus a ``QObject`` of signals (``started``, ``progress``,
``result``, ``error``, ``finished``). Signals cross back to the GUI thread through queued
connections, so only the GUI thread ever touches widgets (DESIGN.md rule 5).

Two pools keep interactive work (a search, loading the model) from queuing behind bulk
work (indexing): :class:`Workers` owns both and waits for them on shutdown.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class TaskSignals(QObject):
    started = Signal()
    progress = Signal(object)
    result = Signal(object)
    error = Signal(object)      # the exception
    finished = Signal()


class Task(QRunnable):
    """Call ``fn(*args, progress=emit, cancel=event, **kwargs)`` on a pool thread.

    ``fn`` gets a ``progress`` callable that emits the ``progress`` signal and a
    ``cancel`` event it should check between steps, when it accepts those keywords.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, with_progress: bool = False,
                 **kwargs: Any) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the Python side holds it until finished
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.with_progress = with_progress
        self.signals = TaskSignals()
        self.cancel = threading.Event()
        self.pause = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        self.signals.started.emit()
        try:
            if self.with_progress:
                self.kwargs.update(progress=self.signals.progress.emit, cancel=self.cancel,
                                   pause=self.pause)
            value = self.fn(*self.args, **self.kwargs)
        except Exception as exc:
            log.debug("task failed: %s", "".join(traceback.format_exception(exc)))
            self.signals.error.emit(exc)
        else:
            self.signals.result.emit(value)
        finally:
            self.done.set()
            self.signals.finished.emit()


class Workers:
    """The app's thread pools: ``interactive`` for quick user requests, ``bulk`` for indexing."""

    def __init__(self) -> None:
        self.interactive = QThreadPool()
        self.interactive.setMaxThreadCount(2)
        self.bulk = QThreadPool()
        self.bulk.setMaxThreadCount(1)
        self._live: set[Task] = set()

    def start(self, task: Task, *, bulk: bool = False) -> Task:
        self._live.add(task)
        task.signals.finished.connect(lambda: self._live.discard(task))
        (self.bulk if bulk else self.interactive).start(task)
        return task

    def cancel_all(self) -> None:
        for task in list(self._live):
            task.cancel.set()
            task.pause.clear()

    def wait(self, msecs: int = 30000) -> bool:
        self.cancel_all()
        ok = self.bulk.waitForDone(msecs)
        return self.interactive.waitForDone(msecs) and ok

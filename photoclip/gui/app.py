"""``photoclip gui``: build the QApplication, the Library (once) and the main window."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from photoclip import __version__, paths
from photoclip.gui.dialogs import welcome
from photoclip.settings import Settings


def resolve_library(args: argparse.Namespace | None, settings: Settings) -> tuple[Path, str]:
    """--library, else $PHOTOCLIP_LIBRARY, else the settings' choice, else the default.

    Also says how it was chosen, so Settings can tell the user why the library in use is
    not the one they set there.
    """
    if args is not None and getattr(args, "library", None):
        return Path(args.library).expanduser(), "chosen with --library for this session"
    if os.environ.get(paths.ENV_LIBRARY):
        return paths.default_library_dir(), f"chosen by ${paths.ENV_LIBRARY}"
    if settings.library:
        return Path(settings.library).expanduser(), ""
    return paths.default_library_dir(), "the default"


def resolve_model(args: argparse.Namespace | None, settings: Settings) -> str | None:
    if args is not None and getattr(args, "model", None):
        return str(args.model)
    return os.environ.get(paths.ENV_MODEL) or settings.model or None


def create_window(library_dir: Path, model: str | None, settings: Settings,
                  embedder: object | None = None, library_note: str = ""):  # type: ignore[no-untyped-def]
    """Open the library and build the window (used by main() and by the tests)."""
    from photoclip.core import Library
    from photoclip.gui.controller import LibraryController
    from photoclip.gui.main_window import MainWindow
    from photoclip.gui.thumbnails import ThumbnailCache

    library = Library.open(library_dir, model=model, embedder=embedder,  # type: ignore[arg-type]
                           decode_threads=settings.threads or None)
    controller = LibraryController(library)
    thumbnails = ThumbnailCache(paths.cache_dir())
    return MainWindow(controller, settings, thumbnails, library_note=library_note)


def start(window) -> None:  # type: ignore[no-untyped-def]
    """What happens once the window is up: show what we have, watch, load the model.

    On the very first run the welcome screen comes first, unless the model is already on
    this computer (then there is nothing to ask).
    """
    from photoclip.gui.controller import View

    controller = window.controller
    last = View.from_json(window.settings.last_view)
    window.set_view(last if not last.similar_to else View())
    if window.settings.welcomed:
        controller.start(load_model=True)
        return
    controller.start(load_model=False)
    from photoclip.core.embedder import model_is_local
    from photoclip.gui.workers import Task

    # Finding out whether the model is cached imports open_clip (and torch): off the GUI thread.
    task = Task(model_is_local, controller.model_spec)
    task.signals.result.connect(
        lambda local: controller.load_model() if local else welcome(window))
    task.signals.error.connect(lambda _exc: welcome(window))
    controller.workers.start(task)


def offer_repair(library_dir: Path, problem: Exception) -> bool:
    """A damaged catalog at start: say so in words and offer to repair it (no traceback,
    no command to type). Returns whether the library was repaired."""
    import threading

    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QMessageBox, QProgressDialog

    from photoclip.core.library import repair_library
    from photoclip.gui.controller import describe_error
    from photoclip.gui.names import sentence

    box = QMessageBox(QMessageBox.Icon.Warning, "photoclip",
                      "The library's catalog is damaged, so photoclip cannot open it.")
    box.setInformativeText(
        f"{sentence(describe_error(problem))}.\n\nphotoclip can repair "
        "it: what is still readable goes into a new catalog, the newest backup fills in the "
        "rest, and the damaged file is kept beside it. Your photos are not touched.")
    repair = box.addButton("Repair", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    if box.clickedButton() is not repair:
        return False
    outcome: list = []
    worker = threading.Thread(target=lambda: outcome.append(_repair(repair_library,
                                                                    library_dir)))
    worker.start()
    wait = QProgressDialog("Repairing the catalog…", "", 0, 0)
    wait.setCancelButton(None)
    wait.setWindowTitle("photoclip")
    wait.show()
    while worker.is_alive():
        QCoreApplication.processEvents()
        worker.join(0.05)
    wait.close()
    result = outcome[0] if outcome else RuntimeError("the repair stopped")
    if isinstance(result, Exception):
        QMessageBox.critical(None, "photoclip",
                             f"The catalog could not be repaired: {describe_error(result)}")
        return False
    summary = (result.summary(commands=False) if result is not None
               else "the catalog was sound after all")
    QMessageBox.information(None, "photoclip", f"Repaired: {summary}.")
    return True


def _repair(repair: Any, folder: Path) -> Any:
    try:
        return repair(folder)
    except Exception as exc:   # handed back and said in words, never a traceback
        return exc


def main(args: argparse.Namespace | None = None) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QMessageBox

    from photoclip.core import PhotoclipError

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("photoclip")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("photoclip")
    app.setDesktopFileName("photoclip")
    icon = paths.resources_dir() / "icons" / "photoclip.png"
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    settings = Settings.load()
    library_dir, library_note = resolve_library(args, settings)
    from photoclip.core.errors import CatalogDamagedError

    window = None
    for attempt in range(2):
        try:
            window = create_window(library_dir, resolve_model(args, settings), settings,
                                   library_note=library_note)
            break
        except CatalogDamagedError as exc:
            if attempt or not offer_repair(library_dir, exc):
                return 2
        except PhotoclipError as exc:
            # Most often: photoclip is already open on this library (single-instance guard).
            from photoclip.gui.controller import describe_error
            from photoclip.gui.names import sentence

            QMessageBox.critical(None, "photoclip", sentence(describe_error(exc)))
            print(f"photoclip: {exc}", file=sys.stderr)  # noqa: T201
            return 2
    assert window is not None
    window.show()
    # Start loading after the first paint, so the window appears before any heavy work.
    QTimer.singleShot(0, lambda: start(window))
    return int(app.exec())

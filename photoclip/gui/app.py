"""``photoclip gui``: build the QApplication, the Library (once) and the main window."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from photoclip import __version__, paths
from photoclip.settings import Settings


def resolve_library(args: argparse.Namespace | None, settings: Settings) -> Path:
    """--library, else $PHOTOCLIP_LIBRARY, else the settings' choice, else the default."""
    if args is not None and getattr(args, "library", None):
        return Path(args.library).expanduser()
    if os.environ.get(paths.ENV_LIBRARY):
        return paths.default_library_dir()
    if settings.library:
        return Path(settings.library).expanduser()
    return paths.default_library_dir()


def resolve_model(args: argparse.Namespace | None, settings: Settings) -> str | None:
    if args is not None and getattr(args, "model", None):
        return str(args.model)
    return os.environ.get(paths.ENV_MODEL) or settings.model or None


def create_window(library_dir: Path, model: str | None, settings: Settings,
                  embedder: object | None = None):  # type: ignore[no-untyped-def]
    """Open the library and build the window (used by main() and by the tests)."""
    from photoclip.core import Library
    from photoclip.gui.controller import LibraryController
    from photoclip.gui.main_window import MainWindow
    from photoclip.gui.thumbnails import ThumbnailCache

    library = Library.open(library_dir, model=model, embedder=embedder,  # type: ignore[arg-type]
                      decode_threads=settings.threads or None)
    controller = LibraryController(library)
    thumbnails = ThumbnailCache(paths.cache_dir())
    return MainWindow(controller, settings, thumbnails)


def welcome(window) -> None:  # type: ignore[no-untyped-def]
    """First run: say what the model is and where it comes from, before downloading it."""
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(window)
    box.setWindowTitle("Welcome to photoclip")
    box.setText("photoclip finds photos by what they show, using an OpenCLIP model that runs "
                "on this computer.")
    box.setInformativeText(
        f"The default model ({window.controller.library.model_spec}, about 600 MB) is "
        "downloaded once, now, with progress in the status bar; after that photoclip works "
        "offline. If this computer has no internet, choose a model folder you copied here "
        "(open_clip_config.json + weights). Your photos never leave this computer.")
    download = box.addButton("Download the model", QMessageBox.ButtonRole.AcceptRole)
    folder = box.addButton("Choose model folder…", QMessageBox.ButtonRole.ActionRole)
    box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    window.settings.welcomed = True
    window.settings.save()
    if box.clickedButton() is download:
        window.controller.load_model()
    elif box.clickedButton() is folder:
        window.choose_model_folder()


def start(window) -> None:  # type: ignore[no-untyped-def]
    """What happens once the window is up: show what we have, then load the model."""
    from photoclip.core.embedder import model_is_local

    window.controller.refresh_roots()
    window.controller.refresh_tags()
    window.controller.browse()
    if window.settings.welcomed:
        window.controller.load_model()
        return
    from photoclip.gui.workers import Task

    # Finding out whether the model is cached imports open_clip (and torch): off the GUI thread.
    task = Task(model_is_local, window.controller.library.model_spec)
    task.signals.result.connect(
        lambda local: window.controller.load_model() if local else welcome(window))
    task.signals.error.connect(lambda _exc: welcome(window))
    window.controller.workers.start(task)


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
    try:
        window = create_window(resolve_library(args, settings), resolve_model(args, settings),
                               settings)
    except PhotoclipError as exc:
        # Most often: photoclip is already open on this library (single-instance guard).
        QMessageBox.critical(None, "photoclip", str(exc))
        print(f"photoclip: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    window.show()
    # Start loading after the first paint, so the window appears before any heavy work.
    QTimer.singleShot(0, lambda: start(window))
    return int(app.exec())

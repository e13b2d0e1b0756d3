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

    library = Library(library_dir, model=model, embedder=embedder,  # type: ignore[arg-type]
                      decode_threads=settings.threads or None)
    controller = LibraryController(library)
    thumbnails = ThumbnailCache(paths.cache_dir())
    return MainWindow(controller, settings, thumbnails)


def start(window) -> None:  # type: ignore[no-untyped-def]
    """What happens once the window is up: show what we have, then load the model."""
    window.controller.refresh_roots()
    window.controller.refresh_tags()
    window.controller.browse()
    window.controller.load_model()


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

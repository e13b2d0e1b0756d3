"""Paths as the window shows and hands them on: readable to people, exact for the system.

A name that is not valid UTF-8 (old shares, ZIP extracts) cannot become a Qt string as it
is: Qt would silently drop the odd bytes and name another file. People see it with U+FFFD
where the bytes were (:func:`shown`); opening it goes through a URL of its exact bytes
(:func:`file_url`); copying puts bash's ``$'…'`` quoting on the clipboard (:func:`copied`),
which a shell turns back into the exact name.
"""

from __future__ import annotations

import os
from urllib.parse import quote

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from photoclip.core.filenames import display_path, is_plain, quote_path


def counted(n: int, word: str, plural: str | None = None) -> str:
    """``1 photo``, ``2 photos``, ``1,204 photos``; ``plural`` where it is not word + s."""
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def sentence(text: str) -> str:
    """``text`` with a capital first letter, the rest as it was (paths keep their case)."""
    return text[:1].upper() + text[1:]


def shown(path: str) -> str:
    return display_path(path)


def shown_name(path: str) -> str:
    return display_path(os.path.basename(path.rstrip(os.sep)) or path)


def telling_folders(paths: list[str]) -> list[str]:
    """Each photo's folder named by as few of its last parts as tell the folders apart:
    ``2019/02/`` and ``2020/02/``, not ``02/`` twice; ``Trip/`` where that is enough."""
    folders = [os.path.dirname(p.rstrip(os.sep)) for p in paths]
    parts = {f: [q for q in f.split(os.sep) if q] for f in folders}
    distinct = set(folders)

    def tail(folder: str, n: int) -> tuple[str, ...]:
        return tuple(parts[folder][-n:])

    names = {}
    for folder in distinct:
        n = 1
        while n < len(parts[folder]) and any(
                other != folder and tail(other, n) == tail(folder, n) for other in distinct):
            n += 1
        names[folder] = (display_path(os.sep.join(tail(folder, n))) or os.sep) + (
            os.sep if parts[folder] else "")
    return [names[f] for f in folders]


def file_url(path: str) -> QUrl:
    """A file:// URL naming exactly ``path`` (its bytes), for the desktop to open."""
    if is_plain(path):
        return QUrl.fromLocalFile(path)
    return QUrl.fromEncoded(b"file://" + quote(os.fsencode(path)).encode("ascii"))


def copied(paths: list[str]) -> str:
    return "\n".join(p if is_plain(p) else quote_path(p) for p in paths)


def open_with_desktop(path: str, *, folder: bool = False) -> bool:
    """``path`` opened by the desktop's application for it (a viewer, a file manager).

    Where the desktop offers none (a bare window manager without xdg-open), nothing would
    happen at all: the user is told so, and the path is put on the clipboard instead.
    """
    if QDesktopServices.openUrl(file_url(path)):
        return True
    copy_to_clipboard([path])
    what = "folders" if folder else "this kind of file"
    QMessageBox.information(
        QApplication.activeWindow(), "photoclip",
        f"No application on this computer is set up to open {what}, so the path was "
        f"copied to the clipboard instead:\n\n{shown(path)}")
    return False


def open_folder_of(path: str) -> bool:
    """The folder holding ``path``, opened in the desktop's file manager."""
    return open_with_desktop(os.path.dirname(path), folder=True)


def copy_to_clipboard(paths: list[str]) -> None:
    """``paths`` on the clipboard, one a line, each exactly as stored (see :func:`copied`)."""
    QGuiApplication.clipboard().setText(copied(paths))

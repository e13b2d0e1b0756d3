"""Errors the core raises, as types, so the CLI and the GUI can tell the user what happened."""

from __future__ import annotations


class PhotoclipError(Exception):
    """Base of every error photoclip reports to a user."""


class LibraryError(PhotoclipError):
    """The library folder or its catalog cannot be used (unreadable, locked, too new)."""


class LibraryLockedError(LibraryError):
    """Another photoclip process is writing to this library."""


class FolderError(PhotoclipError):
    """A folder given by the user does not exist, is not a folder, or is not in the library."""


class ModelUnavailableError(PhotoclipError):
    """The model cannot be loaded: not downloaded and no network, or a bad local folder.

    ``str()`` is for the command line (it may name a flag); ``reason`` says the same in
    plain words for the app, which offers its own buttons instead of flags.
    """

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


class ImageDecodeError(PhotoclipError):
    """A photo could not be decoded. ``reason`` is short and shown per photo in the UI."""

    kind = "unreadable"

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class NotAnImageError(ImageDecodeError):
    kind = "not an image"


class CorruptImageError(ImageDecodeError):
    kind = "corrupt"


class ImageTooLargeError(ImageDecodeError):
    kind = "too large"


class LabelSetError(PhotoclipError):
    """A label set file is malformed; the message names the file, the line and the reason."""


class TrashError(PhotoclipError):
    """A file could not be moved to the system trash, or back; the message says why."""

"""Errors the core raises, as types, so the CLI and the GUI can tell the user what happened."""

from __future__ import annotations

import errno


class PhotoclipError(Exception):
    """Base of every error photoclip reports to a user.

    ``str()`` is for the command line and may name a command or a flag to try; ``reason``
    says the same in plain words for the app, which has buttons instead (it is ``str()``
    where the two do not differ).
    """

    def __init__(self, message: str = "", *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


class LibraryError(PhotoclipError):
    """The library folder or its catalog cannot be used (unreadable, locked, too new)."""


class LibraryLockedError(LibraryError):
    """Another photoclip process is writing to this library."""


class ReadOnlyLibraryError(LibraryError):
    """The library's folder or catalog cannot be written (read-only disk, mount or file)."""


class DiskFullError(LibraryError):
    """The disk holding the library ran out of space. What was committed before is kept."""


class CatalogDamagedError(LibraryError):
    """The catalog file is damaged. It is never written to; ``photoclip repair`` salvages it."""


class FolderError(PhotoclipError):
    """A folder given by the user does not exist, is not a folder, or is not in the library."""


class ModelUnavailableError(PhotoclipError):
    """The model cannot be loaded: not downloaded and no network, or a bad local folder."""


class DownloadCancelled(ModelUnavailableError):
    """The person stopped the model's download; what arrived is kept and the next try
    resumes from there."""


class ImageDecodeError(PhotoclipError):
    """A photo could not be decoded. ``reason`` is short and shown per photo in the UI."""

    kind = "unreadable"

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}", reason=reason)
        self.path = path


class NotAnImageError(ImageDecodeError):
    kind = "not an image"


class UnsupportedFormatError(ImageDecodeError):
    """A photo format this install cannot decode (a decoder is missing); retried when one
    is installed."""

    kind = "unsupported"


class CorruptImageError(ImageDecodeError):
    kind = "corrupt"


class ImageTooLargeError(ImageDecodeError):
    kind = "too large"


class LabelSetError(PhotoclipError):
    """A label set file is malformed; the message names the file, the line and the reason."""


class TrashError(PhotoclipError):
    """A file could not be moved to the system trash, or back; the message says why."""


def describe_os_error(exc: OSError) -> str:
    """An ``OSError`` in words, without its class name: "disk full", "read-only file system"."""
    words = {
        errno.ENOSPC: "the disk is full",
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "not permitted",
        errno.ENAMETOOLONG: "file name too long",
        errno.ENOENT: "not found",
        errno.EIO: "input/output error (failing disk or unplugged drive?)",
        errno.EDQUOT: "disk quota exceeded",
        errno.EFBIG: "file too large (a file-size limit, or the file system's largest file)",
    }
    return words.get(exc.errno or 0) or exc.strerror or str(exc) or "operating system error"


def library_os_error(exc: OSError, what: str) -> LibraryError:
    """The typed error for an ``OSError`` met while writing ``what`` in a library."""
    reason = describe_os_error(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        advice = "free some space and run again" if exc.errno != errno.EFBIG else \
            "the disk is full for this program"
        return DiskFullError(f"cannot write {what}: {reason}; {advice} (nothing committed "
                             "before is lost)")
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return ReadOnlyLibraryError(f"cannot write {what}: {reason}")
    return LibraryError(f"cannot write {what}: {reason}")


"""Moving photo files to the system trash, and back where the platform lets us.

The move itself is send2trash's: the Recycle Bin on Windows, the Finder's trash on macOS,
the freedesktop.org (XDG) trash elsewhere, with files on another drive going to that drive's
own trash (``<mount>/.Trash/<uid>`` or ``<mount>/.Trash-<uid>``), as the spec asks. Nothing
here ever deletes a file.

send2trash does not say where a file went. On XDG systems we find out: the trash entry is
``files/NAME`` beside ``info/NAME.trashinfo`` in one of the few trash folders the spec
allows, and NAME is the file's own name, or that name with a number when the trash already
holds one (we look at which names are taken before the move, then at which one appeared,
checking that its ``.trashinfo`` names our file). Knowing the entry is what lets photoclip
put the file back itself. Windows and macOS keep that to themselves: there a result has no
trash location and the file is restored from the system's trash window.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from photoclip.core.errors import TrashError

__all__ = ["RestoreResult", "TrashError", "TrashFailure", "TrashResult", "TrashedFile",
           "move_to_trash", "restore", "uses_xdg_trash"]


@dataclass(frozen=True)
class TrashedFile:
    """One file now in the trash. ``trash_path``/``info_path`` are None where the platform
    does not tell (Windows, macOS): then only the system's trash window can restore it."""

    path: str
    photo_id: int | None = None
    trash_path: str | None = None
    info_path: str | None = None
    restored_at: float | None = None

    @property
    def restorable(self) -> bool:
        return self.trash_path is not None and self.restored_at is None


@dataclass(frozen=True)
class TrashFailure:
    path: str
    reason: str
    photo_id: int | None = None


@dataclass
class TrashResult:
    """What one "move to trash" did. ``action_id`` names it in the library's history."""

    at: float
    trashed: list[TrashedFile] = field(default_factory=list)
    failed: list[TrashFailure] = field(default_factory=list)
    action_id: int | None = None

    @property
    def restorable(self) -> list[TrashedFile]:
        return [f for f in self.trashed if f.restorable]


@dataclass
class RestoreResult:
    restored: list[TrashedFile] = field(default_factory=list)
    failed: list[TrashFailure] = field(default_factory=list)


def uses_xdg_trash() -> bool:
    """True where the trash is the freedesktop.org one (Linux, the BSDs), which we can read."""
    return sys.platform not in ("win32", "darwin")


CANNOT_RESTORE = ("photoclip cannot take files out of this system's trash; restore it from "
                  "the {} (photoclip sees it come back)")


def _system_trash_name() -> str:
    return {"win32": "Recycle Bin", "darwin": "Trash in the Finder"}.get(sys.platform, "trash")


# -- the XDG trash ------------------------------------------------------------------------

def _home_trashes() -> list[Path]:
    """The home trash as the environment says now, and as send2trash saw it at import."""
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share")
    found = [Path(data_home) / "Trash"]
    other = sys.modules.get("send2trash.plat_other")
    cached = getattr(other, "HOMETRASH", None)
    if isinstance(cached, str) and Path(cached) not in found:
        found.append(Path(cached))
    return found


def _mount_point(path: str) -> Path:
    p = os.path.realpath(path)
    while not os.path.ismount(p):
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    return Path(p)


def _candidate_trashes(path: str) -> list[tuple[Path, Path]]:
    """(trash folder, the folder its relative Path= entries start from), most likely first."""
    out = [(t, t.parent) for t in _home_trashes()]
    top = _mount_point(os.path.dirname(path) or ".")
    uid = os.getuid() if hasattr(os, "getuid") else 0
    out += [(top / ".Trash" / str(uid), top), (top / f".Trash-{uid}", top)]
    return out


def _entry_names(name: str) -> list[str]:
    """Names a trash gives a file called ``name``: itself, then "stem 1.ext", "stem 2.ext"..."""
    stem, ext = os.path.splitext(name)
    return [name] + [f"{stem} {i}{ext}" for i in range(1, 10_000)]


def _first_free(trash: Path, name: str) -> str | None:
    files, info = trash / "files", trash / "info"
    for candidate in _entry_names(name):
        if not (files / candidate).exists() and not (info / f"{candidate}.trashinfo").exists():
            return candidate
    return None


def _info_path_value(info: Path) -> str | None:
    try:
        text = info.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Path="):
            return unquote(line[len("Path="):].strip())
    return None


def _names_file(info: Path, base: Path, path: str) -> bool:
    value = _info_path_value(info)
    if value is None:
        return False
    original = value if os.path.isabs(value) else str(base / value)
    return os.path.normpath(original) == os.path.normpath(path)


def _find_entry(path: str, predicted: dict[Path, str | None]
                ) -> tuple[str, str] | None:
    """The (files/NAME, info/NAME.trashinfo) entry that now holds ``path``."""
    candidates = _candidate_trashes(path)
    for trash, base in candidates:
        name = predicted.get(trash)
        if name is None:
            continue
        entry, info = trash / "files" / name, trash / "info" / f"{name}.trashinfo"
        if os.path.lexists(entry) and _names_file(info, base, path):
            return str(entry), str(info)
    # Another trash implementation (GIO) may name entries its own way: the newest entry
    # whose .trashinfo names our file is ours.
    best: tuple[float, str, str] | None = None
    for trash, base in candidates:
        info_dir = trash / "info"
        try:
            infos = list(os.scandir(info_dir))
        except OSError:
            continue
        for item in infos:
            if not item.name.endswith(".trashinfo"):
                continue
            info = Path(item.path)
            entry = trash / "files" / item.name[:-len(".trashinfo")]
            if os.path.lexists(entry) and _names_file(info, base, path):
                with contextlib.suppress(OSError):
                    stamp = item.stat().st_mtime
                    if best is None or stamp > best[0]:
                        best = (stamp, str(entry), str(info))
    return (best[1], best[2]) if best else None


# -- moving -------------------------------------------------------------------------------

def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOENT or isinstance(exc, FileNotFoundError):
            return "file not found"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return "permission denied"
        if exc.strerror:
            return exc.strerror.lower()
    return str(exc) or "could not be moved"


def move_to_trash(path: str, photo_id: int | None = None) -> TrashedFile:
    """Send one file to the system trash; raise :class:`TrashError` with a reason if not.

    Where the trash is the XDG one, the result records the entry, so :func:`restore` can
    put the file back.
    """
    from send2trash import send2trash
    from send2trash.exceptions import TrashPermissionError

    if not os.path.lexists(path):
        raise TrashError(f"{path}: file not found")
    if os.path.isdir(path):
        raise TrashError(f"{path}: is a folder, not a photo")
    xdg = uses_xdg_trash()
    predicted = ({trash: _first_free(trash, os.path.basename(path))
                  for trash, _base in _candidate_trashes(path)} if xdg else {})
    try:
        send2trash(path)
    except TrashPermissionError as exc:
        raise TrashError(f"{path}: this drive has no trash photoclip may use") from exc
    except (OSError, ValueError) as exc:
        raise TrashError(f"{path}: {_reason(exc)}") from exc
    except Exception as exc:  # the Windows/macOS back ends raise their own types
        raise TrashError(f"{path}: {_reason(exc)}") from exc
    if os.path.lexists(path):
        raise TrashError(f"{path}: the system trash did not take it")
    entry = _find_entry(path, predicted) if xdg else None
    if entry is None:
        return TrashedFile(path, photo_id)
    return TrashedFile(path, photo_id, entry[0], entry[1])


def restore(item: TrashedFile) -> None:
    """Put one trashed file back at its original path; raise :class:`TrashError` if not.

    Never overwrites: a file that has since appeared at the original path stays, and the
    trashed one stays in the trash.
    """
    if item.trash_path is None:
        raise TrashError(f"{item.path}: " + CANNOT_RESTORE.format(_system_trash_name()))
    if not os.path.lexists(item.trash_path):
        raise TrashError(f"{item.path}: no longer in the trash (emptied, or restored "
                         "another way)")
    if os.path.lexists(item.path):
        raise TrashError(f"{item.path}: a file is already there; the trashed copy was left "
                         "in the trash")
    try:
        os.makedirs(os.path.dirname(item.path), exist_ok=True)
        try:
            os.rename(item.trash_path, item.path)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            shutil.move(item.trash_path, item.path)  # the home trash of a file from elsewhere
    except OSError as exc:
        raise TrashError(f"{item.path}: {_reason(exc)}") from exc
    if item.info_path:
        with contextlib.suppress(OSError):
            os.unlink(item.info_path)

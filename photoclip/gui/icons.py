"""Icons: the desktop theme's (freedesktop names) where it has them, ours otherwise.

Our fallbacks are small line drawings in resources/icons/ui/, so the app looks finished on
Windows, macOS and bare Linux desktops that ship no icon theme. Names without a standard
freedesktop meaning ("photos", "similar", "tag", "duplicates", "folder-offline") always use
ours.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

from photoclip import paths

OURS_ONLY = frozenset({"photos", "similar", "tag", "duplicates", "folder-offline"})


@cache
def icon(name: str) -> QIcon:
    # Bundled with the app (not a user's file): QIcon reads it lazily, when first painted.
    ours = QIcon(str(paths.resources_dir() / "icons" / "ui" / f"{name}.svg"))
    if name in OURS_ONLY:
        return ours
    return QIcon.fromTheme(name, ours)

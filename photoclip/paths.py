"""Every location photoclip reads or writes, in one place.

Each is overridable by an environment variable so tests, portable installs and scripts can
point photoclip elsewhere. Nothing is created at import time: callers create what they use.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir, user_config_dir, user_data_dir

APP_NAME = "photoclip"

ENV_LIBRARY = "PHOTOCLIP_LIBRARY"
ENV_MODEL = "PHOTOCLIP_MODEL"
ENV_CACHE = "PHOTOCLIP_CACHE_DIR"
ENV_CONFIG = "PHOTOCLIP_CONFIG_DIR"


def _from_env(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def default_library_dir() -> Path:
    """The library used when neither --library nor PHOTOCLIP_LIBRARY is given."""
    return _from_env(ENV_LIBRARY) or Path(user_data_dir(APP_NAME, appauthor=False)) / "library"


def cache_dir() -> Path:
    """Thumbnails and other things that can be thrown away and rebuilt."""
    return _from_env(ENV_CACHE) or Path(user_cache_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """User settings of the desktop app (not of one library)."""
    return _from_env(ENV_CONFIG) or Path(user_config_dir(APP_NAME, appauthor=False))


def resources_dir() -> Path:
    """Bundled resources (icons, default label sets), in a checkout, a wheel or a frozen app."""
    import sys

    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    packaged = Path(__file__).resolve().parent / "resources"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "resources"

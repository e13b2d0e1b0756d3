"""The app's user settings: one typed object, a JSON file, a schema version, migrations."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from photoclip import paths

log = logging.getLogger(__name__)

SETTINGS_VERSION = 2


@dataclass
class Settings:
    library: str = ""          # empty: the default library (or $PHOTOCLIP_LIBRARY)
    model: str = ""            # empty: the library's model, else the default
    threads: int = 0           # decode threads; 0: one per core
    thumb_size: int = 160
    welcomed: bool = False     # the first-run screen was shown
    # v2: the window comes back as it was left
    window_geometry: str = ""  # QWidget.saveGeometry(), base64
    splitter_state: str = ""   # QSplitter.saveState(), base64
    last_view: dict[str, Any] = field(default_factory=dict)   # what the grid showed
    version: int = SETTINGS_VERSION

    @staticmethod
    def file() -> Path:
        return paths.config_dir() / "settings.json"

    @classmethod
    def load(cls) -> Settings:
        try:
            raw: dict[str, Any] = json.loads(cls.file().read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable settings %s: %s", cls.file(), exc)
            return cls()
        if not isinstance(raw, dict):
            log.warning("ignoring settings %s: not a settings object", cls.file())
            return cls()
        raw = _migrate(raw)
        defaults = cls()
        values = {}
        for f in fields(cls):
            # A value of the wrong type (hand-edited file) falls back to the default.
            if f.name in raw and isinstance(raw[f.name], type(getattr(defaults, f.name))):
                values[f.name] = raw[f.name]
        return cls(**values)

    def save(self) -> None:
        target = self.file()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        os.replace(tmp, target)


def _migrate(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring settings written by an older photoclip up to this version, step by step."""
    try:
        version = int(raw.get("version", 1))
    except (TypeError, ValueError):
        version = 1
    # v1 -> v2 added the remembered layout: a v1 file lacks those keys, and the dataclass
    # defaults fill them in. A later change that renames or reshapes a key converts it here.
    raw["version"] = max(version, SETTINGS_VERSION)
    return raw

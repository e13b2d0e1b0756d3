"""The app's user settings: one typed object, a JSON file, a schema version, migrations."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from photoclip import paths

log = logging.getLogger(__name__)

SETTINGS_VERSION = 1


@dataclass
class Settings:
    library: str = ""          # empty: the default library (or $PHOTOCLIP_LIBRARY)
    model: str = ""            # empty: the library's model, else the default
    threads: int = 0           # decode threads; 0: one per core
    thumb_size: int = 160
    welcomed: bool = False     # the first-run screen was shown
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
        raw = _migrate(raw)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def save(self) -> None:
        target = self.file()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        os.replace(tmp, target)


def _migrate(raw: dict[str, Any]) -> dict[str, Any]:
    version = int(raw.get("version", 1))
    # Future schema changes transform `raw` step by step here, e.g. `if version < 2: ...`.
    raw["version"] = max(version, SETTINGS_VERSION)
    return raw

"""The app's settings file: load, save, defaults, damage, and older versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from photoclip.settings import SETTINGS_VERSION, Settings


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PHOTOCLIP_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"


def test_no_file_gives_defaults() -> None:
    assert Settings.load() == Settings()


def test_save_and_load_round_trip(config_dir: Path) -> None:
    s = Settings(model="local-dir:/m", thumb_size=200, welcomed=True,
                 window_geometry="AAAA", last_view={"text": "a dog"})
    s.save()
    assert (config_dir / "settings.json").is_file()
    assert not list(config_dir.glob("*.tmp"))
    assert Settings.load() == s


def test_a_version_1_file_loads_with_its_values_and_new_defaults(config_dir: Path) -> None:
    config_dir.mkdir(parents=True)
    (config_dir / "settings.json").write_text(json.dumps(
        {"library": "/photos/lib", "model": "", "threads": 2, "thumb_size": 128,
         "welcomed": True, "version": 1}))
    s = Settings.load()
    assert (s.library, s.threads, s.thumb_size, s.welcomed) == ("/photos/lib", 2, 128, True)
    assert (s.window_geometry, s.splitter_state, s.last_view) == ("", "", {})
    assert s.version == SETTINGS_VERSION


def test_damaged_or_hand_edited_values_fall_back(config_dir: Path, allow_log) -> None:
    config_dir.mkdir(parents=True)
    path = config_dir / "settings.json"
    path.write_text(json.dumps({"thumb_size": "big", "welcomed": True, "unknown": 1}))
    s = Settings.load()
    assert s.thumb_size == Settings().thumb_size
    assert s.welcomed is True
    allow_log("ignoring")
    path.write_text("{ not json")
    assert Settings.load() == Settings()
    path.write_text("[1, 2]")
    assert Settings.load() == Settings()

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def window(qtbot, tmp_path: Path, shapes_spec: str, monkeypatch: pytest.MonkeyPatch):
    """The real main window on a fresh library with the small model; closed cleanly after."""
    monkeypatch.setenv("PHOTOCLIP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PHOTOCLIP_CONFIG_DIR", str(tmp_path / "config"))
    from photoclip.gui.app import create_window
    from photoclip.settings import Settings

    win = create_window(tmp_path / "library", shapes_spec, Settings())
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from photoclip.core import Library
from photoclip.core.catalog import Catalog


def guard_library(library: Library) -> list[str]:
    """Record every Library and Catalog method called on the GUI thread (the app must never
    do that).

    Wraps the real objects' methods in place. ``close`` is exempt, and what it calls: the
    app closes the library while quitting, once the window is hidden.
    """
    calls: list[str] = []
    closing = threading.Event()

    def wrap(obj: Any, cls: type, prefix: str) -> None:
        for name in dir(cls):
            if name.startswith("_") or name in ("close", "open"):
                continue
            attr = getattr(cls, name)
            if not callable(attr) or isinstance(attr, property):
                continue
            method = getattr(obj, name)

            def wrapper(*args: Any, __name: str = prefix + name, __method: Callable = method,
                        **kwargs: Any) -> Any:
                if threading.current_thread() is threading.main_thread() and \
                        not closing.is_set():
                    calls.append(__name)
                return __method(*args, **kwargs)

            setattr(obj, name, wrapper)

    wrap(library, Library, "")
    wrap(library.catalog, Catalog, "catalog.")
    real_close = library.close

    def close(*args: Any, **kwargs: Any) -> Any:
        closing.set()
        return real_close(*args, **kwargs)

    library.close = close  # type: ignore[method-assign]
    return calls


@pytest.fixture
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PHOTOCLIP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PHOTOCLIP_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path


@pytest.fixture
def make_window(qtbot, app_env: Path, shapes_spec: str) -> Iterator[Callable[..., Any]]:
    """Build real main windows (closed cleanly after), each with the Library guard on."""
    from photoclip.gui.app import create_window
    from photoclip.settings import Settings

    made: list[tuple[Any, list[str]]] = []

    def make(library: Path | None = None, settings: Settings | None = None,
             model: str | None = shapes_spec, **kwargs: Any) -> Any:
        win = create_window(library or app_env / "library", model, settings or Settings(),
                            **kwargs)
        calls = guard_library(win.controller._library)
        qtbot.addWidget(win)
        win.show()
        made.append((win, calls))
        return win

    yield make
    for win, _calls in made:
        win.close()
    # The app froze what was alive once its model was ready (workers.settle_long_lived);
    # its process would end here. The tests' process goes on: let its cycles be collected.
    gc.unfreeze()
    for _win, calls in made:
        assert not calls, f"Library called on the GUI thread: {sorted(set(calls))}"


@pytest.fixture
def window(make_window: Callable[..., Any]) -> Any:
    """The real main window on a fresh library with the small model."""
    return make_window()

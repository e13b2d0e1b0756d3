"""Shared fixtures: the small trained model, drawn photos, strictness about threads."""

from __future__ import annotations

import importlib
import logging
import os
import random
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests never touch the network and never open a real display.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# As the app sets it (photoclip/gui/__init__.py), before pytest-qt first imports PySide6.
os.environ.setdefault("PYSIDE6_OPTION_LAZY", "0")
# ...nor the user's cache (prompt embeddings and precision checks live there): one fresh
# folder per test session, shared by the CLI subprocesses the e2e tests start.
os.environ["PHOTOCLIP_CACHE_DIR"] = tempfile.mkdtemp(prefix="photoclip-test-cache-")

from tests.models.shapes import COLOUR_NAMES, Drawing, draw, random_drawing

SHAPES_MODEL = Path(__file__).resolve().parent / "models" / "shapes-clip"
SHAPES_SPEC = f"local-dir:{SHAPES_MODEL}"


@pytest.fixture(scope="session")
def shapes_spec() -> str:
    assert (SHAPES_MODEL / "open_clip_config.json").is_file(), (
        "the test model is missing: python tests/models/train_shapes.py")
    return SHAPES_SPEC


@pytest.fixture(scope="session")
def shapes_embedder(shapes_spec: str):
    from photoclip.core.embedder import Embedder

    emb = Embedder(shapes_spec)
    emb.load()
    return emb


def run_probe(tmp_path: Path, source: str, *args: str,
              env: dict[str, str] | None = None) -> dict:
    """``source`` run as a fresh Python process in the checkout with ``args``; it prints
    one JSON line last, returned."""
    import json
    import subprocess

    script = tmp_path / "probe.py"
    script.write_text(source)
    out = subprocess.run([sys.executable, str(script), *args], capture_output=True,
                         text=True, timeout=300, env=dict(os.environ, **(env or {})),
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_lean_and_usual(tmp_path: Path, source: str, spec: str) -> dict[str, dict]:
    """``source`` run with open_clip's lean import ("1") and the usual one ("0"), by
    setting (:func:`run_probe`)."""
    return {lean: run_probe(tmp_path, source, spec, env={"PHOTOCLIP_LEAN_IMPORT": lean})
            for lean in ("1", "0")}


def draw_photos(folder: Path, n: int, seed: int = 0, size: tuple[int, int] = (160, 120),
                fmt: str = "jpg") -> list[tuple[Path, Drawing]]:
    """Write ``n`` drawn shapes as photo files named after what they show."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        d = random_drawing(rng, size)
        path = folder / f"{d.colour}-{d.shape}-on-{d.background}-{seed}-{i}.{fmt}"
        d.image.save(path, quality=92) if fmt == "jpg" else d.image.save(path)
        out.append((path, d))
    return out


def draw_shapes_library(folder: Path, n: int, seed: int, red_circles: int = 4
                        ) -> list[tuple[Path, Drawing]]:
    """``n`` random drawings plus ``red_circles`` red circles on random other backgrounds."""
    out = draw_photos(folder, n, seed=seed)
    rng = random.Random(seed + 1000)
    for i in range(red_circles):
        bg = rng.choice([c for c in COLOUR_NAMES if c != "red"])
        img = draw("circle", "red", bg, rng, (160, 120))
        path = folder / f"extra-red-circle-{seed}-{i}.jpg"
        img.save(path, quality=92)
        out.append((path, Drawing("circle", "red", bg, img)))
    return out


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    draw_photos(folder, 24, seed=1)
    draw_photos(folder / "trip", 16, seed=2)
    return folder


@pytest.fixture
def library(tmp_path: Path, shapes_embedder):
    from photoclip.core import Library

    lib = Library.open(tmp_path / "library", embedder=shapes_embedder, decode_threads=2)
    yield lib
    lib.close()


def _qt_pool_threads() -> int:
    """Threads busy in Qt's global pool and in the app's own pools (0 when Qt is not even
    imported)."""
    qtcore = sys.modules.get("PySide6.QtCore")
    if qtcore is None or qtcore.QCoreApplication.instance() is None:
        return 0
    busy = qtcore.QThreadPool.globalInstance().activeThreadCount()
    workers = sys.modules.get("photoclip.gui.workers")
    return busy + (workers.busy_threads() if workers is not None else 0)


@pytest.fixture(autouse=True)
def _no_thread_left_behind():
    """Fail any test that leaves a thread running: its own, a daemon, or Qt pool work.

    (qutebrowser / napari-style strictness: a leaked observer or worker is a bug that
    would keep the app from quitting or write after the library closed.)
    """
    before = set(threading.enumerate())
    yield
    leftover: list[str] = []
    for _ in range(50):
        leftover = [t.name for t in threading.enumerate()
                    if t not in before and t.is_alive()
                    and not isinstance(t, threading._DummyThread)]
        if _qt_pool_threads():
            leftover.append(f"{_qt_pool_threads()} busy Qt pool thread(s)")
        if not leftover:
            return
        threading.Event().wait(0.1)
    pytest.fail(f"threads left running: {leftover}")


class _LogWarnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.allowed: list[re.Pattern[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def unexpected(self) -> list[str]:
        out = []
        for r in self.records:
            text = r.getMessage()
            if not any(p.search(text) for p in self.allowed):
                out.append(f"{r.levelname} {r.name}: {text}")
        return out


@pytest.fixture(autouse=True)
def _no_unexpected_log_warnings(request: pytest.FixtureRequest):
    """Fail a test whose run logs a warning or error from photoclip that it did not expect.

    A test that provokes one on purpose says so with the ``allow_log`` fixture.
    """
    handler = _LogWarnings()
    logger = logging.getLogger("photoclip")
    logger.addHandler(handler)
    request.node._log_warnings = handler
    try:
        yield
    finally:
        logger.removeHandler(handler)
    unexpected = handler.unexpected()
    if unexpected:
        pytest.fail("unexpected warnings logged:\n" + "\n".join(unexpected))


@pytest.fixture
def allow_log(request: pytest.FixtureRequest):
    """``allow_log(r"regex")``: this test expects a logged warning matching it."""
    def allow(pattern: str) -> None:
        request.node._log_warnings.allowed.append(re.compile(pattern))
    return allow


@pytest.fixture
def home_trash(tmp_path: Path) -> Iterator[Path]:
    """A temporary HOME whose XDG trash send2trash really uses; yields the trash folder."""
    home = tmp_path / "home"
    data = home / ".local" / "share"
    data.mkdir(parents=True)
    saved = {k: os.environ.get(k) for k in ("HOME", "XDG_DATA_HOME")}
    os.environ["HOME"], os.environ["XDG_DATA_HOME"] = str(home), str(data)
    import send2trash
    import send2trash.plat_other

    try:
        # send2trash reads XDG_DATA_HOME once, at import: read it again for this HOME.
        importlib.reload(send2trash.plat_other)
        if send2trash.send2trash.__module__ != "send2trash.plat_other":
            pytest.skip("send2trash uses GIO here, which caches the user's data folder")
        assert str(data / "Trash") == send2trash.plat_other.HOMETRASH
        yield data / "Trash"
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        importlib.reload(send2trash.plat_other)

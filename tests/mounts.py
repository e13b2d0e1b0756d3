"""Real read-only folders and small full disks for tests.

As root (CI, containers) ``chmod`` does not stop writes, so a read-only folder is a
read-only bind mount and a small disk is a tmpfs of a given size. Where mounting is not
possible, a read-only folder is a ``chmod``-ed one (which works for other users), and a full
disk is left to tests that limit the file size of a subprocess (``RLIMIT_FSIZE``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_can_mount: bool | None = None


def can_mount(probe_dir: Path) -> bool:
    """True when this process may mount a tmpfs (root on Linux, not forbidden)."""
    global _can_mount
    if _can_mount is None:
        _can_mount = False
        if sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("mount"):
            target = probe_dir / "mount-probe"
            target.mkdir(exist_ok=True)
            if _run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(target)):
                _can_mount = _run("umount", str(target))
            target.rmdir()
    return _can_mount


def _run(*cmd: str) -> bool:
    return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0


def _unmount(path: Path) -> None:
    if not _run("umount", str(path)):
        _run("umount", "-l", str(path))  # something still holds it: detach anyway


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """``path`` becomes an empty tmpfs of ``size`` (e.g. "1m"); unmounted afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    if not can_mount(path.parent):
        pytest.skip("a small disk needs a tmpfs mount (root on Linux); the subprocess "
                    "RLIMIT_FSIZE test covers a full disk elsewhere")
    assert _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    try:
        yield path
    finally:
        _unmount(path)


def grow_disk(path: Path, size: str) -> None:
    """Give a :func:`small_disk` more room (the files on it stay)."""
    assert _run("mount", "-o", f"remount,size={size}", str(path))


def fill_disk(path: Path) -> Path:
    """Write a file until the disk holding ``path`` is full; returns it (delete to free)."""
    filler = path / "filler.bin"
    with open(filler, "wb", buffering=0) as f:
        for size in (1 << 16, 4096, 1):  # big steps, then whatever still fits
            with contextlib.suppress(OSError):
                while f.write(b"\0" * size):
                    pass
    return filler


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[str]:
    """Make the existing folder ``path`` read-only for this process; restored afterwards.

    Yields how: "bind mount" or "chmod".
    """
    if can_mount(path.parent):
        assert _run("mount", "--bind", str(path), str(path))
        try:
            assert _run("mount", "-o", "remount,bind,ro", str(path))
            yield "bind mount"
        finally:
            _unmount(path)
        return
    if os.name == "nt" or os.geteuid() == 0:
        pytest.skip("no way to make a folder read-only here: root ignores chmod and "
                    "mounting is not allowed")
    modes = {p: p.stat().st_mode for p in [path, *path.rglob("*")] if not p.is_symlink()}
    for p in sorted(modes, key=lambda p: -len(p.parts)):
        p.chmod(stat.S_IRUSR | (stat.S_IXUSR if p.is_dir() else 0))
    try:
        yield "chmod"
    finally:
        for p, mode in sorted(modes.items(), key=lambda item: len(item[0].parts)):
            p.chmod(mode)

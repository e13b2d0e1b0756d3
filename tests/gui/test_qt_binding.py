"""Guards the Qt binding we depend on against a crash we hit (see pyproject.toml)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QSize
from PySide6.QtGui import QImage


def test_void_methods_keep_the_reference_to_none(qapp) -> None:
    # PySide6 6.12.0 dropped a reference to None per call of a void method; after enough
    # calls (a long scroll through thumbnails) CPython aborts with "deallocating None".
    size = QSize(1, 1)
    image = QImage(4, 4, QImage.Format.Format_RGB32)
    before = sys.getrefcount(None)
    for i in range(5000):
        size.setWidth(i)
        image.fill(0)
    assert sys.getrefcount(None) >= before - 50


def test_qt_types_are_all_made_at_import() -> None:
    """PySide6's lazy type creation races between threads (a thumbnail worker crashed the
    app): the app and its tests make every type at import. A type nothing here uses is
    there already."""
    import PySide6.QtGui

    assert "QPdfWriter" in vars(PySide6.QtGui)


def test_the_app_turns_lazy_types_off_before_pyside_loads() -> None:
    import os
    import subprocess

    code = "import photoclip.gui, PySide6.QtGui; print('QPdfWriter' in vars(PySide6.QtGui))"
    env = {k: v for k, v in os.environ.items() if k != "PYSIDE6_OPTION_LAZY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert out.strip() == "True"

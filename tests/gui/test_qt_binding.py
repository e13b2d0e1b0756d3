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

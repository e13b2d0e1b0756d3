"""DESIGN.md rules enforced: a Qt-free core, and heavy imports kept lazy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "photoclip" / "core"


def test_core_never_imports_qt_or_gui() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names
                          if n.split(".")[0] == "PySide6" or n.startswith("photoclip.gui")]
    assert not offenders


def test_cli_and_core_import_without_torch_or_qt() -> None:
    code = ("import sys, photoclip.cli, photoclip.core; "
            "print(sorted(m for m in ('torch', 'open_clip', 'PySide6') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"

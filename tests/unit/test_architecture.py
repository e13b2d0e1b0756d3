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


GUI = CORE.parent / "gui"
# Modules whose code runs on the GUI thread (thumbnails.py holds the runnables that read
# files on pool threads, and the controller's file looks run in its tasks: the window tests
# check those).
GUI_THREAD_MODULES = ("main_window.py", "models.py", "tags.py", "jobs.py", "panels.py",
                      "grid.py", "viewer.py", "duplicates.py", "dialogs.py", "timeline.py",
                      "names.py", "icons.py")
FILE_CALLS = {"stat", "lstat", "isdir", "isfile", "exists", "getsize", "getmtime", "scandir",
              "listdir", "is_dir", "is_file", "read_text", "read_bytes", "iterdir", "glob"}


def test_only_the_controller_and_app_touch_the_library() -> None:
    """Widgets ask the controller; they never hold or call the Library (DESIGN.md)."""
    offenders = []
    for path in GUI.rglob("*.py"):
        if path.name in ("controller.py", "app.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("library", "_library"):
                owner = node.value
                owner_name = (owner.attr if isinstance(owner, ast.Attribute)
                              else getattr(owner, "id", ""))
                if owner_name != "settings":   # Settings.library is a folder name, a string
                    offenders.append(f"{path.name}:{node.lineno}: .{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module in (
                    "photoclip.core", "photoclip.core.library"):
                offenders += [f"{path.name}:{node.lineno}: imports {a.name}"
                              for a in node.names if a.name == "Library"]
    assert not offenders


def test_gui_thread_modules_do_not_touch_files() -> None:
    """A stat on a dead network share hangs: the GUI thread never asks the disk anything."""
    offenders = []
    for name in GUI_THREAD_MODULES:
        tree = ast.parse((GUI / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called in FILE_CALLS or called == "open":
                    offenders.append(f"{name}:{node.lineno}: {called}()")
    assert not offenders


def _imports(tree: ast.AST) -> tuple[set[str], set[str]]:
    """Top-level package names that import statements name, and that
    ``importlib.import_module("...")`` calls name."""
    static, dynamic = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            static |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            static.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            dynamic.add(node.args[0].value.split(".")[0])
    return static, dynamic


def test_every_package_imported_by_name_is_also_named_by_an_import_statement() -> None:
    """The installers are built by PyInstaller, which bundles what import statements name:
    a package reached only through ``import_module`` is left out of the app (open_clip was,
    and the built app could not load a model)."""
    static, dynamic = set(), set()
    for path in CORE.parent.rglob("*.py"):
        got = _imports(ast.parse(path.read_text()))
        static |= got[0]
        dynamic |= got[1]
    assert "open_clip" in dynamic   # the check looks at what it should
    assert dynamic <= static, sorted(dynamic - static)

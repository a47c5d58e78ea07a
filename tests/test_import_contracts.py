"""Layering (DESIGN.md): the core imports no Qt, the app imports neither torch nor ``training``.

import-linter checks the static import graph with the contracts in ``pyproject.toml``; a fresh
interpreter checks what importing the core actually loads (dynamic imports included).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports")


def _lint(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(cwd), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([LINT, "--no-cache", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.skipif(LINT is None, reason="import-linter is not installed (pip install -e .[test])")
def test_import_contracts_are_kept():
    run = _lint(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout
    for name in ("The app never imports training", "Plain-Python core imports no Qt",
                 "The app needs no torch and no OpenCV"):
        assert f"{name} KEPT" in run.stdout


@pytest.mark.skipif(LINT is None, reason="import-linter is not installed (pip install -e .[test])")
def test_a_broken_contract_fails_the_check(tmp_path: Path):
    """The same kind of contract on a package that breaks it: the check is not vacuous."""
    (tmp_path / "fakeapp").mkdir()
    (tmp_path / "fakeapp" / "__init__.py").write_text("")
    (tmp_path / "fakeapp" / "core.py").write_text("import PySide6\n")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.importlinter]\nroot_packages = ["fakeapp"]\ninclude_external_packages = true\n'
        '[[tool.importlinter.contracts]]\nname = "No Qt"\ntype = "forbidden"\n'
        'source_modules = ["fakeapp.core"]\nforbidden_modules = ["PySide6"]\n')
    run = _lint(tmp_path)
    assert run.returncode != 0 and "No Qt BROKEN" in run.stdout


def _loaded_after(imports: str, roots: tuple[str, ...]) -> list[str]:
    """Top-level packages among ``roots`` that a fresh interpreter holds after ``imports``."""
    code = (f"import sys\nimport {imports}\n"
            f"print(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & {set(roots)!r})))\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode == 0, run.stderr
    return [m for m in run.stdout.strip().split(",") if m]


def test_importing_the_core_and_the_command_line_loads_no_qt_torch_opencv_or_training():
    core = ("sketchpad.ink, sketchpad.preprocess, sketchpad.datasets.quickdraw, "
            "sketchpad.datasets.tu_berlin, sketchpad.datasets.download, sketchpad.runtime, "
            "sketchpad.cli, sketchpad.selftest")
    assert _loaded_after(core, ("PySide6", "torch", "training", "cv2")) == []


def test_the_window_loads_neither_torch_nor_opencv():
    """What the bundle leaves out (build.spec) must not be needed by the app at run time."""
    assert _loaded_after("sketchpad.app.window, sketchpad.app.teaching",
                         ("torch", "training", "cv2")) == []

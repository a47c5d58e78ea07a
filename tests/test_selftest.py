"""``sketchpad --self-test`` from source, pointed at the tiny pack (built-in packs may be absent)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from packcopy import copy_pack
from sketchpad.__main__ import main
from sketchpad.selftest import SAMPLE

ROOT = Path(__file__).resolve().parents[1]


def test_sample_is_bundled_and_readable() -> None:
    assert SAMPLE.is_file() and SAMPLE.read_text().count("\n") == 2


def test_self_test_passes_on_the_tiny_pack(tiny_pack_dir: Path) -> None:
    env = {**os.environ, "SKETCHPAD_PACKS": str(tiny_pack_dir.parent)}
    proc = subprocess.run([sys.executable, "-m", "sketchpad", "--self-test"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "tiny: ok, 3 classes, depths low/mid/high" in proc.stdout
    assert "self-test passed" in proc.stdout


def test_self_test_fails_on_a_broken_pack(capsys, tiny_pack_dir: Path, tmp_path: Path) -> None:
    copy_pack(tiny_pack_dir, tmp_path / "tiny")
    copy_pack(tiny_pack_dir, tmp_path / "broken", lambda m: m.update(format_version=99))
    assert main(["--self-test", "--packs-dir", str(tmp_path)]) == 4
    out = capsys.readouterr().out
    assert "tiny: ok" in out and "broken: FAILED: pack 'broken': format version 99" in out
    assert "self-test FAILED" in out


def test_self_test_without_packs_fails(capsys, tmp_path: Path) -> None:
    assert main(["--self-test", "--packs-dir", str(tmp_path)]) == 4
    assert "no packs in" in capsys.readouterr().out


def test_self_test_builds_the_window_offscreen(tiny_pack_dir: Path) -> None:
    pytest.importorskip("PySide6")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SKETCHPAD_PACKS": str(tiny_pack_dir.parent)}
    proc = subprocess.run([sys.executable, "-m", "sketchpad", "--self-test", "--gui"], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "gui: ok, main window" in proc.stdout and "window ok" in proc.stdout

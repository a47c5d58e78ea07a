"""Shared fixtures: the real data folder and a tiny real pack built by the export code."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

#: Tests never touch the real home folder: HOME and the XDG folders (so Qt's settings, the app's
#: data and autosave, and every library cache) point into one temporary folder for the whole
#: session. Set here, when pytest loads this file, before any test module can make a QSettings;
#: child processes the tests start inherit it.
TEST_HOME = Path(tempfile.mkdtemp(prefix="sketchpad-test-home-"))
for _var, _sub in (("HOME", "."), ("XDG_CONFIG_HOME", ".config"),
                   ("XDG_DATA_HOME", ".local/share"), ("XDG_CACHE_HOME", ".cache")):
    (TEST_HOME / _sub).mkdir(parents=True, exist_ok=True)
    os.environ[_var] = str((TEST_HOME / _sub).resolve())

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def test_home() -> Iterator[Path]:
    """The temporary home of this session; Qt's user settings path is pinned into it too."""
    try:
        from PySide6.QtCore import QSettings
    except ImportError:                      # the CLI-only install: nothing of Qt to redirect
        pass
    else:
        for fmt in (QSettings.NativeFormat, QSettings.IniFormat):
            QSettings.setPath(fmt, QSettings.UserScope, os.environ["XDG_CONFIG_HOME"])
    yield TEST_HOME
    shutil.rmtree(TEST_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not DATA.is_dir():
        message = f"{DATA} is not here (the shared data sits beside the checkout)"
        if os.environ.get("CI"):             # CI must run every test, never skip them quietly
            pytest.fail(f"{message}; CI needs it", pytrace=False)
        pytest.skip(message)
    return DATA


@pytest.fixture(scope="session")
def tiny_pack_dir(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    """A trained, exported tiny pack (convnet + rnn + fusion), built once per test session."""
    pytest.importorskip("torch")
    from training.tiny_pack import build_tiny_pack
    return build_tiny_pack(tmp_path_factory.mktemp("packs") / "tiny", data_root)


@pytest.fixture(scope="session")
def teaching_pack_dir(tmp_path_factory: pytest.TempPathFactory, tiny_pack_dir: Path,
                      data_root: Path) -> Path:
    """A copy of the tiny pack with what ``python -m training.teaching_assets`` adds (t-SNE maps,
    probes, accuracy while drawing), built once per test session."""
    pytest.importorskip("openTSNE")
    from training.teaching_assets import build
    copy = shutil.copytree(tiny_pack_dir, tmp_path_factory.mktemp("packs") / "tiny-teaching")
    build(copy, data_root)
    return copy


@pytest.fixture(autouse=True)
def _words_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Taught words (``$SKETCHPAD_WORDS``) never come from or go to the real user data folder;
    every test starts with none."""
    monkeypatch.setenv("SKETCHPAD_WORDS", str(tmp_path_factory.mktemp("words")))


@pytest.fixture(autouse=True)
def _gui_thread_garbage_collection(request: pytest.FixtureRequest) -> None:
    """Qt tests run under the app's garbage-collection regime: cycles are collected on the GUI
    thread only (:class:`sketchpad.app.responsiveness.GuiThreadCollector`), never on a worker
    thread where freeing Qt wrappers crashes the process."""
    if "qapp" in request.fixturenames:
        from sketchpad.app.responsiveness import tune_for_interaction
        tune_for_interaction(request.getfixturevalue("qapp"))

"""Shared fixtures: the real data folder and a tiny real pack built by the export code."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_root() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"{DATA} is not here (the shared data sits beside the checkout)")
    return DATA


@pytest.fixture(scope="session")
def tiny_pack_dir(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    """A trained, exported tiny pack (convnet + rnn + fusion), built once per test session."""
    pytest.importorskip("torch")
    from training.tiny_pack import build_tiny_pack
    return build_tiny_pack(tmp_path_factory.mktemp("packs") / "tiny", data_root)


@pytest.fixture(autouse=True)
def _gui_thread_garbage_collection(request: pytest.FixtureRequest) -> None:
    """Qt tests run under the app's garbage-collection regime: cycles are collected on the GUI
    thread only (:class:`sketchpad.app.responsiveness.GuiThreadCollector`), never on a worker
    thread where freeing Qt wrappers crashes the process."""
    if "qapp" in request.fixturenames:
        from sketchpad.app.responsiveness import tune_for_interaction
        tune_for_interaction(request.getfixturevalue("qapp"))

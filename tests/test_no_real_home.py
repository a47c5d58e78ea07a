"""Tests never write to the real home folder: a window built with its defaults (settings, data
folder, autosave) writes only under the session's temporary home (tests/conftest.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

pwd = pytest.importorskip("pwd")
pytest.importorskip("pytestqt")
from sketchpad.app.prompts import DISCARD  # noqa: E402
from sketchpad.app.window import MainWindow  # noqa: E402
from sketchpad.ink import Stroke  # noqa: E402


class NeverAsk:
    def restore_drawings(self, strokes: list[int]) -> bool:
        return False

    def unsaved_changes(self) -> str:
        return DISCARD

    def error(self, title: str, text: str) -> None:
        raise AssertionError(f"{title}: {text}")


def test_the_environment_points_home_into_a_temporary_folder(test_home):
    real_home = Path(pwd.getpwuid(os.getuid()).pw_dir).resolve()
    for var in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        path = Path(os.environ[var]).resolve()
        assert path.is_relative_to(test_home.resolve()) and path != real_home, var
    assert Path.home().resolve() == test_home.resolve()


def test_a_default_window_keeps_settings_and_autosave_in_the_test_home(qtbot, test_home,
                                                                        tmp_path):
    w = MainWindow(pack_dirs=[tmp_path / "no packs"], prompts=NeverAsk())   # default settings
    qtbot.addWidget(w)                                                      # and data folder
    try:
        w.document.add_stroke(Stroke.from_xy([0, 10, 20], [0, 10, 0]))
        assert w.wait_idle()
        w.settings.setValue("probe", 1)
        w.settings.sync()
        written = [Path(w.settings.fileName()), w.autosave.file]
        for path in written:
            assert path.exists(), path
            assert path.resolve().is_relative_to(test_home.resolve()), path
    finally:
        w.shutdown()

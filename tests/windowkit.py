"""What the window tests of issue 14 share: a window factory over a copy of the tiny pack (and,
on request, the shipped TU-Berlin pack), fixed answers, recorded file dialogs, real drawings."""
from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from sketchpad.app.prompts import DISCARD
from sketchpad.app.window import MainWindow
from sketchpad.ink import Sketch, iter_ndjson

ROOT = Path(__file__).resolve().parents[1]
TU_BERLIN = ROOT / "resources" / "packs" / "tu-berlin"


class Answers:
    """Fixed answers to the window's questions, and a record of what it asked."""

    def __init__(self, restore: bool = True, unsaved: str = DISCARD):
        self.restore, self.unsaved = restore, unsaved
        self.asked: list[str] = []
        self.errors: list[str] = []

    def restore_drawings(self, strokes: list[int]) -> bool:
        self.asked.append(f"restore {strokes}")
        return self.restore

    def unsaved_changes(self) -> str:
        self.asked.append("unsaved")
        return self.unsaved

    def error(self, title: str, text: str) -> None:
        self.errors.append(f"{title}: {text}")


class Dialogs:
    """File dialogs that record where they would start and answer with a fixed path."""

    def __init__(self, answer: Path | None = None):
        self.answer = answer
        self.suggested: list[Path] = []

    def open_path(self, start: Path) -> Path | None:
        self.suggested.append(start)
        return self.answer

    def save_path(self, title: str, suggested: Path, filters: str) -> Path | None:
        self.suggested.append(suggested)
        return self.answer


@pytest.fixture
def packs(tmp_path, tiny_pack_dir) -> Path:
    folder = tmp_path / "packs"
    shutil.copytree(tiny_pack_dir, folder / "tiny")
    return folder


@pytest.fixture
def make_window(qtbot, tmp_path, packs):
    made: list[MainWindow] = []

    def make(answers: Answers | None = None, pack_dirs=None, wait_pack: bool = True,
             dialogs: Dialogs | None = None, size=(1100, 800), data_dir=None) -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
        w = MainWindow(pack_dirs=pack_dirs or [packs], data_dir=data_dir or tmp_path / "data",
                       settings=settings, prompts=answers or Answers(), dialogs=dialogs)
        qtbot.addWidget(w)
        w.resize(*size)
        w.show()
        qtbot.waitExposed(w)
        made.append(w)
        if wait_pack:
            qtbot.waitUntil(lambda: w.state.pack() is not None, timeout=30000)
        return w

    yield make
    for w in made:
        for other in getattr(w, "restored_windows", []):
            other.shutdown()
        w.shutdown()


def draw(canvas, points) -> None:
    QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(*points[0]))
    for p in points[1:]:
        QTest.mouseMove(canvas, QPoint(*p))
    QTest.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(*points[-1]))


def star(cx=200, cy=200, r=120) -> list[tuple[int, int]]:
    a = np.linspace(-np.pi / 2, -np.pi / 2 + 4 * np.pi, 11)
    return [(int(cx + r * np.cos(t)), int(cy + r * np.sin(t))) for t in a]


def settle(qtbot, w: MainWindow) -> None:
    """Wait until the worker is idle and its last result has been shown."""
    assert w.wait_idle()
    qtbot.waitUntil(lambda: w.state.analysis() is not None, timeout=10000)


def open_and_wait(qtbot, w: MainWindow, path: Path) -> None:
    """Open reads off the GUI thread: start it, and wait until the drawing is in."""
    with qtbot.waitSignal(w.files.opened, timeout=10000):
        assert w.open_file(path)


def quickdraw(data_root: Path, word: str = "cat", n: int = 1, kind: str = "simplified"
              ) -> list[Sketch]:
    return list(itertools.islice(iter_ndjson(data_root / "quickdraw" / kind / f"{word}.ndjson"),
                                 n))


def draw_sketch(canvas, sketch: Sketch, box: tuple[int, int, int, int]) -> None:
    """Replay ``sketch`` as mouse strokes fitted into ``box`` (x, y, w, h) of the canvas."""
    x0, y0, x1, y1 = sketch.bounds()
    bx, by, bw, bh = box
    scale = min(bw / max(x1 - x0, 1), bh / max(y1 - y0, 1))
    for stroke in sketch.strokes:
        draw(canvas, [(int(bx + (x - x0) * scale), int(by + (y - y0) * scale))
                      for x, y in stroke.points[:, :2]])


def grey(image: QImage) -> np.ndarray:
    """A grabbed widget as a 2-D uint8 array (the lightness of each pixel)."""
    image = image.convertToFormat(QImage.Format_Grayscale8)
    w, h = image.width(), image.height()
    return np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())[:, :w].copy()

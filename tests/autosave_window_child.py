"""A real Sketchpad window in a child process, for tests/test_autosave_two_windows.py.

``python autosave_window_child.py DATA_DIR N_STROKES SEED [--quit]``: opens the window offscreen
on ``DATA_DIR`` (no packs: recognition is not what is tested), restores every drawing it is
offered, adds ``N_STROKES`` strokes through the document API, waits until the autosave is on
disk, prints one JSON line (what it was offered, and the drawing each of its windows holds),
then waits to be killed with SIGKILL — or, with ``--quit``, closes its windows cleanly.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from sketchpad.app.prompts import DISCARD  # noqa: E402
from sketchpad.app.window import MainWindow  # noqa: E402
from sketchpad.ink import Stroke  # noqa: E402


class RestoreAll:
    """Answers: restore what is offered (and record it), discard on quit, print errors."""

    def __init__(self) -> None:
        self.offered: list[list[int]] = []

    def restore_drawings(self, strokes: list[int]) -> bool:
        self.offered.append(strokes)
        return True

    def unsaved_changes(self) -> str:
        return DISCARD

    def error(self, title: str, text: str) -> None:
        print(f"error: {title}: {text}", file=sys.stderr)


def stroke(rng: np.random.Generator) -> Stroke:
    n = int(rng.integers(2, 12))
    xs, ys = rng.integers(0, 500, n), rng.integers(0, 500, n)
    return Stroke.from_xy(xs, ys, np.arange(n) * 16.0, np.round(rng.uniform(0.1, 1.0, n), 3))


def main(data_dir: str, n_strokes: str, seed: str, *flags: str) -> int:
    app = QApplication([])
    empty = Path(data_dir).parent / "no-packs"
    empty.mkdir(exist_ok=True)
    answers = RestoreAll()
    settings = QSettings(str(Path(data_dir).parent / f"settings-{os.getpid()}.ini"),
                         QSettings.IniFormat)
    window = MainWindow(pack_dirs=[empty], data_dir=Path(data_dir), prompts=answers,
                        settings=settings)
    window.show()
    rng = np.random.default_rng(int(seed))
    for _ in range(int(n_strokes)):
        window.document.add_stroke(stroke(rng))
    windows = [window, *window.restored_windows]
    for w in windows:
        assert w.wait_idle(timeout_s=120), "the autosave did not finish"  # 2 busy cores
    print(json.dumps({
        "pid": os.getpid(),
        "offered": answers.offered,
        "drawings": [w.document.sketch.all_points().tolist() for w in windows],
        "autosave_on": [w.autosave.active for w in windows],
    }), flush=True)
    if "--quit" in flags:
        QTimer.singleShot(0, lambda: [w.close() for w in windows])
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

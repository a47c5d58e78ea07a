"""A real window in a child process that draws and then dies, for tests/test_app_restore.py.

``python canvas_crash_child.py DATA_DIR DRAWING.ndjson OUT.png WIDTH HEIGHT``: opens the window
offscreen on ``DATA_DIR`` (no packs), replays the drawing in ``DRAWING.ndjson`` as mouse strokes
on the canvas, waits until the autosave is on disk, saves a grab of the canvas to ``OUT.png``,
prints one JSON line and waits to be killed with SIGKILL.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from sketchpad.app.window import MainWindow  # noqa: E402
from sketchpad.ink import iter_ndjson  # noqa: E402
from windowkit import Answers, draw_sketch  # noqa: E402


def main(data_dir: str, drawing: str, out: str, width: str, height: str) -> int:
    app = QApplication([])
    data = Path(data_dir)
    (data.parent / "no-packs").mkdir(exist_ok=True)
    window = MainWindow(pack_dirs=[data.parent / "no-packs"], data_dir=data, prompts=Answers(),
                        settings=QSettings(str(data.parent / "child.ini"), QSettings.IniFormat))
    window.resize(int(width), int(height))
    window.show()
    for _ in range(20):
        app.processEvents()
    canvas = window.canvas
    (sketch,) = iter_ndjson(drawing)
    w, h = canvas.width(), canvas.height()
    draw_sketch(canvas, sketch, (w // 5, h // 6, 3 * w // 5, 2 * h // 3))
    assert window.wait_idle(), "the autosave did not finish"
    app.processEvents()
    canvas.grab().save(out)
    print(json.dumps({"canvas": [w, h], "strokes": len(window.document.sketch)}), flush=True)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))

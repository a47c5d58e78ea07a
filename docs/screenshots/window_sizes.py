"""Screenshots of the window at the sizes people use: empty, with a drawing, and the Help dialogs.

For each size (default 1280×720, 1920×1080, 2560×1440) it opens the real window on a pack,
grabs the empty state (``window-WxH-empty.png``), replays a real Quick, Draw! drawing through
the document API, waits for the prediction and neighbours, and grabs that
(``window-WxH-drawing.png``); at the first size it also grabs Help → Keyboard shortcuts and
About (``help-shortcuts.png``, ``help-about.png``). Run under Xvfb, or offscreen:

    xvfb-run -s "-screen 0 2560x1440x24" python docs/screenshots/window_sizes.py
    QT_SCALE_FACTOR=2 xvfb-run -s "-screen 0 2560x1440x24" \\
        python docs/screenshots/window_sizes.py --sizes 1280x720 --tag @2x
    python docs/screenshots/window_sizes.py --pack resources/packs/tu-berlin \\
        --sizes 1280x720 --tag=-tu-berlin --no-dialogs
"""
from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from common import wait, window_on_pack  # noqa: E402
from sketchpad.ink import iter_ndjson  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "quickdraw" / "simplified"


def settle(app: QApplication, seconds: float = 0.3) -> None:
    """Let layouts, resizes and paints finish."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def save(widget: QWidget, out: Path) -> None:
    widget.grab().save(str(out))
    print(f"{out.name}: {widget.width()}×{widget.height()} "
          f"(device pixel ratio {widget.devicePixelRatioF():g})")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pack", type=Path, default=ROOT / "resources" / "packs" / "quickdraw")
    parser.add_argument("--word", default="cat")
    parser.add_argument("--pick", type=int, default=0, help="which drawing of the word's file")
    parser.add_argument("--sizes", default="1280x720,1920x1080,2560x1440")
    parser.add_argument("--tag", default="", help="added to each file name (e.g. @2x)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--dialogs", action=argparse.BooleanOptionalAction, default=True,
                        help="also grab the Help dialogs (at the first size)")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    drawing = next(itertools.islice(iter_ndjson(DATA / f"{args.word}.ndjson"), args.pick, None))
    sizes = [tuple(map(int, s.split("x"))) for s in args.sizes.split(",")]
    for i, (width, height) in enumerate(sizes):
        with tempfile.TemporaryDirectory() as tmp:
            w = window_on_pack(args.pack, Path(tmp), width, height)
            if not wait(app, lambda: w.state.pack() is not None, 120):
                raise TimeoutError(f"the pack did not load: {w.statusBar().currentMessage()}")
            settle(app)
            name = f"window-{width}x{height}{args.tag}"
            save(w, args.out / f"{name}-empty.png")
            for stroke in drawing.strokes:          # as if drawn here: simplified ink is on the page
                w.document.add_stroke(stroke)
            if not wait(app, lambda: w.wait_idle() and w.state.analysis() is not None, 60):
                raise TimeoutError("no prediction came")
            settle(app)
            save(w, args.out / f"{name}-drawing.png")
            if i == 0 and args.dialogs:
                for action, out in ((w.show_shortcuts, "help-shortcuts"), (w.show_about, "help-about")):
                    dialog = action()
                    settle(app)
                    save(dialog, args.out / f"{out}{args.tag}.png")
                    dialog.close()
            w.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Make ``docs/screenshots/main_window.png``: the real window, a real drawing, real predictions.

Run under a display (``xvfb-run -s "-screen 0 1400x900x24" python docs/screenshots/main_window.py``)
or offscreen. It opens a few raw Quick, Draw! drawings of one of the pack's classes (the file list
shows them), picks one, waits for the prediction and neighbours, and grabs the window.

    python docs/screenshots/main_window.py [--pack resources/packs/quickdraw] [--word cat]
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

from PySide6.QtWidgets import QApplication  # noqa: E402

from common import wait, window_on_pack  # noqa: E402
from sketchpad.ink import iter_ndjson, write_ndjson  # noqa: E402
from sketchpad.pack import builtin_packs_dir, discover_packs, load_pack  # noqa: E402

RAW = ROOT.parent / "shared" / "data" / "quickdraw" / "raw"




def wait_for(app: QApplication, condition, timeout_s: float = 120) -> None:
    if not wait(app, condition, timeout_s):
        raise TimeoutError("the window did not get there in time")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pack", type=Path, help="pack folder (default: first in resources/packs)")
    parser.add_argument("--word", default="cat", help="class to draw (default: cat, else the "
                        "pack's first class with a raw file)")
    parser.add_argument("--pick", type=int, default=0, help="which drawing of the file to show")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots" / "main_window.png")
    args = parser.parse_args()
    pack_dir = args.pack or next(e.path for e in discover_packs(builtin_packs_dir()) if e.pack)
    pack = load_pack(pack_dir)
    word = (args.word if args.word in pack.classes
            else next(c for c in pack.classes if (RAW / f"{c}.ndjson").exists()))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        drawings = tmp / f"{word}.ndjson"
        write_ndjson(itertools.islice(iter_ndjson(RAW / f"{word}.ndjson"), 12), drawings)
        w = window_on_pack(pack_dir, tmp, 1360, 860)
        wait_for(app, lambda: w.state.pack() is not None)
        w.open_file(drawings)                   # read off the GUI thread
        wait_for(app, lambda: w.files.collection is not None)
        w.drawing_list.setCurrentRow(args.pick)
        w.predictions.per_model_toggle.setChecked(True)
        wait_for(app, lambda: w.wait_idle() and w.state.analysis() is not None)
        for _ in range(20):
            app.processEvents()
            time.sleep(0.02)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        w.grab().save(str(args.out))
        print(f"{args.out}: {word!r} on pack {pack.name}, top {w.state.analysis().prediction.top(3)}")
        w.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Make the issue-18 screenshots: the real window on the shipped packs, real drawings.

* ``trust_unsure.png`` — one stroke: the Quick, Draw! pack says it is not sure, its guesses weaker;
* ``trust_second_opinion.png`` — an umbrella (the Quick, Draw! pack lacks it): TU-Berlin's answer;
* ``trust_vocabulary.png`` — what the pack knows, with a word taught to it;
* ``trust_teach.png`` — the Teach a word… dialog, two examples in, a third on its canvas.

Run under a display (``Xvfb :97 -screen 0 1920x1080x24 & DISPLAY=:97 python
docs/screenshots/trust.py``) or offscreen. Words go to a temp folder.
"""
from __future__ import annotations

import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from PySide6.QtWidgets import QApplication  # noqa: E402

from common import wait, window_on_pack  # noqa: E402
from sketchpad.ink import Sketch, Stroke, iter_ndjson  # noqa: E402
from sketchpad.words_store import WORDS_ENV  # noqa: E402

PACKS = ROOT / "resources" / "packs"
SIMPLIFIED = ROOT.parent / "shared" / "data" / "quickdraw" / "simplified"
OUT = Path(__file__).resolve().parent


def drawing(word: str, number: int) -> Sketch:
    return next(itertools.islice(iter_ndjson(SIMPLIFIED / f"{word}.ndjson"), number, None))


def wait_for(app: QApplication, condition, timeout_s: float = 120) -> None:
    if not wait(app, condition, timeout_s):
        raise TimeoutError("the window did not get there in time")


def settle(app: QApplication, seconds: float = 0.4) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def show(app: QApplication, w, sketch: Sketch) -> None:
    """Put ``sketch`` on the canvas and wait for its analysis."""
    w.document.load(sketch)
    w.canvas.show_loaded(True)
    wait_for(app, lambda: w.wait_idle() and w.state.analysis() is not None)
    settle(app)


def save(widget, name: str) -> None:
    path = OUT / name
    widget.grab().save(str(path))
    print(path)


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ[WORDS_ENV] = str(tmp / "words")
        w = window_on_pack(PACKS / "quickdraw", tmp, 1360, 860, others=[PACKS / "tu-berlin"])
        wait_for(app, lambda: w.state.pack() is not None)
        box = w.predictions.trust

        line = Sketch((Stroke.from_xy([128, 129, 128, 127], [30, 100, 170, 226]),))
        show(app, w, line)
        # TU-Berlin loads lazily, then the window asks again: wait for that answer.
        wait_for(app, lambda: len(w.worker.opinions.loaded()) == 1)
        wait_for(app, lambda: w.wait_idle() and w.state.analysis() is not None)
        settle(app)
        print("unsure:", w.state.analysis().prediction.top(3), "opinion:", box.opinion)
        save(w, "trust_unsure.png")

        show(app, w, drawing("umbrella", 6))
        wait_for(app, lambda: box.opinion is not None, 60)
        settle(app)
        print("second opinion:", box.opinion.text)
        save(w, "trust_second_opinion.png")

        pack = w.state.pack()
        pack.words.add("snowman", [drawing("snowman", i) for i in range(5)], new=True)
        vocabulary = w.words_ui.show_vocabulary()
        vocabulary.resize(780, 720)
        vocabulary.refresh()
        w.words_ui._words_changed()
        wait_for(app, lambda: not vocabulary.busy)
        settle(app)
        save(vocabulary, "trust_vocabulary.png")
        vocabulary.close()

        teach = w.words_ui.show_teach()
        teach.resize(520, 700)
        teach.name_edit.setText("mushroom")
        teach.add_examples([drawing("mushroom", 0), drawing("mushroom", 1)])
        teach.document.load(drawing("mushroom", 2))
        teach.canvas.show_loaded(True)
        settle(app)
        save(teach, "trust_teach.png")
        teach.reject()
        w.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

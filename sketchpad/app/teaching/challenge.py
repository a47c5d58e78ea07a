"""Challenge mode: the Quick, Draw! game for a class, full-screen friendly.

A word from the pack (or from the words taught to it), 20 seconds to draw it, the network's guesses shown large as they change;
it ends the moment the first guess is the word. After 6 words a results page shows each drawing,
what the network saw (the picture its convnet is fed), its guesses and the nearest gallery
sketches; the round's drawings can be saved as Quick, Draw! ndjson with their ``word``, so a
class collects its own data set. The game rules are :mod:`.game` (plain Python, clock passed
in); guesses and results are computed on a worker.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel,
                               QPushButton, QScrollArea, QStackedWidget, QVBoxLayout, QWidget)

from ... import preprocess as pp
from ...document import Document
from ...ink import Sketch, write_ndjson
from ...runtime import LoadedPack
from ..canvas import Canvas
from ..state import AppState
from .common import TeachingView, grey_image
from .game import ROUND_WORDS, SECONDS, ChallengeRound, Turn, pick_words
from .worker import Latest

#: Seconds the "I know, it's …" message stays before the next word.
PAUSE = 2.5
#: Live guesses while the pen moves, at most this often (seconds).
LIVE_EVERY = 0.5
THUMB = 120
NEIGHBOURS = 4


CLASSES, TAUGHT = "classes", "taught"


def words_of(pack: LoadedPack, source: str = CLASSES) -> list[str]:
    """The words a round is drawn from: the pack's classes, or the words taught to it."""
    return list(pack.words.names) if source == TAUGHT else list(pack.pack.classes)


@dataclass(frozen=True)
class TurnResult:
    """What the results page shows for one word."""

    word: str
    recognised_after: float | None
    drawing: np.ndarray            # uint8, ink dark on white
    seen: np.ndarray | None        # the convnet's input, uint8
    guesses: list[tuple[str, float]]
    neighbours: list[tuple[str, np.ndarray]]


def _to_uint8(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    return ((a - lo) / (hi - lo) * 255).astype(np.uint8) if hi > lo else np.zeros(a.shape, np.uint8)


def turn_result(pack: LoadedPack, turn: Turn) -> TurnResult:
    """Worker side: the network's view of one finished drawing."""
    sketch = turn.sketch
    if sketch.is_empty:
        blank = np.full((THUMB, THUMB), 255, np.uint8)
        return TurnResult(turn.word, None, blank, None, [], [])
    prediction = pack.predict(sketch)       # taught words compete, as in the main window
    (image,) = pack.engine.inputs_for(sketch)["convnet"].values()
    high = "high" if "high" in prediction.features else next(iter(prediction.features))
    found = pack.searcher.query(high, prediction.features[high], NEIGHBOURS)
    return TurnResult(turn.word, turn.recognised_after,
                      255 - pp.render_sketch(sketch, THUMB, line_width=4.0),
                      _to_uint8(image[0, 0]), prediction.top(3),
                      [(pack.gallery.label_name(n.gallery_id),
                        255 - pack.gallery.picture(n.gallery_id, 72)) for n in found])


class ChallengeMode(TeachingView):
    """Draw the word before the time runs out; the network guesses as you draw."""

    title = "Challenge — draw it in 20 seconds"

    def __init__(self, state: AppState, parent: QWidget | None = None,
                 clock: Callable[[], float] = time.monotonic, seed: int | None = None):
        super().__init__(state, parent)
        self.clock, self.seed = clock, seed
        self.round: ChallengeRound | None = None
        self.results: list[TurnResult] = []
        self._last_live = -1e9
        self.guess_work, self.result_work = Latest(self), Latest(self)
        self.guess_work.ready.connect(self._guessed)
        self.result_work.ready.connect(self._show_results)
        self.document = Document()
        self.document.subscribe(lambda _sketch: self._ask(self.document.sketch))
        self.stack = QStackedWidget()
        self.stack.addWidget(self._start_page())
        self.stack.addWidget(self._play_page())
        self.stack.addWidget(self._results_page())
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack)
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self.tick)
        QShortcut(QKeySequence(Qt.Key.Key_F11), self, self.toggle_full_screen)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self,
                  lambda: self.showNormal() if self.isFullScreen() else None)
        self.resize(1000, 760)
        self.refresh(pack_changed=True)

    # --- pages -----------------------------------------------------------------------------------
    def _big(self, px: int = 32, bold: bool = True) -> QLabel:
        label = QLabel()
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        font = label.font()
        font.setPixelSize(px)
        font.setBold(bold)
        label.setFont(font)
        return label

    def _start_page(self) -> QWidget:
        page = QWidget()
        self.intro = self._big(28, bold=False)
        self.start_button = QPushButton(f"Start a round of {ROUND_WORDS} words")
        self.start_button.setMinimumHeight(56)
        self.start_button.clicked.connect(self.start_round)
        self.full_button = QPushButton("Full screen (F11)")
        self.full_button.clicked.connect(self.toggle_full_screen)
        self.source = QComboBox()
        self.source.setToolTip("Which words a round asks for")
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(self.intro)
        layout.addWidget(self.source)
        layout.addWidget(self.start_button)
        layout.addWidget(self.full_button)
        layout.addStretch(1)
        return page

    def _play_page(self) -> QWidget:
        page = QWidget()
        self.word_label = self._big(40)
        self.clock_label = self._big(40)
        self.canvas = Canvas(self.document)
        self.canvas.inkMoved.connect(self._live)
        self.guess_label = self._big(36)
        self.other_label = self._big(20, bold=False)
        self.skip_button = QPushButton("Skip this word")
        self.skip_button.clicked.connect(self.skip)
        top = QHBoxLayout()
        top.addWidget(self.word_label, 3)
        top.addWidget(self.clock_label, 1)
        top.addWidget(self.skip_button)
        layout = QVBoxLayout(page)
        layout.addLayout(top)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.guess_label)
        layout.addWidget(self.other_label)
        return page

    def _results_page(self) -> QWidget:
        page = QWidget()
        self.summary = self._big(28)
        self.grid = QGridLayout()
        body = QWidget()
        body.setLayout(self.grid)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        self.save_button = QPushButton("Save the drawings (Quick, Draw! ndjson)…")
        self.save_button.clicked.connect(self._ask_save)
        again = QPushButton("Play again")
        again.clicked.connect(self.start_round)
        bar = QHBoxLayout()
        bar.addWidget(self.save_button)
        bar.addWidget(again)
        layout = QVBoxLayout(page)
        layout.addWidget(self.summary)
        layout.addWidget(scroll, 1)
        layout.addLayout(bar)
        return page

    # --- state --------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.guess_work.busy or self.result_work.busy

    def refresh(self, pack_changed: bool) -> None:
        if not pack_changed:
            return   # the challenge draws on its own canvas, not the main window's sketch
        self.timer.stop()
        self.round = None
        pack = self.state.pack()
        self.stack.setCurrentIndex(0)
        self.start_button.setEnabled(pack is not None)
        self.source.clear()
        if pack is not None:
            self.source.addItem(f"the pack's {len(pack.pack.classes)} classes", CLASSES)
            if pack.words.names:
                self.source.addItem(f"the {len(pack.words.names)} words taught to it", TAUGHT)
        self.source.setVisible(self.source.count() > 1)
        self.intro.setText(
            "No pack is loaded." if pack is None else
            f"You get a word and {SECONDS:.0f} seconds to draw it. The network guesses as you "
            f"draw; when its first guess is your word, you have it. {ROUND_WORDS} words, then "
            f"see what it saw. (Words from “{pack.pack.title}”.)")

    def toggle_full_screen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        """Text grows with the window, so the word reads from the back of a class room."""
        super().resizeEvent(event)
        h = max(self.height(), 400)
        for label, share in ((self.word_label, 14), (self.clock_label, 14),
                             (self.guess_label, 16), (self.other_label, 30)):
            font = label.font()
            font.setPixelSize(max(16, h // share))
            label.setFont(font)

    def start_round(self) -> None:
        pack = self.state.pack()
        if pack is None:
            return
        words = words_of(pack, self.source.currentData() or CLASSES)
        self.round = ChallengeRound(pick_words(words, ROUND_WORDS, self.seed), self.clock)
        self.results = []
        self.stack.setCurrentIndex(1)
        self._next()
        self.timer.start()

    def _next(self) -> None:
        turn = self.round.next_turn()
        self.guess_work.cancel()
        if turn is None:
            self._finish()
            return
        self.document.clear()
        self._last_live = -1e9
        self.canvas.setEnabled(True)
        self.skip_button.setEnabled(True)
        self.word_label.setText(f"Draw: {turn.word}  ({self.round.index + 1}/{len(self.round.turns)})")
        self.guess_label.setText("…")
        self.other_label.setText("")
        self._show_clock()

    def _show_clock(self) -> None:
        self.clock_label.setText(f"{self.round.time_left():.0f} s")

    def tick(self) -> None:
        """Every 100 ms (and from tests, after moving their clock): time, turn end, next turn."""
        if self.round is None or self.round.finished:
            return
        turn = self.round.current
        if self.round.tick():
            self._end_turn(f"Time's up! I could not guess {turn.word}.")
        elif turn.ended is not None and self.clock() - turn.ended >= PAUSE:
            self._next()
            return
        self._show_clock()

    def skip(self) -> None:
        if self.round is not None and self.round.playing:
            self.round.give_up()
            self._end_turn(f"Skipped: {self.round.current.word}.")

    def _end_turn(self, message: str) -> None:
        turn = self.round.current
        turn.sketch = self.canvas.live_sketch()    # with a stroke still being drawn, if any
        self.guess_work.cancel()
        self.canvas.setEnabled(False)
        self.skip_button.setEnabled(False)
        self.other_label.setText(message)

    def _finish(self) -> None:
        self.timer.stop()
        self.stack.setCurrentIndex(2)
        turns, pack = list(self.round.turns), self.state.pack()
        got = sum(t.recognised for t in turns)
        self.summary.setText(f"It recognised {got} of your {len(turns)} drawings. "
                             "Here is what it saw.")
        self.result_work.submit(lambda: (pack, [turn_result(pack, t) for t in turns]))

    # --- guesses -----------------------------------------------------------------------------
    def _live(self) -> None:
        now = self.clock()
        if now - self._last_live >= LIVE_EVERY:
            self._last_live = now
            self._ask(self.canvas.live_sketch())

    def _ask(self, sketch: Sketch) -> None:
        if self.round is None or not self.round.playing or sketch.is_empty:
            return
        pack, index = self.state.pack(), self.round.index
        self.guess_work.submit(lambda: (index, sketch, pack.predict(sketch).top(3)))

    def _guessed(self, payload) -> None:
        index, sketch, top = payload
        if self.round is None or index != self.round.index or not self.round.playing:
            return
        (first, p), others = top[0], top[1:]
        self.guess_label.setText(f"I see… {first}")
        self.other_label.setText("or " + " or ".join(f"{c}?" for c, _ in others) if others
                                 else "")
        if self.round.guess(sketch, first, p):
            self._end_turn(f"Oh, I know: it's {first}! ({self.round.current.recognised_after:.1f} s)")

    # --- results -------------------------------------------------------------------------------
    def _show_results(self, payload) -> None:
        pack, results = payload
        if pack is not self.state.pack():
            return
        self.results = results
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        for c, text in enumerate(("your drawing", "what the network saw", "its guesses",
                                  "most similar in the gallery")):
            self.grid.addWidget(QLabel(f"<b>{text}</b>"), 0, c)
        for r, res in enumerate(results, start=1):
            drawing = QLabel()
            drawing.setPixmap(QPixmap.fromImage(grey_image(res.drawing)))
            drawing.setToolTip(res.word)
            seen = QLabel()
            if res.seen is not None:
                seen.setPixmap(QPixmap.fromImage(grey_image(res.seen)).scaled(
                    THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.FastTransformation))
            verdict = (f"recognised after {res.recognised_after:.1f} s"
                       if res.recognised_after is not None else "not recognised")
            guesses = QLabel(f"<b>{res.word}</b>: {verdict}<br>" + "<br>".join(
                f"{c} {p:.0%}" for c, p in res.guesses))
            row = QHBoxLayout()
            for name, pic in res.neighbours:
                n = QLabel()
                n.setPixmap(QPixmap.fromImage(grey_image(pic)))
                n.setToolTip(name)
                row.addWidget(n)
            row.addStretch(1)
            near = QWidget()
            near.setLayout(row)
            for c, w in enumerate((drawing, seen, guesses, near)):
                self.grid.addWidget(w, r, c)

    def save_round(self, path: str | Path) -> int:
        """Write the round's drawings as Quick, Draw! ndjson (``word``, ``timestamp``,
        ``recognized``, ``drawing`` with times); returns how many."""
        return write_ndjson(self.round.drawings() if self.round else [], path, with_time=True)

    def _ask_save(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save the round's drawings",
                                              "challenge.ndjson", "Quick, Draw! (*.ndjson)")
        if name:
            self.save_round(name)

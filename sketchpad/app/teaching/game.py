"""The Quick, Draw! game loop as plain Python: a round of words, 20 seconds each, recognised the
moment the pack's first guess is the word. The clock is passed in, so a test plays a round in
no time. No Qt (the window is :mod:`.challenge`).
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ...ink import Sketch

ROUND_WORDS = 6
SECONDS = 20.0


def pick_words(classes: Sequence[str], n: int = ROUND_WORDS, seed: int | None = None
               ) -> list[str]:
    """``n`` different words from the pack's classes (repeats only when it has fewer)."""
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        batch = list(classes)
        rng.shuffle(batch)
        out.extend(batch[: n - len(out)])
    return out


@dataclass
class Turn:
    """One word: the drawing, the guesses as they changed, and when it was recognised."""

    word: str
    started: float = 0.0
    started_utc: str = ""
    sketch: Sketch = field(default_factory=Sketch)
    guesses: list[tuple[float, str, float]] = field(default_factory=list)   # (s, class, p)
    recognised_after: float | None = None
    ended: float | None = None

    @property
    def recognised(self) -> bool:
        return self.recognised_after is not None

    def drawing(self) -> Sketch:
        """The drawing as a Quick, Draw! record: the word, when it was drawn, and whether the
        network recognised it (the dataset's ``recognized`` field)."""
        return Sketch(self.sketch.strokes, label=self.word,
                      meta={"timestamp": self.started_utc, "recognized": self.recognised,
                            "has_time": True})


class ChallengeRound:
    """``words`` to draw in turn, ``seconds`` each, timed by ``clock`` (seconds, monotonic)."""

    def __init__(self, words: Sequence[str], clock: Callable[[], float],
                 seconds: float = SECONDS):
        self.turns = [Turn(w) for w in words]
        self.clock = clock
        self.seconds = seconds
        self.index = -1

    @property
    def current(self) -> Turn | None:
        return self.turns[self.index] if 0 <= self.index < len(self.turns) else None

    @property
    def finished(self) -> bool:
        return self.index >= len(self.turns)

    @property
    def playing(self) -> bool:
        """A turn is on and has not ended."""
        turn = self.current
        return turn is not None and turn.ended is None

    def next_turn(self) -> Turn | None:
        """Start the next word (None after the last)."""
        self.index += 1
        turn = self.current
        if turn is not None:
            turn.started = self.clock()
            turn.started_utc = dt.datetime.now(dt.timezone.utc).strftime(
                "%Y-%m-%d %H:%M:%S.%f UTC")
        return turn

    def time_left(self) -> float:
        turn = self.current
        if turn is None:
            return 0.0
        end = turn.ended if turn.ended is not None else self.clock()
        return max(0.0, self.seconds - (end - turn.started))

    def guess(self, sketch: Sketch, top: str, p: float) -> bool:
        """The pack's first guess for the drawing so far; True when that recognises the word
        (which ends the turn)."""
        turn = self.current
        if not self.playing or turn is None:
            return False
        turn.sketch = sketch
        at = self.clock() - turn.started
        if not turn.guesses or turn.guesses[-1][1] != top:
            turn.guesses.append((at, top, p))
        if top == turn.word:
            turn.recognised_after = at
            turn.ended = self.clock()
            return True
        return False

    def tick(self) -> bool:
        """Check the clock; True when the turn has just run out of time."""
        if self.playing and self.time_left() <= 0:
            self.current.ended = self.current.started + self.seconds
            return True
        return False

    def give_up(self) -> None:
        if self.playing:
            self.current.ended = self.clock()

    def drawings(self) -> list[Sketch]:
        """The round's drawings so far, each with its word (what a class collects)."""
        return [t.drawing() for t in self.turns if t.ended is not None and not t.sketch.is_empty]

"""Challenge mode played through with real Quick, Draw! drawings, stroke by stroke, on a fake
clock: six words, guesses as the strokes come, recognised or timed out, the results page, and
the round saved as Quick, Draw! ndjson with each drawing's word."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from sketchpad.app.state import AppState  # noqa: E402
from sketchpad.app.teaching.challenge import PAUSE, ChallengeMode  # noqa: E402
from sketchpad.app.teaching.game import ROUND_WORDS, SECONDS, ChallengeRound, pick_words  # noqa: E402
from sketchpad.ink import Stroke, iter_ndjson  # noqa: E402
from sketchpad.runtime import LoadedPack  # noqa: E402

WAIT_MS = 20000


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def real_drawings(data_root: Path, word: str, n: int) -> list:
    path = data_root / "quickdraw" / "simplified" / f"{word.replace(' ', '_')}.ndjson"
    out = []
    for s in iter_ndjson(path):
        if len(s.strokes) >= 2:
            out.append(s)
        if len(out) == n:
            return out
    return out


def test_pick_words_draws_different_words_while_there_are_enough():
    assert sorted(pick_words(list("abcdefgh"), 6, seed=1)) == sorted(set(pick_words(
        list("abcdefgh"), 6, seed=1)))
    three = pick_words(["a", "b", "c"], 6, seed=0)
    assert len(three) == 6 and sorted(three[:3]) == ["a", "b", "c"]


def test_a_turn_times_out_after_twenty_seconds_on_the_clock():
    clock = FakeClock()
    game = ChallengeRound(["cat"], clock)
    game.next_turn()
    clock.now += SECONDS - 0.1
    assert not game.tick() and game.time_left() == pytest.approx(0.1)
    clock.now += 0.2
    assert game.tick() and not game.current.recognised and game.time_left() == 0


def test_challenge_round_played_with_replayed_real_drawings(qtbot, tiny_pack_dir: Path,
                                                            data_root: Path, tmp_path: Path):
    pack = LoadedPack.open(tiny_pack_dir)
    state = AppState()
    state.set_pack(pack)
    clock = FakeClock()
    view = ChallengeMode(state, clock=clock, seed=3)
    qtbot.addWidget(view)
    view.show()
    view.timer.stop()                    # the test moves time itself
    view.start_round()
    view.timer.stop()
    assert view.stack.currentIndex() == 1
    words = [t.word for t in view.round.turns]
    assert len(words) == ROUND_WORDS and set(words) == set(pack.pack.classes)
    pool = {w: iter(real_drawings(data_root, w, ROUND_WORDS)) for w in set(words)}
    played = []
    for i in range(ROUND_WORDS):
        turn = view.round.current
        assert view.round.index == i and turn.word in view.word_label.text()
        drawing = next(pool[turn.word])
        played.append(drawing)
        for stroke in drawing.strokes:          # stroke by stroke, a second apart
            if not view.round.playing:
                break
            view.document.add_stroke(Stroke(stroke.points))
            qtbot.waitUntil(lambda: not view.busy, timeout=WAIT_MS)
            clock.now += 1.0
            view.tick()
        if view.round.playing:                  # out of strokes: let the time run out
            clock.now += SECONDS
            view.tick()
        assert not view.round.playing
        top = pack.engine.predict(view.document.sketch).top(1)[0][0]
        if turn.recognised:
            # it ended the moment the first guess was the word
            assert turn.guesses[-1][1] == turn.word and "I know" in view.other_label.text()
            assert turn.recognised_after <= len(drawing.strokes)
        else:
            assert top != turn.word and "Time's up" in view.other_label.text()
        assert turn.word in view.guess_label.text() or turn.guesses   # guesses were shown
        clock.now += PAUSE
        view.tick()
    qtbot.waitUntil(lambda: view.stack.currentIndex() == 2 and len(view.results) == ROUND_WORDS,
                    timeout=WAIT_MS)
    got = sum(t.recognised for t in view.round.turns)
    assert f"recognised {got} of your {ROUND_WORDS}" in view.summary.text()
    for res, turn in zip(view.results, view.round.turns):
        assert res.word == turn.word and res.seen is not None and len(res.guesses) == 3
        assert res.seen.shape == (32, 32) and len(res.neighbours) == 4   # the tiny convnet's input
        assert res.drawing.dtype == np.uint8
    out = tmp_path / "round.ndjson"
    assert view.save_round(out) == ROUND_WORDS
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["word"] for line in lines] == words
    assert [line["recognized"] for line in lines] == [t.recognised for t in view.round.turns]
    back = list(iter_ndjson(out))
    for sketch, turn in zip(back, view.round.turns):
        assert sketch.label == turn.word and len(sketch.strokes) == len(turn.sketch.strokes)


def test_a_round_can_ask_for_the_words_taught_to_the_pack(qtbot, tiny_pack_dir: Path,
                                                          data_root: Path, tmp_path: Path):
    pack = LoadedPack.open(tiny_pack_dir, words_dir=tmp_path / "words")
    state = AppState()
    state.set_pack(pack)
    view = ChallengeMode(state, clock=FakeClock(), seed=0)
    qtbot.addWidget(view)
    assert view.source.count() == 1                      # nothing taught yet: classes only
    pack.words.add("cat", real_drawings(data_root, "cat", 3), new=True)
    view.refresh(pack_changed=True)
    assert view.source.count() == 2
    view.source.setCurrentIndex(1)
    view.start_round()
    view.timer.stop()
    assert [t.word for t in view.round.turns] == ["cat"] * ROUND_WORDS

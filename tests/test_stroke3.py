"""Stroke-3 ``(dx, dy, pen_lifted)`` both ways: examples, bad input and the round-trip property."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchpad.ink import Sketch, SketchError, Stroke, sketch_to_stroke3, stroke3_to_sketch


def xy_sketch(*strokes) -> Sketch:
    return Sketch(tuple(Stroke.from_xy([p[0] for p in s], [p[1] for p in s]) for s in strokes))


def test_example_layout():
    sk = xy_sketch([(10, 20), (13, 24)], [(0, 0)])
    np.testing.assert_array_equal(sketch_to_stroke3(sk), [[10, 20, 0], [3, 4, 1], [-13, -24, 1]])


def test_trailing_pen_down_run_is_still_a_stroke_and_empty_is_empty():
    back = stroke3_to_sketch(np.array([[1, 1, 0], [1, 0, 1], [5, 5, 0], [1, 1, 0]]))
    assert [len(s) for s in back.strokes] == [2, 2]
    assert back.strokes[1].points[:, :2].tolist() == [[7, 6], [8, 7]]
    assert stroke3_to_sketch(np.zeros((0, 3))).is_empty
    assert sketch_to_stroke3(Sketch()).shape == (0, 3)


def test_time_and_pressure_come_back_as_zero_and_one():
    sk = Sketch((Stroke.from_xy([0, 1], [0, 1], [0, 30], [0.3, 0.4]),))
    (s,) = stroke3_to_sketch(sketch_to_stroke3(sk)).strokes
    np.testing.assert_array_equal(s.points[:, 2:], [[0, 1], [0, 1]])


@pytest.mark.parametrize("seq,message", [
    (np.zeros((4, 2)), r"shape \(n, 3\)"),
    (np.array([[0, 0, 0], [np.nan, 1, 1]]), "NaN"),
    (np.array([[0, 0, 0], [np.inf, 1, 1]]), "NaN or infinite"),
])
def test_bad_sequences_are_rejected(seq, message):
    with pytest.raises(SketchError, match=message):
        stroke3_to_sketch(seq)


small = st.integers(-300, 300)
int_strokes = st.lists(st.lists(st.tuples(small, small), min_size=1, max_size=20),
                       min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(int_strokes)
def test_round_trip_is_exact_for_integer_ink(strokes):
    """Integer coordinates (simplified files, sketch-rnn int16) come back bit for bit."""
    sk = xy_sketch(*strokes)
    seq = sketch_to_stroke3(sk)
    assert seq.shape == (sk.n_points, 3)
    assert seq[:, 2].sum() == len(sk.strokes) and seq[-1, 2] == 1
    back = stroke3_to_sketch(seq, label="x", source_id="1")
    assert back.label == "x" and back.source_id == "1"
    assert back.strokes == sk.strokes
    np.testing.assert_array_equal(sketch_to_stroke3(back), seq)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)),
                         min_size=1, max_size=20), min_size=1, max_size=5))
def test_round_trip_keeps_float_ink_to_rounding(strokes):
    sk = xy_sketch(*strokes)
    back = stroke3_to_sketch(sketch_to_stroke3(sk))
    assert [len(s) for s in back.strokes] == [len(s) for s in sk.strokes]
    np.testing.assert_allclose(back.all_points()[:, :2], sk.all_points()[:, :2], atol=1e-9)

"""The ink model: immutable values, normalisation, RDP simplification (examples and properties)."""
from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchpad.ink import (NORMALISED_EXTENT, RDP_EPSILON, Sketch, SketchError, Stroke, normalise,
                           normalise_and_simplify, rdp_masks, simplify)
from sketchpad.ink.sketch import MAX_COORDINATE, RDP_EXACT_DEPTH, _rdp

coord = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False, allow_subnormal=False)
points = st.lists(st.tuples(coord, coord), min_size=1, max_size=40)


def stroke(xy) -> Stroke:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return Stroke.from_xy(xy[:, 0], xy[:, 1])


sketches = st.lists(points, min_size=1, max_size=6).map(
    lambda ss: Sketch(tuple(stroke(s) for s in ss), label="x"))


# --- immutability ----------------------------------------------------------------------------
def test_stroke_points_are_a_frozen_copy():
    xy = np.array([[0.0, 0, 0, 1], [1, 1, 0, 1]])
    s = Stroke(xy)
    xy[0, 0] = 99  # the caller's array is not shared
    assert s.points[0, 0] == 0
    with pytest.raises(ValueError):
        s.points[0, 0] = 5


def test_sketch_fields_cannot_be_reassigned_nor_meta_changed():
    meta = {"countrycode": "DE"}
    sk = Sketch((stroke([[0, 0], [1, 1]]),), label="cat", meta=meta)
    meta["countrycode"] = "FR"  # the caller's dict is not shared
    assert sk.meta["countrycode"] == "DE"
    with pytest.raises(TypeError):
        sk.meta["countrycode"] = "FR"  # type: ignore[index]
    with pytest.raises(AttributeError):
        sk.label = "dog"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        sk.strokes = ()  # type: ignore[misc]


def test_edits_return_new_sketches_and_leave_the_old_one_alone():
    a = Sketch((stroke([[0, 0], [1, 1]]),), label="cat")
    b = a.add_stroke(stroke([[2, 2], [3, 3]]))
    c = b.remove_stroke(0)
    assert (len(a), len(b), len(c)) == (1, 2, 1)
    assert c.strokes[0] == b.strokes[1] and b.label == c.label == "cat"
    assert b.prefix(0.5) == a


def test_sketches_pickle_with_equal_value_and_read_only_meta():
    sk = Sketch((stroke([[0, 0], [5, 1]]),), "cat", "7", {"recognized": True})
    _ = sk.model_ink  # the cached value must not break pickling
    back = pickle.loads(pickle.dumps(sk))
    assert back == sk and back.model_ink == sk.model_ink
    with pytest.raises(TypeError):
        back.meta["x"] = 1  # type: ignore[index]


# --- bad values --------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_coordinates_are_rejected(bad):
    with pytest.raises(SketchError, match="NaN or infinite"):
        Stroke.from_xy([0, bad], [0, 1])


def test_coordinates_beyond_the_bound_are_rejected():
    with pytest.raises(SketchError, match="coordinate beyond"):
        Stroke.from_xy([0, -2e9], [0, 1])


@pytest.mark.parametrize("xs", [[-MAX_COORDINATE, MAX_COORDINATE], [0.0, 5e-324], [1.0, 1.0]])
def test_extreme_but_valid_extents_normalise_without_warnings(xs):
    """No overflow or division warning anywhere from a stroke the model accepts."""
    sk = Sketch((Stroke.from_xy(xs + [xs[0]], [0.0, 0.0, MAX_COORDINATE / 3]),))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = normalise_and_simplify(sk)
    assert np.isfinite(out.all_points()).all()


def test_malformed_strokes_are_rejected():
    with pytest.raises(SketchError, match="at least one point"):
        Stroke(np.zeros((0, 4)))
    with pytest.raises(SketchError, match=r"\(n, 4\)"):
        Stroke(np.zeros((3, 2)))
    with pytest.raises(SketchError, match="differ in length"):
        Stroke.from_xy([0, 1], [0])
    with pytest.raises(SketchError, match="no bounds"):
        Sketch().bounds()


# --- normalise -----------------------------------------------------------------------------
def test_normalise_example_keeps_aspect_and_time():
    sk = Sketch((Stroke.from_xy([10, 110], [20, 70], [0, 40], [0.5, 1.0]),))
    (s,) = normalise(sk).strokes
    np.testing.assert_allclose(s.points, [[0, 0, 0, 0.5], [255, 127.5, 40, 1.0]])


def test_normalise_of_one_point_is_a_dot_at_the_origin():
    (s,) = normalise(Sketch((stroke([[40, 50]]),))).strokes
    np.testing.assert_array_equal(s.points[:, :2], [[0, 0]])
    assert normalise(Sketch()) == Sketch()


@settings(max_examples=150, deadline=None)
@given(sketches)
def test_normalise_invariants(sk):
    norm = normalise(sk)
    x0, y0, x1, y1 = norm.bounds()
    ox0, oy0, ox1, oy1 = sk.bounds()
    assert x0 == 0 and y0 == 0
    w, h, ow, oh = x1 - x0, y1 - y0, ox1 - ox0, oy1 - oy0
    if max(ow, oh) > 0:
        assert max(w, h) == pytest.approx(NORMALISED_EXTENT, rel=1e-9)
        # aspect: w/h == ow/oh, written without division
        assert w * oh == pytest.approx(h * ow, rel=1e-9, abs=1e-9 * NORMALISED_EXTENT * max(ow, oh))
    else:
        assert (w, h) == (0, 0)
    assert [len(s) for s in norm.strokes] == [len(s) for s in sk.strokes]
    assert norm.label == sk.label


# --- RDP -----------------------------------------------------------------------------------
def _line_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """RDP's measure: distance to the line through ``a`` and ``b`` (to ``a`` if they coincide)."""
    ab, ap = b - a, p - a
    length = float(np.hypot(*ab))
    return float(np.hypot(*ap)) if length == 0 else abs(ab[0] * ap[1] - ab[1] * ap[0]) / length


def _rdp_recursive(xy: np.ndarray, eps: float) -> np.ndarray:
    """The textbook recursion, one chord at a time: the oracle for the vectorised version."""
    keep = np.zeros(len(xy), dtype=bool)
    keep[0] = keep[-1] = True
    chords = [(0, len(xy) - 1)]
    while chords:
        a, b = chords.pop()
        if b - a < 2:
            continue
        dist = [_line_distance(xy[i], xy[a], xy[b]) for i in range(a + 1, b)]
        k = a + 1 + int(np.argmax(dist))
        if dist[k - a - 1] > eps:
            keep[k] = True
            chords += [(a, k), (k, b)]
    return keep


def _rdp_one(xy: np.ndarray, eps: float) -> np.ndarray:
    return rdp_masks([xy], eps)[0]


def test_rdp_example_drops_collinear_and_small_wiggles_only():
    xy = np.array([[0, 0], [50, 1], [100, 0], [100, 100], [101, 150], [100, 200.0]])
    assert _rdp_one(xy, 2.0).tolist() == [True, False, True, False, False, True]
    assert _rdp_one(xy, 0.5).tolist() == [True, True, True, True, True, True]


def test_rdp_keeps_closed_strokes_closed():
    t = np.linspace(0, 2 * np.pi, 60)
    circle = np.c_[100 + 100 * np.cos(t), 100 + 100 * np.sin(t)]
    keep = _rdp_one(circle, RDP_EPSILON)
    assert keep[0] and keep[-1] and keep.sum() > 8


def test_rdp_handles_empty_single_and_two_point_strokes_beside_long_ones():
    line = np.c_[np.arange(10.0), np.zeros(10)]
    masks = rdp_masks([np.zeros((0, 2)), np.array([[3.0, 4.0]]), line[:2], line], 2.0)
    assert [m.tolist() for m in masks[:3]] == [[], [True], [True, True]]
    assert masks[3].tolist() == [True] + [False] * 8 + [True]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255)), min_size=1,
                         max_size=60), min_size=1, max_size=4),
       st.sampled_from([0.5, 2.0, 10.0]))
def test_rdp_matches_the_recursion_and_keeps_every_dropped_point_within_epsilon(strokes, eps):
    """Integer points, as in simplified files, so strokes often revisit a spot and chords close
    on themselves: all strokes simplified together give, stroke by stroke, exactly the textbook
    recursion's mask, both ends kept, and every dropped point within ε of the line through its
    kept neighbours (the RDP guarantee)."""
    xys = [np.array(pts, dtype=float) for pts in strokes]
    exact = rdp_masks(xys, eps, exact_depth=None)
    for xy, keep, textbook in zip(xys, rdp_masks(xys, eps), exact, strict=True):
        assert keep.dtype == bool and keep.shape == (len(xy),)
        np.testing.assert_array_equal(keep, _rdp_recursive(xy, eps))
        np.testing.assert_array_equal(textbook, keep)
        _assert_within_epsilon(xy, keep, eps)


def _assert_within_epsilon(xy: np.ndarray, keep: np.ndarray, eps: float) -> None:
    kept = np.flatnonzero(keep)
    for a, b in zip(kept[:-1], kept[1:]):
        for i in range(a + 1, b):
            assert _line_distance(xy[i], xy[a], xy[b]) <= eps + 1e-9


def _zigzag(n: int) -> np.ndarray:
    """The textbook recursion's worst case: every chord peels off one point, n levels deep."""
    return np.c_[np.arange(n, dtype=float), (np.arange(n) % 2) * 10.0]


def test_rdp_depth_is_bounded_and_the_guarantee_kept_on_the_worst_case():
    xy = _zigzag(3000)
    (textbook,), levels = _rdp([xy], 2.0, None)
    assert levels > 2900 and textbook.sum() > 2900  # nearly every corner kept, a level each
    (keep,), bounded = _rdp([xy], 2.0, RDP_EXACT_DEPTH)
    assert bounded <= RDP_EXACT_DEPTH + np.log2(len(xy)) + 1
    assert keep[0] and keep[-1]
    _assert_within_epsilon(xy, keep, 2.0)


def test_rdp_bound_does_not_change_shallow_strokes_and_a_stroke_does_not_affect_another():
    rng = np.random.default_rng(3)
    walks = [np.cumsum(rng.normal(size=(400, 2)) * 4, axis=0) for _ in range(5)]
    deep = _zigzag(1000)
    alone = [rdp_masks([w], 2.0)[0] for w in walks]
    together = rdp_masks(walks + [deep], 2.0)
    for a, b, c in zip(alone, together, rdp_masks(walks, 2.0, exact_depth=None)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_simplify_keeps_time_and_pressure_of_kept_points():
    s = Stroke.from_xy([0, 50, 100], [0, 0.1, 0], [0, 10, 20], [0.2, 0.4, 0.6])
    (out,) = simplify(Sketch((s,))).strokes
    np.testing.assert_array_equal(out.points, s.points[[0, 2]])


def test_a_long_stroke_is_simplified():
    t = np.linspace(0, 20 * np.pi, 10_000)
    sk = Sketch((stroke(np.c_[t * 10, 200 * np.sin(t)]),))
    (out,) = normalise_and_simplify(sk).strokes
    assert 20 < len(out) < 2_000
    assert normalise_and_simplify(sk) is sk.model_ink  # computed once per value

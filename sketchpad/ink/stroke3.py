"""Stroke-3 ``(dx, dy, pen_lifted)``: the sketch-rnn sequence layout, both ways.

Row 0 holds the first point's offset from the origin, so the absolute position survives the round
trip; ``pen_lifted`` is 1 on the last point of every stroke. Time and pressure are not part of the
format and come back as 0 and 1.
"""
from __future__ import annotations

import numpy as np

from .sketch import MAX_COORDINATE, MAX_POINTS, Sketch, SketchError, Stroke


def sketch_to_stroke3(sketch: Sketch) -> np.ndarray:
    """``(n_points, 3)`` float64; empty sketches give ``(0, 3)``."""
    if sketch.is_empty:
        return np.zeros((0, 3))
    pts = sketch.all_points()
    out = np.empty((len(pts), 3))
    out[0, :2] = pts[0, :2]
    out[1:, :2] = np.diff(pts[:, :2], axis=0)
    out[:, 2] = 0.0
    ends = np.cumsum([len(s) for s in sketch.strokes]) - 1
    out[ends, 2] = 1.0
    return out


def stroke3_to_sketch(seq: np.ndarray, label: str | None = None,
                      source_id: str | None = None) -> Sketch:
    """Rebuild strokes from offsets; a trailing pen-down run still ends as a stroke."""
    try:
        seq = np.asarray(seq, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:  # not numbers, or ragged
        raise SketchError(f"stroke-3 needs an (n, 3) array of numbers ({exc})") from None
    if seq.ndim != 2 or seq.shape[1] != 3:
        raise SketchError(f"stroke-3 needs shape (n, 3), got {seq.shape}")
    if len(seq) > MAX_POINTS:
        raise SketchError(f"more than {MAX_POINTS:,} points in one drawing")
    if not np.isfinite(seq).all():
        raise SketchError("stroke-3 sequence has a NaN or infinite value")
    if len(seq) and np.abs(seq[:, :2]).max() > MAX_COORDINATE:  # the running sum stays finite
        raise SketchError(f"stroke-3 offset beyond ±{MAX_COORDINATE:g}")
    if len(seq) == 0:
        return Sketch(label=label, source_id=source_id)
    xy = np.cumsum(seq[:, :2], axis=0)
    cut = np.flatnonzero(seq[:, 2] > 0.5) + 1
    strokes = []
    for part in np.split(np.arange(len(seq)), cut):
        if len(part):
            pts = np.zeros((len(part), 4))
            pts[:, :2] = xy[part]
            pts[:, 3] = 1.0
            strokes.append(Stroke(pts))
    return Sketch(tuple(strokes), label=label, source_id=source_id)

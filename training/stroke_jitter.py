"""New drawings of a class from the few drawings it has, by moving strokes (issue 16).

Most Quick, Draw! classes the two sets share have 15 training drawings here, and the shipped
tu-berlin network gets 52 % of the held-out drawings of those right against 88 % for the classes
with 100 (session 6, ``training.deepsketch.cross_domain`` grouped by class size). A picture warp
(:func:`training.deepsketch.data.augment`) moves the whole drawing at once; a person drawing the
same thing again places, sizes and turns each stroke a little differently, leaves a detail out,
and draws with another pen. :func:`stroke_variant` does that to the strokes before rendering.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sketchpad.ink import Sketch
from sketchpad.ink.sketch import Stroke


@dataclass(frozen=True)
class StrokeJitter:
    """How far one variant may stray; lengths are fractions of the drawing's longer side."""

    shift: float = 0.04                    # largest per-stroke move along x and y
    scale: float = 0.12                    # per-stroke size factor exp(U(-scale, scale))
    angle: float = 10.0                    # largest per-stroke turn about its centre, degrees
    noise: float = 0.004                   # per-point Gaussian wobble (std)
    drop: float = 0.1                      # chance that a stroke after the first is left out
    width: tuple[float, float] = (0.8, 1.6)  # line-width factor range for the render


def stroke_variant(sketch: Sketch, rng: np.random.Generator, jitter: StrokeJitter = StrokeJitter()) -> Sketch:
    """A new drawing of the same thing: each kept stroke turned, scaled and moved about its own
    centre, its points wobbled; the first stroke is always kept (often the outline)."""
    x0, y0, x1, y1 = sketch.bounds()
    size = max(x1 - x0, y1 - y0, 1.0)
    strokes = []
    for i, stroke in enumerate(sketch.strokes):
        if i and rng.random() < jitter.drop:
            continue
        pts = stroke.points.copy()
        xy = pts[:, :2]
        centre = xy.mean(0)
        turn = np.radians(rng.uniform(-jitter.angle, jitter.angle))
        linear = np.exp(rng.uniform(-jitter.scale, jitter.scale)) * np.array(
            [[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
        move = rng.uniform(-jitter.shift, jitter.shift, 2) * size
        pts[:, :2] = (xy - centre) @ linear.T + centre + move + rng.normal(0, jitter.noise * size, xy.shape)
        strokes.append(Stroke(pts))
    return sketch.with_strokes(strokes)


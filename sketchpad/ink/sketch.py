"""The one representation of a sketch: immutable strokes of ``(x, y, t_ms, pressure)`` points.

Every source (the canvas, Quick, Draw! files, TU-Berlin SVGs, sketch-rnn stroke-3) becomes a
:class:`Sketch`, and every model input is computed from one. Values are immutable so a sketch can
be handed to a worker thread while the user keeps drawing, with no copy and no lock.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

#: Column order of a stroke's point array.
X, Y, T, P = 0, 1, 2, 3

#: Quick, Draw! "simplified" uses RDP with this tolerance after scaling to 0..255.
RDP_EPSILON = 2.0
#: Longer side of a normalised sketch spans 0..NORMALISED_EXTENT.
NORMALISED_EXTENT = 255.0
#: Largest ``|x|`` or ``|y|`` a stroke may have: far beyond any page, and small enough that the
#: differences and products normalising and RDP take of coordinates stay finite.
MAX_COORDINATE = 1e9
#: Most points in one drawing read from a file: real ones have a few thousand; this bounds the
#: work any one drawing can ask for.
MAX_POINTS = 1_000_000
#: Levels of the textbook RDP recursion before chords are also halved (see :func:`rdp_masks`).
RDP_EXACT_DEPTH = 128


class SketchError(ValueError):
    """A sketch, stroke or file that cannot be turned into ink; the message says where and why."""


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class Stroke:
    """One pen-down to pen-up trace: an ``(n, 4)`` float64 array of ``x, y, t_ms, pressure``."""

    points: np.ndarray

    def __post_init__(self) -> None:
        pts = np.asarray(self.points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 4:
            raise SketchError(f"a stroke needs (n, 4) points, got shape {pts.shape}")
        if len(pts) == 0:
            raise SketchError("a stroke needs at least one point")
        if not np.isfinite(pts).all():
            raise SketchError("a stroke has a NaN or infinite coordinate")
        if np.abs(pts[:, :2]).max() > MAX_COORDINATE:
            raise SketchError(f"a stroke has a coordinate beyond ±{MAX_COORDINATE:g}")
        object.__setattr__(self, "points", _frozen(pts.copy() if pts is self.points else pts))

    @classmethod
    def from_xy(cls, xs: Sequence[float], ys: Sequence[float],
                ts: Sequence[float] | None = None,
                ps: Sequence[float] | None = None) -> "Stroke":
        """Build from parallel coordinate lists (the Quick, Draw! layout); t=0, p=1 when absent."""
        n = len(xs)
        if len(ys) != n or (ts is not None and len(ts) != n) or (ps is not None and len(ps) != n):
            raise SketchError("a stroke's x, y, t and pressure lists differ in length")
        pts = np.empty((n, 4), dtype=np.float64)
        pts[:, X] = xs
        pts[:, Y] = ys
        pts[:, T] = 0.0 if ts is None else ts
        pts[:, P] = 1.0 if ps is None else ps
        return cls(pts)

    def __len__(self) -> int:
        return len(self.points)

    def __repr__(self) -> str:
        return f"Stroke({len(self.points)} points)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Stroke) and np.array_equal(self.points, other.points)

    def __hash__(self) -> int:
        return hash(self.points.tobytes())


@dataclass(frozen=True, eq=False)
class Sketch:
    """An ordered tuple of strokes plus what the source said about it.

    ``label`` is the class name when the source gives one (``word`` in Quick, Draw!), ``source_id``
    the source's id (``key_id``, a TU-Berlin file number); ``meta`` keeps any other fields so that
    reading and writing a file loses nothing. ``meta`` is stored as a read-only copy (a
    ``MappingProxyType``), so no holder of a sketch can change what another holder sees.
    """

    strokes: tuple[Stroke, ...] = ()
    label: str | None = None
    source_id: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "strokes", tuple(self.strokes))
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    # A mappingproxy does not pickle; worker processes (DataLoader) and deepcopy need these.
    def __getstate__(self) -> dict[str, Any]:
        return {"strokes": self.strokes, "label": self.label, "source_id": self.source_id,
                "meta": dict(self.meta)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        object.__setattr__(self, "meta", MappingProxyType(dict(state["meta"])))

    # --- queries ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.strokes)

    @property
    def is_empty(self) -> bool:
        return not self.strokes

    @property
    def n_points(self) -> int:
        return sum(len(s) for s in self.strokes)

    def all_points(self) -> np.ndarray:
        """Every point of every stroke, stacked: ``(n_points, 4)``."""
        if not self.strokes:
            return np.empty((0, 4))
        return np.concatenate([s.points for s in self.strokes])

    def bounds(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)`` of all ink; raises on an empty sketch, which has none."""
        if not self.strokes:
            raise SketchError("an empty sketch has no bounds")
        pts = self.all_points()
        return (float(pts[:, X].min()), float(pts[:, Y].min()),
                float(pts[:, X].max()), float(pts[:, Y].max()))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Sketch) and self.strokes == other.strokes
                and self.label == other.label and self.source_id == other.source_id
                and dict(self.meta) == dict(other.meta))

    def __hash__(self) -> int:
        return hash((self.strokes, self.label, self.source_id))

    # --- edits return new sketches -----------------------------------------------------------
    def with_strokes(self, strokes: Iterable[Stroke]) -> "Sketch":
        return Sketch(tuple(strokes), self.label, self.source_id, self.meta)

    def add_stroke(self, stroke: Stroke) -> "Sketch":
        return self.with_strokes(self.strokes + (stroke,))

    def remove_stroke(self, index: int) -> "Sketch":
        return self.with_strokes(s for i, s in enumerate(self.strokes) if i != index)

    @cached_property
    def model_ink(self) -> "Sketch":
        """Normalised and RDP-simplified: every model input starts here, so it is computed once
        per value (three preprocessors on one sketch share it)."""
        return simplify(normalise(self))

    def prefix(self, fraction: float) -> "Sketch":
        """The first ``fraction`` of the strokes (at least one): what a live app sees mid-drawing."""
        n = max(1, int(np.ceil(len(self.strokes) * fraction))) if self.strokes else 0
        return self.with_strokes(self.strokes[:n])


def normalise(sketch: Sketch, extent: float = NORMALISED_EXTENT) -> Sketch:
    """Translate to the bounding box and scale uniformly so the longer side spans ``0..extent``.

    Aspect ratio is kept. A sketch of zero extent (one point, or one repeated point) is only
    translated: there is no scale to recover, and inventing one would move the point.
    """
    if sketch.is_empty:
        return sketch
    x0, y0, x1, y1 = sketch.bounds()
    longer = max(x1 - x0, y1 - y0)
    scale = extent / longer if longer > 0 else 1.0
    origin = np.array([x0, y0])
    strokes = []
    for s in sketch.strokes:
        pts = s.points.copy()
        if np.isfinite(scale):
            pts[:, :2] = (pts[:, :2] - origin) * scale
        else:  # an extent so small that extent / longer overflows: divide first
            pts[:, :2] = (pts[:, :2] - origin) / longer * extent
        strokes.append(Stroke(pts))
    return sketch.with_strokes(strokes)


def rdp_masks(strokes: Sequence[np.ndarray], epsilon: float,
              exact_depth: int | None = RDP_EXACT_DEPTH) -> list[np.ndarray]:
    """Ramer–Douglas–Peucker on every stroke at once: per stroke, a boolean mask of the points
    to keep (its two ends always kept).

    The textbook recursion (split at the point farthest from the chord, if it is farther than
    ``epsilon``; ties go to the first such point; a closed chord measures the distance to its
    start), run level by level so that each level is a handful of numpy operations over all
    strokes instead of one Python call per segment: live ink of a few hundred points takes a
    fraction of a millisecond, and no C extension is needed (the bundle ships without OpenCV).

    A level costs one pass over the undecided points, and the textbook recursion can be as deep
    as the stroke is long (a zigzag peels one point per level: O(n²), minutes for 200k points).
    So from level ``exact_depth`` on, a chord that must be split is also split at its middle
    point: every chord then at least halves per level, the depth is bounded by
    ``exact_depth + log2(n)`` and the cost by O((exact_depth + log n) · n). Splitting more only
    keeps more points, so every dropped point is still within ``epsilon`` of its chord. Real
    drawings stay below the bound: ``benchmarks/rdp_bench.py`` simplifies every raw, simplified
    and sketch-rnn drawing here (133,920 sketches, own and normalised frames) both ways and finds
    identical masks, the deepest needing 72 levels. Pass ``exact_depth=None`` for the textbook
    recursion at any depth.
    """
    return _rdp(strokes, epsilon, exact_depth)[0]


def _rdp(strokes: Sequence[np.ndarray], epsilon: float,
         exact_depth: int | None) -> tuple[list[np.ndarray], int]:
    """:func:`rdp_masks` and the number of levels it took (the benchmark reports the deepest)."""
    lens = np.array([len(xy) for xy in strokes], dtype=np.int64)
    if not len(lens):
        return [], 0
    xy = np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in strokes])
    x, y = xy[:, 0].copy(), xy[:, 1].copy()
    ends = np.cumsum(lens)
    starts = ends - lens
    keep = np.zeros(len(xy), dtype=bool)
    keep[starts[lens > 0]] = True
    keep[ends[lens > 0] - 1] = True
    # The undecided points, in order. The points strictly inside a chord are all undecided, so
    # each chord is a run of consecutive indices, from one after its start to one before its end.
    i = np.flatnonzero(~keep)
    level = 0
    while len(i):
        first = np.flatnonzero(np.r_[True, i[1:] != i[:-1] + 1])
        counts = np.diff(np.r_[first, len(i)])
        a, b = i[first] - 1, i[first + counts - 1] + 1
        dx, dy = x[b] - x[a], y[b] - y[a]
        chord = np.hypot(dx, dy)
        closed = chord == 0
        rx = x[i] - np.repeat(x[a], counts)
        ry = y[i] - np.repeat(y[a], counts)
        dist = np.abs(np.repeat(dx, counts) * ry - np.repeat(dy, counts) * rx)
        dist /= np.repeat(np.where(closed, 1.0, chord), counts)
        if closed.any():  # a closed chord measures the distance to its start
            at_start = np.repeat(closed, counts)
            dist[at_start] = np.hypot(rx[at_start], ry[at_start])
        farthest = np.maximum.reduceat(dist, first)
        splits = farthest > epsilon
        if not splits.any():
            break
        split_here = np.repeat(splits, counts)
        hits = np.flatnonzero((dist == np.repeat(farthest, counts)) & split_here)
        chord_of = np.searchsorted(first, hits, side="right")
        hits = hits[np.r_[True, chord_of[1:] != chord_of[:-1]]]
        keep[i[hits]] = True  # the first farthest point of each chord that splits
        if exact_depth is not None and level >= exact_depth:
            keep[(a + b)[splits] // 2] = True
        i = i[split_here & ~keep[i]]
        level += 1
    return np.split(keep, ends[:-1]), level


def simplify(sketch: Sketch, epsilon: float = RDP_EPSILON) -> Sketch:
    """RDP-simplify each stroke (in the sketch's own units: normalise first for Quick, Draw!'s ε)."""
    masks = rdp_masks([s.points[:, :2] for s in sketch.strokes], epsilon)
    return sketch.with_strokes(Stroke(s.points[m]) for s, m in zip(sketch.strokes, masks))


def normalise_and_simplify(sketch: Sketch) -> Sketch:
    """The shared normalisation every model input starts from (DESIGN.md, "Ink model")."""
    return sketch.model_ink

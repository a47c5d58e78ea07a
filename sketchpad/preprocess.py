"""Sketch → model tensors, written once and imported by training and by the app.

Three inputs (DESIGN.md, "Preprocessing"):

* :func:`convnet_input` — the DeepSketch raster: ink bright on dark, the sketch fitted into a
  ``content``-pixel box centred in an ``size``-pixel canvas, global mean subtracted. A drawn
  :class:`Sketch` goes through :func:`render_sketch`, a scanned PNG through :func:`render_image`;
  both yield the same kind of ``content × content`` uint8 picture, so the network cannot tell them
  apart (``tests/test_parity.py`` measures how close they are). A pack may ask for the picture
  at a ``scale``: resized about its centre with bilinear interpolation, the view its network
  trained on (every DeepSketch training view is warped; a sharp paste is one it never saw).
* :func:`order_raster` — the DSN CNN input: strokes drawn with grey levels that fall with stroke
  order (first stroke brightest), as in the Kaggle Quick, Draw! work the DSN paper builds on.
* :func:`stroke3_input` — the RNN input: stroke-3 of the normalised, simplified sketch, divided by
  a scale fitted on the training split, truncated to ``max_len`` points.

Every function is pure and deterministic: the same sketch gives the same bytes everywhere.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np
from PIL import Image, ImageDraw

from .ink import Sketch, SketchError, normalise_and_simplify, sketch_to_stroke3
from .ink.sketch import NORMALISED_EXTENT

#: Lines are drawn at this many times the output resolution, then box-averaged down: sub-pixel
#: positions and widths, and anti-aliasing, with Pillow alone (the app ships without OpenCV).
_SUPERSAMPLE = 4
#: PNG pixels darker than this (on a white page) count as ink when cropping.
_INK_THRESHOLD = 32


@dataclass(frozen=True)
class ConvNetRaster:
    """Parameters of the DeepSketch raster; a pack's manifest stores them under ``preprocess``."""

    size: int = 224          # canvas side (network input)
    content: int = 180       # side of the box the sketch is fitted into
    line_width: float = 1.5  # stroke width in normalised units (longer side = 255)
    mean: float = 0.0        # global mean of the training rasters, in 0..1, subtracted
    #: The picture's size in the canvas, as a factor: the mean of the network's training size
    #: jitter, so the view it is tested on is its typical training view, resampled as every
    #: training view is (:func:`place_in_canvas`); 1 = pasted as it is.
    scale: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "convnet_raster", **asdict(self)}


@dataclass(frozen=True)
class OrderRaster:
    """Parameters of the DSN stroke-order raster."""

    size: int = 96
    line_width: float = 6.0  # normalised units: about 2 px at 96
    mean: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "order_raster", **asdict(self)}


@dataclass(frozen=True)
class Stroke3Spec:
    """Parameters of the RNN sequence: ``scale`` fitted on training offsets, ``max_len`` = T."""

    scale: float = 1.0
    max_len: int = 128

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "stroke3", **asdict(self)}


def spec_from_dict(d: Mapping[str, Any]) -> ConvNetRaster | OrderRaster | Stroke3Spec:
    """Rebuild a spec from a manifest entry; unknown kinds or keys fail with a clear message."""
    kinds = {"convnet_raster": ConvNetRaster, "order_raster": OrderRaster, "stroke3": Stroke3Spec}
    d = dict(d)
    kind = d.pop("kind", None)
    if kind not in kinds:
        raise ValueError(f"unknown preprocessing kind {kind!r} (known: {', '.join(kinds)})")
    try:
        return kinds[kind](**d)
    except TypeError as exc:
        raise ValueError(f"bad {kind} parameters: {exc}") from None


# ----------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------
def _fit_transform(content: int, margin: float) -> tuple[float, float]:
    """Scale and offset mapping normalised units 0..255 into a ``content`` box with a margin."""
    usable = content - 1 - 2 * margin
    return usable / NORMALISED_EXTENT, margin


def _polylines(sketch: Sketch, content: int, margin: float) -> list[np.ndarray]:
    """Normalised sketch → float ``[n, 2]`` pixel coordinates (pixel centres at integers),
    fitted into the ``content`` box and centred along the shorter side."""
    norm = normalise_and_simplify(sketch)
    x0, y0, x1, y1 = norm.bounds()
    scale, off = _fit_transform(content, margin)
    centre = np.array([(NORMALISED_EXTENT - (x1 - x0)) / 2, (NORMALISED_EXTENT - (y1 - y0)) / 2])
    return [(s.points[:, :2] + centre) * scale + off for s in norm.strokes]


def _draw(size: int, lines: list[np.ndarray], colours: list[int], width: float) -> np.ndarray:
    """Polylines ``width`` pixels wide with round joins and ends (a one-point stroke is a dot),
    each later one over the earlier, into a ``size × size`` uint8 picture, anti-aliased."""
    ss = _SUPERSAMPLE
    big = Image.new("L", (size * ss, size * ss), 0)
    pen = ImageDraw.Draw(big)
    w = max(1, int(round(width * ss)))
    r = w / 2
    for xy, colour in zip(lines, colours):
        pts = xy * ss + (ss - 1) / 2  # the centre of output pixel i is the middle of its ss block
        if len(pts) > 1:
            pen.line(pts.ravel().tolist(), fill=colour, width=w)
        for x, y in pts.tolist():
            pen.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return np.asarray(big.reduce(ss))


def _require_ink(sketch: Sketch) -> None:
    if sketch.is_empty:
        raise SketchError("the sketch is empty: draw something first")


def render_sketch(sketch: Sketch, content: int, line_width: float = 1.5) -> np.ndarray:
    """Strokes → ``content × content`` uint8, ink 255 on 0, fitted and centred, aspect kept."""
    _require_ink(sketch)
    width = line_width * content / NORMALISED_EXTENT
    return _draw(content, _polylines(sketch, content, margin=width / 2), [255] * len(sketch), width)


def _area_resize(a: np.ndarray, n_out: int) -> np.ndarray:
    """Shrink axis 0 of ``a`` to ``n_out`` rows by exact area averaging: each output row is the
    mean of the input over its ``n_in / n_out``-row span, partial rows weighted by their overlap.

    What OpenCV's ``INTER_AREA`` computes (the shipped TU-Berlin model was trained on it; this
    matches it on all but a few pixels in 10^5, by one grey level), from the integral of ``a`` at
    the span edges: O(pixels), where Pillow's box filter point-samples the weights and moves thin
    lines. An integer picture is integrated in int64 at the edges only, so a 16 M-pixel page
    costs no float copy of itself; the sums are exact, hence equal to a float64 running sum.
    """
    n_in = a.shape[0]
    step = n_in / n_out
    edges = np.arange(n_out + 1) * step
    k = np.minimum(np.floor(edges).astype(np.int64), n_in - 1)
    if np.issubdtype(a.dtype, np.integer):
        rows, back = np.unique(k, return_inverse=True)
        parts = np.add.reduceat(a, rows, axis=0, dtype=np.int64)[:-1]
        below = np.concatenate([np.zeros((1,) + a.shape[1:], np.int64), np.cumsum(parts, axis=0)])
        total_k = below[back].astype(np.float64)  # the integral of a up to row k
    else:
        total = np.concatenate([np.zeros((1,) + a.shape[1:]), np.cumsum(a, axis=0)])
        total_k = total[k]
    at_edges = total_k + (edges - k)[:, None] * a[k]   # integral of a up to each edge
    return (at_edges[1:] - at_edges[:-1]) / step


def render_image(gray: np.ndarray, content: int) -> np.ndarray:
    """A scanned sketch (dark ink on a light page, uint8) → the same picture as :func:`render_sketch`.

    Inverts, crops to the ink, scales the longer side to ``content`` (area averaging, so thin
    lines stay), centres, and stretches contrast so the darkest ink maps to 255 as drawn strokes do.
    """
    gray = np.asarray(gray)
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise SketchError(f"expected a 2-D uint8 grey image, got {gray.dtype} {gray.shape}")
    ink = 255 - gray
    rows = np.flatnonzero(ink.max(axis=1) > _INK_THRESHOLD)
    cols = np.flatnonzero(ink.max(axis=0) > _INK_THRESHOLD)
    if not len(rows):
        raise SketchError("the image has no ink")
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    s = content / max(h, w)
    nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
    if s < 1:
        small = np.rint(_area_resize(_area_resize(crop, nh).T, nw).T)
        small = small.astype(np.uint8)
    else:
        small = np.asarray(Image.fromarray(np.ascontiguousarray(crop)).resize(
            (nw, nh), Image.Resampling.BILINEAR))
    peak = int(small.max())
    if peak > 0:
        small = np.rint(small * (255.0 / peak)).astype(np.uint8)
    out = np.zeros((content, content), np.uint8)
    y, x = (content - nh) // 2, (content - nw) // 2
    out[y:y + nh, x:x + nw] = small
    return out


def place_in_canvas(picture: np.ndarray, size: int, at: tuple[int, int] | None = None,
                    scale: float = 1.0) -> np.ndarray:
    """Paste a ``content``-sized picture into a ``size`` canvas at ``(row, col)``; centred if None.

    With ``scale`` ≠ 1 the picture is resized by that factor about the centre the paste would
    give it, with bilinear interpolation. That is the warp of the DeepSketch training views
    (:func:`training.deepsketch.data.augment`, OpenCV's ``INTER_LINEAR``, matched here to one grey
    level): a network trained on warped views only reads a resampled view
    better than the sharp paste (issue 16: +0.9 points on split 1's centre view)."""
    c = picture.shape[0]
    if c > size:
        raise ValueError(f"picture of {c} px does not fit a {size} px canvas")
    r0, c0 = at if at is not None else ((size - c) // 2, (size - c) // 2)
    if scale != 1.0:
        if not 0.0 < scale <= size / c:
            raise ValueError(f"scale {scale} does not fit a {c} px picture in a {size} px canvas")
        # Pillow maps output pixel centres (x + ½) by the inverse affine and samples there; these
        # coefficients put input pixel centre (c-1)/2 on output (c0 + (c-1)/2), as OpenCV does.
        # A border of zeros lets the edge pixels blend with the background as OpenCV's do.
        a, half = 1.0 / scale, (c - 1) / 2
        offset = [half - (start + half) * a + 0.5 - 0.5 * a + 1 for start in (c0, r0)]
        padded = Image.fromarray(np.pad(np.ascontiguousarray(picture), 1))
        return np.asarray(padded.transform((size, size), Image.Transform.AFFINE,
                                           (a, 0.0, offset[0], 0.0, a, offset[1]),
                                           resample=Image.Resampling.BILINEAR, fillcolor=0))
    canvas = np.zeros((size, size), np.uint8)
    canvas[r0:r0 + c, c0:c0 + c] = picture
    return canvas


def to_tensor(canvas: np.ndarray, mean: float) -> np.ndarray:
    """uint8 canvas → float32 ``[1, S, S]`` in 0..1 minus the global mean."""
    out = canvas.astype(np.float32)
    out *= np.float32(1.0 / 255.0)
    out -= np.float32(mean)
    return out[None]


def convnet_picture(source: Sketch | np.ndarray, spec: ConvNetRaster) -> np.ndarray:
    """A sketch or a grey page → the ``content`` picture (before placing and mean subtraction)."""
    if isinstance(source, Sketch):
        return render_sketch(source, spec.content, spec.line_width)
    return render_image(source, spec.content)


def convnet_input(source: Sketch | np.ndarray, spec: ConvNetRaster) -> np.ndarray:
    """The centre view the ConvNet sees: float32 ``[1, size, size]``."""
    return to_tensor(place_in_canvas(convnet_picture(source, spec), spec.size, scale=spec.scale),
                     spec.mean)


def order_canvas(sketch: Sketch, size: int = 96, line_width: float = 6.0) -> np.ndarray:
    """uint8 ``size × size`` with stroke ``i`` drawn at grey ``255 - 13·min(i, 10)``.

    The level depends only on a stroke's index, never on how many follow, so a sketch being drawn
    keeps the look of its finished self.
    """
    _require_ink(sketch)
    width = line_width * size / NORMALISED_EXTENT
    colours = [255 - 13 * min(i, 10) for i in range(len(sketch))]
    return _draw(size, _polylines(sketch, size, margin=width / 2), colours, width)


def order_raster(sketch: Sketch, spec: OrderRaster) -> np.ndarray:
    """The DSN CNN input: float32 ``[1, size, size]``."""
    return to_tensor(order_canvas(sketch, spec.size, spec.line_width), spec.mean)


def stroke3_raw(sketch: Sketch) -> np.ndarray:
    """Unscaled stroke-3 of the normalised, simplified sketch (what the scale is fitted on)."""
    _require_ink(sketch)
    return sketch_to_stroke3(normalise_and_simplify(sketch)).astype(np.float32)


def stroke3_input(sketch: Sketch, spec: Stroke3Spec) -> tuple[np.ndarray, int]:
    """The RNN input: float32 ``[max_len, 3]`` zero-padded, and the number of real rows."""
    seq = stroke3_raw(sketch)[: spec.max_len]
    out = np.zeros((spec.max_len, 3), np.float32)
    out[: len(seq), :2] = seq[:, :2] / np.float32(spec.scale)
    out[: len(seq), 2] = seq[:, 2]
    return out, len(seq)

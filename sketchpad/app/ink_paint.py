"""Drawing ink with QPainter: one place for how a stroke looks (canvas, PNG export, replay).

Points are mapped to device pixels first, so the pen width is in screen pixels whatever the
view's zoom. A stroke of constant pressure (every mouse stroke) is one anti-aliased QPainterPath;
a pressure-varying stroke is drawn segment by segment with round caps, each as wide as its
pressure says.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QTransform

from ..ink import Sketch, Stroke

INK = QColor(20, 20, 28)
PAPER = QColor(255, 255, 255)
#: Text on the paper (the empty canvas's hint): readable, but plainly not ink.
HINT_INK = QColor(120, 120, 130)
PEN_WIDTH = 3.0


def pen_width(pressure: float, base: float = PEN_WIDTH) -> float:
    """Line width for a pressure in 0..1: thin but visible at a light touch, ``base`` at 1.0."""
    return base * (0.25 + 0.75 * float(np.clip(pressure, 0.0, 1.0)))


def _pen(width: float, colour: QColor) -> QPen:
    return QPen(colour, width, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin)


def paint_segment(painter: QPainter, a: QPointF, b: QPointF, pressure: float,
                  colour: QColor = INK, base: float = PEN_WIDTH) -> None:
    """One piece of a stroke being drawn (device coordinates)."""
    painter.setPen(_pen(pen_width(pressure, base), colour))
    if a == b:
        painter.drawPoint(a)
    else:
        painter.drawLine(a, b)


def paint_stroke(painter: QPainter, stroke: Stroke, view: QTransform,
                 colour: QColor = INK, base: float = PEN_WIDTH) -> None:
    pts = [view.map(QPointF(float(x), float(y))) for x, y in stroke.points[:, :2]]
    pressure = stroke.points[:, 3]
    if len(pts) == 1:
        paint_segment(painter, pts[0], pts[0], pressure[0], colour, base)
    elif np.all(pressure == pressure[0]):
        path = QPainterPath(pts[0])
        for p in pts[1:]:
            path.lineTo(p)
        painter.setPen(_pen(pen_width(pressure[0], base), colour))
        painter.setBrush(Qt.NoBrush)
        painter.drawPath(path)
    else:
        for i in range(1, len(pts)):
            paint_segment(painter, pts[i - 1], pts[i], (pressure[i - 1] + pressure[i]) / 2,
                          colour, base)


def paint_sketch(painter: QPainter, sketch: Sketch, view: QTransform, n_strokes: int | None = None,
                 colour: QColor = INK, base: float = PEN_WIDTH) -> None:
    painter.setRenderHint(QPainter.Antialiasing, True)
    for stroke in sketch.strokes[:n_strokes]:
        paint_stroke(painter, stroke, view, colour, base)


#: A rectangle in sketch units: ``(x0, y0, x1, y1)``.
Rect = tuple[float, float, float, float]


def fit_rect(rect: Rect, width: float, height: float, margin: float = 16.0) -> QTransform:
    """``rect`` (sketch units) → a ``width × height`` box less ``margin``: centred, aspect kept.
    A rectangle of no extent (one dot) is centred at scale 1."""
    x0, y0, x1, y1 = rect
    w, h = x1 - x0, y1 - y0
    if w <= 0 and h <= 0:
        scale = 1.0
    else:
        scale = min((width - 2 * margin) / max(w, 1e-6), (height - 2 * margin) / max(h, 1e-6))
        scale = max(scale, 1e-6)        # a box smaller than its margins still maps somewhere
    dx = (width - w * scale) / 2 - x0 * scale
    dy = (height - h * scale) / 2 - y0 * scale
    return QTransform(scale, 0, 0, scale, dx, dy)


def fit_transform(sketch: Sketch, width: float, height: float, margin: float = 16.0) -> QTransform:
    """Sketch units → a ``width × height`` box, centred, aspect kept (identity for no ink)."""
    if sketch.is_empty:
        return QTransform()
    return fit_rect(sketch.bounds(), width, height, margin)


def sketch_image(sketch: Sketch, width: int, height: int, n_strokes: int | None = None,
                 view: QTransform | None = None, base: float = PEN_WIDTH) -> QImage:
    """The sketch on white paper (PNG export, the neighbour dialog and its replay)."""
    image = QImage(width, height, QImage.Format_ARGB32_Premultiplied)
    image.fill(PAPER)
    painter = QPainter(image)
    paint_sketch(painter, sketch, view if view is not None
                 else fit_transform(sketch, width, height), n_strokes, base=base)
    painter.end()
    return image


def gray_image(picture: np.ndarray, invert: bool = True) -> QImage:
    """A uint8 picture (gallery thumbnails are ink bright on dark) as a QImage, dark ink on light."""
    pic = np.ascontiguousarray(255 - picture if invert else picture, dtype=np.uint8)
    h, w = pic.shape
    return QImage(pic.data, w, h, w, QImage.Format_Grayscale8).copy()


def thumbnail_image(picture: np.ndarray, gamma: float = 0.6) -> QImage:
    """A gallery picture (ink bright on dark) as dark ink on white at full strength: the
    strongest ink becomes black and faint ink darker (``gamma``), so a raster gallery's small,
    light thumbnails (TU-Berlin's: 48 px, ink at a fifth of full scale) read as clearly as
    drawn strokes."""
    top = int(picture.max()) if picture.size else 0
    if top == 0:
        return gray_image(picture)
    lut = np.round(np.clip(np.arange(256) / top, 0.0, 1.0) ** gamma * 255).astype(np.uint8)
    return gray_image(lut[picture])


def dirty_rect(a: QPointF, b: QPointF, width: float) -> QRectF:
    """The area a segment paints, with room for its round caps and anti-aliasing."""
    pad = width / 2 + 2
    return QRectF(a, b).normalized().adjusted(-pad, -pad, pad, pad)

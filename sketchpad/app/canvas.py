"""The drawing surface: turns mouse and tablet events into ink calls, and paints ink.

It owns no drawing state of its own: strokes live in the :class:`~sketchpad.document.Document`,
the stroke being drawn in a :class:`~sketchpad.document.StrokeCapture` (STYLE.md §5, tabletcanvas).
Committed ink is kept in a backing pixmap re-rendered when the document changes; while the pen
moves only the new segment is painted into it and only that rectangle is repainted.

The drawing lives in its own coordinates, never in widget pixels: a drawing made here is on
:data:`PAGE`, Quick, Draw!'s 256 × 256 square (so it shares one space with "simplified" files),
and ``view`` maps sketch units to the widget by fitting :func:`scene_rect` — the page with the
ink on it for a drawing made here, an opened file's ink alone — centred, whenever the widget's
size or the document changes wholesale (resize, full screen, New, Open, restore). Between those
the view stays put, so nothing moves under the pen; new strokes join an opened drawing in its
units. A restored drawing is on the page when its ink is (:func:`on_page`), so it comes back
exactly where it was drawn.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRect, Qt, Signal
from PySide6.QtGui import (QImage, QMouseEvent, QPainter, QPaintEvent, QPixmap, QPointingDevice,
                           QResizeEvent, QTabletEvent, QTransform)
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..document import Document, StrokeCapture, strokes_near
from ..ink import Sketch
from . import ink_paint
from .ink_paint import Rect

PEN, ERASER = "pen", "eraser"
#: How close (in screen pixels) the eraser must come to a stroke to remove it.
ERASER_RADIUS = 8.0
#: The page a drawing made here is drawn on, in sketch units.
PAGE: Rect = (0.0, 0.0, 256.0, 256.0)
#: Screen pixels kept free around what the view fits.
MARGIN = 24.0
HINT = ("Draw here with the mouse or a pen.\n"
        "Sketchpad guesses what it is while you draw.")


def scene_rect(sketch: Sketch, page: bool = True) -> Rect:
    """What the view shows whole: the ink alone, or (``page``) the page grown evenly about its
    centre until it holds all ink. Even growth keeps the page's centre in the middle, so ink
    drawn beside the page (the canvas is wider than the page) changes nothing: the view is
    the one it was drawn in."""
    if sketch.is_empty:
        return PAGE
    x0, y0, x1, y1 = sketch.bounds()
    if not page:
        return x0, y0, x1, y1
    px0, py0, px1, py1 = PAGE
    cx, cy = (px0 + px1) / 2, (py0 + py1) / 2
    rx = max(cx - px0, cx - x0, x1 - cx)
    ry = max(cy - py0, cy - y0, y1 - cy)
    return cx - rx, cy - ry, cx + rx, cy + ry


def on_page(sketch: Sketch) -> bool:
    """Whether a drawing of unknown origin (a restored autosave) was drawn on the page: all its
    ink lies within one page's width of it (the canvas beside the page is drawable too)."""
    if sketch.is_empty:
        return True
    x0, y0, x1, y1 = sketch.bounds()
    px0, py0, px1, py1 = PAGE
    w, h = px1 - px0, py1 - py0
    return px0 - w <= x0 and py0 - h <= y0 and x1 <= px1 + w and y1 <= py1 + h


class Canvas(QWidget):
    """Draw with the mouse or a tablet pen; the pen's eraser end (or the eraser tool) erases."""

    inkMoved = Signal()      # the stroke being drawn grew (the window throttles live recognition)

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.capture = StrokeCapture()
        self.tool = PEN
        self.view = QTransform()
        self._inverse = QTransform()
        self._image: QImage | None = None
        self._ink = QPixmap()
        self._last: QPointF | None = None
        self._erasing = False
        self._erased_this_drag = False
        self._tablet_down = False
        self._clock_origin: float | None = None
        self._rendered = document.sketch
        self._just_drawn = None
        #: Whether the view fits the page with the ink (a drawing made here) or the ink alone.
        self.page = True
        #: Whether the empty-canvas hint is on screen (tests read it).
        self.hint_shown = False
        self.setAttribute(Qt.WA_TabletTracking)
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(240, 180)
        self.setCursor(Qt.CrossCursor)
        document.subscribe(self._on_document_changed)

    # --- what the window sets -------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        self.tool = tool
        self.setCursor(Qt.PointingHandCursor if tool == ERASER else Qt.CrossCursor)

    def set_image(self, image: QImage | None) -> None:
        """A page opened for raster-only classification, shown under the ink."""
        self._image = image
        self._render_ink()

    def fit_view(self) -> None:
        """Fit :func:`scene_rect` of the document into the widget, centred (called on resize and
        after a whole new drawing: New, Open, restore)."""
        self.view = ink_paint.fit_rect(scene_rect(self.document.sketch, self.page), self.width(),
                                       self.height(), MARGIN)
        self._inverse = self.view.inverted()[0]
        partial = self.capture.partial()
        if partial is not None and self._last is not None:   # resized mid-stroke: follow the ink
            x, y = partial.points[-1, :2]
            self._last = self.view.map(QPointF(float(x), float(y)))
        self._render_ink()

    def show_loaded(self, page: bool) -> None:
        """A whole new drawing is in the document (New, Open, restore): fit it — with the page
        when it was drawn on one — and let the next stroke's clock go on from its last point."""
        self.page = page
        self._clock_origin = None
        self.fit_view()

    def live_sketch(self) -> Sketch:
        """The document's sketch plus the stroke being drawn (what live recognition sees)."""
        partial = self.capture.partial()
        sketch = self.document.sketch
        return sketch.add_stroke(partial) if partial is not None else sketch

    # --- Qt events → ink calls ----------------------------------------------------------------
    def tabletEvent(self, event: QTabletEvent) -> None:
        eraser = event.pointerType() == QPointingDevice.PointerType.Eraser
        kind = event.type()
        pos, pressure, t = event.position(), event.pressure(), event.timestamp()
        if kind == QTabletEvent.TabletPress:
            self._tablet_down = True
            self._press(pos, t, pressure, eraser)
        elif kind == QTabletEvent.TabletMove and self._tablet_down:
            self._move(pos, t, pressure)
        elif kind == QTabletEvent.TabletRelease and self._tablet_down:
            self._tablet_down = False
            self._release()
        event.accept()   # no synthesized mouse event follows

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.LeftButton and not self._tablet_down:
            self._press(event.position(), event.timestamp(), 1.0, False)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.LeftButton and not self._tablet_down:
            self._move(event.position(), event.timestamp(), 1.0)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.LeftButton and not self._tablet_down:
            self._release()

    def _press(self, pos: QPointF, t_ms: float, pressure: float, eraser: bool) -> None:
        self._erasing = eraser or self.tool == ERASER
        if self._erasing:
            self._erased_this_drag = False
            self._last = pos
            self._erase_at(pos)
            return
        if self._image is not None:
            self.set_image(None)       # drawing replaces a page opened for classification
        if self._clock_origin is None or self.document.sketch.is_empty:
            last_t = (float(self.document.sketch.all_points()[:, 2].max()) + 1
                      if not self.document.sketch.is_empty else 0.0)
            self._clock_origin = t_ms - last_t
        x, y = self._to_sketch(pos)
        self.capture.begin_stroke(x, y, t_ms - self._clock_origin, pressure)
        self._last = pos
        if self.hint_shown:
            self._render_ink()         # the hint goes as soon as the pen touches
        self._paint_segment(pos, pos, pressure)

    def _move(self, pos: QPointF, t_ms: float, pressure: float) -> None:
        if self._erasing:
            self._erase_at(pos)
            return
        if not self.capture.active:
            return
        x, y = self._to_sketch(pos)
        if self.capture.add_point(x, y, t_ms - self._clock_origin, pressure):
            self._paint_segment(self._last, pos, pressure)
            self._last = pos
            self.inkMoved.emit()

    def _release(self) -> None:
        if self._erasing:
            self._erasing = False
            self._last = None
            return
        stroke = self.capture.end_stroke()
        self._last = None
        if stroke is not None:
            self._just_drawn = stroke
            self.document.add_stroke(stroke)

    def cancel_stroke(self) -> None:
        self.capture.cancel()
        self._render_ink()

    def _erase_at(self, pos: QPointF) -> None:
        """Erase what the eraser touched since the last event: the path from there to ``pos`` is
        probed every half radius, so a fast drag does not jump over a stroke."""
        start = self._last   # the press set it to the first position of this drag
        steps = max(1, math.ceil(math.dist(start.toTuple(), pos.toTuple()) / (ERASER_RADIUS / 2)))
        radius = ERASER_RADIUS / max(self.view.m11(), 1e-6)
        hits: set[int] = set()
        for i in range(steps + 1):
            x, y = self._to_sketch(start + (pos - start) * (i / steps))
            hits.update(strokes_near(self.document.sketch, x, y, radius))
        self._last = pos
        # Everything one drag erases is one undo step.
        if self.document.erase_strokes(hits, same_step=self._erased_this_drag):
            self._erased_this_drag = True

    def _to_sketch(self, pos: QPointF) -> tuple[float, float]:
        p = self._inverse.map(pos)
        return round(p.x(), 2), round(p.y(), 2)

    # --- painting ---------------------------------------------------------------------------------
    def _on_document_changed(self, sketch: Sketch) -> None:
        """Re-render, unless the change is the stroke just drawn: that is on screen already."""
        old, new = self._rendered.strokes, sketch.strokes
        if (self._just_drawn is not None and len(new) == len(old) + 1 and new[-1] is self._just_drawn
                and all(a is b for a, b in zip(old, new))):
            self._rendered = sketch
        else:
            self._render_ink()
        self._just_drawn = None

    def _paint_segment(self, a: QPointF, b: QPointF, pressure: float) -> None:
        if self._ink.isNull():
            self._render_ink()
        painter = QPainter(self._ink)
        painter.setRenderHint(QPainter.Antialiasing, True)
        ink_paint.paint_segment(painter, a, b, pressure)
        painter.end()
        self.update(ink_paint.dirty_rect(a, b, ink_paint.pen_width(pressure)).toAlignedRect())

    def _render_ink(self) -> None:
        """Re-render all committed ink (document changed, resize, view changed)."""
        if self.width() <= 0 or self.height() <= 0:
            return
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(int(self.width() * ratio), int(self.height() * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(ink_paint.PAPER)
        painter = QPainter(pixmap)
        if self._image is not None:
            scaled = self._image.scaled(self.size(), Qt.KeepAspectRatio, Qt.SmoothTransformation)
            painter.drawImage((self.width() - scaled.width()) // 2,
                              (self.height() - scaled.height()) // 2, scaled)
        ink_paint.paint_sketch(painter, self.document.sketch, self.view)
        partial = self.capture.partial()
        if partial is not None:
            ink_paint.paint_stroke(painter, partial, self.view)
        self.hint_shown = self.document.sketch.is_empty and partial is None and self._image is None
        if self.hint_shown:
            painter.setPen(ink_paint.HINT_INK)
            painter.drawText(self.rect(), Qt.AlignCenter | Qt.TextWordWrap, HINT)
        painter.end()
        self._ink = pixmap
        self._rendered = self.document.sketch
        self.update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        self.fit_view()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect: QRect = event.rect()
        painter.drawPixmap(rect, self._ink, self._source_rect(rect))
        painter.end()

    def _source_rect(self, rect: QRect) -> QRect:
        r = self._ink.devicePixelRatio()
        return QRect(int(rect.x() * r), int(rect.y() * r), int(rect.width() * r),
                     int(rect.height() * r))

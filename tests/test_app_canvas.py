"""The canvas: synthetic mouse and tablet events become strokes in the document (pytest-qt)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QInputDevice, QPointingDevice, QTabletEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from sketchpad.app.canvas import ERASER, MARGIN, PAGE, Canvas, on_page, scene_rect  # noqa: E402
from sketchpad.document import Document  # noqa: E402
from sketchpad.ink import Sketch, Stroke  # noqa: E402


@pytest.fixture
def canvas(qtbot):
    c = Canvas(Document())
    c.resize(400, 400)
    qtbot.addWidget(c)
    c.show()
    qtbot.waitExposed(c)
    return c


def pen(pointer=QPointingDevice.PointerType.Pen) -> QPointingDevice:
    return QPointingDevice("test stylus", 1, QInputDevice.DeviceType.Stylus, pointer,
                           QInputDevice.Capability.Position | QInputDevice.Capability.Pressure,
                           1, 3)


def tablet(widget, kind, device, x, y, pressure) -> QTabletEvent:
    pos = QPointF(x, y)
    buttons = Qt.NoButton if kind == QTabletEvent.TabletRelease else Qt.LeftButton
    event = QTabletEvent(kind, device, pos, widget.mapToGlobal(pos), pressure, 0.0, 0.0, 0.0,
                         0.0, 0.0, Qt.NoModifier, Qt.LeftButton, buttons)
    QApplication.sendEvent(widget, event)
    return event


def tablet_stroke(widget, device, points) -> list[QTabletEvent]:
    (x, y, p), *rest = points
    events = [tablet(widget, QTabletEvent.TabletPress, device, x, y, p)]
    events += [tablet(widget, QTabletEvent.TabletMove, device, x, y, p) for x, y, p in rest]
    events.append(tablet(widget, QTabletEvent.TabletRelease, device, *rest[-1][:2], 0.0))
    return events


def in_sketch_units(canvas, points) -> np.ndarray:
    """Widget positions → the sketch coordinates the canvas stores them in."""
    inverse = canvas.view.inverted()[0]
    return np.round([inverse.map(QPointF(*p[:2])).toTuple() for p in points], 2)


def mouse_stroke(widget, points) -> None:
    QTest.mousePress(widget, Qt.LeftButton, Qt.NoModifier, QPoint(*points[0]))
    for p in points[1:]:
        QTest.mouseMove(widget, QPoint(*p))
    QTest.mouseRelease(widget, Qt.LeftButton, Qt.NoModifier, QPoint(*points[-1]))


def test_mouse_draws_strokes_with_pressure_one(canvas):
    mouse_stroke(canvas, [(20, 20), (40, 30), (60, 45), (80, 70)])
    mouse_stroke(canvas, [(100, 100), (120, 100)])
    sketch = canvas.document.sketch
    assert len(sketch) == 2
    np.testing.assert_array_equal(sketch.strokes[0].points[:, :2], in_sketch_units(
        canvas, [(20, 20), (40, 30), (60, 45), (80, 70)]))
    assert (sketch.all_points()[:, 3] == 1.0).all()
    assert canvas.capture.partial() is None


def test_tablet_pressure_is_stored_and_events_are_accepted(canvas):
    events = tablet_stroke(canvas, pen(), [(10, 10, 0.2), (30, 20, 0.5), (50, 40, 0.9)])
    assert all(e.isAccepted() for e in events)          # so Qt synthesizes no mouse events
    (stroke,) = canvas.document.sketch.strokes
    np.testing.assert_allclose(stroke.points[:, 3], [0.2, 0.5, 0.9])
    np.testing.assert_allclose(stroke.points[:, :2],
                               in_sketch_units(canvas, [(10, 10), (30, 20), (50, 40)]))
    assert canvas.testAttribute(Qt.WA_TabletTracking)


def test_mouse_events_during_a_tablet_stroke_add_nothing(canvas):
    device = pen()
    tablet(canvas, QTabletEvent.TabletPress, device, 10, 10, 0.5)
    QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(10, 10))  # synthesized twin
    tablet(canvas, QTabletEvent.TabletMove, device, 40, 40, 0.6)
    QTest.mouseMove(canvas, QPoint(40, 40))
    tablet(canvas, QTabletEvent.TabletRelease, device, 40, 40, 0.0)
    assert len(canvas.document.sketch) == 1
    assert (canvas.document.sketch.strokes[0].points[:, 3] < 1).all()


def test_eraser_end_erases_touched_strokes_only(canvas):
    mouse_stroke(canvas, [(20, 20), (200, 20)])
    mouse_stroke(canvas, [(20, 100), (200, 100)])
    mouse_stroke(canvas, [(20, 200), (200, 200)])
    eraser = pen(QPointingDevice.PointerType.Eraser)
    tablet_stroke(canvas, eraser, [(100, 60, 1.0), (100, 98, 1.0), (100, 150, 1.0)])
    assert [s.points[0, 1] for s in canvas.document.sketch.strokes] == list(
        in_sketch_units(canvas, [(20, 20), (20, 200)])[:, 1])
    canvas.document.undo()
    assert len(canvas.document.sketch) == 3


def test_one_eraser_drag_over_several_strokes_is_one_undo_step(canvas):
    for y in (20, 100, 200, 300):
        mouse_stroke(canvas, [(20, y), (200, y)])
    canvas.set_tool(ERASER)
    mouse_stroke(canvas, [(100, 10), (100, 60), (100, 110), (100, 160), (100, 210)])  # 3 strokes
    mouse_stroke(canvas, [(150, 290), (150, 310)])                                    # another drag
    assert canvas.document.sketch.is_empty
    canvas.document.undo()
    assert [s.points[0, 1] for s in canvas.document.sketch.strokes] == list(
        in_sketch_units(canvas, [(20, 300)])[:, 1])
    canvas.document.undo()
    assert len(canvas.document.sketch) == 4
    canvas.document.undo()                                   # the pen strokes, one by one
    assert len(canvas.document.sketch) == 3


def test_eraser_tool_with_the_mouse(canvas):
    mouse_stroke(canvas, [(20, 20), (200, 20)])
    canvas.set_tool(ERASER)
    mouse_stroke(canvas, [(110, 60), (110, 22)])
    assert canvas.document.sketch.is_empty


def test_live_sketch_includes_the_stroke_being_drawn(canvas, qtbot):
    mouse_stroke(canvas, [(20, 20), (40, 40)])
    QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(100, 100))
    with qtbot.waitSignal(canvas.inkMoved):
        QTest.mouseMove(canvas, QPoint(120, 130))
    assert len(canvas.live_sketch()) == 2 and len(canvas.document.sketch) == 1
    QTest.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(120, 130))
    assert len(canvas.document.sketch) == 2


def test_ink_is_painted(canvas):
    mouse_stroke(canvas, [(50, 200), (350, 200)])
    image = canvas.grab().toImage()
    assert image.pixelColor(200, 200).lightness() < 100
    assert image.pixelColor(200, 100).lightness() > 240


def ink_box(canvas) -> tuple[float, float, float, float]:
    """The drawing's bounds on screen, in widget pixels."""
    return canvas.view.mapRect(QRectF(QPointF(*canvas.document.sketch.bounds()[:2]),
                                      QPointF(*canvas.document.sketch.bounds()[2:]))).getCoords()


def test_the_drawing_lives_on_its_page_and_the_view_refits_it_on_resize(canvas):
    # finding 1 and 2: resizing keeps the drawing whole, centred, at the same place on the page
    mouse_stroke(canvas, [(30, 40), (370, 60), (200, 370)])
    stored = canvas.document.sketch.all_points().copy()
    x0, y0, x1, y1 = canvas.document.sketch.bounds()
    assert PAGE[0] - 1 <= x0 and x1 <= PAGE[2] + 1 and PAGE[1] - 1 <= y0 and y1 <= PAGE[3] + 1
    for w, h in [(900, 500), (250, 200), (1600, 1000), (400, 400)]:
        canvas.resize(w, h)
        assert canvas.size().toTuple() == (w, h)
        np.testing.assert_array_equal(canvas.document.sketch.all_points(), stored)  # unchanged
        bx0, by0, bx1, by1 = ink_box(canvas)
        assert bx0 >= 0 and by0 >= 0 and bx1 <= w and by1 <= h               # whole
        page = canvas.view.mapRect(QRectF(0, 0, 256, 256))
        assert abs(page.center().x() - w / 2) < 1 and abs(page.center().y() - h / 2) < 1
        assert min(page.width(), page.height()) == pytest.approx(min(w, h) - 2 * MARGIN)


def test_an_opened_drawing_is_fitted_by_its_ink_alone(canvas):
    raw = Sketch((Stroke.from_xy([900, 1400, 1100], [700, 720, 1300]),))    # screen pixels
    canvas.document.load(raw)
    canvas.show_loaded(page=False)
    bx0, by0, bx1, by1 = ink_box(canvas)
    assert bx0 >= MARGIN - 1 and by0 >= MARGIN - 1 and bx1 <= 401 - MARGIN and by1 <= 401 - MARGIN
    assert max(bx1 - bx0, by1 - by0) == pytest.approx(400 - 2 * MARGIN, abs=1)


def test_scene_and_page_rules():
    dot = Sketch((Stroke.from_xy([10], [10]),))
    assert scene_rect(Sketch()) == PAGE and scene_rect(dot) == PAGE
    wide = Sketch((Stroke.from_xy([-100, 300], [50, 60]),))
    assert scene_rect(wide) == (-100, 0, 356, 256) and scene_rect(wide, page=False) == (
        -100, 50, 300, 60)                               # grown evenly about the page's centre
    assert on_page(wide) and on_page(dot)
    assert not on_page(Sketch((Stroke.from_xy([600, 900], [400, 800]),)))


def test_the_empty_canvas_shows_a_hint_until_the_pen_touches(canvas):
    assert canvas.hint_shown
    blank = canvas.grab().toImage()
    assert min(blank.pixelColor(x, y).lightness()
               for x in range(0, 400, 2) for y in range(150, 250)) < 200             # text
    QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(20, 20))
    assert not canvas.hint_shown
    QTest.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(20, 20))
    assert not canvas.hint_shown
    canvas.document.undo()
    assert canvas.hint_shown

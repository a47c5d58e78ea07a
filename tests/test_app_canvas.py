"""The canvas: synthetic mouse and tablet events become strokes in the document (pytest-qt)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QInputDevice, QPointingDevice, QTabletEvent  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from sketchpad.app.canvas import ERASER, Canvas  # noqa: E402
from sketchpad.document import Document  # noqa: E402


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
    np.testing.assert_array_equal(sketch.strokes[0].points[:, :2], [[20, 20], [40, 30], [60, 45],
                                                                     [80, 70]])
    assert (sketch.all_points()[:, 3] == 1.0).all()
    assert canvas.capture.partial() is None


def test_tablet_pressure_is_stored_and_events_are_accepted(canvas):
    events = tablet_stroke(canvas, pen(), [(10, 10, 0.2), (30, 20, 0.5), (50, 40, 0.9)])
    assert all(e.isAccepted() for e in events)          # so Qt synthesizes no mouse events
    (stroke,) = canvas.document.sketch.strokes
    np.testing.assert_allclose(stroke.points[:, 3], [0.2, 0.5, 0.9])
    np.testing.assert_allclose(stroke.points[:, :2], [[10, 10], [30, 20], [50, 40]])
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
    assert [s.points[0, 1] for s in canvas.document.sketch.strokes] == [20, 200]
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
    assert [s.points[0, 1] for s in canvas.document.sketch.strokes] == [300]
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

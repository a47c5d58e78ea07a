"""The app's plain-Python models: document and undo stack, stroke capture, eraser hit test,
SVG export (autosave: tests/test_autosave.py). No QApplication here (STYLE.md §2): these must
work without Qt."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np

from sketchpad.app.svg import sketch_to_svg, write_svg
from sketchpad.document import Document, StrokeCapture, strokes_near
from sketchpad.ink import Sketch, Stroke


def line(x0, y0, x1, y1, n=5, p=1.0) -> Stroke:
    return Stroke.from_xy(np.linspace(x0, x1, n), np.linspace(y0, y1, n),
                          np.arange(n) * 10.0, [p] * n)


def test_plain_modules_import_no_qt():
    code = ("import sys, sketchpad.document, sketchpad.app.autosave, sketchpad.app.svg; "
            "assert 'PySide6' not in sys.modules, [m for m in sys.modules if 'PySide' in m]")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_capture_builds_a_stroke_from_plain_events():
    cap = StrokeCapture()
    assert cap.partial() is None and not cap.add_point(1, 1, 0)
    cap.begin_stroke(10, 20, 0, 0.5)
    assert cap.add_point(11, 21, 8, 0.6)
    assert not cap.add_point(11, 21, 16, 0.7)          # pen did not move: nothing added
    cap.add_point(12, 22, 5, 0.8)                      # time never runs backwards
    assert len(cap.partial()) == 3 and cap.active
    stroke = cap.end_stroke()
    np.testing.assert_array_equal(stroke.points, [[10, 20, 0, 0.5], [11, 21, 8, 0.6],
                                                  [12, 22, 8, 0.8]])
    assert not cap.active and cap.end_stroke() is None


def test_undo_redo_add_erase_clear_and_dirty():
    doc = Document()
    seen: list[Sketch] = []
    doc.subscribe(seen.append)
    a, b = line(0, 0, 10, 0), line(0, 10, 10, 10)
    doc.add_stroke(a)
    doc.add_stroke(b)
    assert doc.sketch.strokes == (a, b) and doc.dirty
    doc.erase_strokes([0])
    assert doc.sketch.strokes == (b,)
    doc.clear()
    assert doc.sketch.is_empty
    assert doc.undo() and doc.sketch.strokes == (b,)
    assert doc.undo() and doc.sketch.strokes == (a, b)
    assert doc.redo() and doc.sketch.strokes == (b,)
    doc.add_stroke(a)                                   # a new edit drops the redo branch
    assert not doc.can_redo and doc.sketch.strokes == (b, a)
    assert len(seen) == 8 and seen[-1] is doc.sketch
    assert not doc.erase_strokes([])                    # nothing touched: no undo step
    assert len(seen) == 8


def test_dirty_follows_the_saved_sketch(tmp_path):
    doc = Document()
    doc.add_stroke(line(0, 0, 5, 5))
    doc.mark_saved(tmp_path / "a.ndjson")
    assert not doc.dirty
    doc.add_stroke(line(5, 5, 9, 9))
    assert doc.dirty
    doc.undo()
    assert not doc.dirty                                # back at what is on disk
    doc.load(Sketch((line(0, 0, 1, 1),)), dirty=True)  # a restored autosave is not saved
    assert doc.dirty and doc.path is None


def test_a_restored_drawing_undoes_stroke_by_stroke():
    a, b, c = line(0, 0, 1, 1), line(1, 1, 2, 2), line(2, 2, 3, 3)
    doc = Document()
    doc.load(Sketch((a, b, c), label="cat"), dirty=True)
    assert doc.can_undo and not doc.can_redo
    assert doc.undo() and doc.sketch.strokes == (a, b) and doc.sketch.label == "cat"
    assert doc.undo() and doc.undo() and doc.sketch.is_empty and not doc.can_undo
    assert doc.redo() and doc.sketch.strokes == (a,)
    doc.load(Sketch((a,)))                              # an opened file starts a new history
    assert not doc.can_undo


def test_naming_a_drawing_is_an_undoable_edit():
    doc = Document(Sketch((line(0, 0, 1, 1),)))
    doc.set_label("  cat ")
    assert doc.sketch.label == "cat" and doc.dirty
    doc.set_label("cat")                                # no change: no step
    doc.set_label("")
    assert doc.sketch.label is None
    assert doc.undo() and doc.sketch.label == "cat"
    assert doc.undo() and doc.sketch.label is None and not doc.dirty


def test_strokes_near_hits_segments_not_just_points():
    sketch = Sketch((line(0, 0, 100, 0, n=2), line(0, 50, 0, 50, n=1), line(0, 100, 100, 100)))
    assert strokes_near(sketch, 50, 3, 4) == [0]        # mid-segment, far from both points
    assert strokes_near(sketch, 2, 50, 4) == [1]        # a dot
    assert strokes_near(sketch, 50, 30, 4) == []
    assert strokes_near(sketch, 50, 50, 60) == [0, 1, 2]


def test_svg_has_one_polyline_per_stroke_with_pressure_width(tmp_path):
    sketch = Sketch((line(0, 0, 10, 10, p=1.0), line(0, 10, 10, 0, p=0.2),
                     line(3, 3, 3, 3, n=1)), label="a & b")
    root = ET.fromstring(sketch_to_svg(sketch))
    polys = root.findall(".//{http://www.w3.org/2000/svg}polyline")
    assert len(polys) == 3
    assert float(polys[0].get("stroke-width")) > float(polys[1].get("stroke-width"))
    assert polys[0].get("points").split()[0] == "0.00,0.00"
    write_svg(sketch, tmp_path / "s.svg")
    assert ET.parse(tmp_path / "s.svg").getroot().find(
        "{http://www.w3.org/2000/svg}title").text == "a & b"


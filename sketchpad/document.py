"""The drawing being edited: one :class:`Document` with one undo stack, and stroke capture.

Plain Python, no Qt (STYLE.md §2, "models are plain Python"): the canvas turns Qt events into
:class:`StrokeCapture` calls and document edits, and views subscribe to :meth:`Document.subscribe`.
Because a :class:`~sketchpad.ink.Sketch` is immutable, the undo stack is a list of whole sketches
(they share their strokes, so a snapshot costs one tuple), and "dirty" is simply "not the sketch
that was last saved or opened" — undoing back to it makes the document clean again.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .ink import Sketch, Stroke


class StrokeCapture:
    """Collects one pen-down → pen-up trace of ``(x, y, t_ms, pressure)`` points into a Stroke."""

    def __init__(self) -> None:
        self._points: list[tuple[float, float, float, float]] = []
        self._active = False

    @property
    def active(self) -> bool:
        return self._active

    def begin_stroke(self, x: float, y: float, t_ms: float, pressure: float = 1.0) -> None:
        self._points = [(float(x), float(y), float(t_ms), float(pressure))]
        self._active = True

    def add_point(self, x: float, y: float, t_ms: float, pressure: float = 1.0) -> bool:
        """Append a point; returns False (and ignores it) when no stroke is open or the pen did
        not move, so a stream of identical tablet reports adds nothing."""
        if not self._active:
            return False
        last = self._points[-1]
        if last[0] == x and last[1] == y:
            return False
        self._points.append((float(x), float(y), float(max(t_ms, last[2])), float(pressure)))
        return True

    def partial(self) -> Stroke | None:
        """The stroke so far (for live recognition while the pen is still down)."""
        return Stroke(np.array(self._points)) if self._active else None

    def end_stroke(self) -> Stroke | None:
        stroke = self.partial()
        self.cancel()
        return stroke

    def cancel(self) -> None:
        self._points = []
        self._active = False


def strokes_near(sketch: Sketch, x: float, y: float, radius: float) -> list[int]:
    """Indices of the strokes passing within ``radius`` of ``(x, y)`` (what an eraser touches)."""
    hits = []
    p = np.array([x, y])
    for i, s in enumerate(sketch.strokes):
        xy = s.points[:, :2]
        if len(xy) == 1:
            d = float(np.hypot(*(xy[0] - p)))
        else:
            a, b = xy[:-1], xy[1:]
            ab = b - a
            denom = np.einsum("ij,ij->i", ab, ab)
            t = np.clip(np.einsum("ij,ij->i", p - a, ab) / np.where(denom > 0, denom, 1), 0, 1)
            d = float(np.min(np.hypot(*(a + ab * t[:, None] - p).T)))
        if d <= radius:
            hits.append(i)
    return hits


Listener = Callable[[Sketch], None]


class Document:
    """The current sketch, its undo/redo history, the file it belongs to and whether it changed."""

    def __init__(self, sketch: Sketch | None = None, path: Path | None = None):
        self._sketch = sketch or Sketch()
        self._saved = self._sketch
        self._undo: list[Sketch] = []
        self._redo: list[Sketch] = []
        self.path = path
        self._listeners: list[Listener] = []

    # --- reading ------------------------------------------------------------------------------
    @property
    def sketch(self) -> Sketch:
        return self._sketch

    @property
    def dirty(self) -> bool:
        return self._sketch is not self._saved

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(sketch)`` after every change (edit, undo, redo, load)."""
        self._listeners.append(listener)

    # --- undoable edits -----------------------------------------------------------------------
    def add_stroke(self, stroke: Stroke) -> None:
        self._edit(self._sketch.add_stroke(stroke))

    def erase_strokes(self, indices: Iterable[int], same_step: bool = False) -> bool:
        """Remove the strokes at ``indices`` as one undo step; with ``same_step``, as part of
        the previous step (one eraser drag over several strokes is undone at once). Returns
        whether anything was erased (no step when nothing was)."""
        gone = set(indices)
        if gone:
            self._edit(self._sketch.with_strokes(
                s for i, s in enumerate(self._sketch.strokes) if i not in gone), same_step)
        return bool(gone)

    def set_label(self, label: str | None) -> None:
        """Name the drawing (Quick, Draw!'s ``word``; None or blank: no name), one undo step."""
        label = (label or "").strip() or None
        if label != self._sketch.label:
            self._edit(replace(self._sketch, label=label))

    def clear(self) -> None:
        if not self._sketch.is_empty:
            self._edit(self._sketch.with_strokes(()))

    def undo(self) -> bool:
        if not self._undo:
            return False
        self._redo.append(self._sketch)
        self._set(self._undo.pop())
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(self._sketch)
        self._set(self._redo.pop())
        return True

    # --- whole-document operations (not undoable: they start a new history) --------------------
    def load(self, sketch: Sketch, path: Path | None = None, dirty: bool = False) -> None:
        """Replace the drawing (New, Open, restore): history restarts. ``dirty`` is for a
        restored autosave, which is not saved anywhere yet: it comes back as if just drawn, one
        undo step per stroke."""
        self._redo.clear()
        self._undo[:] = ([sketch.with_strokes(sketch.strokes[:i]) for i in range(len(sketch))]
                         if dirty else [])
        self.path = path
        self._saved = Sketch() if dirty else sketch
        self._set(sketch)

    def mark_saved(self, path: Path) -> None:
        self.path = path
        self._saved = self._sketch
        self._notify()

    def _edit(self, sketch: Sketch, same_step: bool = False) -> None:
        if not (same_step and self._undo):
            self._undo.append(self._sketch)
        self._redo.clear()
        self._set(sketch)

    def _set(self, sketch: Sketch) -> None:
        self._sketch = sketch
        self._notify()

    def _notify(self) -> None:
        for listener in self._listeners:
            listener(self._sketch)

"""What the four teaching views share: the depth wording, class colours, pictures as pixmaps and
the base window that follows an :class:`~sketchpad.app.state.AppState`."""
from __future__ import annotations

import colorsys

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QWidget

from ...pack import DEPTHS
from ...runtime import LoadedPack
from ..state import AppState

#: The paper's reading of each depth (papers.md §1, Figure 4).
DEPTH_MEANINGS = {"low": "strokes and texture", "mid": "shape", "high": "meaning"}


def depth_name(depth: str) -> str:
    """``Low — strokes and texture``: the depth and the paper's reading of it."""
    return f"{depth.capitalize()} — {DEPTH_MEANINGS.get(depth, depth)}"


def depth_title(pack: LoadedPack, depth: str) -> str:
    """``Low — strokes and texture (layer 6 …)``: with the layer of *this* pack's network (the
    manifest's words: DeepSketch layers 6/11/13, DSN CNN blocks 3/4/5)."""
    layer = pack.pack.features[depth].layer if depth in pack.pack.features else ""
    return f"{depth_name(depth)} ({layer})" if layer else depth_name(depth)


def depths_of(pack: LoadedPack) -> list[str]:
    """The pack's depths in low → high order."""
    return [d for d in DEPTHS if d in pack.pack.features]


def class_colours(n: int) -> np.ndarray:
    """``[n, 3]`` uint8 colours, neighbouring class indices far apart in hue (golden ratio), so
    250 classes stay distinguishable where they meet on a map."""
    out = np.empty((n, 3), np.uint8)
    for i in range(n):
        h = (i * 0.618033988749895) % 1.0
        s, v = (0.75, 0.85) if i % 2 == 0 else (0.55, 0.65)
        out[i] = [round(255 * c) for c in colorsys.hsv_to_rgb(h, s, v)]
    return out


def qcolour(rgb: np.ndarray) -> QColor:
    return QColor(int(rgb[0]), int(rgb[1]), int(rgb[2]))


def grey_image(a: np.ndarray) -> QImage:
    """A uint8 ``[h, w]`` array as a QImage that owns its pixels (safe to make on a worker)."""
    a = np.ascontiguousarray(a, np.uint8)
    h, w = a.shape
    return QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def rgb_image(a: np.ndarray) -> QImage:
    """A uint8 ``[h, w, 3]`` array as a QImage that owns its pixels."""
    a = np.ascontiguousarray(a, np.uint8)
    h, w, _ = a.shape
    return QImage(a.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class TeachingView(QWidget):
    """A non-modal window over an AppState. Subclasses implement :meth:`refresh`, called when the
    pack or the sketch changes (and once at start); they read the state, never a main window."""

    title = "Teaching view"

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.state = state
        self.setWindowTitle(self.title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, False)
        state.packChanged.connect(self._on_pack)
        state.sketchChanged.connect(self._on_sketch)

    def _on_pack(self, _pack: object) -> None:
        self.refresh(pack_changed=True)

    def _on_sketch(self, _sketch: object) -> None:
        self.refresh(pack_changed=False)

    def refresh(self, pack_changed: bool) -> None:
        raise NotImplementedError

    @property
    def busy(self) -> bool:
        """True while background work for this view is outstanding."""
        return False

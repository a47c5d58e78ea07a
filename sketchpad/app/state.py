"""What the window is showing, as one QObject views subscribe to.

The main window owns one :class:`AppState`; the canvas, the prediction panel, the neighbour rows
and the teaching views read from it and listen to its signals, so a new view needs no change to
the others. Signals fire only on a real change.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ..ink import Sketch
from ..runtime import Analysis, LoadedPack


class AppState(QObject):
    """The current pack, the current sketch and the latest analysis of that sketch."""

    packChanged = Signal(object)      # LoadedPack | None
    sketchChanged = Signal(object)    # Sketch
    analysisReady = Signal(object)    # Analysis (always for the current sketch)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pack: LoadedPack | None = None
        self._sketch = Sketch()
        self._analysis: Analysis | None = None

    def pack(self) -> LoadedPack | None:
        return self._pack

    def sketch(self) -> Sketch:
        return self._sketch

    def analysis(self) -> Analysis | None:
        return self._analysis

    def set_pack(self, pack: LoadedPack | None) -> None:
        if pack is not self._pack:
            self._pack = pack
            self._analysis = None
            self.packChanged.emit(pack)

    def set_sketch(self, sketch: Sketch) -> None:
        if sketch is not self._sketch:
            self._sketch = sketch
            self._analysis = None
            self.sketchChanged.emit(sketch)

    def set_analysis(self, analysis: Analysis) -> None:
        self._analysis = analysis
        self.analysisReady.emit(analysis)

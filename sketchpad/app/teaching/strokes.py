""""Which strokes made it say that?": the current sketch with each stroke coloured by how much it
moves the pack's answer, and a sentence that says so ("Without stroke 3 it would say monkey").

The leave-one-stroke-out batch (:mod:`.attribution`) and the picture run on a worker; the GUI
thread shows one image and two labels.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...ink import Sketch
from ...pack import PackError
from ...runtime import LoadedPack
from ..ink_paint import PAPER, fit_transform, paint_stroke
from ..state import AppState
from .assets import AttentionSpec, probe_spec
from .attribution import SMALL, Attribution, attention_sentence, attribute
from .common import TeachingView
from .worker import Latest

PICTURE = 420
SUPPORT, AGAINST, NEUTRAL = (np.array(c, np.float64) for c in
                             ((205, 45, 35), (40, 95, 200), (190, 190, 195)))


def stroke_colour(effect: float, scale: float) -> QColor:
    """Red for a stroke that supports the answer, blue for one that argues against it, grey for
    one that hardly matters; the stronger the effect (relative to ``scale``), the deeper."""
    t = float(np.clip(abs(effect) / scale, 0, 1)) if scale > 0 else 0.0
    end = SUPPORT if effect > 0 else AGAINST
    r, g, b = NEUTRAL + t * (end - NEUTRAL)
    return QColor(int(r), int(g), int(b))


def picture(sketch: Sketch, attribution: Attribution, size: int = PICTURE) -> QImage:
    """The sketch, strokes coloured by effect, each numbered at its start (worker side)."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(PAPER)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    view = fit_transform(sketch, size, size, margin=28)
    scale = max([abs(e.effect) for e in attribution.effects] + [0.1])
    effects = {e.index: e.effect for e in attribution.effects}
    font = QFont()
    font.setPixelSize(13)
    font.setBold(True)
    painter.setFont(font)
    for i, stroke in enumerate(sketch.strokes):
        colour = stroke_colour(effects.get(i, 0.0), scale)
        paint_stroke(painter, stroke, view, colour, base=5.0)
    for i, stroke in enumerate(sketch.strokes):
        at = view.map(stroke.points[0, 0], stroke.points[0, 1])
        painter.setPen(QColor(30, 30, 30))
        painter.drawText(int(at[0]) + 4, int(at[1]) - 4, str(i + 1))
    painter.end()
    return image


def effects_text(result: Attribution, most: int = 8) -> str:
    """The strokes that matter on their own, largest effect first; the rest in one line."""
    matter = sorted((e for e in result.effects if abs(e.effect) >= SMALL or e.without != result.top),
                    key=lambda e: -abs(e.effect))
    lines = [f"stroke {e.index + 1}: {result.top} {result.top_p:.0%} → {e.top_p_without:.0%}"
             + (f", it would say <b>{e.without}</b>" if e.without != result.top else "")
             for e in matter[:most]]
    if len(matter) > most:
        lines.append(f"and {len(matter) - most} more that matter less")
    rest = len(result.effects) - len(matter)
    if rest:
        lines.append(f"{'the other' if lines else 'all'} {rest} stroke{'s' if rest > 1 else ''}: "
                     f"each moves {result.top} by less than {SMALL * 100:.0f} points")
    return "<b>Without one stroke</b>:<br>" + "<br>".join(lines) if result.effects else ""


class StrokeView(TeachingView):
    """The current sketch, coloured by what each stroke does to the answer."""

    title = "Which strokes made it say that?"

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(state, parent)
        self.work = Latest(self)
        self.work.ready.connect(self._show)
        self.work.failed.connect(lambda msg: self.sentence.setText(f"could not explain: {msg}"))
        self.attribution: Attribution | None = None
        self._attention: AttentionSpec | None = None
        self.picture = QLabel()
        self.picture.setFixedSize(PICTURE, PICTURE)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sentence = QLabel()
        self.sentence.setWordWrap(True)
        font = self.sentence.font()
        font.setPixelSize(20)
        self.sentence.setFont(font)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.key = QLabel("<span style='color:#cd2d23'>■</span> supports the answer · "
                          "<span style='color:#285fc8'>■</span> argues against it · "
                          "<span style='color:#bebec3'>■</span> hardly matters. Numbers: the "
                          "order the strokes were drawn in.")
        self.key.setWordWrap(True)
        self.attention_note = QLabel()
        self.attention_note.setWordWrap(True)
        right = QVBoxLayout()
        right.addWidget(self.sentence)
        right.addWidget(self.key)
        right.addWidget(self.details)
        right.addWidget(self.attention_note)
        right.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addWidget(self.picture)
        layout.addLayout(right, 1)
        self.resize(980, 480)
        self.refresh(pack_changed=True)

    @property
    def busy(self) -> bool:
        return self.work.busy

    def refresh(self, pack_changed: bool) -> None:
        pack, sketch = self.state.pack(), self.state.sketch()
        if pack_changed:
            self._attention = self._attention_of(pack)
        if pack is None:
            self.work.cancel()
            self.sentence.setText("No pack is loaded.")
            return
        if sketch.is_empty:
            self.work.cancel()
            self.attribution = None
            self.picture.clear()
            self.details.clear()
            self.attention_note.clear()
            self.sentence.setText("Draw a sketch: each stroke will be coloured by how much it "
                                  "made the network say what it says.")
            return
        self.sentence.setText("trying the sketch without each stroke…")
        self.work.submit(lambda: (pack, sketch, *self._compute(pack, sketch)))

    @staticmethod
    def _attention_of(pack: LoadedPack | None) -> AttentionSpec | None:
        """The DSN attention probe the pack carries (manifest only, no file read)."""
        if pack is None or "fusion" not in pack.pack.models:
            return None
        try:
            spec = probe_spec(pack.pack)
        except PackError:
            return None
        return spec.attention if spec is not None else None

    def _compute(self, pack: LoadedPack, sketch: Sketch):
        """Worker side: the attribution and its picture."""
        result = attribute(pack, sketch, self._attention)
        return result, picture(sketch, result)

    def _show(self, payload) -> None:
        pack, sketch, result, image = payload
        if pack is not self.state.pack() or sketch is not self.state.sketch():
            return
        self.attribution = result
        self.picture.setPixmap(QPixmap.fromImage(image))
        self.sentence.setText(result.sentence())
        self.details.setText(effects_text(result))
        self.attention_note.setText(attention_sentence(
            self._attention, result.attention, "fusion" in pack.pack.models,
            "probes" in pack.pack.manifest))

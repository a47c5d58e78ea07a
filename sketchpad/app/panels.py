"""What the models think: top-3 classes with bars, and the nearest gallery sketches per depth.

Thin views (STYLE.md §2): each has one ``show_*`` method fed from :class:`AppState`'s analysis,
and keeps no state beyond its widgets.
"""
from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QGridLayout, QGroupBox,
                               QHBoxLayout, QLabel, QProgressBar, QPushButton, QToolButton,
                               QVBoxLayout, QWidget)

from ..engine import Prediction
from ..pack import DEPTHS
from ..runtime import Analysis, LoadedPack
from . import ink_paint

TOP_K = 3
MODEL_TITLES = {"fusion": "Fused (DSN)", "convnet": "ConvNet (picture)", "rnn": "RNN (strokes)"}
DEPTH_TITLES = {"low": "low · strokes & texture", "mid": "mid · parts & shape",
                "high": "high · meaning"}
MATCH_COLOUR = "#2e9d4f"


class ClassBars(QGroupBox):
    """Top-k class names with a confidence bar each."""

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(title, parent)
        grid = QGridLayout(self)
        grid.setColumnStretch(1, 1)
        self.names: list[QLabel] = []
        self.bars: list[QProgressBar] = []
        self.percents: list[QLabel] = []
        for row in range(TOP_K):
            name, bar, percent = QLabel("—"), QProgressBar(), QLabel("")
            bar.setRange(0, 1000)
            bar.setTextVisible(False)      # in a label beside it: text over the fill is unreadable
            bar.setMaximumHeight(14)
            name.setMinimumWidth(110)
            percent.setMinimumWidth(48)
            percent.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
            grid.addWidget(name, row, 0)
            grid.addWidget(bar, row, 1)
            grid.addWidget(percent, row, 2)
            self.names.append(name)
            self.bars.append(bar)
            self.percents.append(percent)

    def show_top(self, top: list[tuple[str, float]]) -> None:
        for i, (name, bar, percent) in enumerate(zip(self.names, self.bars, self.percents)):
            cls, p = top[i] if i < len(top) else ("—", 0.0)
            name.setText(cls.replace("_", " "))
            bar.setValue(int(round(p * 1000)))
            percent.setText(f"{p * 100:.1f} %" if i < len(top) else "")

    def shown(self) -> list[tuple[str, float]]:
        """What the bars say, for tests: ``(label text, value 0..1)``."""
        return [(n.text(), b.value() / 1000) for n, b in zip(self.names, self.bars)]


class PredictionPanel(QWidget):
    """The fused prediction, and on request what each model on its own thinks."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.fused = ClassBars("Prediction")
        self.per_model_toggle = QCheckBox("per model")
        self.per_model_toggle.setToolTip("Show what the ConvNet and the RNN each think on their own")
        self.models: dict[str, ClassBars] = {}
        self._models_box = QVBoxLayout()
        layout.addWidget(self.fused)
        layout.addWidget(self.per_model_toggle)
        layout.addLayout(self._models_box)
        self.per_model_toggle.toggled.connect(self._toggle)
        self._prediction: Prediction | None = None

    def show_prediction(self, prediction: Prediction | None) -> None:
        self._prediction = prediction
        self.fused.show_top(prediction.top(TOP_K) if prediction else [])
        names = [m for m in ("convnet", "rnn") if prediction and m in prediction.per_model]
        for name in names:
            if name not in self.models:
                self.models[name] = ClassBars(MODEL_TITLES.get(name, name))
                self._models_box.addWidget(self.models[name])
            self.models[name].show_top(prediction.top(TOP_K, name))
        for name, bars in self.models.items():
            bars.setVisible(self.per_model_toggle.isChecked() and name in names)
            if name not in names:
                bars.show_top([])

    def _toggle(self, on: bool) -> None:
        self.show_prediction(self._prediction)


class Thumb(QToolButton):
    """One neighbour: its picture with the class name under it; a coloured frame marks a match.

    The frame is painted here rather than set by style sheet: re-polishing 24 buttons after
    every stroke costs more than the whole recognition."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setToolButtonStyle(Qt.ToolButtonTextUnderIcon)
        self.setIconSize(QSize(56, 56))
        self.setFixedSize(78, 86)
        self.setAutoRaise(True)
        self.gallery_id = -1
        self.matches = False

    def show_neighbour(self, gallery_id: int, label: str, picture: QPixmap, matches: bool,
                       distance: float) -> None:
        if gallery_id != self.gallery_id:
            self.gallery_id = gallery_id
            self.setIcon(QIcon(picture))
            self.setText(label.replace("_", " ")[:12])
        self.setToolTip(f"{label}\ngallery #{gallery_id}, distance {distance:.3f}")
        if matches != self.matches:
            self.matches = matches
            self.update()
        self.setVisible(True)

    def clear(self) -> None:
        """Show nothing (and be hidden) until the next :meth:`show_neighbour`."""
        self.gallery_id, self.matches = -1, False
        self.setVisible(False)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.matches:
            painter = QPainter(self)
            painter.setRenderHint(QPainter.Antialiasing, True)
            painter.setPen(QPen(QColor(MATCH_COLOUR), 3))
            painter.drawRoundedRect(QRectF(self.rect()).adjusted(1.5, 1.5, -1.5, -1.5), 4, 4)
            painter.end()


class NeighbourRows(QWidget):
    """Three rows (low / mid / high) of the k nearest gallery sketches."""

    neighbourClicked = Signal(int)     # gallery id
    PIXMAP_CACHE = 512

    def __init__(self, k: int = 8, parent: QWidget | None = None):
        super().__init__(parent)
        self.k = k
        self._pack: LoadedPack | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.titles: dict[str, QLabel] = {}
        self.rows: dict[str, list[Thumb]] = {}
        for depth in DEPTHS:
            title = QLabel(f"<b>{DEPTH_TITLES[depth]}</b>")
            row = QHBoxLayout()
            row.setSpacing(2)
            thumbs = []
            for _ in range(k):
                thumb = Thumb()
                thumb.clicked.connect(lambda _=False, t=thumb: self.neighbourClicked.emit(t.gallery_id))
                thumb.setVisible(False)
                row.addWidget(thumb)
                thumbs.append(thumb)
            row.addStretch(1)
            layout.addWidget(title)
            layout.addLayout(row)
            self.titles[depth], self.rows[depth] = title, thumbs

    def set_pack(self, pack: LoadedPack | None) -> None:
        self._pack = pack
        self._pixmaps: dict[int, QPixmap] = {}
        self.show_analysis(None)

    def _pixmap(self, gallery_id: int, analysis: Analysis) -> QPixmap:
        """The thumbnail as a pixmap: the worker drew the picture (``Analysis.pictures``), only
        the conversion happens here; the last ``PIXMAP_CACHE`` are kept."""
        pixmap = self._pixmaps.pop(gallery_id, None)
        if pixmap is None:
            pixmap = QPixmap.fromImage(ink_paint.gray_image(analysis.pictures[gallery_id]))
            if len(self._pixmaps) >= self.PIXMAP_CACHE:
                del self._pixmaps[next(iter(self._pixmaps))]   # the least recently shown
        self._pixmaps[gallery_id] = pixmap
        return pixmap

    def show_analysis(self, analysis: Analysis | None) -> None:
        top = analysis.prediction.top(1)[0][0] if analysis else None
        for depth, thumbs in self.rows.items():
            found = analysis.neighbours.get(depth, []) if analysis and self._pack else []
            for thumb, n in zip(thumbs, found):
                label = self._pack.gallery.label_name(n.gallery_id)
                thumb.show_neighbour(n.gallery_id, label, self._pixmap(n.gallery_id, analysis),
                                     label == top, n.distance)
            for thumb in thumbs[len(found):]:
                thumb.clear()

    def shown(self, depth: str) -> list[Thumb]:
        return [t for t in self.rows[depth] if t.gallery_id >= 0]


class NeighbourDialog(QDialog):
    """One gallery sketch, large; Replay draws it again stroke by stroke when it has strokes."""

    SIZE = 360

    def __init__(self, pack: LoadedPack, gallery_id: int, parent: QWidget | None = None,
                 interval_ms: int = 250):
        super().__init__(parent)
        gallery = pack.gallery
        self.sketch = gallery.sketch(gallery_id)
        label = gallery.label_name(gallery_id)
        self.setWindowTitle(f"{label.replace('_', ' ')} — gallery #{gallery_id}")
        self.picture = QLabel(alignment=Qt.AlignCenter)
        self.picture.setMinimumSize(self.SIZE, self.SIZE)
        info = QLabel(f"<b>{label.replace('_', ' ')}</b> · source {gallery.source_ids[gallery_id]}"
                      + (f"<br><small>{gallery.attribution}</small>" if gallery.attribution else ""))
        info.setWordWrap(True)
        self.replay_button = QPushButton("Replay")
        self.replay_button.setEnabled(self.sketch is not None and not self.sketch.is_empty)
        self.replay_button.clicked.connect(self.replay)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        buttons.addButton(self.replay_button, QDialogButtonBox.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picture)
        layout.addWidget(info)
        layout.addWidget(buttons)
        self.timer = QTimer(self, interval=interval_ms)
        self.timer.timeout.connect(self._step)
        self.shown_strokes = 0
        if self.sketch is not None and not self.sketch.is_empty:
            self._show_strokes(len(self.sketch))
        else:
            self.picture.setPixmap(QPixmap.fromImage(ink_paint.gray_image(
                gallery.picture(gallery_id, self.SIZE))))

    def replay(self) -> None:
        self._show_strokes(0)
        self.timer.start()

    def _step(self) -> None:
        self._show_strokes(self.shown_strokes + 1)
        if self.shown_strokes >= len(self.sketch):
            self.timer.stop()

    def _show_strokes(self, n: int) -> None:
        self.shown_strokes = n
        image = ink_paint.sketch_image(self.sketch, self.SIZE, self.SIZE, n_strokes=n, base=4.0)
        self.picture.setPixmap(QPixmap.fromImage(image))

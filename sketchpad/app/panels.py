"""What the models think: top-3 classes with bars, and the nearest gallery sketches per depth.

Thin views (STYLE.md §2): each has one ``show_*`` method fed from :class:`AppState`'s analysis,
and keeps no state beyond its widgets. Names are elided to the space they have (the full name
in the tooltip), and the neighbour thumbnails grow with the space the window gives them.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (QColor, QIcon, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap,
                           QResizeEvent)
from PySide6.QtWidgets import (QCheckBox, QCompleter, QDialog, QDialogButtonBox, QGridLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QProgressBar,
                               QPushButton, QScrollArea, QSizePolicy, QToolButton,
                               QVBoxLayout, QWidget)

from ..engine import Prediction
from ..pack import DEPTHS
from ..runtime import Analysis, LoadedPack
from ..words import Words
from . import ink_paint
from .trust_views import TrustBox

TOP_K = 3
MODEL_TITLES = {"fusion": "Fused (DSN)", "convnet": "ConvNet (picture)", "rnn": "RNN (strokes)"}
DEPTH_TITLES = {"low": "low · strokes & texture", "mid": "mid · parts & shape",
                "high": "high · meaning"}
MATCH_COLOUR = "#2e9d4f"
#: Neighbour thumbnails: the smallest and largest picture side in pixels.
THUMB_MIN, THUMB_MAX = 48, 128


def display_name(cls: str) -> str:
    return cls.replace("_", " ")


class ElidedLabel(QLabel):
    """A one-line label that elides its text to its width (the whole text in the tooltip) and
    can be clicked."""

    clicked = Signal(str)            # the whole text

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.full = ""
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 (Qt's name)
        self.full = text
        self.setToolTip(text if text not in ("", "—") else "")
        self._elide()

    def _elide(self) -> None:
        super().setText(self.fontMetrics().elidedText(self.full, Qt.ElideRight, self.width()))

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._elide()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.LeftButton and self.full not in ("", "—"):
            self.clicked.emit(self.full)


class ClassBars(QGroupBox):
    """Top-k class names with a confidence bar each; clicking a name picks it."""

    picked = Signal(str)             # a class name the user clicked

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(title, parent)
        grid = QGridLayout(self)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        self.names: list[ElidedLabel] = []
        self.bars: list[QProgressBar] = []
        self.percents: list[QLabel] = []
        for row in range(TOP_K):
            name, bar, percent = ElidedLabel("—"), QProgressBar(), QLabel("")
            name.clicked.connect(self.picked)
            bar.setRange(0, 1000)
            bar.setTextVisible(False)      # in a label beside it: text over the fill is unreadable
            bar.setMaximumHeight(14)
            bar.setMinimumWidth(40)
            name.setMinimumWidth(60)
            percent.setMinimumWidth(percent.fontMetrics().horizontalAdvance("100.0 %") + 4)
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
            name.setText(display_name(cls))
            bar.setValue(int(round(p * 1000)))
            percent.setText(f"{p * 100:.1f} %" if i < len(top) else "")

    def shown(self) -> list[tuple[str, float]]:
        """What the bars say, for tests: ``(label text, value 0..1)``."""
        return [(n.full, b.value() / 1000) for n, b in zip(self.names, self.bars)]


class PredictionPanel(QWidget):
    """The fused prediction, the drawing's word, and on request what each model thinks."""

    wordChosen = Signal(str)         # the word the user gave the drawing ('' for none)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.fused = ClassBars("Prediction")
        self.fused.setToolTip("Click a guess to make it the drawing's word")
        self.fused.picked.connect(self._pick)
        self.word = QLineEdit()
        self.word.setClearButtonEnabled(True)
        self.word.setToolTip("What the drawing is: saved as the Quick, Draw! \"word\". "
                             "Left empty, the best guess is saved.")
        self.word.editingFinished.connect(lambda: self.wordChosen.emit(self.word.text().strip()))
        word_row = QHBoxLayout()
        word_row.addWidget(QLabel("Word:"))
        word_row.addWidget(self.word, 1)
        self.per_model_toggle = QCheckBox("Show each model's own guess")
        self.per_model_toggle.setToolTip("What the picture model (ConvNet) and the stroke model "
                                         "(RNN) each think on their own")
        self.models: dict[str, ClassBars] = {}
        self._models_box = QVBoxLayout()
        self.trust = TrustBox()          # "not sure", what the pack knows, a second opinion
        layout.addWidget(self.fused)
        layout.addWidget(self.trust)
        layout.addLayout(word_row)
        layout.addWidget(self.per_model_toggle)
        layout.addLayout(self._models_box)
        self.per_model_toggle.toggled.connect(self._toggle)
        self._prediction: Prediction | None = None
        self.set_guess(None)

    def set_classes(self, classes: list[str]) -> None:
        """The pack's classes, offered as the word is typed."""
        completer = QCompleter(sorted(display_name(c) for c in classes), self.word)
        completer.setCaseSensitivity(Qt.CaseInsensitive)
        completer.setFilterMode(Qt.MatchContains)
        self.word.setCompleter(completer)

    def set_word(self, word: str | None) -> None:
        """Show the drawing's word (not while the user is typing one)."""
        if self.word.text() != (word or "") and not self.word.hasFocus():
            self.word.setText(word or "")

    def set_guess(self, guess: str | None) -> None:
        """The placeholder says what is saved when no word is given: the best guess."""
        self.word.setPlaceholderText(f"{display_name(guess)} (the best guess)" if guess
                                     else "name the drawing")

    def _pick(self, name: str) -> None:
        self.word.setText(name)
        self.wordChosen.emit(name)

    def show_prediction(self, prediction: Prediction | None) -> None:
        self._prediction = prediction
        self.trust.show_prediction(prediction, self.fused)
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

    def __init__(self, parent: QWidget | None = None, size: int = 56):
        super().__init__(parent)
        self.setToolButtonStyle(Qt.ToolButtonTextUnderIcon)
        self.setAutoRaise(True)
        self.gallery_id = -1
        self.matches = False
        self.label = ""
        self.set_size(size)

    def set_size(self, size: int, width: int = 0) -> None:
        """Pictures ``size`` pixels square in a button ``width`` wide (at least the picture's),
        the name elided to fit when even that is too narrow for it."""
        self.setIconSize(QSize(size, size))
        self.setFixedSize(max(size + 16, width), size + self.fontMetrics().height() + 14)
        self._elide()

    def _elide(self) -> None:
        self.setText(self.fontMetrics().elidedText(display_name(self.label), Qt.ElideRight,
                                                   self.width() - 6))

    def show_neighbour(self, gallery_id: int, label: str, picture: QPixmap, matches: bool,
                       distance: float) -> None:
        if gallery_id != self.gallery_id:
            self.gallery_id = gallery_id
            self.setIcon(QIcon(picture))
            self.label = label
            self._elide()
        where = "taught example" if Words.is_word_id(gallery_id) else f"gallery #{gallery_id}"
        self.setToolTip(f"{display_name(label)}\n{where}, distance {distance:.3f}")
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
    """Three rows (low / mid / high) of the k nearest gallery sketches, each titled on its
    left; :meth:`fit` sizes the thumbnails to the space the window gives the rows."""

    neighbourClicked = Signal(int)     # gallery id
    PIXMAP_CACHE = 512
    TITLE_WIDTH = 104
    SPACING = 2
    #: How much wider than its picture a thumbnail may grow, for its name.
    NAME_ROOM = 64

    def __init__(self, k: int = 8, parent: QWidget | None = None):
        super().__init__(parent)
        self.k = k
        self._pack: LoadedPack | None = None
        self._pixmaps: dict[tuple[int, int], QPixmap] = {}
        self._analysis: Analysis | None = None
        self.thumb_size, self.thumb_width = THUMB_MIN, 0
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.setSpacing(self.SPACING)
        self.titles: dict[str, QLabel] = {}
        self.rows: dict[str, list[Thumb]] = {}
        for r, depth in enumerate(DEPTHS):
            name, _, what = DEPTH_TITLES[depth].partition(" · ")
            title = QLabel(f"<b>{name}</b><br>{what}", wordWrap=True)
            title.setToolTip(f"Nearest gallery sketches by the network's {DEPTH_TITLES[depth]} "
                             "features")
            title.setFixedWidth(self.TITLE_WIDTH)
            grid.addWidget(title, r, 0)
            thumbs = []
            for c in range(k):
                thumb = Thumb(size=self.thumb_size)
                thumb.clicked.connect(lambda _=False, t=thumb: self.neighbourClicked.emit(t.gallery_id))
                policy = thumb.sizePolicy()
                policy.setRetainSizeWhenHidden(True)      # rows keep their place while empty
                thumb.setSizePolicy(policy)
                thumb.setVisible(False)
                grid.addWidget(thumb, r, c + 1)
                thumbs.append(thumb)
            self.titles[depth], self.rows[depth] = title, thumbs
        grid.setColumnStretch(k + 1, 1)

    def fit(self, width: int, height: int) -> None:
        """Thumbnails as large as ``width × height`` allows for three rows of ``k``, between
        :data:`THUMB_MIN` and :data:`THUMB_MAX` pixels."""
        m = self.layout().contentsMargins()
        free_w = width - m.left() - m.right() - self.TITLE_WIDTH - self.k * self.SPACING
        free_h = height - m.top() - m.bottom() - 2 * self.SPACING
        by_width = free_w / self.k - 16
        by_height = free_h / 3 - self.fontMetrics().height() - 14
        size = int(min(max(min(by_width, by_height), THUMB_MIN), THUMB_MAX))
        # Width to spare goes to the names first ("tennis-racket" needs more than a picture).
        width = int(min(max(free_w / self.k, size + 16), size + self.NAME_ROOM))
        if (size, width) != (self.thumb_size, self.thumb_width):
            self.thumb_size, self.thumb_width = size, width
            for thumbs in self.rows.values():
                for thumb in thumbs:
                    thumb.set_size(size, width)
                    thumb.gallery_id = -1          # so its picture is made again at this size
            self.show_analysis(self._analysis)

    def set_pack(self, pack: LoadedPack | None) -> None:
        self._pack = pack
        self._pixmaps = {}
        self.show_analysis(None)

    def _pixmap(self, gallery_id: int, analysis: Analysis) -> QPixmap:
        """The thumbnail at the thumbnails' size: the worker drew the picture
        (``Analysis.pictures``), only the conversion happens here; the last ``PIXMAP_CACHE``
        are kept."""
        key = (gallery_id, self.thumb_size)
        pixmap = self._pixmaps.pop(key, None)
        if pixmap is None:
            ratio = self.devicePixelRatioF()
            side = round(self.thumb_size * ratio)
            image = ink_paint.thumbnail_image(analysis.pictures[gallery_id])
            pixmap = QPixmap.fromImage(image.scaled(side, side, Qt.KeepAspectRatio,
                                                    Qt.SmoothTransformation))
            pixmap.setDevicePixelRatio(ratio)
            if len(self._pixmaps) >= self.PIXMAP_CACHE:
                del self._pixmaps[next(iter(self._pixmaps))]   # the least recently shown
        self._pixmaps[key] = pixmap
        return pixmap

    def show_analysis(self, analysis: Analysis | None) -> None:
        self._analysis = analysis
        top = analysis.prediction.top(1)[0][0] if analysis else None
        for depth, thumbs in self.rows.items():
            found = analysis.neighbours.get(depth, []) if analysis and self._pack else []
            for thumb, n in zip(thumbs, found):
                label = self._pack.label_name(n.gallery_id)
                thumb.show_neighbour(n.gallery_id, label, self._pixmap(n.gallery_id, analysis),
                                     label == top, n.distance)
            for thumb in thumbs[len(found):]:
                thumb.clear()

    def shown(self, depth: str) -> list[Thumb]:
        return [t for t in self.rows[depth] if t.gallery_id >= 0]


class NeighbourPane(QScrollArea):
    """The neighbour rows, scrolling when the window leaves them less room than the smallest
    thumbnails need, growing their thumbnails when it leaves more."""

    def __init__(self, rows: NeighbourRows, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows = rows
        self.setWidget(rows)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.NoFrame)
        self.setMinimumHeight(80)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self.rows.fit(self.viewport().width(), self.viewport().height())
        super().resizeEvent(event)


class NeighbourDialog(QDialog):
    """One gallery sketch, large; Replay draws it again stroke by stroke when it has strokes."""

    SIZE = 360

    def __init__(self, pack: LoadedPack, gallery_id: int, parent: QWidget | None = None,
                 interval_ms: int = 250):
        super().__init__(parent)
        gallery = pack.gallery
        taught = pack.words.is_word_id(gallery_id)      # an example of a word taught to the pack
        example = pack.words.example_at(gallery_id) if taught else None
        self.sketch = example[2] if example else None if taught else gallery.sketch(gallery_id)
        label = pack.label_name(gallery_id)
        where = (f"taught example {example[1] + 1}" if example else "taught example" if taught
                 else f"gallery #{gallery_id}")
        self.setWindowTitle(f"{label.replace('_', ' ')} — {where}")
        self.picture = QLabel(alignment=Qt.AlignCenter)
        self.picture.setMinimumSize(self.SIZE, self.SIZE)
        credit = "" if taught else gallery.attribution
        info = QLabel(f"<b>{label.replace('_', ' ')}</b> · source {pack.source_id(gallery_id)}"
                      + (f"<br><small>{credit}</small>" if credit else ""))
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
            picture = (np.zeros((self.SIZE, self.SIZE), np.uint8) if taught
                       else gallery.picture(gallery_id, self.SIZE))
            self.picture.setPixmap(QPixmap.fromImage(ink_paint.thumbnail_image(picture)))

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

"""What the prediction panel says about trust (issue 18): "not sure", what the pack knows, and
another pack's second opinion.

:class:`TrustBox` sits under the prediction's bars. Below the pack's threshold on ``known``
(:attr:`~sketchpad.engine.Prediction.unsure`) it says plainly that it is not sure and shows the
bars weaker (grey, smaller: :func:`weaken`), so a guess is never dressed as an answer. Its
"I know N things" button opens the vocabulary; its second-opinion button switches packs.
A thin view (STYLE.md §2): it keeps nothing but its widgets' state.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QGroupBox, QLabel, QPushButton, QVBoxLayout, QWidget

from ..engine import Prediction
from .second_opinion import Opinion

UNSURE_TEXT = "Not sure — this doesn't look like anything I know well"
UNSURE_COLOUR = "#b35c00"
WEAK_INK = "#8c8c8c"
WEAK_BAR = "#c4c4c4"
#: The weak bars' text, relative to the normal size.
WEAK_SCALE = 0.85
TITLE, WEAK_TITLE = "Prediction", "Best guesses (not sure)"


def weaken(bars: QGroupBox, weak: bool) -> None:
    """Show a box of guesses weaker (grey ink and bars, smaller text) or as it was. Changes
    only on a real change: re-styling on every stroke would cost more than recognition."""
    if bool(bars.property("weak")) == weak:
        return
    bars.setProperty("weak", weak)
    bars.setTitle(WEAK_TITLE if weak else TITLE)
    parent_palette = bars.parentWidget().palette() if bars.parentWidget() else QPalette()
    palette = QPalette(parent_palette)
    font = QFont(bars.parentWidget().font() if bars.parentWidget() else bars.font())
    if weak:
        for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
            palette.setColor(role, WEAK_INK)
        palette.setColor(QPalette.Highlight, WEAK_BAR)
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * WEAK_SCALE)
        else:                                       # a font sized in pixels
            font.setPixelSize(max(1, round(font.pixelSize() * WEAK_SCALE)))
    bars.setPalette(palette)
    bars.setFont(font)


class TrustBox(QWidget):
    """"Not sure", "I know N things" and a second opinion, for the prediction on show."""

    vocabularyRequested = Signal()
    opinionChosen = Signal(object)      # Path of the pack whose opinion was clicked

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.setSpacing(4)
        self.unsure_label = QLabel(UNSURE_TEXT, wordWrap=True)
        self.unsure_label.setObjectName("unsure")
        self.unsure_label.setStyleSheet(f"color: {UNSURE_COLOUR}; font-weight: bold;")
        self.opinion_button = QPushButton()
        self.opinion_button.setObjectName("secondOpinion")
        self.opinion_button.setStyleSheet("text-align: left; padding: 4px 8px;")
        self.opinion_button.clicked.connect(self._on_opinion_clicked)
        self.known_button = QPushButton("I know nothing yet", flat=True)
        self.known_button.setObjectName("vocabulary")
        self.known_button.setCursor(Qt.PointingHandCursor)
        self.known_button.setStyleSheet("text-align: left; color: palette(link); "
                                        "text-decoration: underline; padding: 2px 0;")
        self.known_button.setToolTip("Everything this pack can recognise, with a picture of "
                                     "each; teach it more words there")
        self.known_button.clicked.connect(self.vocabularyRequested)
        layout.addWidget(self.unsure_label)
        layout.addWidget(self.opinion_button)
        layout.addWidget(self.known_button)
        self.opinion: Opinion | None = None
        self.unsure = False
        self.unsure_label.hide()
        self.opinion_button.hide()

    def set_count(self, classes: int, words: int) -> None:
        """How many things the pack knows: its classes and the words taught to it."""
        total = classes + words
        text = f"I know {total} thing{'s' if total != 1 else ''}"
        if words:
            text += f" ({words} you taught me)"
        self.known_button.setText(text + " ›")

    def show_prediction(self, prediction: Prediction | None, bars: QGroupBox | None = None
                        ) -> None:
        """The prediction on show: unsure or not; ``bars`` (its guesses) are weakened when it
        is. A prediction the pack is sure of hides any second opinion."""
        self.unsure = prediction is not None and prediction.unsure
        if bars is not None:
            weaken(bars, self.unsure)
        self.unsure_label.setVisible(self.unsure)
        if prediction is not None:
            self.unsure_label.setToolTip(
                f"How likely this is one of the things I know: {prediction.known * 100:.0f} % "
                f"(I say I am sure from {prediction.threshold * 100:.0f} %)")
        if not self.unsure:
            self.show_opinion(None)

    def show_opinion(self, opinion: Opinion | None) -> None:
        """Another pack's confident answer (None: none), shown only while this one is unsure."""
        self.opinion = opinion if self.unsure else None
        if self.opinion is not None:
            self.opinion_button.setText(f"{self.opinion.text}  —  use that pack")
            self.opinion_button.setToolTip(
                f"The {self.opinion.title} pack is sure it knows this drawing "
                f"({self.opinion.known * 100:.0f} %). Click to switch to it.")
        self.opinion_button.setVisible(self.opinion is not None)

    def _on_opinion_clicked(self) -> None:
        if self.opinion is not None:
            self.opinionChosen.emit(Path(self.opinion.path))

"""The questions the window asks the user, in one replaceable object.

Tests pass their own :class:`Prompts` with fixed answers, so no modal box ever blocks a test run.
"""
from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


class Prompts:
    """Modal questions through QMessageBox."""

    def __init__(self, parent: QWidget | None = None):
        self.parent = parent

    def restore_drawings(self, strokes: list[int]) -> bool:
        """One question for every window that did not close properly (``strokes``: the stroke
        count of each unsaved drawing). True: restore them all, False: discard them all."""
        if len(strokes) == 1:
            text = (f"Sketchpad did not close properly last time. Restore the unsaved drawing "
                    f"({strokes[0]} stroke{'' if strokes[0] == 1 else 's'})?")
        else:
            listed = "\n".join(f"• a drawing of {n} stroke{'' if n == 1 else 's'}"
                               for n in strokes)
            text = (f"{len(strokes)} Sketchpad windows did not close properly:\n{listed}\n\n"
                    f"Restore them? Each opens in a window of its own.")
        box = QMessageBox(QMessageBox.Question, "Restore drawings?", text,
                          QMessageBox.Yes | QMessageBox.No, self.parent)
        box.button(QMessageBox.Yes).setText("Restore")
        box.button(QMessageBox.No).setText("Discard")
        box.setDefaultButton(QMessageBox.Yes)
        box.setEscapeButton(QMessageBox.Yes)     # closing the box never throws drawings away
        box.exec()
        return box.clickedButton() is not box.button(QMessageBox.No)

    def unsaved_changes(self) -> str:
        """SAVE, DISCARD or CANCEL."""
        answer = QMessageBox.warning(
            self.parent, "Unsaved drawing", "The drawing has changes that are not saved.",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)
        return {QMessageBox.Save: SAVE, QMessageBox.Discard: DISCARD}.get(answer, CANCEL)

    def error(self, title: str, text: str) -> None:
        QMessageBox.critical(self.parent, title, text)


class Unattended:
    """Answers for runs nobody watches (benchmarks, screenshots): never restore, discard on
    quit, and print errors instead of showing a box."""

    def restore_drawings(self, strokes: list[int]) -> bool:
        return False

    def unsaved_changes(self) -> str:
        return DISCARD

    def error(self, title: str, text: str) -> None:
        print(f"error: {title}: {text}")

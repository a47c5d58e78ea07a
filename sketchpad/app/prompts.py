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

    def restore_autosave(self, n_strokes: int) -> bool:
        answer = QMessageBox.question(
            self.parent, "Restore drawing?",
            f"Sketchpad did not close properly last time. Restore the unsaved drawing "
            f"({n_strokes} strokes)?", QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
        return answer == QMessageBox.Yes

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

    def restore_autosave(self, n_strokes: int) -> bool:
        return False

    def unsaved_changes(self) -> str:
        return DISCARD

    def error(self, title: str, text: str) -> None:
        print(f"error: {title}: {text}")

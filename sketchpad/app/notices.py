"""A notice across the top of the window: what the user should see, not only the status bar.

A temporary status-bar message is gone after a few seconds or at the next message, and is easy
to miss; a file that was only partly read, or a picture the pack in use cannot read, deserves a
line that stays until it is dismissed or the drawing is replaced — with, when there is one, the
button that fixes it ("Use the TU-Berlin pack").
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget


class NoticeBar(QFrame):
    """One notice at a time: a message, an optional action button, and a close button."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("notice")
        self.setFrameShape(QFrame.StyledPanel)
        self.setStyleSheet("#notice { background: #fff4d6; border: 1px solid #e0c36c; "
                           "border-radius: 4px; } #notice QLabel { color: #3a3000; }")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 4, 4)
        self.text = QLabel(wordWrap=True)
        self.text.setTextFormat(Qt.PlainText)
        self.action = QPushButton()
        self.action.hide()
        self.close_button = QToolButton(text="✕", autoRaise=True)
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self.dismiss)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.action)
        layout.addWidget(self.close_button)
        self._on_action: Callable[[], None] | None = None
        self.action.clicked.connect(self._act)
        self.hide()

    def show_notice(self, text: str, action: str = "", on_action: Callable[[], None] | None = None
                    ) -> None:
        """Show ``text``, replacing any notice on screen; ``action`` labels a button that calls
        ``on_action`` and then dismisses the notice."""
        self.text.setText(text)
        self._on_action = on_action
        self.action.setText(action)
        self.action.setVisible(bool(action and on_action))
        self.show()

    def dismiss(self) -> None:
        self._on_action = None
        self.hide()

    def _act(self) -> None:
        on_action = self._on_action
        self.dismiss()
        if on_action is not None:
            on_action()

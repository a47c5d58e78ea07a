"""Start the desktop app: ``run_app()`` (``sketchpad`` with no arguments calls it)."""
from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from .window import MainWindow


def run_app(argv: list[str] | None = None) -> int:
    """Create the QApplication and the main window, show it, run the event loop."""
    app = QApplication.instance() or QApplication(sys.argv if argv is None else ["sketchpad", *argv])
    app.setOrganizationName("Sketchpad")
    app.setApplicationName("Sketchpad")
    window = MainWindow()
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(run_app())

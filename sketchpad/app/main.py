"""Start the desktop app: ``run_app()`` (``sketchpad`` with no arguments calls it)."""
from __future__ import annotations

import argparse
import os
import sys

from PySide6.QtWidgets import QApplication

from ..words_store import WORDS_ENV
from .window import MainWindow


def run_app(argv: list[str] | None = None) -> int:
    """Create the QApplication and the main window, show it, run the event loop.

    ``--words-dir DIR`` sets where taught words live for this process: every pack the window
    loads reads ``$SKETCHPAD_WORDS`` (:func:`sketchpad.words_store.default_words_dir`)."""
    words = argparse.ArgumentParser(add_help=False)
    words.add_argument("--words-dir")
    opts, _ = words.parse_known_args(sys.argv[1:] if argv is None else argv)
    if opts.words_dir:
        os.environ[WORDS_ENV] = os.path.abspath(opts.words_dir)
    app = QApplication.instance() or QApplication(sys.argv if argv is None else ["sketchpad", *argv])
    app.setOrganizationName("Sketchpad")
    app.setApplicationName("Sketchpad")
    window = MainWindow()
    window.show()
    code = app.exec()
    if any(w.worker.isRunning() for w in app.topLevelWidgets() if isinstance(w, MainWindow)):
        # A window closed while its recognition thread was inside an analysis (it gave up
        # waiting, see MainWindow.shutdown). Destroying a running QThread aborts the process,
        # so leave now: settings and autosave were written when the window closed.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(run_app())

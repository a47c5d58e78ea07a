"""Quitting never hangs on an analysis that does not end (a 200k-point stroke took 130 s): the
worker's stop waits with a timeout, and the app leaves without joining the thread."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
from sketchpad.app.worker import RecognitionWorker  # noqa: E402
from sketchpad.ink import Sketch, Stroke  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


class Stuck:
    """A pack whose analysis runs until released."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def analyse(self, source, k):
        self.entered.set()
        self.release.wait()
        raise RuntimeError("released")


def test_stop_gives_up_on_an_analysis_that_does_not_end(qapp):
    worker = RecognitionWorker()
    stuck = Stuck()
    worker._pack = stuck
    worker.start()
    worker.request(1, Sketch((Stroke.from_xy([0, 1], [0, 1]),)))
    assert stuck.entered.wait(30)
    try:
        assert worker.stop(timeout_s=0.2) is False and worker.isRunning()
    finally:
        stuck.release.set()
    assert worker.wait(30_000)                  # once released it ends: abort was asked


def test_the_app_quits_while_an_analysis_is_stuck(tmp_path):
    code = textwrap.dedent("""
        import sys, threading
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        from sketchpad.app import worker
        from sketchpad.app.main import run_app
        from sketchpad.app.window import MainWindow
        from sketchpad.ink import Sketch, Stroke

        entered = threading.Event()
        load_packs = worker.RecognitionWorker._do

        def stuck(self, work):                      # every analysis runs for ever
            if not isinstance(work, worker._AnalysisJob):
                return load_packs(self, work)
            entered.set()
            threading.Event().wait()

        worker.RecognitionWorker._do = stuck
        app = QApplication(["sketchpad"])

        def stick():
            (w,) = [x for x in app.topLevelWidgets() if isinstance(x, MainWindow)]
            w.worker.request(1, Sketch((Stroke.from_xy([0, 1], [0, 1]),)))
            poll = QTimer(w, interval=20)
            poll.timeout.connect(lambda: entered.is_set() and w.close())
            poll.start()

        QTimer.singleShot(0, stick)
        sys.exit(run_app([]))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "recognition still running at exit" in run.stderr

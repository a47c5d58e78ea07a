"""Interpreter settings that keep the GUI thread responsive while Python workers run.

The recognition worker and the teaching views' pool threads run Python (preprocessing, search,
matplotlib figures). The GUI thread needs the GIL for every Python-level event handler, and by
default a thread that holds it is asked to let go only every 5 ms; with 1 ms the window waits
less for its turn (benchmarks/teaching_bench.py: opening the pack report stalled 58 ms at 5 ms,
41 ms at 1 ms). A full cyclic garbage collection walks every live object; objects alive once a
pack is loaded (modules, widgets, the pack) live as long as the app, so they are frozen out of it
(one collection took 58 ms on the GUI thread in benchmarks/app_latency.py). And the collector
runs on the GUI thread only (:class:`GuiThreadCollector`).
"""
from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QCoreApplication, QObject, QTimer

SWITCH_INTERVAL_S = 0.001


class GuiThreadCollector(QObject):
    """Python's cyclic garbage collector, run on the GUI thread only (automatic collection off).

    Automatic collection runs in whichever thread allocates past the threshold — often a pool
    thread building a matplotlib figure. When the cycles it frees hold Qt wrappers, their C++
    destructors then run off the GUI thread and the process dies: a segfault whose trace shows
    "Garbage-collecting" on a teaching-view worker, in one of three full test runs. A timer on the
    GUI thread does what the automatic collector would: the oldest generation whose count passed
    its threshold is collected, with the younger ones.
    """

    def __init__(self, parent: QObject, interval_ms: int = 250):
        super().__init__(parent)
        self.setObjectName(type(self).__name__)
        self.thresholds = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start(interval_ms)

    def collect_due(self) -> int:
        """Collect the generations that are due; returns how many objects were unreachable."""
        counts = gc.get_count()
        due = [g for g in range(3) if counts[g] > self.thresholds[g]]
        return gc.collect(due[-1]) if due else 0


def tune_for_interaction(app: QCoreApplication) -> None:
    """Shorter GIL hand-over interval and garbage collection on the GUI thread; call once the
    application exists (again is harmless)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    if app.findChild(GuiThreadCollector, GuiThreadCollector.__name__) is None:
        GuiThreadCollector(app)


def freeze_long_lived() -> None:
    """Move everything alive now out of the cyclic collector's reach (call after a pack load)."""
    gc.freeze()

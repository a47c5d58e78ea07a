"""Interpreter settings that keep the GUI thread responsive while Python workers run.

The recognition worker and the teaching views' pool threads run Python (preprocessing, search,
matplotlib figures). The GUI thread needs the GIL for every Python-level event handler, and by
default a thread that holds it is asked to let go only every 5 ms; with 1 ms the window waits
less for its turn (benchmarks/teaching_bench.py: opening the pack report stalled 58 ms at 5 ms,
41 ms at 1 ms). A full cyclic garbage collection walks every live object; objects alive once a
pack is loaded (modules, widgets, the pack) live as long as the app, so they are frozen out of it
(one collection took 58 ms on the GUI thread in benchmarks/app_latency.py).
"""
from __future__ import annotations

import gc
import sys

SWITCH_INTERVAL_S = 0.001


def tune_for_interaction() -> None:
    """Shorter GIL hand-over interval; call once when the window is created."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def freeze_long_lived() -> None:
    """Move everything alive now out of the cyclic collector's reach (call after a pack load)."""
    gc.freeze()

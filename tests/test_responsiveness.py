"""The app's interpreter settings: garbage collection on the GUI thread only."""
from __future__ import annotations

import gc
import threading
import weakref

from sketchpad.app.responsiveness import GuiThreadCollector, tune_for_interaction


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_collection_runs_on_the_gui_thread_only(qapp, qtbot) -> None:
    tune_for_interaction(qapp)
    tune_for_interaction(qapp)
    collectors = qapp.findChildren(GuiThreadCollector)
    assert len(collectors) == 1 and not gc.isenabled()
    collected_on: list[str] = []

    def note(phase: str, info: dict) -> None:
        if phase == "stop":
            collected_on.append(threading.current_thread().name)

    gc.callbacks.append(note)
    try:
        refs: list[weakref.ref] = []

        def make_garbage() -> None:  # a worker allocating far past every threshold
            for _ in range(20 * gc.get_threshold()[0]):
                node = _Node()
                refs.append(weakref.ref(node))
        worker = threading.Thread(target=make_garbage, name="worker")
        worker.start()
        worker.join()
        assert collected_on == [] and all(r() is not None for r in refs[-10:])
        qtbot.waitUntil(lambda: all(r() is None for r in refs), timeout=3000)
        assert collected_on and set(collected_on) == {threading.main_thread().name}
    finally:
        gc.callbacks.remove(note)

"""Latest-only background work for the teaching views (STYLE.md §5, the mandelbrot pattern).

A view hands :meth:`Latest.submit` a plain function; it runs on ``QThreadPool.globalInstance()``.
While one job runs, newer submissions replace each other, so at most one waits; a result for a
request that is no longer the latest is dropped. Results and errors arrive by signal on the GUI
thread, so the GUI never waits for a projection, a neighbour query or a figure.
"""
from __future__ import annotations

import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot


class _Relay(QObject):
    """Signals of one job; lives on the GUI thread, emitted from the pool thread (queued)."""

    finished = Signal(int, bool, object)   # request id, ok, result or error text


class _Job(QRunnable):
    def __init__(self, rid: int, fn: Callable[[], Any], relay: _Relay):
        super().__init__()
        self.rid, self.fn, self.relay = rid, fn, relay

    def run(self) -> None:
        try:
            result, ok = self.fn(), True
        except Exception as exc:  # a view shows the reason instead of dying with the thread
            traceback.print_exc()
            result, ok = f"{type(exc).__name__}: {exc}", False
        try:
            self.relay.finished.emit(self.rid, ok, result)
        except RuntimeError:  # the view was closed meanwhile; nobody wants the answer
            pass


class Latest(QObject):
    """One stream of requests of which only the newest matters."""

    ready = Signal(object)   # the result of the latest request
    failed = Signal(str)     # why the latest request failed

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._rid = 0
        self._running = False
        self._pending: Callable[[], Any] | None = None
        self._relay = _Relay(self)
        self._relay.finished.connect(self._done)

    @property
    def busy(self) -> bool:
        """True while a request is running or waiting (tests wait on this, never on time)."""
        return self._running or self._pending is not None

    def submit(self, fn: Callable[[], Any]) -> None:
        self._rid += 1
        if self._running:
            self._pending = fn
        else:
            self._start(fn)

    def cancel(self) -> None:
        """Forget outstanding work: whatever still comes back is stale."""
        self._rid += 1
        self._pending = None

    def _start(self, fn: Callable[[], Any]) -> None:
        self._running = True
        QThreadPool.globalInstance().start(_Job(self._rid, fn, self._relay))

    @Slot(int, bool, object)
    def _done(self, rid: int, ok: bool, result: object) -> None:
        self._running = False
        if self._pending is not None:
            fn, self._pending = self._pending, None
            self._start(fn)
            return
        if rid != self._rid:
            return
        if ok:
            self.ready.emit(result)
        else:
            self.failed.emit(str(result))

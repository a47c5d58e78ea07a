"""Recognition off the GUI thread: one worker, latest request wins (STYLE.md §5, mandelbrot).

The window hands :meth:`RecognitionWorker.request` an immutable sketch (or a grey page) with a
request id. Only one analysis request is kept: a newer one replaces an older one that has not
started, so while the user draws the worker computes only the latest sketch. Results and errors
come back as signals carrying the id; the window drops ids that are no longer the latest. Packs
are loaded on the same thread (a pack load goes before any waiting analysis), so the GUI thread
never opens ONNX sessions or Annoy indexes and never waits.

When the active pack is unsure of a drawing, the same thread then asks the other installed packs
(:class:`~.second_opinion.SecondOpinions`) unless a newer request is already waiting, and emits
``secondOpinion`` with the same request id: the window drops it as it drops a stale analysis.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QThread, Signal

from ..ink import Sketch
from ..runtime import LoadedPack
from .second_opinion import SecondOpinions

#: How long quitting waits for an analysis in progress before it leaves without it.
STOP_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class _PackJob:
    path: Path
    prefer_gpu: bool


@dataclass(frozen=True)
class _AnalysisJob:
    request_id: int
    source: Sketch | np.ndarray
    k: int
    submitted: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class JobTiming:
    """When an analysis was asked for, begun and done (``time.perf_counter`` seconds), and the
    CPU time the worker thread spent on it: the queue wait and the compute of
    benchmarks/app_latency.py's breakdown (on a busy machine the wall time of the compute is
    more than its CPU time: the difference is time the thread waited for a core or the GIL)."""

    submitted: float
    started: float
    finished: float
    cpu: float


#: Timings kept (of the latest requests), for benchmarks.
TIMINGS_KEPT = 64


class RecognitionWorker(QThread):
    """The one recognition thread. Start it with :meth:`start`, end it with :meth:`stop`."""

    analysed = Signal(int, object)         # request id, Analysis
    failed = Signal(int, str)              # request id, message
    packLoaded = Signal(object)            # LoadedPack
    packFailed = Signal(object, str)       # pack path, message
    #: After an unsure analysis: request id, another pack's Opinion or None (second_opinion.py).
    secondOpinion = Signal(int, object)
    opinionPackLoaded = Signal()           # another pack is ready to give second opinions

    def __init__(self, parent=None):
        super().__init__(parent)
        self._cond = threading.Condition()
        self._pack_job: _PackJob | None = None
        self._job: _AnalysisJob | None = None
        self._busy = False
        self._abort = False
        self._pack: LoadedPack | None = None
        #: Tests (STYLE.md §2 ``force_sync``): run requests on the caller's thread, at once.
        self.force_sync = False
        #: Request id → its :class:`JobTiming`, for the latest :data:`TIMINGS_KEPT` analyses.
        self.timings: dict[int, JobTiming] = {}
        #: The other packs, asked on this thread when the active pack is unsure.
        self.opinions = SecondOpinions(on_loaded=self.opinionPackLoaded.emit)
        self._pack_gpu = True

    # --- called from the GUI thread -------------------------------------------------------------
    def load_pack(self, path: Path, prefer_gpu: bool = True) -> None:
        self._submit(pack_job=_PackJob(Path(path), prefer_gpu))

    def request(self, request_id: int, source: Sketch | np.ndarray, k: int = 8) -> None:
        """Analyse ``source``; replaces any request that has not started yet."""
        self._submit(job=_AnalysisJob(request_id, source, k))

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Block until nothing is queued or running (tests and benchmarks only; the window
        never calls it). The result signals still need the event loop to be delivered."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not (self._busy or self._job or self._pack_job), timeout_s)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> bool:
        """End the thread, waiting at most ``timeout_s``. False when it is still inside an
        analysis (native code cannot be interrupted): the caller goes on without it, so that
        quitting never hangs on a huge stroke."""
        with self._cond:
            self._abort = True
            self._cond.notify_all()
        return self.wait(int(timeout_s * 1000))

    def _submit(self, job: _AnalysisJob | None = None, pack_job: _PackJob | None = None) -> None:
        if self.force_sync:
            self._do(pack_job or job)
            return
        with self._cond:
            if pack_job:
                self._pack_job = pack_job
            if job:
                self._job = job
            self._cond.notify_all()

    # --- the worker thread ------------------------------------------------------------------------
    def run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._abort or self._job or self._pack_job)
                if self._abort:
                    return
                work: _PackJob | _AnalysisJob | None
                if self._pack_job:
                    work, self._pack_job = self._pack_job, None
                else:
                    work, self._job = self._job, None
                self._busy = True
            try:
                self._do(work)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _do(self, work: _PackJob | _AnalysisJob | None) -> None:
        if isinstance(work, _PackJob):
            try:
                pack = (self.opinions.take(work.path, work.prefer_gpu)
                        or LoadedPack.open(work.path, prefer_gpu=work.prefer_gpu))
            except Exception as exc:  # a broken pack must never take the app down
                self.packFailed.emit(work.path, str(exc))
            else:
                if self._pack is not None and self._pack is not pack:
                    self.opinions.keep(self._pack, self._pack_gpu)   # switching back is free
                self._pack, self._pack_gpu = pack, work.prefer_gpu
                self.packLoaded.emit(self._pack)
        elif isinstance(work, _AnalysisJob):
            if self._pack is None:
                self.failed.emit(work.request_id, "no pack is loaded")
                return
            started, cpu = time.perf_counter(), time.thread_time()
            try:
                analysis = self._pack.analyse(work.source, work.k)
            except Exception as exc:  # shown in the status bar; the next stroke tries again
                self.failed.emit(work.request_id, str(exc))
                return
            self.timings[work.request_id] = JobTiming(work.submitted, started, time.perf_counter(),
                                                      time.thread_time() - cpu)
            if len(self.timings) > TIMINGS_KEPT:
                del self.timings[next(iter(self.timings))]
            self.analysed.emit(work.request_id, analysis)
            if analysis.prediction.unsure and not self._newer_waiting():
                try:
                    opinion = self.opinions.ask(work.source, self._pack)
                except Exception:  # a second opinion is a bonus: it never breaks recognition
                    opinion = None
                self.secondOpinion.emit(work.request_id, opinion)

    def _newer_waiting(self) -> bool:
        """A newer analysis is queued: this one's second opinion would only be dropped."""
        with self._cond:
            return self._job is not None

"""How the window feels: pen-up → prediction and neighbours shown, GUI stalls, idle CPU.

Runs the real MainWindow offscreen on each pack in resources/packs (or the tiny pack, built into
a temp folder, when there is none) and replays real Quick, Draw! drawings stroke by stroke as
synthetic mouse input, at a steady pen speed with a short pause after each stroke, like a person.

Prints per pack:
- pen-up latency: mouse release → ``analysisShown`` for that very sketch (median, p95, max),
  and the same to the end of the first paint after it;
- where that time goes, per pen-up: the GUI thread's handling of the pen-up until the request
  is queued, the queue wait (the worker busy with an earlier, live request), the compute
  (``LoadedPack.analyse``), the signal's delivery to the GUI thread, showing (the panels take
  the answer) and painting (the window's next UpdateRequest);
- the GUI thread's longest stall while drawing (gaps of a 2 ms heartbeat QTimer, less 2 ms);
- idle CPU: process CPU time over 3 s with the window open and nothing happening.
Targets: p95 ≤ 16 ms (one frame), stall < 16 ms, idle CPU ≈ 0.

With ``--second-opinion`` every installed pack sits beside the one measured, and the drawings are
of classes that pack lacks but another has (issue 18): the measured pack is mostly unsure, so
after each answer the worker asks the other packs. It prints, besides the above, pen-up → second
opinion shown (the trust box takes the other pack's answer, or that there is none) over the
pen-ups whose final sketch was unsure. The other packs are loaded (once, lazily) before
measuring. Target: second opinion p95 < 50 ms.

    python benchmarks/app_latency.py [--drawings 20] [--point-ms 8] [--pause-ms 250]
                                     [--second-opinion] [PACK ...]
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from common import DATA, machine, print_table, wait, window_on_pack  # noqa: E402
from sketchpad.app.window import MainWindow  # noqa: E402
from sketchpad.ink import Sketch, iter_ndjson  # noqa: E402
from sketchpad.pack import builtin_packs_dir, discover_packs, load_pack  # noqa: E402

HEARTBEAT_MS = 2
STAGES = ("pen-up handling", "queue wait", "compute", "signal delivery", "show", "paint")
#: Request id → (when the window's result slot began, perf_counter s; the GUI thread's CPU
#: seconds in it), filled by the hook below.
SLOT: dict[int, tuple[float, float]] = {}


def _hook_result_slot() -> None:
    """Time ``MainWindow._on_analysed``: its start is the moment the worker's signal has been
    delivered to the GUI thread (patched on the class before any window connects to it)."""
    original = MainWindow._on_analysed

    def timed(self, request_id, analysis):
        entered, cpu = time.perf_counter(), time.thread_time()
        try:
            return original(self, request_id, analysis)
        finally:
            SLOT[request_id] = (entered, time.thread_time() - cpu)

    MainWindow._on_analysed = timed


class PaintClock(QObject):
    """Runs the window's UpdateRequests (where Qt paints every changed widget) itself, to time
    them; ``on_paint(start, end, cpu)`` hears of each."""

    def __init__(self, window, on_paint):
        super().__init__(window)
        self.window, self.on_paint = window, on_paint
        window.installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802 (Qt's name)
        if obj is self.window and event.type() == QEvent.UpdateRequest:
            start, cpu = time.perf_counter(), time.thread_time()
            obj.event(event)
            self.on_paint(start, time.perf_counter(), time.thread_time() - cpu)
            return True
        return False


def real_drawings(classes: list[str], n: int) -> list[Sketch]:
    """Raw Quick, Draw! drawings of the pack's classes (any class when none is there)."""
    raw = DATA / "quickdraw" / "raw"
    files = [raw / f"{c}.ndjson" for c in classes if (raw / f"{c}.ndjson").exists()]
    files = files or sorted(raw.glob("*.ndjson"))[:10]
    per = max(1, -(-n // len(files)))
    found = [d for f in files for d in itertools.islice(iter_ndjson(f), per) if len(d) > 1]
    rng = np.random.default_rng(0)
    return [found[i] for i in rng.permutation(len(found))[:n]]


def input_script(drawing: Sketch, width: int, height: int, point_ms: int, pause_ms: int):
    """(kind, QPoint, delay after) events drawing ``drawing`` fitted into the canvas."""
    x0, y0, x1, y1 = drawing.bounds()
    scale = min((width - 80) / max(x1 - x0, 1), (height - 80) / max(y1 - y0, 1))
    for stroke in drawing.strokes:
        pts = [QPoint(int(40 + (x - x0) * scale), int(40 + (y - y0) * scale))
               for x, y in stroke.points[:, :2]]
        yield "press", pts[0], point_ms
        for p in pts[1:]:
            yield "move", p, point_ms
        yield "release", pts[-1], pause_ms


class Run:
    """Drive one window through a script of events on timers, measuring as it goes."""

    def __init__(self, app: QApplication, window: MainWindow, script):
        self.app, self.w, self.script = app, window, iter(script)
        self.latencies: list[float] = []        # pen-up → shown, ms
        self.painted: list[float] = []          # pen-up → painted, ms
        self.stages: list[tuple[float, ...]] = []   # per pen-up, ms, in STAGES order
        self.cpu: list[tuple[float, float, float]] = []  # per pen-up: compute, show, paint CPU ms
        self.superseded = 0
        self.gaps: list[float] = []
        #: Pen-up → second opinion shown, ms, and whether another pack answered.
        self.opinions: list[tuple[float, bool]] = []
        #: The pen-up waiting for its second opinion: request id, release time (ms).
        self._asked: tuple[int, float] | None = None
        #: The pen-up waiting for its answer: request id, release time, shown time (s).
        self._pending: list | None = None
        self._last_beat = 0.0
        self.done = False
        window.analysisShown.connect(self._on_shown)
        window.words_ui.opinionShown.connect(self._on_opinion)
        self.paint_clock = PaintClock(window, self._on_paint)
        self.beat = QTimer(interval=HEARTBEAT_MS, timerType=Qt.PreciseTimer)
        self.beat.timeout.connect(self._on_beat)
        self.step = QTimer(singleShot=True, timerType=Qt.PreciseTimer)
        self.step.timeout.connect(self._next)

    def start(self) -> None:
        self._last_beat = self._now()
        self.beat.start()
        self.step.start(0)

    def finish(self) -> None:
        self.beat.stop()
        self.paint_clock.deleteLater()
        self.w.removeEventFilter(self.paint_clock)

    @staticmethod
    def _now() -> float:
        return time.perf_counter() * 1e3

    def _on_beat(self) -> None:
        now = self._now()
        self.gaps.append(now - self._last_beat)
        self._last_beat = now

    def _on_shown(self, analysis) -> None:
        pending = self._pending
        if pending and analysis is not None and pending[2] is None:
            if self.w._request_id == pending[0]:
                pending[2] = self._now()
                self.latencies.append(pending[2] - pending[1])

    def _on_opinion(self, opinion) -> None:
        if self._asked is not None and self.w.latest_request == self._asked[0]:
            self.opinions.append((self._now() - self._asked[1], opinion is not None))
            self._asked = None

    def _on_paint(self, start: float, end: float, cpu: float) -> None:
        pending = self._pending
        if not pending or pending[2] is None:
            return
        request_id, released, shown = pending
        self._pending = None
        self.painted.append(end * 1e3 - released)
        timing, slot = self.w.worker.timings.get(request_id), SLOT.get(request_id)
        if timing is None or slot is None:
            return
        at = [released / 1e3, timing.submitted, timing.started, timing.finished, slot[0],
              shown / 1e3, end]
        self.stages.append(tuple((b - a) * 1e3 for a, b in zip(at, at[1:])))
        self.cpu.append((timing.cpu * 1e3, slot[1] * 1e3, cpu * 1e3))

    def _next(self) -> None:
        try:
            kind, point, delay = next(self.script)
        except StopIteration:
            self.beat.stop()
            self.done = True
            return
        self.step.start(delay)          # schedule first, so handling time is not added
        canvas = self.w.canvas
        if kind == "press":
            if self._pending:           # the previous pen-up's answer never came in time
                self.superseded += self._pending[2] is None
                self._pending = None
            self._asked = None
            QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, point)
        elif kind == "move":
            QTest.mouseMove(canvas, point)
        else:
            t0 = self._now()
            self._pending = [None, t0, None]
            QTest.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, point)
            self._pending[0] = self.w._request_id
            self._asked = (self.w._request_id, t0)


def drive(app: QApplication, w: MainWindow, events) -> "Run":
    w.document.clear()
    run = Run(app, w, events)
    run.start()
    wait(app, lambda: run.done, 600)
    wait(app, lambda: run._pending is None, 5)
    run.finish()
    return run


def bench_pack(app: QApplication, pack_dir: Path, args, others: list[Path] = ()) -> None:
    pack = load_pack(pack_dir)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        w = window_on_pack(pack_dir, Path(tmp), others=others)
        if not wait(app, lambda: w.state.pack() is not None, 300):
            print(f"{pack.name}: pack did not load: {w.statusBar().currentMessage()}")
            return
        load_s = time.perf_counter() - t
        provider = w.state.pack().engine.provider
        if others:
            # Classes another pack has and this one lacks: this pack is unsure, the other may not be.
            theirs = {c for o in others for c in load_pack(o).classes} - set(pack.classes)
            drawings = real_drawings(sorted(theirs), args.drawings)
        else:
            drawings = real_drawings(pack.classes, args.drawings)
        size = w.canvas.size()
        # a fresh canvas for every drawing: clear between them (an undoable edit, like a user)
        per_drawing = [list(input_script(d, size.width(), size.height(), args.point_ms,
                                         args.pause_ms)) for d in drawings]
        if others:            # warm up: the other packs load once, lazily, before measuring
            t = time.perf_counter()
            drive(app, w, per_drawing[0])
            wait(app, lambda: len(w.worker.opinions.loaded()) == len(others), 300)
            print(f"  other packs loaded for second opinions in {time.perf_counter() - t:.2f} s "
                  f"(while drawing the warm-up drawing): {len(w.worker.opinions.loaded())}")
        runs = []
        for events in per_drawing:
            runs.append(drive(app, w, events))
        lat = np.array([x for r in runs for x in r.latencies])
        painted = np.array([x for r in runs for x in r.painted])
        stages = np.array([s for r in runs for s in r.stages])
        cpu = np.array([c for r in runs for c in r.cpu])
        gaps = np.array([g for r in runs for g in r.gaps])
        superseded = sum(r.superseded for r in runs) + sum(
            r._pending is not None and r._pending[2] is None for r in runs)
        wait(app, lambda: False, 0.5)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        wait_idle(app, 3.0)
        idle_cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
        n_strokes = sum(len(d) for d in drawings)
        print(f"pack {pack.name} ({len(pack.classes)} classes, models "
              f"{'+'.join(sorted(pack.models))}) on {provider.label}; loaded in {load_s:.2f} s")
        print(f"  {len(drawings)} real drawings, {n_strokes} strokes, "
              f"{sum(map(len, per_drawing))} input events at {args.point_ms} ms per point")
        if len(lat):
            print(f"  pen-up -> predictions+neighbours shown: median {np.median(lat):.1f} ms, "
                  f"p95 {np.percentile(lat, 95):.1f} ms, max {lat.max():.1f} ms "
                  f"(n={len(lat)}, superseded {superseded})   target p95 <= 16 ms")
        if len(painted):
            print(f"  pen-up -> painted: median {np.median(painted):.1f} ms, "
                  f"p95 {np.percentile(painted, 95):.1f} ms, max {painted.max():.1f} ms")
        if len(stages):
            # The p95 pen-ups: what their time went to, beside each stage's own median and p95.
            total = stages[:, :5].sum(axis=1)
            slow = stages[total >= np.percentile(total, 95)]
            # CPU time of our own threads in the stages that compute (the rest is waiting).
            own = {"compute": 0, "show": 1, "paint": 2}
            rows = [(name, float(np.median(stages[:, i])), float(np.percentile(stages[:, i], 95)),
                     float(stages[:, i].max()), float(slow[:, i].mean()),
                     f"{np.median(cpu[:, own[name]]):.2f} / {np.percentile(cpu[:, own[name]], 95):.2f}"
                     if name in own else "—")
                    for i, name in enumerate(STAGES)]
            rows.append(("pen-up → shown (sum)", float(np.median(total)),
                         float(np.percentile(total, 95)), float(total.max()),
                         float(slow[:, :5].sum(axis=1).mean()), "—"))
            print(f"  breakdown over {len(stages)} pen-ups (ms):")
            print_table(["stage", "median", "p95", "max", "mean in the slowest 5 %",
                         "CPU median / p95"], rows)
        opinions = np.array([o for r in runs for o in r.opinions]).reshape(-1, 2)
        if others and len(opinions):
            ms = opinions[:, 0]
            print(f"  pen-up -> second opinion shown: median {np.median(ms):.1f} ms, "
                  f"p95 {np.percentile(ms, 95):.1f} ms, max {ms.max():.1f} ms (n={len(ms)} unsure "
                  f"pen-ups, another pack answered {int(opinions[:, 1].sum())})   target p95 < 50 ms")
        print(f"  GUI thread longest stall while drawing: {max(gaps.max() - HEARTBEAT_MS, 0):.1f} ms"
              f" (p99 gap {np.percentile(gaps, 99):.1f} ms, {int((gaps > 16 + HEARTBEAT_MS).sum())} of "
              f"{len(gaps)} gaps over 16 ms)   target < 16 ms")
        print(f"  idle CPU: {idle_cpu * 100:.2f} % of one core over 3 s   target ~ 0")
        w.document.load(Sketch())
        w.close()
        w.shutdown()


def wait_idle(app: QApplication, seconds: float) -> None:
    """Run the event loop without polling, as the real app would sit idle."""
    timer = QTimer(singleShot=True)
    timer.timeout.connect(app.quit)
    timer.start(int(seconds * 1000))
    app.exec()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packs", nargs="*", type=Path, help="pack folders (default: resources/packs)")
    parser.add_argument("--drawings", type=int, default=20)
    parser.add_argument("--point-ms", type=int, default=8, help="time between pen samples")
    parser.add_argument("--pause-ms", type=int, default=250, help="pause after each stroke")
    parser.add_argument("--second-opinion", action="store_true",
                        help="install every pack beside the measured one and draw classes only "
                             "another pack knows (issue 18's second opinion)")
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    _hook_result_slot()
    print(machine())
    packs = args.packs or [e.path for e in discover_packs(builtin_packs_dir()) if e.pack]
    with tempfile.TemporaryDirectory() as tmp:
        if not packs:
            from training.tiny_pack import build_tiny_pack
            print("no pack in resources/packs: building the tiny test pack")
            packs = [build_tiny_pack(Path(tmp) / "tiny", DATA)]
        installed = [e.path for e in discover_packs(builtin_packs_dir()) if e.pack]
        for pack_dir in packs:
            others = ([o for o in installed if o.resolve() != Path(pack_dir).resolve()]
                      if args.second_opinion else [])
            bench_pack(app, pack_dir, args, others)
    return 0


if __name__ == "__main__":
    sys.exit(main())

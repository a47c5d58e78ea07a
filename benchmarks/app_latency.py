"""How the window feels: pen-up → prediction and neighbours shown, GUI stalls, idle CPU.

Runs the real MainWindow offscreen on each pack in resources/packs (or the tiny pack, built into
a temp folder, when there is none) and replays real Quick, Draw! drawings stroke by stroke as
synthetic mouse input, at a steady pen speed with a short pause after each stroke, like a person.

Prints per pack:
- pen-up latency: mouse release → ``analysisShown`` for that very sketch (median, p95, max);
- the GUI thread's longest stall while drawing (gaps of a 2 ms heartbeat QTimer, less 2 ms);
- idle CPU: process CPU time over 3 s with the window open and nothing happening.
Targets: p95 < 50 ms, stall < 16 ms, idle CPU ≈ 0.

    python benchmarks/app_latency.py [--drawings 20] [--point-ms 8] [--pause-ms 250] [PACK ...]
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

from PySide6.QtCore import QElapsedTimer, QPoint, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from common import DATA, wait, window_on_pack  # noqa: E402
from sketchpad.app.window import MainWindow  # noqa: E402
from sketchpad.ink import Sketch, iter_ndjson  # noqa: E402
from sketchpad.pack import builtin_packs_dir, discover_packs, load_pack  # noqa: E402

HEARTBEAT_MS = 2


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
        self.latencies: list[float] = []
        self.superseded = 0
        self.gaps: list[float] = []
        self._pending: tuple[int, float] | None = None
        self._clock = QElapsedTimer()
        self._last_beat = 0.0
        self.done = False
        window.analysisShown.connect(self._on_shown)
        self.beat = QTimer(interval=HEARTBEAT_MS, timerType=Qt.PreciseTimer)
        self.beat.timeout.connect(self._on_beat)
        self.step = QTimer(singleShot=True, timerType=Qt.PreciseTimer)
        self.step.timeout.connect(self._next)

    def start(self) -> None:
        self._clock.start()
        self._last_beat = self._now()
        self.beat.start()
        self.step.start(0)

    def _now(self) -> float:
        return self._clock.nsecsElapsed() / 1e6

    def _on_beat(self) -> None:
        now = self._now()
        self.gaps.append(now - self._last_beat)
        self._last_beat = now

    def _on_shown(self, analysis) -> None:
        if self._pending and analysis is not None:
            request_id, t0 = self._pending
            if self.w._request_id == request_id:
                self.latencies.append(self._now() - t0)
                self._pending = None

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
                self.superseded += 1
                self._pending = None
            QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, point)
        elif kind == "move":
            QTest.mouseMove(canvas, point)
        else:
            t0 = self._now()
            QTest.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, point)
            self._pending = (self.w._request_id, t0)


def bench_pack(app: QApplication, pack_dir: Path, args) -> None:
    pack = load_pack(pack_dir)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        w = window_on_pack(pack_dir, Path(tmp))
        if not wait(app, lambda: w.state.pack() is not None, 300):
            print(f"{pack.name}: pack did not load: {w.statusBar().currentMessage()}")
            return
        load_s = time.perf_counter() - t
        provider = w.state.pack().engine.provider
        drawings = real_drawings(pack.classes, args.drawings)
        size = w.canvas.size()
        # a fresh canvas for every drawing: clear between them (an undoable edit, like a user)
        per_drawing = [list(input_script(d, size.width(), size.height(), args.point_ms,
                                         args.pause_ms)) for d in drawings]
        runs = []
        for events in per_drawing:
            w.document.clear()
            run = Run(app, w, events)
            run.start()
            wait(app, lambda: run.done, 600)
            wait(app, lambda: run._pending is None, 5)
            runs.append(run)
        lat = np.array([x for r in runs for x in r.latencies])
        gaps = np.array([g for r in runs for g in r.gaps])
        superseded = sum(r.superseded for r in runs) + sum(r._pending is not None for r in runs)
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
                  f"(n={len(lat)}, superseded {superseded})   target p95 < 50 ms")
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
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    packs = args.packs or [e.path for e in discover_packs(builtin_packs_dir()) if e.pack]
    with tempfile.TemporaryDirectory() as tmp:
        if not packs:
            from training.tiny_pack import build_tiny_pack
            print("no pack in resources/packs: building the tiny test pack")
            packs = [build_tiny_pack(Path(tmp) / "tiny", DATA)]
        for pack_dir in packs:
            bench_pack(app, pack_dir, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

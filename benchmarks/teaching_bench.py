"""How fluid the teaching views stay: the GUI's longest stall while each view opens and works.

A 5 ms heartbeat timer runs on the GUI thread; the longest gap between two beats is the longest
time the window could not draw. The real main window runs with the pack loaded (so one-time Qt
costs the app pays at start-up are not charged to a view); each view is opened from its Teach
menu action, then driven: new drawings are loaded (each recognised as in the app), the depth
explorer's query changes, the map is hovered and zoomed. The benchmark pack has 20,000 gallery
sketches of 345 Quick, Draw! classes (a tiny convnet trained briefly), so the map and the
345 × 345 confusion matrix are beyond TU-Berlin's size (20,000 sketches, 250 classes). An idle run of the event loop gives the baseline: on a
loaded machine the operating system alone stalls the GUI thread now and then.

    python benchmarks/teaching_bench.py [--pack DIR] [--size 20000]

``--pack DIR`` uses the pack in DIR, or builds the benchmark pack there when DIR has none.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))   # run as a script from anywhere


def build_bench_pack(out: Path, size: int = 20000, steps: int = 40) -> Path:
    """A pack at teaching scale: ``size`` gallery sketches over all 345 Quick, Draw! classes here
    (the larger classes give more drawings), with a real confusion matrix, per-class accuracy and
    accuracy versus strokes drawn measured on its own gallery (labelled as such)."""
    import torch
    from torch import nn

    from sketchpad import preprocess as pp
    from sketchpad.datasets.quickdraw import iter_ndjson
    from training.export import Gallery, ModelExport, write_pack
    from training.tiny_pack import ORDER, TinyConvNet

    files = sorted((DATA / "quickdraw" / "simplified").glob("*.ndjson"))
    cap = 600
    names, sketches, labels = [], [], []
    for label, f in enumerate(files):
        names.append(f.stem)
        for i, s in enumerate(iter_ndjson(f)):
            if i >= cap:
                break
            sketches.append(s)
            labels.append(label)
    keep = np.sort(np.random.default_rng(0).permutation(len(sketches))[:size])
    sketches, labels = [sketches[i] for i in keep], [labels[i] for i in keep]
    images = torch.from_numpy(np.stack([pp.order_raster(s, ORDER) for s in sketches]))
    y = torch.tensor(labels)
    torch.manual_seed(0)
    conv = TinyConvNet(len(names), width=16, embed=64)
    opt = torch.optim.Adam(conv.parameters(), lr=3e-3)
    for step in range(steps):
        idx = torch.randint(0, len(y), (512,))
        loss = nn.functional.cross_entropy(conv(images[idx])[0], y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    conv.eval()
    with torch.no_grad():
        logits, low, mid, high, _ = conv(images)
        pred = logits.argmax(1).numpy()
        sub = np.arange(0, len(sketches), max(1, len(sketches) // 2000))
        curve = {}
        for frac in (0.25, 0.5, 0.75, 1.0):
            part = torch.from_numpy(np.stack([pp.order_raster(sketches[i].prefix(frac), ORDER)
                                              for i in sub]))
            curve[str(frac)] = float((conv(part)[0].argmax(1).numpy() == y.numpy()[sub]).mean())
    cm = np.zeros((len(names), len(names)), np.int64)
    np.add.at(cm, (y.numpy(), pred), 1)
    protocol = "benchmark pack: its own gallery (training data), not a held-out measurement"
    per_class_acc = {n: float(cm[i, i] / max(cm[i].sum(), 1)) for i, n in enumerate(names)}
    feats = {"low": low.numpy(), "mid": mid.numpy(), "high": high.numpy()}
    return write_pack(
        out, name="bench", title=f"Benchmark pack ({len(sketches):,} sketches)",
        dataset={"name": "quickdraw-subset"}, classes=names,
        models=[ModelExport("convnet", conv, {"image": images[:2]},
                            ("logits", "feat_low", "feat_mid", "feat_high", "embedding"),
                            ORDER.to_dict())],
        features={d: {"output": f"feat_{d}", "layer": d, "metric": "angular"} for d in feats},
        gallery=Gallery(labels=np.array(labels), source_ids=[s.source_id for s in sketches],
                        attribution="Quick, Draw! dataset, Google Inc., CC BY 4.0",
                        stroke3=[pp.stroke3_raw(s) for s in sketches]),
        gallery_features=feats,
        metrics={"gallery_accuracy": {"value": float((pred == y.numpy()).mean()),
                                      "protocol": protocol}},
        training={"command": "benchmarks/teaching_bench.py"}, n_trees=10,
        extra={"confusion_matrix": {"value": cm.tolist(), "protocol": protocol},
               "per_class_accuracy": {"value": per_class_acc, "protocol": protocol},
               "accuracy_vs_fraction": {"value": curve, "protocol": protocol}})


class Heartbeat:
    """The longest gap between 5 ms timer ticks on the GUI thread since :meth:`reset`: in wall
    time (what a user sees, the machine's other load included) and in the GUI thread's own CPU
    time (``time.thread_time``: what our code cost in that gap, however busy the machine)."""

    def __init__(self):
        from PySide6.QtCore import QTimer
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._beat)
        self.reset()
        self.timer.start()

    def reset(self) -> None:
        self.last, self.last_cpu = time.perf_counter(), time.thread_time()
        self.longest = self.longest_cpu = 0.0

    def _beat(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.longest = max(self.longest, now - self.last)
        self.longest_cpu = max(self.longest_cpu, cpu - self.last_cpu)
        self.last, self.last_cpu = now, cpu


def run_until(app, done, limit_s: float = 120.0, settle_s: float = 0.1) -> float:
    """Run the event loop until ``done()`` has held for ``settle_s``; returns seconds taken."""
    from PySide6.QtCore import QEventLoop, QTimer
    t0 = time.perf_counter()
    loop = QEventLoop()
    since = [None]

    def check():
        now = time.perf_counter()
        if done():
            since[0] = since[0] or now
            if now - since[0] >= settle_s:
                loop.quit()
        else:
            since[0] = None
        if now - t0 > limit_s:
            loop.quit()
    timer = QTimer()
    timer.timeout.connect(check)
    timer.start(2)
    loop.exec()
    return time.perf_counter() - t0 - settle_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", type=Path, help="a pack folder (built there when it has none)")
    ap.add_argument("--size", type=int, default=20000, help="gallery size of a built pack")
    ap.add_argument("--screenshots", type=Path, help="also save docs pictures of each view here")
    ap.add_argument("--sketch", help="Quick, Draw! class to draw from (default: a gallery sketch)")
    args = ap.parse_args()
    from PySide6.QtCore import QPoint, QPointF, Qt, QThreadPool
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from common import window_on_pack
    from sketchpad.app.teaching import VIEWS, DepthExplorer, EmbeddingMap, PackReport
    from sketchpad.ink import Sketch

    pack_dir = args.pack or Path(tempfile.mkdtemp()) / "bench"
    if not (pack_dir / "manifest.json").is_file():
        t = time.perf_counter()
        build_bench_pack(pack_dir, args.size)
        print(f"built the benchmark pack in {pack_dir} in {time.perf_counter() - t:.0f} s")
    app = QApplication.instance() or QApplication([])
    window = window_on_pack(pack_dir, Path(tempfile.mkdtemp()))
    run_until(app, lambda: window.state.pack() is not None, limit_s=300)
    state = window.state
    pack = state.pack()
    n = len(pack.gallery)
    drawn = [pack.gallery.sketch(i) for i in range(0, n, max(1, n // 20))]
    drawn = [Sketch(s.strokes) for s in drawn if s is not None]
    if args.sketch or not drawn:   # raster-only galleries (TU-Berlin): draw Quick, Draw! ink
        from sketchpad.datasets.quickdraw import iter_ndjson
        name = args.sketch or next(c for c in pack.pack.classes
                                   if (DATA / "quickdraw" / "simplified" / f"{c}.ndjson").is_file())
        found = iter_ndjson(DATA / "quickdraw" / "simplified" / f"{name.replace(' ', '_')}.ndjson")
        drawn = [Sketch(s.strokes) for _, s in zip(range(21), found)]
    if drawn:
        window.document.load(drawn[0])
    run_until(app, lambda: state.analysis() is not None)
    beat = Heartbeat()
    threads = QThreadPool.globalInstance().maxThreadCount()
    print(f"pack {pack.name}: {n:,} gallery sketches, {len(pack.pack.classes)} classes; "
          f"{threads} worker threads")
    print(f"{'view / action':48s} {'ready (ms)':>10s} {'longest GUI stall (ms)':>23s} "
          f"{'longest GUI CPU slice (ms)':>26s}")

    def report(name: str, seconds: float) -> None:
        print(f"{name:48s} {1000 * seconds:10.0f} {1000 * beat.longest:23.1f} "
              f"{1000 * beat.longest_cpu:26.1f}")

    beat.reset()
    run_until(app, lambda: False, limit_s=2.0, settle_s=0.0)
    report("idle event loop for 2 s (baseline)", 2.0)
    views = {}
    for _, cls in VIEWS:
        run_until(app, lambda: True)
        beat.reset()
        t0 = time.perf_counter()
        window.teach_actions[cls.__name__].trigger()
        view = views[cls] = window.teaching_views[cls]
        run_until(app, lambda: not view.busy)
        report(f"open {cls.__name__}", time.perf_counter() - t0)

    if len(drawn) > 1:
        beat.reset()
        t0 = time.perf_counter()
        for s in drawn[1:]:           # the user keeps drawing: 20 new sketches back to back
            window.document.load(s)
            app.processEvents()
        run_until(app, lambda: not any(v.busy for v in views.values()))
        report(f"{len(drawn) - 1} sketch changes, all views open", time.perf_counter() - t0)

    explorer = views[DepthExplorer]
    beat.reset()
    t0 = time.perf_counter()
    for i in range(0, n, max(1, n // 30)):   # spinning through gallery queries
        explorer.show_gallery_sketch(i)
        app.processEvents()
    run_until(app, lambda: not explorer.busy)
    report("depth explorer: 30 gallery queries in a row", time.perf_counter() - t0)

    panel = next(iter(views[EmbeddingMap].panels.values()))
    beat.reset()
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    for _ in range(200):
        QTest.mouseMove(panel, QPoint(int(rng.integers(0, panel.width())),
                                      int(rng.integers(0, panel.height()))))
        panel.repaint()
    report("map: 200 hover moves, each repainted", time.perf_counter() - t0)
    beat.reset()
    t0 = time.perf_counter()
    centre = QPointF(panel.width() / 2, panel.height() / 2)
    for _ in range(10):
        ev = QWheelEvent(centre, panel.mapToGlobal(centre), QPoint(), QPoint(0, 120),
                         Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                         Qt.ScrollPhase.NoScrollPhase, False)
        app.sendEvent(panel, ev)
        app.processEvents()
    run_until(app, lambda: not panel.busy)
    report("map: 10 wheel zooms (re-rasterised)", time.perf_counter() - t0)
    pack_report = views[PackReport]
    beat.reset()
    t0 = time.perf_counter()
    for tab in pack_report.figure_tabs.values():   # each figure is drawn when first shown
        if pack_report.tabs.isTabVisible(pack_report.tabs.indexOf(tab)):
            pack_report.tabs.setCurrentWidget(tab)
            run_until(app, lambda: not pack_report.busy, settle_s=0.0)
    report("report: every figure tab shown once", time.perf_counter() - t0)
    pack_report.tabs.setCurrentIndex(0)
    t0 = time.perf_counter()
    for _ in range(20):
        panel.repaint()
    print(f"map repaint ({n:,} points, {panel.width()}×{panel.height()}): "
          f"{1000 * (time.perf_counter() - t0) / 20:.2f} ms each")
    if args.screenshots:
        window.document.load(drawn[0])
        explorer.source.setCurrentIndex(0)
        save_screenshots(app, views, args.screenshots, drawn)
    window.close()
    window.shutdown()


def save_screenshots(app, views: dict, out: Path, drawn: list) -> None:
    """One picture per view (several for the map, the report's tabs and the challenge), with a
    hover preview on the map and a challenge round played with the drawings ``drawn``."""
    from PySide6.QtCore import QPoint
    from PySide6.QtTest import QTest

    from sketchpad.app.teaching import (ChallengeMode, DepthExplorer, EmbeddingMap, NetworkView,
                                        PackReport, StrokeView)
    out.mkdir(parents=True, exist_ok=True)
    for view in views.values():
        if isinstance(view, EmbeddingMap):
            for panel in view.panels.values():
                panel.mouseDoubleClickEvent(None)      # whole map again after the zooms
        run_until(app, lambda: not view.busy, settle_s=0.5)
    views[DepthExplorer].grab().save(str(out / "teach_depth.png"))
    emap = views[EmbeddingMap]
    for i in range(emap.method.count()):
        emap.method.setCurrentIndex(i)
        run_until(app, lambda: not emap.busy and bool(emap.placements), settle_s=0.5)
        panel = emap.panels[list(emap.panels)[-1]]
        placement = emap.placements.get(panel.depth)
        if placement is not None:    # hover the current sketch's nearest gallery neighbour
            target = panel.frame().to_pixels(panel.positions[placement.neighbours[0]])
            QTest.mouseMove(panel, QPoint(int(target[0]), int(target[1])))
            run_until(app, lambda: True, settle_s=0.3)
        name = "teach_map.png" if emap.current_method() == "tsne" else "teach_map_pca.png"
        emap.grab().save(str(out / name))
    views[NetworkView].grab().save(str(out / "teach_network.png"))
    views[StrokeView].grab().save(str(out / "teach_strokes.png"))
    report = views[PackReport]
    names = {"results": 0}
    for key in ("confusion_matrix", "per_class_accuracy", "hardest_confusions",
                "accuracy_vs_fraction", "calibration"):
        names[key] = report.tabs.indexOf(report.figure_tabs[key])
    names["all"] = report.tabs.count() - 1
    for name, i in names.items():
        if not report.tabs.isTabVisible(i):
            continue
        report.tabs.setCurrentIndex(i)
        run_until(app, lambda: not report.busy, settle_s=0.3)
        report.grab().save(str(out / f"teach_report_{name}.png"))
    play_challenge(app, views[ChallengeMode], drawn, out)
    print(f"screenshots in {out}")


def play_challenge(app, view, drawn: list, out: Path) -> None:
    """A round played stroke by stroke with real Quick, Draw! drawings of each word, on a clock
    that moves a second per stroke; pictures mid-turn and of the results. The round's words are
    drawn (first seed that works) from the classes Quick, Draw! has, so each can be played."""
    from sketchpad.app.teaching.challenge import PAUSE
    from sketchpad.app.teaching.game import pick_words
    from sketchpad.datasets.quickdraw import iter_ndjson
    from sketchpad.ink import Stroke
    from training.teaching_drawing import shared_classes

    pack = view.state.pack()
    files = shared_classes(pack.pack.classes, DATA / "quickdraw" / "simplified")
    view.seed = next(seed for seed in range(1000)
                     if all(w in files for w in pick_words(pack.pack.classes, seed=seed)))
    now = [0.0]
    view.clock = lambda: now[0]
    view.start_round()
    view.timer.stop()
    shot = False
    for turn in view.round.turns:
        drawing = next(s for s in iter_ndjson(files[turn.word]) if len(s.strokes) > 2)
        for j, stroke in enumerate(drawing.strokes):
            if not view.round.playing:
                break
            now[0] += 1.0                    # a second to draw each stroke
            view.tick()
            view.document.add_stroke(Stroke(stroke.points))
            run_until(app, lambda: not view.busy, settle_s=0.05)
            if not shot and j >= 1 and view.round.playing:   # mid-turn, still guessing
                view.grab().save(str(out / "teach_challenge_play.png"))
                shot = True
        if view.round.playing:
            now[0] += 30
            view.tick()
        now[0] += PAUSE
        view.tick()
    run_until(app, lambda: not view.busy and len(view.results) > 0, settle_s=0.5)
    view.grab().save(str(out / "teach_challenge_results.png"))


if __name__ == "__main__":
    main()

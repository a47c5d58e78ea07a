"""Cold start from source: a fresh Python process until the main window is shown and until the
first prediction is back (offscreen Qt), its resident memory then, and its CPU use while idle.
Targets: < 2 s from source (``bundle_bench.py`` times the bundle, target < 3 s).

    python benchmarks/startup_bench.py [--runs 5] [--idle 3]

Each run is a new interpreter (imports, Qt, onnxruntime sessions, memory-mapped indexes all cold
to the process, though the OS file cache is warm after the first run: the first run is shown too).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from common import ROOT, bench_packs, machine, print_table

# Runs in the child; prints "T <event> <unix time>" marks and "M <event> <value>" measures.
CHILD = r"""
import sys, time
def mark(event): print("T", event, time.time(), flush=True)
def rss_mb():
    try:
        import psutil
        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(["sketchpad"])
try:
    from sketchpad.app.main import MainWindow
except ImportError as exc:
    print("M window n/a", exc, flush=True)
else:
    window = MainWindow()
    window.show()
    app.processEvents()
    mark("window")
from sketchpad.ink import iter_ndjson
from sketchpad.runtime import LoadedPack
loaded = LoadedPack.open(sys.argv[1])
loaded.analyse(next(iter_ndjson(sys.argv[2])))
mark("prediction")
print("M rss_mb", rss_mb(), flush=True)
cpu0, t0 = time.process_time(), time.time()
QTimer.singleShot(int(float(sys.argv[3]) * 1000), app.quit)
app.exec()
print("M idle_cpu_percent", 100 * (time.process_time() - cpu0) / (time.time() - t0), flush=True)
"""


def one_run(pack_dir: str, idle: float) -> dict[str, float | str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    sample = str(ROOT / "resources" / "samples" / "selftest.ndjson")
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD, pack_dir, sample, str(idle)], env=env,
                         capture_output=True, text=True, check=True).stdout
    got: dict[str, float | str] = {}
    for line in out.splitlines():
        kind, name, *rest = line.split(" ", 2)
        if kind == "T":
            got[name] = float(rest[0]) - t0
        elif kind == "M":
            try:
                got[name] = float(rest[0])
            except ValueError:
                got[name] = " ".join(rest)
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle", type=float, default=3.0, help="seconds of idle event loop measured")
    args = ap.parse_args()
    print(f"machine: {machine()}\n")
    rows = []
    for pack in bench_packs():
        runs = [one_run(str(pack.path), args.idle) for _ in range(args.runs)]

        def stat(key: str) -> str:
            vals = [r[key] for r in runs if isinstance(r.get(key), float)]
            return (f"{statistics.median(vals):.2f} (first {vals[0]:.2f})" if vals
                    else str(runs[0].get(key, "n/a")))
        rows.append([pack.name, stat("window"), stat("prediction"), stat("rss_mb"),
                     stat("idle_cpu_percent")])
    print_table(["pack", "to window shown, s", "to first prediction, s", "RSS MB",
                 "idle CPU %"], rows)


if __name__ == "__main__":
    main()

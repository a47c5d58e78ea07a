"""What every benchmark script shares: which packs to measure, a timer, a table, the machine.

Benchmarks measure the shipped packs in ``resources/packs`` when there are any, else a tiny pack
built on the fly (the one the tests use), so every script runs on a fresh checkout.
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sketchpad.pack import Pack, builtin_packs_dir, discover_packs, load_pack  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
TINY = Path(tempfile.gettempdir()) / "sketchpad-bench" / "tiny"


def bench_packs() -> list[Pack]:
    """The valid shipped packs; else the tiny pack (built once, kept in the temp folder)."""
    packs = [e.pack for e in discover_packs(builtin_packs_dir()) if e.pack is not None]
    if packs:
        return packs
    try:
        return [load_pack(TINY)]
    except Exception:  # absent or stale: rebuild
        from training.tiny_pack import build_tiny_pack
        print(f"(no shipped packs in {builtin_packs_dir()}: building the tiny pack in {TINY})",
              file=sys.stderr)
        return [load_pack(build_tiny_pack(TINY, DATA))]


def time_ms(fn: Callable[[], object], repeat: int, warmup: int = 3) -> np.ndarray:
    """Wall time of ``fn`` in milliseconds, ``repeat`` times after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = np.empty(repeat)
    for i in range(repeat):
        t0 = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - t0) * 1e3
    return out


def median_p95(ms: Sequence[float]) -> tuple[float, float]:
    return float(statistics.median(ms)), float(np.percentile(ms, 95))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table (pastes straight into benchmarks/README.md)."""
    cells = [[f"{c:.3g}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")


def machine() -> str:
    """CPU model, cores, load and library versions: benchmark figures mean nothing without them."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import onnxruntime
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"{cpu}, {os.cpu_count()} cores (load {load}), Python {platform.python_version()}, "
            f"onnxruntime {onnxruntime.__version__}, {platform.system()} {platform.release()}")


def window_on_pack(pack_dir: Path, tmp: Path, width: int = 1280, height: int = 860,
                   others: Sequence[Path] = ()):
    """The real main window over ``pack_dir`` alone (linked into ``tmp/packs``), with throw-away
    settings and data folders and unattended prompts, shown; its pack loads on the worker (wait
    for ``window.state.pack()``). What the window-driving benchmarks and screenshots share.
    ``others`` are installed beside it (for second opinions); ``pack_dir`` is the one in use."""
    from PySide6.QtCore import QSettings

    from sketchpad.app.prompts import Unattended
    from sketchpad.app.window import MainWindow
    (tmp / "packs").mkdir(parents=True, exist_ok=True)
    for folder in (pack_dir, *others):
        (tmp / "packs" / folder.name).symlink_to(Path(folder).resolve(), target_is_directory=True)
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("pack", str(tmp / "packs" / pack_dir.name))
    window = MainWindow(pack_dirs=[tmp / "packs"], data_dir=tmp / "data", prompts=Unattended(),
                        settings=settings)
    window.resize(width, height)
    window.show()
    return window


def wait(app, condition: Callable[[], bool], timeout_s: float) -> bool:
    """Run the event loop until ``condition()`` or ``timeout_s``; returns ``condition()``."""
    end = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.001)
    return condition()


"""``sketchpad --self-test``: prove an install (or a PyInstaller bundle) works, end to end.

Loads every pack it finds, classifies the bundled sample drawings (``resources/samples/``, drawn by
code, not taken from a dataset), searches at each depth, and prints one summary line per pack.
Exit 0 when every pack passes; 4 when there is no pack or one is broken; 3 when the sample is
unreadable; 1 when only the window failed. ``--gui`` also builds the main window (offscreen works), which proves the bundle's Qt.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from .cli import EXIT_INPUT, EXIT_OK, EXIT_PACK, pack_dirs
from .ink import Sketch, SketchError, iter_ndjson
from .pack import PackEntry, PackError, builtin_packs_dir, discover_packs

#: Exit code when the packs pass but the main window could not be built.
EXIT_GUI = 1
#: Two drawings made by code: a five-pointed star (one stroke) and a triangle (three strokes).
SAMPLE = builtin_packs_dir().parent / "samples" / "selftest.ndjson"


def check_pack(entry: PackEntry, samples: list[Sketch]) -> str:
    """Open the pack as every command does (:func:`~sketchpad.runtime.open_pack`), classify every
    sample, search every depth; returns the summary, raises :class:`PackError` on failure."""
    from .runtime import open_pack
    t0 = time.perf_counter()
    loaded = open_pack(entry)
    load_ms = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    guesses = []
    for sketch in samples:
        result = loaded.analyse(sketch, k=3)
        missing = [d for d in loaded.searcher.indexes if len(result.neighbours.get(d, [])) == 0]
        if missing:
            raise PackError(f"pack {loaded.name!r}: no neighbours at depth {', '.join(missing)}")
        guesses.append(f"{sketch.label}->{result.prediction.top(1)[0][0]}")
    run_ms = (time.perf_counter() - t0) * 1e3 / len(samples)
    return (f"{loaded.name}: ok, {len(loaded.pack.classes)} classes, depths "
            f"{'/'.join(loaded.searcher.indexes)}, {loaded.engine.provider.label}, "
            f"load {load_ms:.0f} ms, {run_ms:.1f} ms per drawing ({', '.join(guesses)})")


def check_gui() -> str:
    """Build and show the main window once, on whatever Qt platform is set (offscreen in CI)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication
    from .app.main import MainWindow
    app = QApplication.instance() or QApplication(["sketchpad"])
    window = MainWindow()
    window.show()
    app.processEvents()
    title = window.windowTitle()
    window.close()
    return f"gui: ok, main window {title!r} on Qt platform {app.platformName()}"


def run_self_test(packs_dir: Path | None = None, gui: bool = False) -> int:
    """Print a summary and return the exit code (0 when everything passed)."""
    try:
        samples = list(iter_ndjson(SAMPLE))
    except SketchError as exc:
        print(f"self-test FAILED: sample unreadable: {exc}")
        return EXIT_INPUT
    dirs = pack_dirs(packs_dir)
    entries = list(discover_packs(*dirs))
    if not entries:
        print(f"self-test FAILED: no packs in {' or '.join(map(str, dirs))}")
        return EXIT_PACK
    broken = 0
    for entry in entries:
        try:
            print(check_pack(entry, samples))
        except PackError as exc:  # reported, and the others go on (anything else is a bug)
            print(f"{entry.name}: FAILED: {exc}")
            broken += 1
    gui_failed = False
    if gui:
        try:
            print(check_gui())
        except Exception as exc:
            print(f"gui: FAILED: {type(exc).__name__}: {exc}")
            gui_failed = True
    ok = not broken and not gui_failed
    print(f"self-test {'passed' if ok else 'FAILED'}: {len(entries)} pack(s), {broken} broken"
          + (f", window {'FAILED' if gui_failed else 'ok'}" if gui else ""))
    return EXIT_PACK if broken else EXIT_GUI if gui_failed else EXIT_OK

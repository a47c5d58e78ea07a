"""The PyInstaller bundle: size on disk of ``dist/sketchpad`` and the wall time of
``dist/sketchpad/sketchpad --self-test`` (and ``--self-test --gui``), offscreen.
Targets: bundle < 300 MB, start < 3 s.

    pyinstaller --noconfirm build.spec && python benchmarks/bundle_bench.py [--dist dist/sketchpad]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, machine, print_table


def size_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def largest(folder: Path, n: int = 8) -> list[tuple[str, float]]:
    files = [f for f in folder.rglob("*") if f.is_file() and not f.is_symlink()]
    files.sort(key=lambda f: f.stat().st_size, reverse=True)
    return [(str(f.relative_to(folder)), f.stat().st_size / 2**20) for f in files[:n]]


def start_seconds(exe: Path, args: list[str], runs: int) -> tuple[float, float, int]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    times, code = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        code = subprocess.run([str(exe), *args], env=env, capture_output=True).returncode
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times[0], code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dist", type=Path, default=ROOT / "dist" / "sketchpad")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    exe = args.dist / ("sketchpad.exe" if sys.platform == "win32" else "sketchpad")
    if not exe.is_file():
        sys.exit(f"{exe} is not there: run `pyinstaller --noconfirm build.spec` first")
    print(f"machine: {machine()}\n")
    size = size_bytes(args.dist)
    rows: list[list[object]] = [["size on disk", f"{size / 1e6:.1f} MB ({size / 2**20:.1f} MiB)", ""]]
    for argv in (["--self-test"], ["--self-test", "--gui"]):
        med, first, code = start_seconds(exe, argv, args.runs)
        rows.append([f"sketchpad {' '.join(argv)}", f"{med:.2f} s (first {first:.2f} s)",
                     f"exit {code}"])
    print_table(["bundle", "value", "note"], rows)
    print("\nlargest files:")
    print_table(["file", "MiB"], [[f, f"{mb:.1f}"] for f, mb in largest(args.dist)])


if __name__ == "__main__":
    main()

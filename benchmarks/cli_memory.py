"""Peak memory of ``sketchpad classify --json`` and ``search --json`` by number of drawings.

``python benchmarks/cli_memory.py [--sizes 10000 100000] [--pack quickdraw]`` writes ndjson files
of N drawings made by **synthetic repetition of real drawings** (the simplified Quick, Draw!
files, cycled in order: real ink, repeated to reach N), runs each command in a fresh process
with stdout to ``/dev/null`` and prints that process's peak RSS (``wait4``) and wall time.
Streaming output keeps the peak flat in N; a document held whole grows with it.
"""
from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import DATA, ROOT, bench_packs, machine, print_table

from sketchpad.datasets.quickdraw import iter_ndjson
from sketchpad.ink import write_ndjson

RUN = ("import sys; from sketchpad.cli import run_command; "
       "sys.exit(run_command(sys.argv[1:]))")


def synthetic_file(n: int, folder: Path) -> Path:
    """N drawings cycled from the real simplified files (written once, reused)."""
    out = folder / f"repeated-real-{n}.ndjson"
    if not out.exists():
        real = [s for p in sorted((DATA / "quickdraw" / "simplified").glob("*.ndjson"))
                for s in itertools.islice(iter_ndjson(p), 50)]
        write_ndjson(itertools.islice(itertools.cycle(real), n), out)
    return out


def peak_rss_mib(argv: list[str]) -> tuple[float, float, int]:
    """(peak RSS in MiB, wall seconds, exit code) of ``sketchpad ARGV`` in a fresh process."""
    t0 = time.perf_counter()
    with open(os.devnull, "w") as sink:
        proc = subprocess.Popen([sys.executable, "-c", RUN, *argv], stdout=sink, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss / 1024, time.perf_counter() - t0, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--pack", help="pack name or folder (default: the first benchmark pack)")
    args = ap.parse_args()
    pack = args.pack or str(bench_packs()[0].path)
    print(machine(), f"\npack: {pack}; drawings: synthetic repetition of real simplified "
                     "Quick, Draw! drawings\n")
    folder = Path(tempfile.gettempdir()) / "sketchpad-bench" / "cli-memory"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.sizes:
        path = synthetic_file(n, folder)
        for command in (["classify", "--top", "3"], ["search", "--k", "8"]):
            rss, wall, code = peak_rss_mib([command[0], str(path), "--json", "--cpu",
                                            "--pack", pack, *command[1:]])
            rows.append([f"{command[0]} --json", f"{n:,}", f"{rss:.0f}", f"{wall:.0f}",
                         f"{n / wall:.0f}", code])
    print_table(["command", "drawings", "peak RSS MiB", "wall s", "drawings/s", "exit"], rows)


if __name__ == "__main__":
    main()

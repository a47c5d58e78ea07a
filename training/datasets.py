"""Load every dataset under the data folder through the app's loaders and count it per class.

``python -m training.datasets [--data DIR] [--decode] [--only NAME ...]`` prints, per dataset and
per class, how many sketches the loaders yield, and checks them against what the data says about
itself: Quick, Draw!'s ``MANIFEST.tsv`` (simplified, raw, sketch-rnn columns) and TU-Berlin's
numbering rule (250 classes × 80). It exits with status 1 and lists every mismatch if any count
differs. Loading goes through the same loaders training uses, so a file that parses here parses
there.

TU-Berlin is counted by listing its PNGs and checking each id against its folder (the numbering
rule); decoding all 20,000 PNGs takes minutes on a small machine, so it is opt-in (``--decode``).
Plain Python: no torch needed.
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Sequence

from sketchpad.datasets.quickdraw import class_name, iter_ndjson, iter_sketchrnn_npz
from sketchpad.datasets.tu_berlin import PER_CLASS, TuBerlin, read_png

#: Where the shared data sits relative to the project root (DESIGN.md: ``../shared/data``).
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: Dataset name → the MANIFEST.tsv column holding its per-class count.
MANIFEST_COLUMNS = {"quickdraw/simplified": "simplified_drawings",
                    "quickdraw/raw": "raw_drawings",
                    "quickdraw/sketchrnn": "sketchrnn_drawings"}
TU_BERLIN = "tu-berlin"
DATASETS = (*MANIFEST_COLUMNS, TU_BERLIN)
TU_BERLIN_CLASSES = 250

Counts = dict[str, int]


def _count_files(files: Iterable[Path], count: Callable[[Path], int]) -> Counts:
    """Per-class counts of per-class files (one file per class, named after the class)."""
    return {class_name(p): count(p) for p in sorted(files)}


def count_ndjson(folder: Path, classes: Iterable[str] | None = None) -> Counts:
    """Drawings per class in a folder of Quick, Draw! ndjson files (raw or simplified); every line
    is parsed into a Sketch, so a malformed line fails here, naming file and line."""
    return _count_files(_class_files(folder, "ndjson", classes),
                        lambda p: sum(1 for _ in iter_ndjson(p)))


def count_sketchrnn(folder: Path, classes: Iterable[str] | None = None) -> Counts:
    """Drawings per class in a folder of sketch-rnn ``.npz`` files (every key with drawings)."""
    return _count_files(_class_files(folder, "npz", classes),
                        lambda p: sum(1 for _ in iter_sketchrnn_npz(p)))


def _class_files(folder: Path, ext: str, classes: Iterable[str] | None) -> list[Path]:
    if classes is None:
        return sorted(folder.glob(f"*.{ext}"))
    return [folder / f"{c.replace(' ', '_')}.{ext}" for c in classes]


def count_tu_berlin(root: Path, decode: bool = False) -> Counts:
    """Sketches per class from the PNG listing; :meth:`TuBerlin.items` checks every id against
    its folder (the numbering rule). ``decode=True`` also reads every PNG (slow: 20,000 files)."""
    counts: Counter[str] = Counter()
    for item in TuBerlin(root).items():
        if decode:
            read_png(item.path)
        counts[item.name] += 1
    return dict(counts)


def read_manifest(path: Path) -> dict[str, Counts]:
    """Quick, Draw!'s ``MANIFEST.tsv`` → dataset name → class → expected count. Classes with no
    file in a folder (an empty ``*_file`` column) are not expected there."""
    expected: dict[str, Counts] = {name: {} for name in MANIFEST_COLUMNS}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            for name, column in MANIFEST_COLUMNS.items():
                file_column = column.replace("_drawings", "_file")
                if row.get(file_column):
                    expected[name][row["class"]] = int(row[column])
    return expected


def tu_berlin_expected(root: Path) -> Counts:
    """The TU-Berlin rule: every class of ``categories.txt`` has exactly 80 sketches."""
    return {name: PER_CLASS for name in TuBerlin(root).categories}


def mismatches(name: str, expected: Counts, got: Counts) -> list[str]:
    """Human-readable differences between expected and loaded per-class counts."""
    out = []
    for cls in sorted(expected.keys() | got.keys()):
        want, have = expected.get(cls), got.get(cls)
        if want is None:
            out.append(f"{name}: {cls!r} loaded {have}, not in the expected list")
        elif have is None:
            out.append(f"{name}: {cls!r} expected {want}, no file")
        elif want != have:
            out.append(f"{name}: {cls!r} expected {want}, loaded {have}")
    return out


def load_counts(data: Path, name: str, decode: bool = False) -> Counts:
    """Load one dataset of ``DATASETS`` and count it per class."""
    if name == TU_BERLIN:
        return count_tu_berlin(data / "tu-berlin", decode)
    folder = data / name
    return count_sketchrnn(folder) if name.endswith("sketchrnn") else count_ndjson(folder)


def expected_counts(data: Path, name: str) -> Counts:
    if name == TU_BERLIN:
        return tu_berlin_expected(data / "tu-berlin")
    return read_manifest(data / "quickdraw" / "MANIFEST.tsv")[name]


def format_counts(name: str, counts: Counts) -> str:
    """A dataset's block of the report: one ``count  class`` line per class, then the total."""
    lines = [f"== {name}: {sum(counts.values()):,} sketches in {len(counts)} classes"]
    lines += [f"{n:8d}  {cls}" for cls, n in sorted(counts.items())]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.datasets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--decode", action="store_true", help="also decode every TU-Berlin PNG")
    parser.add_argument("--only", nargs="+", choices=DATASETS, default=list(DATASETS),
                        help="datasets to load (default: all)")
    args = parser.parse_args(argv)
    problems: list[str] = []
    totals = []
    for name in args.only:
        got = load_counts(args.data, name, args.decode)
        print(format_counts(name, got), flush=True)
        problems += mismatches(name, expected_counts(args.data, name), got)
        totals.append(f"{name}: {sum(got.values()):,} in {len(got)} classes")
    print("== totals\n" + "\n".join(totals))
    if problems:
        print(f"== {len(problems)} mismatches\n" + "\n".join(problems))
        return 1
    print("== all counts match MANIFEST.tsv and the TU-Berlin numbering rule")
    return 0


if __name__ == "__main__":
    sys.exit(main())

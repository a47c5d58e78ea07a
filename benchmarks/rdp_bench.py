"""RDP simplification: worst-case strokes, real drawings, and proof that real results did not move.

``python benchmarks/rdp_bench.py [--exact-max 10000] [--no-check]`` prints

* the time and number of levels of :func:`sketchpad.ink.rdp_masks` on synthetic worst cases of
  1k / 10k / 100k / 200k points: a zigzag (the textbook recursion peels one point per level, so
  it is n levels deep: O(n²)), an Archimedean spiral and a random walk; next to the textbook
  recursion at any depth (``exact_depth=None``) for sizes up to ``--exact-max``;
* the time per real drawing (normalised then simplified, as every model input does), on every raw
  Quick, Draw! drawing;
* the check: every raw, simplified and sketch-rnn drawing, in its own and in normalised
  coordinates, simplified with the depth bound and without: how many masks differ (must be 0) and
  the deepest level any real drawing needs (the bound, ``RDP_EXACT_DEPTH``, must stay above it).
"""
from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from common import DATA, machine, median_p95, print_table

from sketchpad.datasets.quickdraw import iter_ndjson, iter_sketchrnn_npz
from sketchpad.ink import RDP_EPSILON, normalise
from sketchpad.ink.sketch import RDP_EXACT_DEPTH, _rdp

SIZES = (1_000, 10_000, 100_000, 200_000)


def zigzag(n: int) -> np.ndarray:
    i = np.arange(n)
    return np.c_[i.astype(float), (i % 2) * 10.0]


def spiral(n: int) -> np.ndarray:
    """Points 3 units apart along a spiral whose turns are 3 units apart: every point kept."""
    arc = np.arange(n) * 3.0
    c = 3 / (2 * np.pi)
    theta = np.sqrt(2 * arc / c)
    return np.c_[c * theta * np.cos(theta), c * theta * np.sin(theta)]


def random_walk(n: int) -> np.ndarray:
    return np.cumsum(np.random.default_rng(0).normal(size=(n, 2)) * 3, axis=0)


def timed(xy: np.ndarray, exact_depth: int | None) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    (keep,), levels = _rdp([xy], RDP_EPSILON, exact_depth)
    return time.perf_counter() - t0, levels, int(keep.sum())


def worst_cases(exact_max: int) -> None:
    rows = []
    for shape, n in itertools.product((zigzag, spiral, random_walk), SIZES):
        xy = shape(n)
        t, levels, kept = timed(xy, RDP_EXACT_DEPTH)
        row = [shape.__name__, f"{n:,}", f"{t:.3f}", levels, f"{kept:,}"]
        if n <= exact_max:
            te, levels_e, kept_e = timed(xy, None)
            row += [f"{te:.3f}", levels_e, f"{kept_e:,}"]
        else:
            row += ["-", "-", "-"]
        rows.append(row)
    print_table(["stroke", "points", "bounded s", "levels", "kept",
                 "textbook s", "levels", "kept"], rows)


def real_sketches():
    qd = DATA / "quickdraw"
    for folder in ("raw", "simplified"):
        for path in sorted((qd / folder).glob("*.ndjson")):
            yield folder, iter_ndjson(path)
    for path in sorted((qd / "sketchrnn").glob("*.npz")):
        yield "sketch-rnn", iter_sketchrnn_npz(path)


def real_times() -> None:
    raw = [normalise(s) for p in sorted((DATA / "quickdraw" / "raw").glob("*.ndjson"))
           for s in iter_ndjson(p)]
    ms = []
    for sk in raw:
        xys = [s.points[:, :2] for s in sk.strokes]
        t0 = time.perf_counter()
        _rdp(xys, RDP_EPSILON, RDP_EXACT_DEPTH)
        ms.append((time.perf_counter() - t0) * 1e3)
    med, p95 = median_p95(ms)
    print_table(["real drawings", "n", "median ms", "p95 ms", "max ms"],
                [["raw Quick, Draw!, normalised", f"{len(raw):,}", med, p95, max(ms)]])


def check() -> None:
    rows = []
    for source, group in itertools.groupby(real_sketches(), key=lambda item: item[0]):
        n = differ = deepest = 0
        for _, sketches in group:
            for sk in sketches:
                for frame in (sk, normalise(sk)):
                    xys = [s.points[:, :2] for s in frame.strokes]
                    bounded, _ = _rdp(xys, RDP_EPSILON, RDP_EXACT_DEPTH)
                    textbook, levels = _rdp(xys, RDP_EPSILON, None)
                    n += 1
                    deepest = max(deepest, levels)
                    differ += not all(np.array_equal(a, b) for a, b in zip(bounded, textbook))
        rows.append([source, f"{n:,}", differ, deepest])
    print_table(["drawings (own + normalised frame)", "sketches", "masks that differ",
                 f"deepest level (bound {RDP_EXACT_DEPTH})"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exact-max", type=int, default=10_000,
                    help="largest worst case also run without the depth bound (quadratic)")
    ap.add_argument("--no-check", action="store_true", help="skip the real-data equality check")
    args = ap.parse_args()
    print(machine(), "\n")
    worst_cases(args.exact_max)
    print()
    real_times()
    if not args.no_check:
        print()
        check()


if __name__ == "__main__":
    main()

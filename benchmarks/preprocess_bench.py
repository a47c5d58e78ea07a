"""Per-sketch preprocessing time on real Quick, Draw! drawings: median and p95, in ms.

``python benchmarks/preprocess_bench.py [--n 2000]`` times raster 224 (``convnet_input``), raster
96 (``order_raster``), stroke-3 (``stroke3_input``) and all three on one sketch (what the app does
per request), over ``n`` simplified drawings plus every raw drawing (raw ones are longer and not
yet simplified). Each timing starts from a fresh Sketch value, so the shared normalise + RDP step
(``Sketch.model_ink``, cached per value) is paid inside every row. Target: all three < 2 ms median.
"""
from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from common import DATA, machine, median_p95, print_table

from sketchpad import preprocess as pp
from sketchpad.datasets.quickdraw import iter_ndjson
from sketchpad.ink import Sketch

CONV, ORDER, SEQ = pp.ConvNetRaster(), pp.OrderRaster(), pp.Stroke3Spec(scale=10.0, max_len=128)
SCALED = pp.ConvNetRaster(scale=0.975)  # the tu-berlin pack's view since session 10
JOBS = {
    "raster 224 (convnet_input)": lambda s: pp.convnet_input(s, CONV),
    "raster 224 at scale 0.975 (resampled)": lambda s: pp.convnet_input(s, SCALED),
    "raster 96 (order_raster)": lambda s: pp.order_raster(s, ORDER),
    "stroke-3 (stroke3_input)": lambda s: pp.stroke3_input(s, SEQ),
    "all three": lambda s: (pp.convnet_input(s, CONV), pp.order_raster(s, ORDER),
                            pp.stroke3_input(s, SEQ)),
}


def load(n: int) -> dict[str, list[Sketch]]:
    qd = DATA / "quickdraw"
    simplified = sorted((qd / "simplified").glob("*.ndjson"))
    per_file = max(1, n // len(simplified) + 1)
    simp = list(itertools.islice(itertools.chain.from_iterable(
        itertools.islice(iter_ndjson(p), per_file) for p in simplified), n))
    raw = [s for p in sorted((qd / "raw").glob("*.ndjson")) for s in iter_ndjson(p)]
    return {"simplified": simp, "raw": raw}


def per_sketch_ms(job, sketches: list[Sketch]) -> np.ndarray:
    fresh = [s.with_strokes(s.strokes) for s in sketches]  # new values: no cached model_ink
    out = np.empty(len(fresh))
    for i, s in enumerate(fresh):
        t0 = time.perf_counter()
        job(s)
        out[i] = (time.perf_counter() - t0) * 1e3
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="simplified drawings to time")
    args = parser.parse_args()
    sets = load(args.n)
    print(f"machine: {machine()}")
    rows = []
    for set_name, sketches in sets.items():
        for job in JOBS.values():  # warm-up: imports, OpenCV's first-call setup
            job(sketches[0])
        for name, job in JOBS.items():
            med, p95 = median_p95(per_sketch_ms(job, sketches))
            rows.append((set_name, len(sketches), name, med, p95))
    print_table(("drawings", "n", "preprocessing", "median ms", "p95 ms"), rows)


if __name__ == "__main__":
    main()

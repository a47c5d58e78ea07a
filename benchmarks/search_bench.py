"""Search: Annoy (as the app queries it) against numpy brute force (``exact_neighbours``) on each
pack's gallery, per depth — query time, recall@10, speed ratio, index build time and size.
Targets: recall@10 ≥ 0.95 at ≥ 10× below brute-force time.

    python benchmarks/search_bench.py [--queries 300] [--k 10]

Queries are gallery vectors taken one at a time (the app's case: one sketch, one query), as in the
recall figure ``training/export.py`` stores in the manifest.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from common import bench_packs, machine, median_p95, print_table
from sketchpad.gallery import Gallery
from sketchpad.pack import Pack
from sketchpad.search import Searcher, index_vectors
from training.export import exact_neighbours


def per_query_ms(fn, queries: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    answers, ms = [], np.empty(len(queries))
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        answers.append(fn(q))
        ms[i] = (time.perf_counter() - t0) * 1e3
    return answers, ms


def bench(pack: Pack, n_queries: int, k: int) -> list[list[object]]:
    searcher = Searcher(pack, Gallery(pack).labels)
    rows = []
    for depth, spec in pack.features.items():
        index = searcher.indexes[depth]
        feats = index_vectors(index)
        n = len(feats)
        rng = np.random.default_rng(0)
        queries = feats[rng.choice(n, size=min(n_queries, n), replace=False)]
        approx, ann_ms = per_query_ms(
            lambda q: [h.gallery_id for h in searcher.query(depth, q, k)], queries)
        exact, bf_ms = per_query_ms(
            lambda q: exact_neighbours(feats, q[None], spec.metric, k)[0], queries)
        recall = np.mean([len(set(a) & set(e.tolist())) / min(k, n) for a, e in zip(approx, exact)])
        ann_med, ann_p95 = median_p95(ann_ms)
        bf_med, _ = median_p95(bf_ms)
        built = spec.info.get("annoy", {})
        rows.append([pack.name, depth, n, spec.dim, spec.metric, built.get("n_trees", "?"),
                     ann_med, ann_p95, bf_med, f"{bf_med / ann_med:.1f}x", f"{recall:.3f}",
                     built.get("build_seconds", "?"), f"{spec.index.stat().st_size / 2**20:.2f}"])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    print(f"machine: {machine()}\n")
    rows = [r for pack in bench_packs() for r in bench(pack, args.queries, args.k)]
    print_table(["pack", "depth", "gallery", "dim", "metric", "trees", "annoy ms", "annoy p95",
                 "brute ms", "speed-up", f"recall@{args.k}", "build s (export)", "index MB"], rows)


if __name__ == "__main__":
    main()

"""The DSN data pipeline at scale: the cache builder's peak memory and speed as the data grows,
and the loader's samples/s per worker against what a training step consumes.

    python benchmarks/data_pipeline_bench.py builder [--points 10000,100000,1000000] [--full 10000]
    python benchmarks/data_pipeline_bench.py loader [--cache DIR] [--batches 150]

**builder** — synthetic scale made from the real drawings: the simplified Quick, Draw! classes
with at least 500 drawings in ``../shared/data`` (20 of them), each repeated to ``N / 20``
drawings with every copy's points jittered by up to ±2 units (clipped to 0..255) and a new
``key_id``. No caps: every drawing is rendered (at 96 px only, ``--sizes``: the one-size cache
advised at scale), plus one stroke prefix per kept training drawing (the default). Each point is
built in a fresh process, so its peak RSS (``ru_maxrss`` of the builder, and of the largest
pool worker when ``--workers`` > 1) is its own. A point above ``--full`` drawings is built on a
subset of its classes, ``full / N`` of them (at least one): classes of the point's full size,
fewer of them. Each class is one job, so the memory depends on the class size and the time on
the number of classes; the full build's time is extrapolated from the subset's drawings/s.

**loader** — one process (= one loader worker) fetching DSN batches of 64 at 96 px from a cache
(``TrainShards`` + ``ShardBlockBatches``, pages warm), the ``StatefulDataLoader`` end to end with
0, 1 and 2 workers, and one DSN+ training step (default config, batch 64, one thread) on this
CPU; then the FLOPs of a step, which give an estimate for one H100 and the loader workers it
would need.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import DATA, ROOT, machine, print_table

WORK = Path(tempfile.gettempdir()) / "sketchpad-bench" / "pipeline"
N_CLASSES = 20
JITTER = 2


def synthetic_root(n: int, classes: list[str], out: Path) -> Path:
    """``out/simplified/<class>.ndjson``: ``n // N_CLASSES`` drawings of each listed class, its
    real drawings over and over, every repeat jittered and given a new ``key_id``."""
    per_class = n // N_CLASSES
    (out / "simplified").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in classes:
        src = DATA / "quickdraw" / "simplified" / f"{name.replace(' ', '_')}.ndjson"
        real = [json.loads(line) for line in src.read_text().splitlines() if line.strip()]
        with (out / "simplified" / src.name).open("w") as f:
            for i in range(per_class):
                obj = dict(real[i % len(real)])
                copy = i // len(real)
                if copy:
                    obj["key_id"] = f"{obj['key_id']}{copy:05d}"
                    obj["drawing"] = [[np.clip(np.asarray(c) + rng.integers(-JITTER, JITTER + 1, len(c)),
                                               0, 255).tolist() for c in stroke[:2]] for stroke in obj["drawing"]]
                f.write(json.dumps(obj) + "\n")
    return out


def real_classes() -> list[str]:
    from training.dsn.data import vector_sources
    sources = vector_sources(DATA / "quickdraw")
    return [c for c, (p, n) in sources.items() if p.suffix == ".ndjson" and n >= 500][:N_CLASSES]


def cpu_seconds() -> float:
    """User + system time of this process and its finished pool workers."""
    return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))


def build_one(n: int, rate: float, workers: int, sizes: tuple[int, ...]) -> dict:
    """One builder point, in this (fresh) process."""
    from training.dsn.build import build_cache
    from training.dsn.data import DataConfig
    classes = real_classes()
    chosen = classes[:max(1, round(len(classes) * rate))]
    root = synthetic_root(n, chosen, WORK / f"root_{n}")
    cfg = DataConfig(classes=tuple(chosen), min_drawings=1, train_cap=0, val_cap=0, test_cap=0)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    meta = build_cache(root, WORK / f"cache_{n}", cfg, sizes, workers=workers)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    drawings = sum(meta["drawings_per_class"])
    rows = drawings + meta["train_prefixes"]
    return {"n": n, "rate": len(chosen) / len(classes), "drawings": drawings, "rows": rows,
            "seconds": wall, "cpu_seconds": cpu, "shards": meta["n_shards"],
            "parent_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def builder(points: list[int], full: int, workers: int, sizes: str) -> None:
    rows = []
    for n in points:
        out = subprocess.run([sys.executable, __file__, "_build_one", str(n), str(min(1.0, full / n)),
                              str(workers), sizes], check=True, capture_output=True, text=True).stdout
        p = json.loads(out.strip().splitlines()[-1])
        scale = 1 / p["rate"]
        rows.append([f"{n:,}", f"{p['rate']:.0%}", f"{p['drawings']:,}", f"{p['rows']:,}",
                     round(p["seconds"]), round(p["seconds"] * scale), round(p["drawings"] / p["seconds"]),
                     round(p["drawings"] / p["cpu_seconds"]),
                     round(p["parent_mb"]), round(p["worker_mb"]), p["shards"]])
        print(json.dumps(p), file=sys.stderr)
    print_table(["drawings (synthetic)", "classes built", "drawings built", "rows written",
                 "wall s", "wall s, whole (extrapolated)", "drawings/s", "drawings per CPU s",
                 "peak RSS builder MB",
                 "peak RSS worker MB", "shards"], rows)


def loader(cache: Path, batches: int) -> None:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from training.dsn.data import ShardBlockBatches, TrainShards, load_meta, raster_tensor
    from training.dsn.model import DSN
    from training.dsn.train import DEFAULTS, model_config
    from training.loader import make_loader
    torch.set_num_threads(1)
    meta = load_meta(cache)
    data = TrainShards(cache, 96, seed=0, flip=0.5)
    sizes = [n for _, n in data.shards]

    def batches_of(b: int = 64):
        return ShardBlockBatches(sizes, b, seed=0)

    it = iter(batches_of())
    for _ in range(20):  # warm the page cache and the shard table
        data.__getitems__(next(it))
    t0 = time.perf_counter()
    for _ in range(batches):
        data.__getitems__(next(it))
    fetch = batches * 64 / (time.perf_counter() - t0)
    ends = []
    for workers in (0, 1, 2):
        loop = iter(make_loader(data, batches_of(), num_workers=workers))
        for _ in range(10):
            next(loop)
        t0 = time.perf_counter()
        for _ in range(batches):
            b = next(loop)
            raster_tensor(b["img"], meta["order_raster_mean"])
        ends.append(batches * 64 / (time.perf_counter() - t0))
    cfg = dict(DEFAULTS)
    model = DSN(model_config(cfg, len(meta["classes"]))).train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    b = data.__getitems__(next(it))
    x, s, n, y = raster_tensor(b["img"], meta["order_raster_mean"]), b["strokes"], b["lengths"], b["labels"]

    def step() -> None:
        loss, _ = model.loss(model(x, s, n), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(5):
        step()
    train = 5 * 64 / (time.perf_counter() - t0)
    with FlopCounterMode(display=False) as fc:
        loss, _ = model.loss(model(x, s, n), y)
        loss.backward()
    lstm = model.rnn.lstm  # FlopCounterMode does not see the LSTM: 4 gates, over all T steps
    flops = fc.get_total_flops() / 64
    flops_lstm = 3 * 2 * 4 * lstm.hidden_size * (lstm.input_size + lstm.hidden_size) * s.shape[1]
    print(f"cache {cache} ({len(data):,} rows, {len(sizes)} shards), T = {meta['stroke3']['max_len']}")
    print_table(["what", "samples/s"], [
        ["one process fetching batches (= per loader worker)", round(fetch)],
        ["StatefulDataLoader, 0 workers (fetch in the training process)", round(ends[0])],
        ["StatefulDataLoader, 1 worker", round(ends[1])],
        ["StatefulDataLoader, 2 workers", round(ends[2])],
        ["DSN+ training step, batch 64, 1 thread (this CPU)", round(train)]])
    total = flops + flops_lstm
    print(f"DSN+ training FLOPs per sample: {flops / 1e6:.0f} M counted (convolutions, linear) + "
          f"{flops_lstm / 1e6:.0f} M LSTM (3 x forward, T = {s.shape[1]}) = {total / 1e9:.2f} GFLOP")
    for mfu in (0.10, 0.25):  # an assumed share of the H100's 495 TFLOP/s TF32 dense peak
        rate = mfu * 495e12 / total
        print(f"one H100 at {mfu:.0%} of the TF32 peak (estimate): {rate:,.0f} samples/s, "
              f"{rate / fetch:.1f} loader workers at this CPU's per-worker rate")


def main() -> None:
    if sys.argv[1:2] == ["_build_one"]:
        n, rate, workers = int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
        print(json.dumps(build_one(n, rate, workers, tuple(int(v) for v in sys.argv[5].split(",")))))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    b = sub.add_parser("builder")
    b.add_argument("--points", default="10000,100000,1000000")
    b.add_argument("--full", type=int, default=10_000, help="largest point built whole")
    b.add_argument("--workers", type=int, default=1)
    b.add_argument("--sizes", default="96", help="raster sizes cached")
    lo = sub.add_parser("loader")
    lo.add_argument("--cache", type=Path, default=WORK / "cache_10000")
    lo.add_argument("--batches", type=int, default=150)
    args = ap.parse_args()
    print(machine())
    if args.what == "builder":
        builder([int(p) for p in args.points.split(",")], args.full, args.workers, args.sizes)
    else:
        loader(args.cache, args.batches)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()

"""Training throughput on this machine: samples/s of one optimiser step (forward, backward, SGD)
per model on random inputs of the real shapes — what a CPU budget buys.

    python benchmarks/training_bench.py [--batch 32] [--steps 3] [--threads 2]
    python benchmarks/training_bench.py --options [--warmup 20] [--steps 40]   # issue 16

Models come from the trainers (``training.deepsketch.model``, ``training.dsn.model``) with their
default configs. Shapes: DeepSketch 1×224×224; DSN a 96×96 order raster (and 64, 28 for the
image-size study) plus an 88-point stroke-3 sequence (T of the cache). The real CPU runs used
batch 64 and one thread per run: ``--batch 64 --threads 1`` gives their figures.

``--options`` measures the shipped DeepSketch (``training/config/deepsketch_cpu.py``: widths / 4,
batch 64, its lr schedule) under the CPU options PyTorch offers — channels-last, ``torch.compile``,
bf16 autocast, intra-/inter-op threads, augmentation in the training process or in a loader worker
— each in a fresh process (interop threads can be set once per process, and compiled code must
not leak into the next case), from the same seed over the same real augmented batches (the TU-Berlin
cache, or a small subset of it built in the temp folder), so the loss after the timed steps shows
what an option does to the numerics, as far as so short a run can tell.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from common import DATA, ROOT, machine, print_table
from training.deepsketch import model as ds
from training.dsn import model as dsn

Step = Callable[[], torch.Tensor]


def samples_per_second(make_loss: Step, params, batch: int, steps: int) -> float:
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    for i in range(steps + 1):
        if i == 1:  # the first step warms allocators and kernels up
            t0 = time.perf_counter()
        loss = make_loss()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return batch * steps / (time.perf_counter() - t0)


def deepsketch_cases(batch: int) -> dict[str, tuple[torch.nn.Module, Step]]:
    variants = {"paper": ds.DeepSketchConfig(),
                "w/2, fc 2048": ds.DeepSketchConfig((32, 64, 128, 256), 2048),
                "w/4, fc 1024 (shipped)": ds.DeepSketchConfig((16, 32, 64, 128), 1024),
                "w/8, fc 256 (sessions 1-2)": ds.DeepSketchConfig((8, 16, 32, 64), 256)}
    x = torch.randn(batch, 1, ds.INPUT_SIZE, ds.INPUT_SIZE)
    cases = {}
    for name, cfg in variants.items():
        net = ds.DeepSketch(cfg).train()
        y = torch.randint(0, cfg.n_classes, (batch,))
        cases[f"DeepSketch {name}"] = (
            net, lambda net=net, y=y: torch.nn.functional.cross_entropy(net(x).logits, y))
    return cases


def dsn_cases(batch: int, max_len: int = 88) -> dict[str, tuple[torch.nn.Module, Step]]:
    cases = {}
    for kind, size in (("cnn", 96), ("cnn", 64), ("cnn", 28), ("rnn", 96), ("dsn", 96),
                       ("dsnplus", 96)):
        cfg = dsn.DSNConfig(kind=kind, cnn=dsn.CNNConfig(size=size))
        net = dsn.DSN(cfg).train()
        image = torch.randn(batch, 1, cfg.cnn.size, cfg.cnn.size)
        strokes = torch.randn(batch, max_len, 3)
        lengths = torch.randint(8, max_len + 1, (batch,))
        y = torch.randint(0, cfg.n_classes, (batch,))
        cases[f"DSN {kind}" + (f" {size} px" if kind == "cnn" else "")] = (
            net, lambda net=net, a=(image, strokes, lengths), y=y: net.loss(net(*a), y)[0])
    return cases


# ---- issue 16: CPU options for the shipped DeepSketch step ---------------------------------------
CPU_CONFIG = ROOT / "training" / "config" / "deepsketch_cpu.py"
SUBSET = Path(tempfile.gettempdir()) / "sketchpad-bench" / "tu_berlin_subset.npy"
POOL = 10  # pre-made batches the step-only cases cycle through (the loss is read over one cycle)
#: The baseline: the trainer's config keys (train.py) with every issue-16 option off.
BASE = {"channels_last": False, "bf16": False, "torch_compile": "", "threads": 2}
#: Option → trainer config keys over the baseline (``interop``: the bench's own). Without
#: ``num_workers`` the batches are made before timing (the step alone); with it the trainer's
#: loader makes them while the step runs.
OPTIONS: dict[str, dict] = {
    "fp32, 2 threads (baseline)": {},
    "channels_last": {"channels_last": True},
    "torch.compile": {"torch_compile": "default"},
    "torch.compile max-autotune-no-cudagraphs": {"torch_compile": "max-autotune-no-cudagraphs"},
    "bf16 autocast": {"bf16": True},
    "bf16 autocast + channels_last": {"bf16": True, "channels_last": True},
    "1 intra-op thread": {"threads": 1},
    "1 inter-op thread": {"interop": 1},
    "torch.compile + bf16 + channels_last": {"torch_compile": "default", "bf16": True,
                                             "channels_last": True},
    "+ augmentation in the main process": {"num_workers": 0},
    "+ augmentation in 1 loader worker": {"num_workers": 1},
    "bf16 + channels_last + augmentation in the main process": {"bf16": True, "channels_last": True,
                                                                "num_workers": 0},
    "bf16 + channels_last + augmentation in 1 loader worker": {"bf16": True, "channels_last": True,
                                                               "num_workers": 1},
}


def bench_cache() -> Path:
    """The TU-Berlin cache when built, else 16 sketches of each of the first 80 classes (built
    once in the temp folder): batches of 64 distinct classes need 64 classes at least."""
    from training.deepsketch import data
    if data.CACHE.is_file():
        return data.CACHE
    if not SUBSET.is_file():
        print(f"(no {data.CACHE}: building a subset in {SUBSET})", file=sys.stderr)
        data.build_cache(DATA / "tu-berlin", SUBSET, workers=2, n_classes=80, per_class=16)
    return SUBSET


def option_case(option: dict, batch: int, warmup: int, steps: int, cache: Path) -> dict:
    """One option of the trainer's step (deepsketch_cpu.py's config, lr schedule and seed, the
    trainer's layout, autocast and compile helpers): samples/s over ``steps`` after ``warmup``,
    the first step's time, the mean loss of the last ``POOL`` steps."""
    from training.deepsketch import data, train
    from training.loader import make_loader
    option = dict(option)
    if "interop" in option:
        torch.set_num_interop_threads(option.pop("interop"))
    keys = {**BASE, **option, "batch_size": batch}
    cfg = train.configure([str(CPU_CONFIG), *(f"--{k}={v}" for k, v in keys.items())])
    torch.set_num_threads(cfg["threads"])
    cpu = torch.device("cpu")
    pics = data.TuBerlinCache.load(cache)
    sampler = data.DistinctClassBatches(pics.labels, np.arange(len(pics.labels)), batch, cfg["seed"])
    views = data.TrainViews(cache, data.canvas_mean(pics.pictures), cfg["seed"])
    batches = iter(make_loader(views, sampler, cfg["num_workers"]))
    pool = None if "num_workers" in option else [next(batches) for _ in range(POOL)]
    torch.manual_seed(cfg["seed"])
    layout = train.memory_format(cfg)
    model = ds.DeepSketch(train.model_config(cfg, 250)).to(memory_format=layout).train()
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                          weight_decay=cfg["weight_decay"])
    net = train.compiled(model, cfg)
    total, losses = warmup + steps, []
    t_start = time.perf_counter()
    for i in range(total):
        if i == 1:
            first_s = time.perf_counter() - t_start
        if i == warmup:
            t0 = time.perf_counter()
        b = pool[i % POOL] if pool else next(batches)
        for g in opt.param_groups:
            g["lr"] = train.lr_at(i, 10**6, cfg)
        with train.autocast(cfg, cpu):
            loss = torch.nn.functional.cross_entropy(
                net(b["x"].contiguous(memory_format=layout)).logits, b["y"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    rate = batch * steps / (time.perf_counter() - t0)
    return {"rate": rate, "first_s": first_s, "loss": float(torch.stack(losses[-POOL:]).mean())}


def bf16_support() -> str:
    flags = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    have = [f for f in ("avx512_bf16", "amx_bf16", "amx_tile") if f in flags]
    return (f"CPU flags {', '.join(have) or 'no bf16 flags'}; oneDNN bf16 "
            f"{torch.ops.mkldnn._is_mkldnn_bf16_supported()}, ISA {torch.backends.cpu.get_cpu_capability()}")


def options_table(args: argparse.Namespace) -> None:
    """Every option in a fresh child process (``--case``); a table of samples/s and speed-up."""
    cache = bench_cache()
    print(f"machine: {machine()}; torch {torch.__version__}; {bf16_support()}\n"
          f"DeepSketch widths / 4 ({CPU_CONFIG.name}), batch {args.batch}, {args.warmup} warm-up + "
          f"{args.steps} timed steps, cache {cache}\n")
    rows, base = [], None
    for name in OPTIONS:
        cmd = [sys.executable, __file__, "--case", name, "--batch", str(args.batch),
               "--warmup", str(args.warmup), "--steps", str(args.steps)]
        t0 = time.perf_counter()
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.case_timeout)
        except subprocess.TimeoutExpired:
            rows.append([name, f"not done in {args.case_timeout} s", "", "", "", ""])
            continue
        if out.returncode:
            rows.append([name, "failed: " + out.stderr.strip().splitlines()[-1][:80], "", "", "", ""])
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        base = base or r
        same_batches = "num_workers" not in OPTIONS[name]
        rows.append([name, f"{r['rate']:.1f}", f"{r['rate'] / base['rate']:.2f}×",
                     f"{r['first_s']:.1f}", f"{r['loss']:.4f}",
                     f"{r['loss'] - base['loss']:+.4f}" if same_batches else "(other batches)"])
        print(f"  {name}: {r['rate']:.1f} samples/s ({time.perf_counter() - t0:.0f} s)",
              file=sys.stderr)
    print_table(["option", "samples/s", "speed-up", "first step s", f"loss, last {POOL} steps",
                 "Δ loss vs baseline"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--skip", default="", help="comma-separated case names to leave out")
    ap.add_argument("--options", action="store_true",
                    help="the DeepSketch CPU option matrix (defaults: batch 64, 20 + 40 steps)")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--case-timeout", type=int, default=240)
    ap.add_argument("--case", choices=list(OPTIONS), help=argparse.SUPPRESS)  # one child's job
    args = ap.parse_args()
    if args.options or args.case:
        if "--batch" not in sys.argv:
            args.batch = 64
        if "--steps" not in sys.argv:
            args.steps = 40
        if args.case:
            print(json.dumps(option_case(OPTIONS[args.case], args.batch, args.warmup, args.steps,
                                         bench_cache())))
        else:
            options_table(args)
        return
    torch.set_num_threads(args.threads)
    print(f"machine: {machine()}; torch {torch.__version__}, {args.threads} thread(s), "
          f"batch {args.batch}\n")
    rows = []
    for build in (deepsketch_cases, dsn_cases):
        for name, (net, step) in build(args.batch).items():
            if name in args.skip.split(","):
                continue
            n_params = sum(p.numel() for p in net.parameters())
            rate = samples_per_second(step, net.parameters(), args.batch, args.steps)
            rows.append([name, f"{n_params / 1e6:.2f} M", f"{rate:.1f}"])
    print_table(["model", "parameters", "samples/s (train step)"], rows)


if __name__ == "__main__":
    main()

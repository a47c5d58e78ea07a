"""Training throughput on this machine: samples/s of one optimiser step (forward, backward, SGD)
per model on random inputs of the real shapes — what a CPU budget buys.

    python benchmarks/training_bench.py [--batch 32] [--steps 3] [--threads 2]

Models come from the trainers (``training.deepsketch.model``, ``training.dsn.model``) with their
default configs. Shapes: DeepSketch 1×224×224; DSN a 96×96 order raster (and 64, 28 for the
image-size study) plus an 88-point stroke-3 sequence (T of the cache). The real CPU runs used
batch 64 and one thread per run: ``--batch 64 --threads 1`` gives their figures.
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import torch

from common import machine, print_table
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--skip", default="", help="comma-separated case names to leave out")
    args = ap.parse_args()
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

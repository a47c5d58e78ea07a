"""Training throughput of each DSN variant on this machine: ``python benchmarks/dsn_throughput.py``.

Prints samples/s (forward + backward + Adam step, batch 64, one thread by default, the settings
of the real CPU run) for the configurations in ``training/config/dsn_*.py``, on random inputs of
the real shapes. The figures size the epochs that fit a CPU budget.
"""
from __future__ import annotations

import argparse
import time

import torch

from training.dsn.model import DSN
from training.dsn.train import DEFAULTS, model_config


def samples_per_second(model_name: str, size: int, steps: int, batch: int, seq_len: int) -> float:
    cfg = dict(DEFAULTS, model=model_name, image_size=size)
    model = DSN(model_config(cfg, n_classes=26))
    opt = torch.optim.Adam(model.parameters(), 3e-4)
    image = torch.rand(batch, 1, size, size)
    strokes = torch.randn(batch, seq_len, 3)
    lengths = torch.randint(8, seq_len + 1, (batch,))
    y = torch.randint(0, 26, (batch,))
    for i in range(steps + 1):
        if i == 1:  # the first step allocates; time the rest
            t0 = time.perf_counter()
        loss, _ = model.loss(model(image, strokes, lengths), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return batch * steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=88, help="T of the cache (meta.json)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for name, size in (("cnn", 96), ("cnn", 64), ("cnn", 28), ("rnn", 96), ("dsn", 96),
                       ("dsnplus", 96)):
        sps = samples_per_second(name, size, args.steps, args.batch, args.seq_len)
        print(f"{name:8s} {size:3d} px  {sps:8.1f} samples/s")


if __name__ == "__main__":
    main()

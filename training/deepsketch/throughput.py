"""Training samples/s of DeepSketch width variants on this machine (forward + backward + SGD step
on random 224 canvases), to pick the variant a CPU budget allows. Prints one line per variant."""
from __future__ import annotations

import argparse
import time

import torch

from .model import DeepSketch, DeepSketchConfig, count_parameters

VARIANTS = {
    "paper": DeepSketchConfig(),
    "w/2": DeepSketchConfig((32, 64, 128, 256), 1024),
    "w/4": DeepSketchConfig((16, 32, 64, 128), 512),
    "w/8": DeepSketchConfig((8, 16, 32, 64), 256),
}


def samples_per_second(cfg: DeepSketchConfig, batch: int, steps: int) -> float:
    model = DeepSketch(cfg).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(batch, 1, 224, 224), torch.randint(0, cfg.n_classes, (batch,))
    for i in range(steps + 1):
        if i == 1:  # the first step warms up allocators and kernels
            t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x).logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return batch * steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--variants", default="w/8,w/4,w/2,paper")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.variants.split(","):
        cfg = VARIANTS[name]
        sps = samples_per_second(cfg, args.batch, args.steps)
        print(f"{name:6s} widths={cfg.widths} fc={cfg.fc} params={count_parameters(DeepSketch(cfg)):,} "
              f"threads={args.threads}: {sps:.1f} samples/s", flush=True)


if __name__ == "__main__":
    main()

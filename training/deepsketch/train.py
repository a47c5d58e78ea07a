"""Train DeepSketch on TU-Berlin (nanoGPT style): one script for a CPU process and for torchrun DDP.

    python -m training.deepsketch.train [config.py] [--key=value ...]
    torchrun --nproc_per_node=8 -m training.deepsketch.train training/config/deepsketch_paper.py

The defaults below are the paper's (papers.md §1); a config file (plain Python assignments) and
then ``--key=value`` overrides change them; an unknown key is refused. The resolved config is
saved in every checkpoint. ``RANK`` in the environment turns DDP on (gloo on CPU, nccl on CUDA);
each rank draws its own distinct-class batches (seed offset by rank), rank 0 logs and checkpoints.

Choices the paper leaves open, recorded here: the decay schedule is a linear warm-up then cosine to
zero (the paper only says "reduced gradually" after 80 epochs); momentum stays 0.9; weight decay
5e-4; an "epoch" is ``train size // (batch × world)`` steps.
"""
from __future__ import annotations

import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from .. import configurator
from .data import CACHE, TRAIN_PER_CLASS, DistinctClassBatches, TuBerlinCache, augment, canvas_mean, \
    centre_view, split_indices, to_batch
from .model import DeepSketch, DeepSketchConfig

log = logging.getLogger("deepsketch.train")

# ---- defaults: the paper (Table 1 and §training) -------------------------------------------------
split = 1                      # which of the three random splits (its seed)
train_per_class = TRAIN_PER_CLASS
widths = (64, 128, 256, 512)   # layers 1, 4, 7, 9
fc = 4096                      # layer 12
dropout = 0.5                  # layer 14
batch_size = 64                # per rank, all of different classes
epochs = 110                   # paper: 80 at full rate, then a gradual decay
lr = 0.1
momentum = 0.9
weight_decay = 5e-4
warmup_steps = 0               # linear warm-up, then cosine to zero
grad_clip = 0.0                # 0 = off
seed = 1337                    # + rank
threads = 0                    # torch.set_num_threads; 0 = leave torch's default
cache = str(CACHE)
out_dir = "runs/deepsketch/paper-split1"
eval_items = 1000              # test sketches for the per-epoch single-view check (0 = none)
log_every = 20
resume = False
# ---------------------------------------------------------------------------------------------------
DEFAULTS = {k: v for k, v in dict(globals()).items()
            if not k.startswith("_") and isinstance(v, (int, float, bool, str, tuple))
            and k not in {"annotations", "CACHE", "TRAIN_PER_CLASS"}}


def configure(argv: list[str]) -> dict[str, Any]:
    """Defaults ← config file ← ``--key=value`` overrides (see :mod:`training.configurator`)."""
    return configurator.configure(argv, DEFAULTS)


def model_config(cfg: dict[str, Any], n_classes: int) -> DeepSketchConfig:
    return DeepSketchConfig(tuple(cfg["widths"]), cfg["fc"], cfg["dropout"], n_classes)


def lr_at(step: int, total: int, cfg: dict[str, Any]) -> float:
    if step < cfg["warmup_steps"]:
        return cfg["lr"] * (step + 1) / cfg["warmup_steps"]
    t = (step - cfg["warmup_steps"]) / max(1, total - cfg["warmup_steps"])
    return cfg["lr"] * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


def _setup_distributed() -> tuple[int, int, torch.device]:
    if "RANK" not in os.environ:
        return 0, 1, torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


@torch.no_grad()
def quick_accuracy(model: DeepSketch, data: TuBerlinCache, idx: np.ndarray, mean: float,
                   device: torch.device, batch: int = 100) -> float:
    """Single centre-view accuracy on ``idx`` (a progress figure; evaluate.py gives the real one)."""
    model.eval()
    hits = 0
    for i in range(0, len(idx), batch):
        part = idx[i:i + batch]
        x = to_batch([centre_view(data.pictures[j]) for j in part], mean)
        pred = model(torch.from_numpy(x).to(device)).logits.argmax(1).cpu().numpy()
        hits += int((pred == data.labels[part]).sum())
    model.train()
    return hits / max(1, len(idx))


def train(cfg: dict[str, Any]) -> DeepSketch:
    """Run (or resume) one training; returns the trained model (unwrapped, on its device)."""
    rank, world, device = _setup_distributed()
    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])  # same initial weights on every rank (DDP also broadcasts)
    out = Path(cfg["out_dir"])
    master = rank == 0
    if master:
        out.mkdir(parents=True, exist_ok=True)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                            handlers=[logging.StreamHandler(), logging.FileHandler(out / "train.log")],
                            force=True)
    data = TuBerlinCache.load(Path(cfg["cache"]))
    train_idx, test_idx = split_indices(data.labels, cfg["split"], cfg["train_per_class"])
    mean = canvas_mean(data.pictures[train_idx])
    mcfg = model_config(cfg, len(data.classes))
    model = DeepSketch(mcfg).to(device)
    torch.manual_seed(cfg["seed"] + rank)  # dropout differs per rank
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                          weight_decay=cfg["weight_decay"])
    steps = len(train_idx) // (cfg["batch_size"] * world)
    total = steps * cfg["epochs"]
    start_epoch, wall = 0, 0.0
    ckpt_path = out / "ckpt.pt"
    if cfg["resume"] and ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        start_epoch, wall = ck["epoch"] + 1, ck["train_seconds"]
        if master:
            log.info("resumed from %s at epoch %d", ckpt_path, start_epoch)
    net = DistributedDataParallel(model) if world > 1 else model
    batches = DistinctClassBatches(data.labels, train_idx, cfg["batch_size"], steps,
                                   cfg["seed"], rank)
    eval_idx = np.random.default_rng(0).permutation(test_idx)[:cfg["eval_items"]]
    if master:
        log.info("config %s", cfg)
        log.info("model %s, %d params, mean %.5f, world %d, %d steps/epoch, device %s",
                 mcfg, sum(p.numel() for p in model.parameters()), mean, world, steps, device)
    model.train()
    for epoch in range(start_epoch, cfg["epochs"]):
        t0 = time.perf_counter()
        seen, loss_sum, hit_sum = 0, 0.0, 0
        bar = tqdm(batches.epoch(epoch), total=steps, desc=f"epoch {epoch}", disable=not master,
                   mininterval=5)
        for i, (idx, rng) in enumerate(bar):
            step = epoch * steps + i
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total, cfg)
            x = torch.from_numpy(to_batch([augment(data.pictures[j], rng) for j in idx], mean))
            y = torch.from_numpy(data.labels[idx].astype(np.int64))
            logits = net(x.to(device)).logits
            loss = torch.nn.functional.cross_entropy(logits, y.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg["grad_clip"]:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
            opt.step()
            if not math.isfinite(loss.item()):
                raise FloatingPointError(f"loss is {loss.item()} at step {step}: lower lr")
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            hit_sum += int((logits.argmax(1).cpu() == y).sum())
            if master and i % cfg["log_every"] == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr_at(step, total, cfg):.4f}")
                log.info("epoch %d step %d/%d loss %.4f lr %.5f", epoch, i, steps, loss.item(),
                         lr_at(step, total, cfg))
        wall += time.perf_counter() - t0
        if master:
            acc = quick_accuracy(model, data, eval_idx, mean, device) if len(eval_idx) else float("nan")
            log.info("epoch %d done: train loss %.4f, train acc %.4f, test centre-view acc (%d) %.4f, "
                     "%.1f samples/s/rank, wall %.0f s", epoch, loss_sum / seen, hit_sum / seen,
                     len(eval_idx), acc, seen / (time.perf_counter() - t0), wall)
            tmp = out / "ckpt.pt.tmp"
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                        "config": cfg, "model_config": mcfg.to_dict(), "mean": mean,
                        "split": cfg["split"], "world_size": world, "train_seconds": wall,
                        "device": str(device), "command": " ".join(sys.argv)}, tmp)
            tmp.replace(ckpt_path)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return model


def main() -> None:
    train(configure(sys.argv[1:]))


if __name__ == "__main__":
    main()

"""Train DeepSketch on TU-Berlin (nanoGPT style): one script for a CPU process and for torchrun DDP.

    python -m training.deepsketch.train [config.py] [--key=value ...]
    torchrun --nproc_per_node=8 -m training.deepsketch.train training/config/deepsketch_paper.py

The defaults below are the paper's (papers.md §1); a config file (plain Python assignments) and
then ``--key=value`` overrides change them; an unknown key is refused. The resolved config is
saved in every checkpoint. ``RANK`` in the environment turns DDP on (:mod:`training.distributed`:
gloo on CPU, NCCL on CUDA, one GPU per ``LOCAL_RANK``); the ranks share out each epoch's
distinct-class batches (:class:`~training.deepsketch.data.DistinctClassBatches`, no sketch twice
in an epoch), augmented in ``num_workers`` loader processes; rank 0 logs and checkpoints. A
checkpoint (every epoch, and every ``ckpt_every`` steps) keeps the loader's position, so
``--resume=True`` continues the same batches mid-epoch. Losses and hits are summed on the device
and read every ``log_every`` steps and at the end of each epoch, never per step.

Choices the paper leaves open, recorded here: the decay schedule is a linear warm-up then cosine to
zero (the paper only says "reduced gradually" after 80 epochs); momentum stays 0.9; weight decay
5e-4; an "epoch" is one pass of the distinct-class batches, ``train size // batch`` global
batches dealt to the ranks.
"""
from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from .. import configurator
from .. import distributed as D
from ..loader import loader_state, make_loader, restore
from .data import CACHE, TRAIN_PER_CLASS, DistinctClassBatches, TrainViews, TuBerlinCache, canvas_mean, \
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
num_workers = 0                # loader processes per rank (what a rank sees does not depend on it;
                               # on 2 cores 0 is fastest: a worker takes a core from the step)
channels_last = True           # NHWC: 1.3x on this CPU's oneDNN convs, same maths (issue 16)
bf16 = False                   # bf16 autocast, weights/SGD fp32: 1.35x alone on AMX (issue 16)
torch_compile = ""             # a torch.compile mode; "" = eager (compiled: 0.7x on the CPU)
ckpt_every = 0                 # also checkpoint every this many steps (0: at epoch ends only)
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


def memory_format(cfg: dict[str, Any]) -> torch.memory_format:
    return torch.channels_last if cfg["channels_last"] else torch.contiguous_format


def autocast(cfg: dict[str, Any], device: torch.device) -> torch.autocast:
    """The forward pass and loss in bf16 when ``bf16`` (a no-op context otherwise)."""
    return torch.autocast(device.type, torch.bfloat16, enabled=cfg["bf16"])


def compiled(net: torch.nn.Module, cfg: dict[str, Any]) -> torch.nn.Module:
    return torch.compile(net, mode=cfg["torch_compile"]) if cfg["torch_compile"] else net


def lr_at(step: int, total: int, cfg: dict[str, Any]) -> float:
    if step < cfg["warmup_steps"]:
        return cfg["lr"] * (step + 1) / cfg["warmup_steps"]
    t = (step - cfg["warmup_steps"]) / max(1, total - cfg["warmup_steps"])
    return cfg["lr"] * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


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
    ctx = D.setup()
    device = ctx.device
    if cfg["threads"]:
        torch.set_num_threads(cfg["threads"])
    D.seed(cfg["seed"])  # same initial weights on every rank (DDP also broadcasts)
    out = Path(cfg["out_dir"])
    if ctx.is_master:
        out.mkdir(parents=True, exist_ok=True)
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                            handlers=[logging.StreamHandler(), logging.FileHandler(out / "train.log")],
                            force=True)
    data = TuBerlinCache.load(Path(cfg["cache"]))
    train_idx, test_idx = split_indices(data.labels, cfg["split"], cfg["train_per_class"])
    mean = canvas_mean(data.pictures[train_idx])
    mcfg = model_config(cfg, len(data.classes))
    model = DeepSketch(mcfg).to(device, memory_format=memory_format(cfg))
    D.seed(cfg["seed"], ctx)  # dropout differs per rank
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                          weight_decay=cfg["weight_decay"])
    sampler = DistinctClassBatches(data.labels, train_idx, cfg["batch_size"], cfg["seed"],
                                   ctx.rank, ctx.world)
    loader = make_loader(TrainViews(Path(cfg["cache"]), mean, cfg["seed"]), sampler,
                         cfg["num_workers"], pin_memory=device.type == "cuda")
    steps = sampler.batches_per_epoch
    total = steps * cfg["epochs"]
    step, wall, saved_loader = 0, 0.0, None
    ckpt_path = out / "ckpt.pt"
    if cfg["resume"] and ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step = ck.get("step", (ck["epoch"] + 1) * steps)  # before issue 17: epoch ends only
        wall, saved_loader = ck["train_seconds"], ck.get("loader")
        if ctx.is_master:
            log.info("resumed from %s at step %d (epoch %d)", ckpt_path, step, step // steps)
    restore(loader, saved_loader, step)
    net = compiled(DistributedDataParallel(model) if ctx.distributed else model, cfg)
    eval_idx = np.random.default_rng(0).permutation(test_idx)[:cfg["eval_items"]]
    if ctx.is_master:
        log.info("config %s", cfg)
        log.info("model %s, %d params, mean %.5f, world %d, %d steps/epoch, device %s",
                 mcfg, sum(p.numel() for p in model.parameters()), mean, ctx.world, steps, device)

    def save() -> None:
        D.save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                       "epoch": step // steps - 1, "config": cfg,  # the last completed epoch
                       "model_config": mcfg.to_dict(), "mean": mean, "split": cfg["split"],
                       "world_size": ctx.world, "train_seconds": wall, "device": str(device),
                       "loader": loader_state(loader), "command": " ".join(sys.argv)}, ckpt_path)

    batches = iter(loader)
    model.train()
    bar = tqdm(total=total, initial=step, disable=not ctx.is_master, mininterval=5)
    t0 = time.perf_counter()
    sums: dict[str, torch.Tensor | float] = {}
    while step < total:
        epoch, i = divmod(step, steps)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, cfg)
        b = next(batches)
        x = b["x"].to(device, non_blocking=True, memory_format=memory_format(cfg))
        y = b["y"].to(device, non_blocking=True)
        with autocast(cfg, device):
            logits = net(x).logits
            loss = torch.nn.functional.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        opt.step()
        step += 1
        for k, v in {"loss": loss.detach() * len(y), "hits": (logits.argmax(1) == y).sum(),
                     "seen": float(len(y))}.items():
            sums[k] = sums[k] + v if k in sums else v  # device tensors: no sync here
        bar.update(1)
        if ctx.is_master and i % cfg["log_every"] == 0:
            value = loss.item()  # one sync every log_every steps
            if not math.isfinite(value):
                raise FloatingPointError(f"loss is {value} at step {step - 1}: lower lr")
            bar.set_postfix(loss=f"{value:.3f}", lr=f"{lr_at(step - 1, total, cfg):.4f}")
            log.info("epoch %d step %d/%d loss %.4f lr %.5f", epoch, i, steps, value,
                     lr_at(step - 1, total, cfg))
        end_of_epoch = step % steps == 0
        if end_of_epoch:
            now = time.perf_counter()
            wall += now - t0
            totals = D.reduce_sums(sums, ctx)  # collective: every rank
            sums = {}
            if not math.isfinite(totals["loss"]):
                raise FloatingPointError(f"mean loss of epoch {epoch} is {totals['loss']}: lower lr")
            if ctx.is_master:
                acc = quick_accuracy(model, data, eval_idx, mean, device) if len(eval_idx) else float("nan")
                log.info("epoch %d done: train loss %.4f, train acc %.4f, test centre-view acc (%d) "
                         "%.4f, %.1f samples/s/rank, wall %.0f s", epoch, totals["loss"] / totals["seen"],
                         totals["hits"] / totals["seen"], len(eval_idx), acc,
                         totals["seen"] / ctx.world / (now - t0), wall)
            t0 = time.perf_counter()
        if ctx.is_master and (end_of_epoch or (cfg["ckpt_every"] and step % cfg["ckpt_every"] == 0)):
            save()
    bar.close()
    D.teardown(ctx)
    return model


def main() -> None:
    train(configure(sys.argv[1:]))


if __name__ == "__main__":
    main()

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
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from .. import configurator
from .. import distributed as D
from ..export import hardware
from ..loader import Batch, loader_state, make_loader, restore
from .data import CACHE, QUICKDRAW, TRAIN_PER_CLASS, Augment, DistinctClassBatches, TrainViews, TuBerlinCache, canvas_mean, \
    centre_view, to_batch, view_scale
from .model import DeepSketch, DeepSketchConfig

log = logging.getLogger("deepsketch.train")
OE_STREAM = 0x0E  # keeps the outlier batches' generator apart from the known batches'

# ---- defaults: the paper (Table 1 and §training) -------------------------------------------------
split = 1                      # which of the three random splits (its seed)
train_per_class = TRAIN_PER_CLASS
widths = (64, 128, 256, 512)   # layers 1, 4, 7, 9
fc = 4096                      # layer 12
dropout = 0.5                  # layer 14
norm = ""                      # "batch": BatchNorm after each hidden conv (folded away for export)
batch_size = 64                # per rank, all of different classes
epochs = 110                   # paper: 80 at full rate, then a gradual decay
lr = 0.1
momentum = 0.9
weight_decay = 5e-4
warmup_steps = 0               # linear warm-up, then cosine to zero
grad_clip = 0.0                # 0 = off
label_smoothing = 0.0
ema_decay = 0.0                # > 0: keep an exponential average of the weights (and norm
                               # statistics), which evaluation and export then use
oe_weight = 0.0                # > 0: outlier exposure on the cache's background pictures (the
oe_batch = 16                  # mixed cache, training.deepsketch.mixed): oe_batch of them a step,
                               # pulled to the uniform distribution with this weight
quickdraw_repeat = 1           # each Quick, Draw! picture of the cache this many times an epoch
init_from = ""                 # a checkpoint whose (averaged) weights start the run (fine-tuning)
aug_angle = 35.0               # training views (data.Augment): the paper's rotation and paste...
aug_angle_step = 5.0
aug_scale = (1.0, 1.0)         # ...and, off by default, scale, aspect, shear and thicker strokes
aug_aspect = 0.0
aug_shear = 0.0
aug_thicken = 0.0
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
stop_at = 0                    # end this process at this step, checkpointed, to go on later with
                               # --resume=True (a run longer than a session); 0 = to the end
# ---------------------------------------------------------------------------------------------------
DEFAULTS = {k: v for k, v in dict(globals()).items()
            if not k.startswith("_") and isinstance(v, (int, float, bool, str, tuple))
            and k not in {"annotations", "CACHE", "TRAIN_PER_CLASS", "OE_STREAM"}}


def configure(argv: list[str]) -> dict[str, Any]:
    """Defaults ← config file ← ``--key=value`` overrides (see :mod:`training.configurator`)."""
    return configurator.configure(argv, DEFAULTS)


def model_config(cfg: dict[str, Any], n_classes: int) -> DeepSketchConfig:
    return DeepSketchConfig(tuple(cfg["widths"]), cfg["fc"], cfg["dropout"], n_classes, cfg["norm"])


def weight_average(model: torch.nn.Module, cfg: dict[str, Any]) -> AveragedModel | None:
    """The EMA of the weights and buffers (BatchNorm statistics included), or None when off."""
    if not cfg["ema_decay"]:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg["ema_decay"]), use_buffers=True)


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


def outlier_batch(views: TrainViews, rows: np.ndarray, cfg: dict[str, Any], step: int, epoch: int,
                  rank: int) -> torch.Tensor:
    """``oe_batch`` augmented background pictures, drawn from ``(seed, rank, step)`` alone, so a
    resumed run draws the same ones."""
    pick = np.random.default_rng([cfg["seed"], OE_STREAM, rank, step]).choice(rows, cfg["oe_batch"])
    return views.__getitems__(Batch(epoch, step, pick))["x"]


@torch.no_grad()
def quick_accuracy(model: DeepSketch, data: TuBerlinCache, idx: np.ndarray, mean: float,
                   device: torch.device, scale: float = 1.0, batch: int = 100) -> float:
    """Single centre-view accuracy on ``idx``, the view at ``scale`` (a progress figure;
    evaluate.py gives the real one)."""
    model.eval()
    hits = 0
    for i in range(0, len(idx), batch):
        part = idx[i:i + batch]
        x = to_batch([centre_view(data.pictures[j], scale) for j in part], mean)
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
    train_idx, test_idx, background = data.rows(cfg["split"], cfg["train_per_class"])
    quick = train_idx[data.source[train_idx] == QUICKDRAW]
    train_idx = np.sort(np.concatenate([train_idx, *[quick] * (cfg["quickdraw_repeat"] - 1)]))
    if cfg["oe_weight"] and not len(background):
        raise ValueError(f"oe_weight {cfg['oe_weight']}: {cfg['cache']} has no background pictures")
    mean = canvas_mean(data.pictures[train_idx])
    mcfg = model_config(cfg, len(data.classes))
    model = DeepSketch(mcfg)
    if cfg["init_from"]:
        start = torch.load(cfg["init_from"], map_location="cpu", weights_only=False)
        model.load_state_dict(start.get("ema") or start["model"])
    model = model.to(device, memory_format=memory_format(cfg))
    D.seed(cfg["seed"], ctx)  # dropout differs per rank
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                          weight_decay=cfg["weight_decay"])
    sampler = DistinctClassBatches(data.labels, train_idx, cfg["batch_size"], cfg["seed"],
                                   ctx.rank, ctx.world)
    ema = weight_average(model, cfg)
    aug = Augment.from_config(cfg)
    outliers = TrainViews(Path(cfg["cache"]), mean, cfg["seed"] + OE_STREAM, aug)
    loader = make_loader(TrainViews(Path(cfg["cache"]), mean, cfg["seed"], aug), sampler,
                         cfg["num_workers"], pin_memory=device.type == "cuda")
    steps = sampler.batches_per_epoch
    total = steps * cfg["epochs"]
    step, wall, saved_loader, rng = 0, 0.0, None, None
    ckpt_path = out / "ckpt.pt"
    if cfg["resume"] and ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step = ck.get("step", (ck["epoch"] + 1) * steps)  # before issue 17: epoch ends only
        if ema is not None:
            ema.module.load_state_dict(ck.get("ema") or ck["model"])
            ema.n_averaged.fill_(step)  # 0 would make the next update copy the weights over it
        wall, saved_loader = ck["train_seconds"], ck.get("loader")
        rng = ck.get("rng")
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
                       "ema": ema.module.state_dict() if ema is not None else None,
                       "rng": torch.get_rng_state(), "hardware": hardware(),
                       "epoch": step // steps - 1, "config": cfg,  # the last completed epoch
                       "model_config": mcfg.to_dict(), "mean": mean, "split": cfg["split"],
                       "world_size": ctx.world, "train_seconds": wall, "device": str(device),
                       "loader": loader_state(loader), "command": " ".join(sys.argv)}, ckpt_path)

    batches = iter(loader)  # draws the loader's base seed from torch's generator, so...
    if rng is not None and not ctx.distributed:
        torch.set_rng_state(rng)  # ...dropout goes on after it as if the run had never stopped
    model.train()
    bar = tqdm(total=total, initial=step, disable=not ctx.is_master, mininterval=5)
    t0 = time.perf_counter()
    sums: dict[str, torch.Tensor | float] = {}
    end = min(total, cfg["stop_at"]) if cfg["stop_at"] else total
    while step < end:
        epoch, i = divmod(step, steps)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total, cfg)
        b = next(batches)
        x = b["x"]
        if cfg["oe_weight"]:
            x = torch.cat([x, outlier_batch(outliers, background, cfg, step, epoch, ctx.rank)])
        x = x.to(device, non_blocking=True, memory_format=memory_format(cfg))
        y = b["y"].to(device, non_blocking=True)
        with autocast(cfg, device):
            logits = net(x).logits
            logits, strangers = logits[:len(y)], logits[len(y):]
            loss = torch.nn.functional.cross_entropy(logits, y, label_smoothing=cfg["label_smoothing"])
            if len(strangers):  # cross-entropy to the uniform distribution (Hendrycks et al. 2019)
                loss = loss - cfg["oe_weight"] * torch.log_softmax(strangers.float(), 1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        opt.step()
        if ema is not None:
            ema.update_parameters(model)
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
                shown = ema.module if ema is not None else model
                acc = (quick_accuracy(shown, data, eval_idx, mean, device, view_scale(cfg))
                       if len(eval_idx) else float("nan"))
                log.info("epoch %d done: train loss %.4f, train acc %.4f, test centre-view acc (%d) "
                         "%.4f, %.1f samples/s/rank, wall %.0f s", epoch, totals["loss"] / totals["seen"],
                         totals["hits"] / totals["seen"], len(eval_idx), acc,
                         totals["seen"] / ctx.world / (now - t0), wall)
            t0 = time.perf_counter()
        if ctx.is_master and (end_of_epoch or step == end
                              or (cfg["ckpt_every"] and step % cfg["ckpt_every"] == 0)):
            save()
    bar.close()
    D.teardown(ctx)
    return model


def main() -> None:
    train(configure(sys.argv[1:]))


if __name__ == "__main__":
    main()

"""Train one row of the DSN table: ``python -m training.dsn.train [config.py] [--key=value ...]``.

nanoGPT style: the defaults below are the whole configuration; a config file (Python assigning
some of these names, e.g. ``training/config/dsn_dsnplus.py``) and then ``--key=value`` arguments
override them; an unknown key is refused. The resolved configuration is saved in every checkpoint.

One process on a CPU by default. Under ``torchrun`` (``RANK`` set) it runs DistributedDataParallel
with gloo on CPUs or NCCL on GPUs (:mod:`training.distributed`); each rank takes its own batches
of every exact epoch (:class:`~training.dsn.data.ShardBlockBatches` through
:func:`training.loader.make_loader`), so the same code covers one laptop and many GPUs (multi-node
``torchrun`` flags in ``docs/training-at-scale.md``). Training is counted in steps
(``epochs`` × batches per rank per epoch); a checkpoint keeps the loader's position, so
``--resume=True`` continues the same sequence of batches mid-epoch. Losses are summed on the
device and read (all-reduced over ranks) only every ``log_interval`` steps.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from .. import distributed as D
from ..configurator import configure
from ..loader import loader_state, make_loader, restore
from .data import DEFAULT_CACHE, ShardBlockBatches, TrainShards, load_meta, load_split, raster_tensor
from .metrics import map_at_k, predict, top1
from .model import DSN, CNNConfig, DSNConfig, FusionConfig, RNNConfig

DEFAULTS: dict[str, Any] = {
    "out_dir": "runs/dsn/dsnplus",
    "cache": str(DEFAULT_CACHE),
    "model": "dsnplus",            # cnn | rnn | dsn | dsnplus
    "image_size": 96,
    "cnn_widths": (16, 32, 64, 128, 128),
    "cnn_convs_per_block": 1,
    "cnn_embed": 128,
    "cnn_dropout": 0.2,
    "rnn_conv": (48, 64),
    "rnn_hidden": 256,
    "rnn_dropout": 0.1,
    "fusion_dim": 128,
    "fusion_dropout": 0.2,
    "aux_weight": 0.5,
    "center_alpha": 0.01,          # used by dsnplus only
    "center_lr": 0.01,             # Adam learning rate of the class centres
    "batch_size": 64,
    "epochs": 6.0,
    "learning_rate": 0.0,          # 0: the paper's 3e-4 (5e-4 for the RNN alone)
    "grad_clip": 1.0,              # max global gradient norm (0: off); guards the LSTM
    "min_lr_ratio": 0.1,           # cosine decay to this fraction
    "warmup_iters": 50,
    "flip": 0.5,
    "eval_interval": 250,
    "log_interval": 25,
    "num_workers": 0,              # loader processes per rank (what a rank sees does not depend on it)
    "shard_block": 8,              # shards shuffled together (ShardBlockBatches)
    "threads": 1,
    "seed": 1337,
    "resume": False,
}


def parse_config(argv: list[str], defaults: dict[str, Any] = DEFAULTS) -> dict[str, Any]:
    """Defaults ← config files ← ``--key=value`` overrides (see :mod:`training.configurator`)."""
    return configure(argv, defaults)


def model_config(cfg: dict[str, Any], n_classes: int) -> DSNConfig:
    return DSNConfig(
        kind=cfg["model"], n_classes=n_classes,
        cnn=CNNConfig(size=cfg["image_size"], widths=tuple(cfg["cnn_widths"]),
                      convs_per_block=cfg["cnn_convs_per_block"], embed=cfg["cnn_embed"],
                      dropout=cfg["cnn_dropout"]),
        rnn=RNNConfig(conv=tuple(cfg["rnn_conv"]), hidden=cfg["rnn_hidden"],
                      dropout=cfg["rnn_dropout"]),
        fusion=FusionConfig(dim=cfg["fusion_dim"], dropout=cfg["fusion_dropout"],
                            aux_weight=cfg["aux_weight"],
                            center_alpha=cfg["center_alpha"] if cfg["model"] == "dsnplus" else 0.0))


def learning_rate(cfg: dict[str, Any]) -> float:
    return cfg["learning_rate"] or (5e-4 if cfg["model"] == "rnn" else 3e-4)


def lr_at(step: int, max_iters: int, base: float, cfg: dict[str, Any]) -> float:
    """Linear warm-up, then cosine decay to ``min_lr_ratio`` of the base rate."""
    if step < cfg["warmup_iters"]:
        return base * (step + 1) / cfg["warmup_iters"]
    t = (step - cfg["warmup_iters"]) / max(1, max_iters - cfg["warmup_iters"])
    floor = base * cfg["min_lr_ratio"]
    return floor + 0.5 * (base - floor) * (1 + math.cos(math.pi * min(1.0, t)))


def evaluate_val(model: DSN, cache: Path, size: int, mean: float) -> dict[str, float]:
    val = load_split(cache, "val", size)
    logits = predict(model, val[f"img{size}"], val["strokes"], val["lengths"], mean)
    out = {}
    for name, s in logits.items():
        out[f"val_map3_{name}"] = map_at_k(s, val["labels"])
        out[f"val_top1_{name}"] = top1(s, val["labels"])
    return out


def run(cfg: dict[str, Any]) -> DSN:
    """Train as configured and return the (unwrapped) model; rank 0 writes logs and checkpoints."""
    ctx = D.setup()
    device = ctx.device
    torch.set_num_threads(cfg["threads"])
    D.seed(cfg["seed"])  # the same initial weights on every rank
    out_dir, cache = Path(cfg["out_dir"]), Path(cfg["cache"])
    meta = load_meta(cache)
    mean = meta["order_raster_mean"]
    mcfg = model_config(cfg, len(meta["classes"]))
    model = DSN(mcfg).to(device)
    D.seed(cfg["seed"], ctx)  # dropout differs per rank
    base_lr = learning_rate(cfg)
    centers = [model.centers] if model.centers is not None else []
    others = [p for p in model.parameters() if all(p is not c for c in centers)]
    groups = [{"params": others, "lr": base_lr, "scale": 1.0}]
    if centers:
        groups.append({"params": centers, "lr": cfg["center_lr"], "scale": cfg["center_lr"] / base_lr})
    opt = torch.optim.Adam(groups)
    data = TrainShards(cache, cfg["image_size"], cfg["seed"], cfg["flip"])
    sampler = ShardBlockBatches([n for _, n in data.shards], cfg["batch_size"], ctx.rank, ctx.world,
                                cfg["seed"], cfg["shard_block"])
    loader = make_loader(data, sampler, cfg["num_workers"], pin_memory=device.type == "cuda")
    max_iters = math.ceil(cfg["epochs"] * sampler.batches_per_epoch)
    step, elapsed, history, saved_loader = 0, 0.0, [], None
    ckpt_path = out_dir / "ckpt.pt"
    if cfg["resume"] and ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step, elapsed, history = ck["step"], ck["wall_seconds"], ck["history"]
        saved_loader = ck.get("loader")
    restore(loader, saved_loader, step)
    net = DistributedDataParallel(model) if ctx.distributed else model
    if ctx.is_master:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        log = (out_dir / "log.jsonl").open("a")

    def save() -> None:
        D.save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                       "config": cfg, "model_config": mcfg.to_dict(), "classes": meta["classes"],
                       "order_raster_mean": mean, "stroke3": meta["stroke3"],
                       "max_iters": max_iters, "world_size": ctx.world, "wall_seconds": elapsed,
                       "history": history, "loader": loader_state(loader), "argv": sys.argv},
                      ckpt_path)

    bar = tqdm(total=max_iters, initial=step, disable=not ctx.is_master, dynamic_ncols=True)
    t_last = time.time()
    sums: dict[str, torch.Tensor | float] = {}
    batches = iter(loader)
    model.train()
    while step < max_iters:
        lr = lr_at(step, max_iters, base_lr, cfg)
        for g in opt.param_groups:
            g["lr"] = lr * g["scale"]
        b = next(batches)
        img, strokes, lengths, y = (b[k].to(device, non_blocking=True)
                                    for k in ("img", "strokes", "lengths", "labels"))
        out = net(raster_tensor(img, mean), strokes, lengths)
        loss, parts = model.loss(out, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        opt.step()
        step += 1
        for k, v in {"loss": loss.detach(), **parts, "steps": 1.0, "samples": float(len(y))}.items():
            sums[k] = sums[k] + v if k in sums else v  # device tensors: no sync here
        bar.update(1)
        last = step == max_iters
        if step % cfg["log_interval"] == 0 or last:  # every rank: the reduction is collective
            totals = D.reduce_sums(sums, ctx)
            sums = {}
            now = time.time()
            elapsed += now - t_last
            rate = totals.pop("samples") / (now - t_last)
            n = totals.pop("steps")  # summed over the ranks too
            rec = {"step": step, "lr": lr, **{k: v / n for k, v in totals.items()},
                   "samples_per_s": rate, "wall_seconds": elapsed}
            t_last = now
            if not math.isfinite(rec["loss"]):
                raise FloatingPointError(f"loss is {rec['loss']} at step {step}: lower the learning rate")
            if ctx.is_master:
                if step % cfg["eval_interval"] == 0 or last:
                    rec.update(evaluate_val(model, cache, cfg["image_size"], mean))
                    history.append(rec)
                    save()
                    t_last = time.time()
                bar.set_postfix(loss=f"{rec['loss']:.3f}", sps=f"{rate:.0f}")
                log.write(json.dumps(rec) + "\n")
                log.flush()
    bar.close()
    D.teardown(ctx)
    return model


def main(argv: list[str] | None = None) -> None:
    run(parse_config(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()

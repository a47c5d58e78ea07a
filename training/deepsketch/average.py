"""Stochastic weight averaging of a split's cycle ends (Izmailov et al. 2018, "Averaging weights
leads to wider optima and better generalization").

A warm restart (``training/config/deepsketch_restart.py``) leaves two networks of one split that
start from the same weights: the end of the first cosine cycle and the end of the second. Their
weights are averaged into one network of the same geometry (so the ten-view protocol still tests
one Table-1 network), and the BatchNorm statistics, which do not average, are measured again
over one epoch of the split's training views (``torch.optim.swa_utils.update_bn``). The result is a
checkpoint that ``evaluate`` and ``export_pack`` read like any other; it records what it averages.

    python -m training.deepsketch.average runs/deepsketch/recipe-split3/ckpt.pt \\
        runs/deepsketch/restart-split3/ckpt.pt --out runs/deepsketch/swa-split3/ckpt.pt
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
from itertools import islice
from pathlib import Path
from typing import Any, Sequence

import torch
from torch.optim.swa_utils import update_bn

from ..loader import make_loader
from .data import Augment, DistinctClassBatches, TrainViews, TuBerlinCache
from .model import DeepSketch, DeepSketchConfig

log = logging.getLogger("deepsketch.average")


def average_states(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The mean of the networks' learnt weights. BatchNorm's running statistics and counters are
    the last network's, to be measured again: an average of two networks' statistics is not the
    statistics of the averaged network."""
    out = {}
    for k, last in states[-1].items():
        is_stat = k.endswith(("running_mean", "running_var", "num_batches_tracked"))
        out[k] = last.clone() if is_stat else torch.stack([s[k].float() for s in states]).mean(0)
    return out


def average_checkpoints(paths: Sequence[Path], bn_batches: int | None = None,
                        command: str = "") -> dict[str, Any]:
    """One checkpoint of the weight average of ``paths`` (each's weight average when it kept one),
    its BatchNorm statistics measured on ``bn_batches`` training batches of the last one's split
    and views (default: an epoch). All must share the network's geometry and the split."""
    cks = [torch.load(p, map_location="cpu", weights_only=False) for p in paths]
    if len({(c["split"], str(c["model_config"])) for c in cks}) != 1:
        raise ValueError(f"{', '.join(map(str, paths))}: not one split's networks of one geometry")
    last = cks[-1]
    cfg = last["config"]
    model = DeepSketch(DeepSketchConfig.from_dict(last["model_config"]))
    model.load_state_dict(average_states([c.get("ema") or c["model"] for c in cks]))
    data = TuBerlinCache.load(Path(cfg["cache"]))
    train_idx, _, _ = data.rows(cfg["split"], cfg["train_per_class"])
    sampler = DistinctClassBatches(data.labels, train_idx, cfg["batch_size"], cfg["seed"], 0, 1)
    views = TrainViews(Path(cfg["cache"]), float(last["mean"]), cfg["seed"], Augment.from_config(cfg))
    loader = make_loader(views, sampler)
    n = bn_batches or sampler.batches_per_epoch
    model.train()
    update_bn((b["x"] for b in islice(loader, n)), model)
    state = model.state_dict()
    return {k: v for k, v in last.items() if k not in ("optimizer", "loader", "rng")} | {
        "model": state, "ema": state, "average_command": command,
        "averaged_from": [{"checkpoint": str(p), "epochs": c["epoch"] + 1} for p, c in zip(paths, cks)],
        "bn_batches": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="+", type=Path, help="one split's cycle ends, first to last")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--bn-batches", type=int, help="training batches for the BatchNorm statistics "
                                                   "(default: an epoch)")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    command = shlex.join(["python", "-m", "training.deepsketch.average", *sys.argv[1:]])
    ck = average_checkpoints(args.checkpoints, args.bn_batches, command)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ck, args.out)
    log.info("%s: the average of %d networks of split %d, BatchNorm over %d batches", args.out,
             len(args.checkpoints), ck["split"], ck["bn_batches"])


if __name__ == "__main__":
    main()

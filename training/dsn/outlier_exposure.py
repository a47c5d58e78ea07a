"""Outlier exposure for a trained DSN run: ``python -m training.dsn.outlier_exposure [--key=value ...]``.

A classifier trained on 26 classes answers every drawing with one of them, confidently (a house →
"paint can 70 %"). Outlier exposure (Hendrycks, Mazeika & Dietterich, "Deep Anomaly Detection
with Outlier Exposure", ICLR 2019) fine-tunes it so that drawings of *other* things get a flat
answer: each step adds a batch of background drawings whose target is the uniform distribution
(cross-entropy to uniform = the mean negative log-softmax), on the fused answer and on each
branch's own classifier, so that the app's calibrated probabilities and its known-vs-unknown
score (:mod:`sketchpad.trust`) both see the difference.

With ``class_weight`` > 0 the same step also asks the CNN embedding (the one the search depths,
the known score and taught words read) to tell the background classes apart, from each other and
from the pack's: a linear head over the pack's classes + the background classes, trained beside
the network and thrown away after. The uniform target keeps the *answer* flat on a stranger; this
keeps the *features* of strangers from collapsing onto the pack's classes, so a word taught from
a few drawings has room of its own (background classes as extra training classes: the "open-set
embedding" of few-shot learning, e.g. Snell et al. 2017's episodes over many classes).

Background = half A of the Quick, Draw! classes the pack lacks
(:func:`training.trust_sets.unknown_halves`; half B is never seen, so the open-set figures stay
honest), less the few-shot evaluation classes of :func:`training.fit_words.unknown_classes_of`
(taught as words in ``training.fewshot``, so never trained on), the first 25 drawings of each
plus one stroke prefix each (the window sees prefixes), rendered by the same
:func:`training.dsn.data.render` as the training cache. The known rows come from the run's own
training cache, whole and prefixed, flipped as in training.

With ``from_scratch`` the same step trains a *new* network of the run's shape from its first
step (Adam at ``learning_rate`` with ``train.py``'s warm-up and cosine schedule), so the
background classes shape the features from the start instead of nudging finished ones (session 7
found a 3,000-step fine-tune moved neither the taught words nor ``known``). It is written to
``out_dir`` and the run it read its shape, preprocessing and cache from is left as it was.

The checkpoint keeps ``train.py``'s layout (``evaluate`` and ``export_pack`` read it) with the
stage recorded in ``config["outlier_exposure"]``; a fine-tune in place keeps the run it started
from as ``ckpt_before_oe.pt``.
"""
from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from sketchpad import preprocess as pp

from .. import distributed as D
from ..configurator import configure
from ..fit_words import unknown_classes_of
from ..trust_sets import DATA, PER_CLASS, quickdraw_files, unknown_drawings, unknown_halves
from .data import DataConfig, _open_shard, hflip, raster_tensor, render, shard_table, stroke_prefixes
from .evaluate import load_model
from .model import DSN
from .train import lr_at

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "run_dir": "runs/dsn/dsnplus",
    "steps": 1500,
    "batch_size": 64,         # known rows per step (as in training)
    "background_batch": 32,   # background rows per step
    "weight": 0.5,            # λ of the uniform-target loss (the paper's value for vision)
    "learning_rate": 2e-4,    # the cosine schedule's floor in training
    "class_weight": 0.0,      # background classes as extra classes on the CNN embedding (0: off)
    "from_scratch": False,    # a new network of the run's shape, trained from step 0 (module doc)
    "out_dir": "",            # where the checkpoint goes ("": the run's own, fine-tuned in place)
    "per_class": PER_CLASS,   # background drawings a class
    "flip": 0.5,
    "threads": 1,
    "seed": 1818,
}


def background_classes(classes: list[str], root: Path = DATA / "quickdraw") -> list[str]:
    """Half A of the classes the pack lacks, without the few-shot evaluation classes."""
    half_a, _ = unknown_halves(classes, root)
    word_eval, _ = unknown_classes_of(root, classes)
    return [c for c in half_a if c not in set(word_eval)]


def background_rows(names: list[str], seq: pp.Stroke3Spec, size: int, seed: int,
                    per_class: int = PER_CLASS) -> dict[str, np.ndarray]:
    """The drawings of ``names``, whole and one prefix each, rendered as training rows labelled
    by their index in ``names``."""
    drawings = unknown_drawings(quickdraw_files(DATA / "quickdraw"), names, per_class)
    sketches = list(drawings.items)
    index = {n: i for i, n in enumerate(names)}
    labels = [index[n] for n in drawings.names]
    pairs = list(stroke_prefixes(sketches, labels, DataConfig(seed=seed, prefix_copies=1)))
    return render(sketches + [s for s, _ in pairs], labels + [y for _, y in pairs], seq, (size,))


def known_rows(cache: Path, size: int) -> dict[str, np.ndarray]:
    """Every training row of the cache in memory (the 26-class cache is about 0.5 GB at 96 px)."""
    keys = (f"img{size}", "strokes", "lengths", "labels")
    parts = [_open_shard(cache / "train" / name, keys) for name, _ in shard_table(cache)]
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def batch(rows: dict[str, np.ndarray], idx: np.ndarray, size: int, flip: np.ndarray
          ) -> tuple[torch.Tensor, ...]:
    """Rows ``idx`` as tensors (image, strokes, lengths, labels), mirrored as in training."""
    img, strokes = rows[f"img{size}"][idx], rows["strokes"][idx]   # fancy indexing copies
    hflip(img, strokes, flip)
    return (torch.from_numpy(img), torch.from_numpy(strokes),
            torch.from_numpy(rows["lengths"][idx]), torch.from_numpy(rows["labels"][idx]))


def uniform_loss(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy between softmax(logits) and the uniform distribution, up to a constant."""
    return -F.log_softmax(logits, dim=1).mean()


def run(cfg: dict[str, Any]) -> Path:
    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])
    run_dir = Path(cfg["run_dir"])
    out_dir = Path(cfg["out_dir"] or run_dir)
    if cfg["from_scratch"] and out_dir == run_dir:  # a new network would replace the run itself
        raise ValueError("from_scratch needs an out_dir other than the run it reads")
    ckpt_path = out_dir / "ckpt.pt"
    if out_dir == run_dir:
        start = run_dir / "ckpt_before_oe.pt"
        if not start.exists():
            shutil.copy2(ckpt_path, start)
    else:
        start = run_dir / "ckpt.pt"
        out_dir.mkdir(parents=True, exist_ok=True)
    model, ck = load_model(run_dir, start.name)
    if cfg["from_scratch"]:
        model = DSN(model.cfg)  # seeded above: the same new weights for the same config
    tcfg = ck["config"]
    size, mean = tcfg["image_size"], ck["order_raster_mean"]
    seq = pp.spec_from_dict(ck["stroke3"])
    t0 = time.time()
    known = known_rows(Path(tcfg["cache"]), size)
    names = background_classes(ck["classes"])
    background = background_rows(names, seq, size, cfg["seed"], cfg["per_class"])
    log.info("known rows %d, background rows %d (%d classes), read in %.0f s",
             len(known["labels"]), len(background["labels"]), len(names), time.time() - t0)
    n_known = len(ck["classes"])
    params = list(model.parameters())
    if cfg["class_weight"]:  # trained beside the network, never saved: the pack keeps its outputs
        class_head = torch.nn.Linear(model.cfg.cnn.embed, n_known + len(names))
        params += list(class_head.parameters())
    opt = torch.optim.Adam(params, lr=cfg["learning_rate"])
    rng = np.random.default_rng(cfg["seed"])
    clip = tcfg.get("grad_clip", 1.0)
    model.train()
    history = []
    bar = tqdm(range(cfg["steps"]), dynamic_ncols=True)
    for step in bar:
        if cfg["from_scratch"]:
            for g in opt.param_groups:
                g["lr"] = lr_at(step, cfg["steps"], cfg["learning_rate"], tcfg)
        ki = rng.integers(0, len(known["labels"]), cfg["batch_size"])
        bi = rng.integers(0, len(background["labels"]), cfg["background_batch"])
        kb = batch(known, ki, size, rng.random(len(ki)) < cfg["flip"])
        bb = batch(background, bi, size, rng.random(len(bi)) < cfg["flip"])
        out = model(raster_tensor(torch.cat([kb[0], bb[0]]), mean), torch.cat([kb[1], bb[1]]),
                    torch.cat([kb[2], bb[2]]))
        n = len(ki)
        loss, _ = model.loss(out.first(n), kb[3])
        heads = [out.logits[n:]] + [b[n:] for b in out.branch_logits.values()]
        oe = sum(uniform_loss(h) for h in heads) / len(heads)
        total = loss + cfg["weight"] * oe
        if cfg["class_weight"]:
            classes = F.cross_entropy(class_head(out.embeddings["cnn"]), torch.cat([kb[3], bb[3] + n_known]))
            total = total + cfg["class_weight"] * classes
        opt.zero_grad(set_to_none=True)
        total.backward()
        if clip > 0:   # as train.py: 0 turns clipping off
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        if (step + 1) % 50 == 0:
            rec = {"step": step + 1, "lr": opt.param_groups[0]["lr"], "loss": loss.item(),
                   "oe": oe.item()}
            if cfg["class_weight"]:
                rec["classes"] = classes.item()
            history.append(rec)
            bar.set_postfix({k: f"{v:.3g}" for k, v in rec.items() if k != "step"})
    method = "Hendrycks et al. 2019, uniform target on fusion and branch heads"
    if cfg["class_weight"]:
        method += "; background classes as extra classes on the CNN embedding"
    if cfg["from_scratch"]:
        method = "trained from scratch on the pack's classes and the background: " + method
    stage = {**cfg, "background_classes": names, "background_rows": int(len(background["labels"])),
             "wall_seconds": round(time.time() - t0, 1), "history": history, "method": method}
    ck = {**ck, "model": model.state_dict(), "config": {**tcfg, "outlier_exposure": stage},
          "wall_seconds": stage["wall_seconds"] + (0.0 if cfg["from_scratch"] else ck["wall_seconds"])}
    if cfg["from_scratch"]:  # nothing of the run's optimiser or schedule carries over
        ck |= {"step": cfg["steps"], "max_iters": cfg["steps"], "history": history,
               "optimizer": opt.state_dict(), "argv": sys.argv}
    D.save_atomic(ck, ckpt_path)
    (out_dir / "outlier_exposure.json").write_text(json.dumps(stage, indent=2) + "\n")
    return ckpt_path


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    run(configure(sys.argv[1:], DEFAULTS))


if __name__ == "__main__":
    main()

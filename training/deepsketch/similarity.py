"""The similarity study of the paper's Table 3 (split 1), plus retrieval precision@10 and mAP.

Features of layers 6, 11, 13 (raw centre-view activations from :mod:`.evaluate`) are reduced to
``dim`` numbers two ways:

* PCA fitted on the training sketches' features;
* a linear bottleneck ``D → dim`` trained, with a ``dim → C`` classifier on top, as a classifier
  on the frozen features of the training sketches (the paper's "bottleneck").

Then, with cosine similarity (the packs' angular metric), test queries against the training
gallery: kNN + majority vote (k below), bottleneck + classification (the trained classifier's
accuracy), and retrieval precision@10 and mAP with "same class" as relevance.
"""
from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .data import CACHE, TuBerlinCache, split_indices

log = logging.getLogger("deepsketch.similarity")

K_VOTE = 10
PRECISION_AT = 10


@dataclass
class Reduction:
    """``y = x @ weight.T + bias``: a fixed Linear layer (PCA or bottleneck), float32."""

    kind: str
    weight: np.ndarray  # [dim, D]
    bias: np.ndarray    # [dim]
    classifier_accuracy: float | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x @ self.weight.T + self.bias).astype(np.float32)

    def as_linear(self) -> nn.Linear:
        lin = nn.Linear(self.weight.shape[1], self.weight.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(self.weight))
            lin.bias.copy_(torch.from_numpy(self.bias))
        return lin


def fit_pca(train: np.ndarray, dim: int, seed: int = 0) -> Reduction:
    """Top ``dim`` principal directions (randomised SVD); bias = −mean·V so the output is centred."""
    x = torch.from_numpy(train.astype(np.float32))
    torch.manual_seed(seed)
    mean = x.mean(0)
    _, _, v = torch.pca_lowrank(x - mean, q=min(dim + 16, *x.shape), center=False, niter=3)
    w = v[:, :dim].T.contiguous()
    return Reduction("pca", w.numpy(), (-(w @ mean)).numpy())


def fit_bottleneck(train: np.ndarray, y: np.ndarray, test: np.ndarray, y_test: np.ndarray,
                   dim: int, n_classes: int, epochs: int = 30, seed: int = 0) -> Reduction:
    """Train Linear(D→dim) → Linear(dim→C) on frozen features; the first layer is the reduction.

    Inputs are divided by their mean norm for a well-scaled optimisation; that scale is folded
    back into the returned weights, so the reduction applies to the raw activations.
    """
    torch.manual_seed(seed)
    scale = float(np.linalg.norm(train, axis=1).mean()) or 1.0
    x = torch.from_numpy(train / scale).float()
    t = torch.from_numpy(y.astype(np.int64))
    bottleneck, head = nn.Linear(x.shape[1], dim), nn.Linear(dim, n_classes)
    net = nn.Sequential(bottleneck, nn.Dropout(0.2), head)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        for b in torch.randperm(len(x), generator=g).split(256):
            loss = nn.functional.cross_entropy(net(x[b]), t[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    net.eval()
    with torch.no_grad():
        acc = float((net(torch.from_numpy(test / scale).float()).argmax(1).numpy() == y_test).mean())
        w = (bottleneck.weight / scale).numpy().copy()
        b = bottleneck.bias.numpy().copy()
    return Reduction("bottleneck", w, b, acc)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def retrieval(gallery: np.ndarray, g_labels: np.ndarray, queries: np.ndarray, q_labels: np.ndarray,
              n_classes: int, k_vote: int = K_VOTE, chunk: int = 500) -> dict[str, float]:
    """Cosine kNN of each query over the gallery: majority-vote accuracy (ties to the class of the
    nearer neighbour), precision@10 and mAP over the full ranking (same class = relevant)."""
    g, q = _unit(gallery), _unit(queries)
    hits = prec = ap_sum = 0.0
    n_rel = np.bincount(g_labels, minlength=n_classes)
    for i in range(0, len(q), chunk):
        sims = q[i:i + chunk] @ g.T
        order = np.argsort(-sims, axis=1, kind="stable")
        ranked = g_labels[order]
        ql = q_labels[i:i + chunk]
        rel = ranked == ql[:, None]
        # vote: count, break ties by rank (earliest neighbour of a tied class wins)
        top = ranked[:, :k_vote]
        for row, lab in zip(top, ql):
            counts = np.bincount(row, minlength=n_classes)
            best = np.flatnonzero(counts == counts.max())
            winner = next(c for c in row if c in best)
            hits += winner == lab
        prec += rel[:, :PRECISION_AT].mean(1).sum()
        cum = np.cumsum(rel, axis=1)
        ranks = np.arange(1, rel.shape[1] + 1)
        ap_sum += ((cum / ranks) * rel).sum(1).__truediv__(n_rel[ql]).sum()
    n = len(q)
    return {"knn_majority_vote_accuracy": hits / n, f"precision_at_{PRECISION_AT}": prec / n,
            "mAP": ap_sum / n}


def study(features: dict[str, np.ndarray], labels: np.ndarray, split: int, dim: int,
          n_classes: int, train_per_class: int = 53) -> tuple[dict[str, Any], dict[str, Reduction]]:
    """Table 3 and retrieval figures per depth; returns them and the better reduction per depth
    (by mAP)."""
    tr, te = split_indices(labels, split, train_per_class)
    table: dict[str, Any] = {}
    chosen: dict[str, Reduction] = {}
    for depth, f in features.items():
        pca = fit_pca(f[tr], dim)
        bn = fit_bottleneck(f[tr], labels[tr], f[te], labels[te], dim, n_classes)
        row: dict[str, Any] = {"raw_dim": int(f.shape[1]), "reduced_dim": dim, "k_vote": K_VOTE}
        for red in (bn, pca):
            r = retrieval(red(f[tr]), labels[tr], red(f[te]), labels[te], n_classes)
            row[red.kind] = r
            log.info("%s %s: %s", depth, red.kind, r)
        row["bottleneck"]["classification_accuracy"] = bn.classifier_accuracy
        best = max((bn, pca), key=lambda red: row[red.kind]["mAP"])
        row["chosen_for_pack"] = best.kind
        table[depth] = row
        chosen[depth] = best
    return table, chosen


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--features", type=Path, required=True, help="folder of features_<depth>.npy")
    ap.add_argument("--split", type=int, default=1)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--train-per-class", type=int, default=53)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    data = TuBerlinCache.load(args.cache)
    feats = {d: np.load(args.features / f"features_{d}.npy") for d in ("low", "mid", "high")}
    table, chosen = study(feats, data.labels, args.split, args.dim, len(data.classes),
                          args.train_per_class)
    (args.features / "table3.json").write_text(json.dumps(table, indent=2) + "\n")
    np.savez(args.features / "reductions.npz",
             **{f"{d}_{k}": getattr(r, k) for d, r in chosen.items() for k in ("weight", "bias")},
             kinds=np.array([chosen[d].kind for d in ("low", "mid", "high")]))


if __name__ == "__main__":
    main()

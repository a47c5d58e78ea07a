"""Held-out scoring shared by training (validation) and evaluation (test): MAP@3, top-1, batched
prediction over a cached split."""
from __future__ import annotations

import numpy as np
import torch

from .data import raster_tensor
from .model import DSN


def map_at_k(scores: np.ndarray, labels: np.ndarray, k: int = 3) -> float:
    """Mean average precision at k with one true class per drawing: 1/rank if the true class is
    among the top k predictions, else 0, averaged (the Kaggle Quick, Draw! metric the DSN reports)."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    hit = top == labels[:, None]
    ranks = np.argmax(hit, axis=1) + 1
    return float(np.where(hit.any(1), 1.0 / ranks, 0.0).mean())


def top1(scores: np.ndarray, labels: np.ndarray) -> float:
    return float((np.asarray(scores).argmax(1) == np.asarray(labels)).mean())


@torch.no_grad()
def predict(model: DSN, images: np.ndarray, strokes: np.ndarray, lengths: np.ndarray,
            mean: float, batch: int = 256) -> dict[str, np.ndarray]:
    """Logits of the model's answer and of each branch, for uint8 canvases and stroke-3 arrays."""
    was_training = model.training
    model.eval()
    out: dict[str, list[np.ndarray]] = {}
    for i in range(0, len(lengths), batch):
        o = model(raster_tensor(torch.from_numpy(images[i:i + batch]), mean),
                  torch.from_numpy(strokes[i:i + batch]), torch.from_numpy(lengths[i:i + batch]))
        for name, t in {"logits": o.logits, **o.branch_logits}.items():
            out.setdefault(name, []).append(t.numpy())
    model.train(was_training)
    return {k: np.concatenate(v) for k, v in out.items()}

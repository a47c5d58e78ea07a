"""A tiny but real pack, trained for a few seconds on a few Quick, Draw! classes.

The app, CLI and engine tests run against it (never against a mocked engine): it goes through
the same preprocessing, the same :func:`training.export.write_pack` and the same manifest as the
shipped packs, only with very small networks.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from sketchpad import preprocess as pp
from sketchpad.datasets.quickdraw import iter_ndjson
from training.export import Gallery, ModelExport, write_pack

CLASSES = ("apple", "candle", "star")
ORDER = pp.OrderRaster(size=32, line_width=8.0)
SEQ = pp.Stroke3Spec(scale=20.0, max_len=48)


class TinyConvNet(nn.Module):
    """Three conv stages whose pooled outputs are the low / mid / high features."""

    def __init__(self, n_classes: int, width: int = 8, embed: int = 16):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.b2 = nn.Sequential(nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.b3 = nn.Sequential(nn.Conv2d(2 * width, embed, 3, padding=1), nn.ReLU(),
                                nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(embed, n_classes)

    def forward(self, image: torch.Tensor):
        a = self.b1(image)
        b = self.b2(a)
        c = self.b3(b)
        low = nn.functional.adaptive_avg_pool2d(a, 4).flatten(1)
        mid = nn.functional.adaptive_avg_pool2d(b, 2).flatten(1)
        return self.head(c), low, mid, c, c


class TinyRNN(nn.Module):
    def __init__(self, n_classes: int, hidden: int = 16):
        super().__init__()
        self.lstm = nn.LSTM(3, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, strokes: torch.Tensor, lengths: torch.Tensor):
        out, _ = self.lstm(strokes)
        h = out[torch.arange(out.shape[0]), (lengths - 1).clamp(min=0)]
        return self.head(h), h


class TinyFusion(nn.Module):
    def __init__(self, n_classes: int, a: int = 16, b: int = 16):
        super().__init__()
        self.head = nn.Linear(a + b, n_classes)

    def forward(self, cnn_embedding: torch.Tensor, rnn_embedding: torch.Tensor):
        return self.head(torch.cat([cnn_embedding, rnn_embedding], 1))


def build_tiny_pack(out_dir: Path, data_root: Path, per_class: int = 40, steps: int = 60,
                    seed: int = 0) -> Path:
    """Train the three tiny models briefly on ``per_class`` drawings of each class and export."""
    torch.manual_seed(seed)
    sketches, labels = [], []
    for label, name in enumerate(CLASSES):
        for i, s in enumerate(iter_ndjson(data_root / "quickdraw" / "simplified" / f"{name}.ndjson")):
            if i >= per_class:
                break
            sketches.append(s)
            labels.append(label)
    images = torch.from_numpy(np.stack([pp.order_raster(s, ORDER) for s in sketches]))
    seqs = [pp.stroke3_input(s, SEQ) for s in sketches]
    strokes = torch.from_numpy(np.stack([q for q, _ in seqs]))
    lengths = torch.tensor([n for _, n in seqs], dtype=torch.int64)
    y = torch.tensor(labels)
    conv, rnn, fusion = TinyConvNet(len(CLASSES)), TinyRNN(len(CLASSES)), TinyFusion(len(CLASSES))
    params = [*conv.parameters(), *rnn.parameters(), *fusion.parameters()]
    opt = torch.optim.Adam(params, lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        logits_c, *_, emb_c = conv(images)
        logits_r, emb_r = rnn(strokes, lengths)
        loss = (loss_fn(logits_c, y) + loss_fn(logits_r, y)
                + loss_fn(fusion(emb_c, emb_r), y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    conv.eval()
    rnn.eval()
    fusion.eval()
    with torch.no_grad():
        _, low, mid, high, emb_c = conv(images)
        _, emb_r = rnn(strokes, lengths)
        acc = float((fusion(emb_c, emb_r).argmax(1) == y).float().mean())
    models = [
        ModelExport("convnet", conv, {"image": images[:2]},
                    ("logits", "feat_low", "feat_mid", "feat_high", "embedding"), ORDER.to_dict()),
        ModelExport("rnn", rnn, {"strokes": strokes[:2], "lengths": lengths[:2]},
                    ("logits", "embedding"), SEQ.to_dict()),
        ModelExport("fusion", fusion, {"cnn_embedding": emb_c[:2], "rnn_embedding": emb_r[:2]},
                    ("logits",)),
    ]
    feats = {"low": low.numpy(), "mid": mid.numpy(), "high": high.numpy()}
    gallery = Gallery(labels=np.array(labels), source_ids=[s.source_id for s in sketches],
                      attribution="Quick, Draw! dataset, Google Inc., CC BY 4.0",
                      stroke3=[pp.stroke3_raw(s) for s in sketches])
    return write_pack(
        out_dir, name="tiny", title="Tiny test pack", dataset={"name": "quickdraw-subset"},
        classes=CLASSES, models=models,
        features={d: {"output": f"feat_{d}", "layer": d, "metric": "angular"} for d in feats},
        gallery=gallery, gallery_features=feats,
        metrics={"train_accuracy_fusion": {"value": acc, "protocol": "training set, tiny test pack"}},
        training={"command": "training.tiny_pack.build_tiny_pack"}, n_trees=8)

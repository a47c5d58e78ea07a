"""The Deep Sketch Network (papers.md §2) and its two branches, sized for a CPU.

* :class:`SketchCNN` — the baseline CNN on stroke-order rasters: VGG-like blocks (conv-BN-ReLU,
  max-pool); returns logits, the feature maps after the last three blocks (the low / mid / high
  search depths) and an embedding.
* :class:`SketchRNN` — two 1-D convolutions and an LSTM on stroke-3, dropout 0.1. The LSTM runs
  over the zero-padded sequence and the state at ``lengths - 1`` is read: exact, because the LSTM
  is causal, and it exports to ONNX (``pack_padded_sequence`` does not). The convolutions look two
  points ahead, into the padding zeros that every caller (training and the app) supplies alike.
* :class:`Fusion` — the DSN head: both embeddings projected to a common width, an attention layer
  on their concatenation gives one weight per branch, the weighted features are summed and
  classified.
* :class:`DSN` — one module for all four variants of Table 1 (``kind`` = ``cnn``, ``rnn``,
  ``dsn``, ``dsnplus``); DSN+ adds the center loss on the fused feature (α = 0.01).

In the fused variants each branch also keeps its own classifier, trained with weight
``aux_weight``: the app shows each model's own opinion next to the fused one, and the auxiliary
losses help the branches learn in a short CPU budget (a choice of ours; the paper trains the
fused loss only).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

KINDS = ("cnn", "rnn", "dsn", "dsnplus")


@dataclass(frozen=True)
class CNNConfig:
    size: int = 96                                 # input side (96, or 64 / 28 for the study)
    # Channels of the blocks. Five, so that the last block's receptive field spans the whole
    # 96-px sketch before the global pool (with four it spanned about a third).
    widths: tuple[int, ...] = (16, 32, 64, 128, 128)
    convs_per_block: int = 1
    stem_stride: int = 2   # block 1 downsamples by a strided conv instead of conv + max-pool
    embed: int = 128
    dropout: float = 0.2


@dataclass(frozen=True)
class RNNConfig:
    conv: tuple[int, int] = (48, 64)   # channels of the two 1-D convolutions
    kernel: int = 5
    hidden: int = 256
    dropout: float = 0.1


@dataclass(frozen=True)
class FusionConfig:
    dim: int = 128            # common width of the projected branch features
    dropout: float = 0.2
    aux_weight: float = 0.5   # weight of each branch's own cross-entropy (fused kinds)
    center_alpha: float = 0.0  # DSN+: 0.01


@dataclass(frozen=True)
class DSNConfig:
    kind: str = "dsnplus"
    n_classes: int = 26
    cnn: CNNConfig = field(default_factory=CNNConfig)
    rnn: RNNConfig = field(default_factory=RNNConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")

    @property
    def uses_cnn(self) -> bool:
        return self.kind != "rnn"

    @property
    def uses_rnn(self) -> bool:
        return self.kind != "cnn"

    @property
    def fused(self) -> bool:
        return self.kind in ("dsn", "dsnplus")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DSNConfig":
        cnn = dict(d["cnn"])
        cnn["widths"] = tuple(cnn["widths"])
        rnn = dict(d["rnn"])
        rnn["conv"] = tuple(rnn["conv"])
        return cls(kind=d["kind"], n_classes=d["n_classes"], cnn=CNNConfig(**cnn),
                   rnn=RNNConfig(**rnn), fusion=FusionConfig(**d["fusion"]))


class SketchCNN(nn.Module):
    """VGG-like blocks halving the resolution, global average pool, embedding, classifier."""

    def __init__(self, cfg: CNNConfig, n_classes: int):
        super().__init__()
        self.cfg = cfg
        blocks, c_in = [], 1
        for b, width in enumerate(cfg.widths):
            stem = b == 0 and cfg.stem_stride > 1
            layers: list[nn.Module] = []
            for i in range(cfg.convs_per_block):
                stride = cfg.stem_stride if stem and i == 0 else 1
                layers += [nn.Conv2d(c_in, width, 3, stride=stride, padding=1, bias=False),
                           nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
                c_in = width
            if not stem:
                layers.append(nn.MaxPool2d(2, ceil_mode=True))
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.ModuleList(blocks)
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(c_in, cfg.embed), nn.ReLU(inplace=True))
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.embed, n_classes)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """``[N, 1, S, S]`` → logits, feature maps after blocks 2, 3, 4, embedding."""
        x, maps = image, []
        for block in self.blocks:
            x = block(x)
            maps.append(x)
        emb = self.embed(F.adaptive_avg_pool2d(x, 1))
        return self.head(self.drop(emb)), maps[-3:], emb


class SketchRNN(nn.Module):
    """Conv1d → Conv1d → LSTM on stroke-3; the LSTM state at the last real point is the embedding."""

    def __init__(self, cfg: RNNConfig, n_classes: int):
        super().__init__()
        self.cfg = cfg
        pad = cfg.kernel // 2
        self.convs = nn.Sequential(
            nn.Conv1d(3, cfg.conv[0], cfg.kernel, padding=pad), nn.ReLU(inplace=True),
            nn.Conv1d(cfg.conv[0], cfg.conv[1], cfg.kernel, padding=pad), nn.ReLU(inplace=True))
        self.lstm = nn.LSTM(cfg.conv[1], cfg.hidden, batch_first=True)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden, n_classes)

    def forward(self, strokes: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[N, T, 3]`` float, ``[N]`` int64 → logits, embedding ``[N, hidden]``."""
        x = self.convs(strokes.transpose(1, 2)).transpose(1, 2)
        out, _ = self.lstm(x)
        h = out[torch.arange(out.shape[0]), (lengths - 1).clamp(min=0)]
        return self.head(self.drop(h)), h


class Fusion(nn.Module):
    """Attention fusion: ``w = softmax(A [e_cnn; e_rnn])`` (one weight per branch),
    ``f = w_0 P_c e_cnn + w_1 P_r e_rnn``, logits ``= FC(f)``. Returns logits and ``f``."""

    def __init__(self, cnn_dim: int, rnn_dim: int, cfg: FusionConfig, n_classes: int):
        super().__init__()
        self.proj_cnn = nn.Linear(cnn_dim, cfg.dim)
        self.proj_rnn = nn.Linear(rnn_dim, cfg.dim)
        self.attention = nn.Linear(cnn_dim + rnn_dim, 2)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.dim, n_classes)

    def fuse(self, cnn_embedding: torch.Tensor, rnn_embedding: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.attention(torch.cat([cnn_embedding, rnn_embedding], 1)), 1)
        return w[:, :1] * self.proj_cnn(cnn_embedding) + w[:, 1:] * self.proj_rnn(rnn_embedding)

    def forward(self, cnn_embedding: torch.Tensor, rnn_embedding: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.fuse(cnn_embedding, rnn_embedding)))


@dataclass
class DSNOutput:
    """``logits`` is the model's answer (fused for DSN/DSN+); ``branch_logits`` each branch's own."""

    logits: torch.Tensor
    branch_logits: dict[str, torch.Tensor]
    embeddings: dict[str, torch.Tensor]
    maps: list[torch.Tensor]
    fused: torch.Tensor | None = None

    def first(self, n: int) -> "DSNOutput":
        """The first ``n`` rows of every field (a batch that concatenated two sets of drawings,
        as outlier exposure does, takes the loss of the first set alone)."""
        return DSNOutput(self.logits[:n], {k: v[:n] for k, v in self.branch_logits.items()},
                         {k: v[:n] for k, v in self.embeddings.items()}, [m[:n] for m in self.maps],
                         None if self.fused is None else self.fused[:n])


class DSN(nn.Module):
    """Any row of Table 1: one branch alone, or both fused (with center loss for DSN+)."""

    def __init__(self, cfg: DSNConfig):
        super().__init__()
        self.cfg = cfg
        n = cfg.n_classes
        self.cnn = SketchCNN(cfg.cnn, n) if cfg.uses_cnn else None
        self.rnn = SketchRNN(cfg.rnn, n) if cfg.uses_rnn else None
        self.fusion = Fusion(cfg.cnn.embed, cfg.rnn.hidden, cfg.fusion, n) if cfg.fused else None
        self.centers = (nn.Parameter(torch.zeros(n, cfg.fusion.dim))
                        if cfg.fused and cfg.fusion.center_alpha > 0 else None)

    def forward(self, image: torch.Tensor, strokes: torch.Tensor, lengths: torch.Tensor) -> DSNOutput:
        branch, emb, maps = {}, {}, []
        if self.cnn is not None:
            branch["cnn"], maps, emb["cnn"] = self.cnn(image)
        if self.rnn is not None:
            branch["rnn"], emb["rnn"] = self.rnn(strokes, lengths)
        if self.fusion is None:
            (logits,) = branch.values()
            return DSNOutput(logits, branch, emb, maps)
        fused = self.fusion.fuse(emb["cnn"], emb["rnn"])
        logits = self.fusion.head(self.fusion.drop(fused))
        return DSNOutput(logits, branch, emb, maps, fused)

    def loss(self, out: DSNOutput, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Cross-entropy of the answer, plus the branches' own (fused kinds), plus α·center loss.

        The parts come back as detached device tensors: reading them (``.item()``) waits for the
        GPU, so the trainer sums them and reads them only when it logs."""
        ce = F.cross_entropy(out.logits, y)
        total, parts = ce, {"ce": ce.detach()}
        if self.fusion is not None and self.cfg.fusion.aux_weight > 0:
            aux = sum(F.cross_entropy(b, y) for b in out.branch_logits.values())
            total = total + self.cfg.fusion.aux_weight * aux
            parts["aux"] = aux.detach()
        if self.centers is not None:
            center = center_loss(out.fused, self.centers, y)
            total = total + self.cfg.fusion.center_alpha * center
            parts["center"] = center.detach()
        return total, parts


def center_loss(features: torch.Tensor, centers: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of the squared distance between each feature and its class centre.

    The centres are parameters with their own, larger learning rate (see ``train.py``), so they
    follow the class means; their gradients are all-reduced by DDP like any other.
    """
    return (features - centers[y]).pow(2).sum(1).mean()

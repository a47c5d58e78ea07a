"""The DeepSketch ConvNet of the paper's Table 1 (papers.md §1): 15 layers, no LRN, input 1×224×224.

The geometry (kernels, strides, padding) is fixed by the table; only the widths vary, and a
variant is a :class:`DeepSketchConfig` value, never a copy of the code. ``forward`` returns the
logits and the raw, flattened activations after layers 6, 11 and 13 — the three depths the
similarity search uses.
"""
from __future__ import annotations

from copy import deepcopy
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

INPUT_SIZE = 224
NORMS = {"", "batch"}
#: Names of the feature depths and the Table-1 layer each one is taken after.
FEATURE_LAYERS = {"low": 6, "mid": 11, "high": 13}


@dataclass(frozen=True)
class DeepSketchConfig:
    """Widths of the four early convs (layers 1, 4, 7, 9), filters of layer 12, dropout, classes,
    and the normalisation after each of the five hidden convs.

    The defaults are the paper's network (about 55 M parameters, no normalisation). ``norm =
    "batch"`` puts a BatchNorm after convs 1, 4, 7, 9 and 12 (issue 16's recipe): the layer
    numbering, the feature taps and the exported graph's shape stay Table 1's, because each conv
    and its norm are one entry of ``layers`` and :func:`fold_norms` merges them before export.
    """

    widths: tuple[int, int, int, int] = (64, 128, 256, 512)
    fc: int = 4096
    dropout: float = 0.5
    n_classes: int = 250
    norm: str = ""  # "" (the paper) or "batch"

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"norm {self.norm!r}: expected one of {sorted(NORMS)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DeepSketchConfig":
        d = dict(d)
        d["widths"] = tuple(d["widths"])
        return cls(**d)


@dataclass
class DeepSketchOutput:
    """Logits ``[N, C]`` and the flattened activations of layers 6, 11, 13 (``feats[depth]``)."""

    logits: torch.Tensor
    feats: dict[str, torch.Tensor] = field(default_factory=dict)


class DeepSketch(nn.Module):
    """Table 1 row by row; ``self.layers[i - 1]`` is the paper's layer ``i``."""

    def __init__(self, cfg: DeepSketchConfig = DeepSketchConfig()):
        super().__init__()
        self.cfg = cfg
        w1, w2, w3, w4 = cfg.widths

        def conv(c_in: int, c_out: int, k: int, stride: int, padding: int) -> nn.Module:
            c = nn.Conv2d(c_in, c_out, k, stride=stride, padding=padding)
            return nn.Sequential(c, nn.BatchNorm2d(c_out)) if cfg.norm == "batch" else c

        self.layers = nn.ModuleList([
            conv(1, w1, 7, stride=2, padding=0),           # 1   → w1×109×109
            nn.ReLU(inplace=True),                         # 2
            nn.MaxPool2d(3, stride=2),                     # 3   → w1×54×54
            conv(w1, w2, 5, stride=2, padding=2),          # 4   → w2×27×27
            nn.ReLU(inplace=True),                         # 5
            nn.MaxPool2d(3, stride=2),                     # 6   → w2×13×13   (low)
            conv(w2, w3, 3, stride=1, padding=1),          # 7   → w3×13×13
            nn.ReLU(inplace=True),                         # 8
            conv(w3, w4, 3, stride=1, padding=0),          # 9   → w4×11×11
            nn.ReLU(inplace=True),                         # 10
            nn.MaxPool2d(3, stride=2),                     # 11  → w4×5×5     (mid)
            conv(w4, cfg.fc, 5, stride=1, padding=0),      # 12  → fc×1×1
            nn.ReLU(inplace=False),                        # 13               (high)
            nn.Dropout(cfg.dropout),                       # 14
            nn.Conv2d(cfg.fc, cfg.n_classes, 1),           # 15  → C×1×1
        ])
        self._taps = {layer: depth for depth, layer in FEATURE_LAYERS.items()}
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He initialisation for the ReLU convs, small for the classifier, zero biases.

        The paper does not give its initialisation; without normalisation layers (Table 1 has
        none) torch's default (uniform, variance 1/(3·fan_in)) shrinks the sparse sketch signal
        layer by layer and the loss sits at ln(C) for hundreds of steps.
        """
        convs = [m for m in self.modules() if isinstance(m, nn.Conv2d)]
        for conv in convs[:-1]:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        nn.init.normal_(convs[-1].weight, std=0.01)
        nn.init.zeros_(convs[-1].bias)

    def forward(self, image: torch.Tensor) -> DeepSketchOutput:
        x = image
        feats: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.layers, start=1):
            x = layer(x)
            if i in self._taps:
                feats[self._taps[i]] = x.flatten(1)
        return DeepSketchOutput(x.flatten(1), feats)

    def feature_dims(self) -> dict[str, int]:
        """Length of each flattened feature, from the fixed Table-1 geometry."""
        w = self.cfg.widths
        return {"low": w[1] * 13 * 13, "mid": w[3] * 5 * 5, "high": self.cfg.fc}


def fold_norms(model: DeepSketch) -> DeepSketch:
    """An eval-mode copy with every BatchNorm merged into its conv: plain Table-1 convs, so the
    ONNX graph, int8 quantisation and feature taps are those of a network without norms."""
    out = deepcopy(model).eval()
    for i, layer in enumerate(out.layers):
        if isinstance(layer, nn.Sequential):
            out.layers[i] = fuse_conv_bn_eval(layer[0], layer[1])
    return out


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

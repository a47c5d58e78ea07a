"""The DeepSketch ConvNet is Table 1 of the paper (papers.md §1) and it can learn."""
from __future__ import annotations

import torch
from torch import nn

from training.deepsketch.model import DeepSketch, DeepSketchConfig, count_parameters

TINY = DeepSketchConfig(widths=(4, 4, 8, 8), fc=16, dropout=0.0, n_classes=4)


def test_fifteen_layers_of_table_1():
    kinds = [type(m) for m in DeepSketch(TINY).layers]
    conv, relu, pool = nn.Conv2d, nn.ReLU, nn.MaxPool2d
    assert kinds == [conv, relu, pool, conv, relu, pool, conv, relu, conv, relu, pool,
                     conv, relu, nn.Dropout, conv]
    assert not any("Norm" in type(m).__name__ for m in DeepSketch(TINY).modules())


def test_paper_size_shapes_and_parameters():
    with torch.device("meta"):
        model = DeepSketch()
        out = model(torch.empty(2, 1, 224, 224))
    assert 54e6 < count_parameters(model) < 56e6
    assert out.logits.shape == (2, 250)
    assert {d: tuple(f.shape) for d, f in out.feats.items()} == \
        {"low": (2, 128 * 13 * 13), "mid": (2, 512 * 5 * 5), "high": (2, 4096)}
    assert model.feature_dims() == {"low": 128 * 13 * 13, "mid": 512 * 5 * 5, "high": 4096}
    convs = [m for m in model.layers if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size[0], c.stride[0], c.padding[0]) for c in convs] == \
        [(7, 2, 0), (5, 2, 2), (3, 1, 1), (3, 1, 0), (5, 1, 0), (1, 1, 0)]


def test_tiny_config_overfits_a_handful():
    torch.manual_seed(0)
    model = DeepSketch(TINY)
    x = (torch.rand(8, 1, 224, 224) > 0.97).float()
    y = torch.arange(8) % 4
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(60):
        loss = nn.functional.cross_entropy(model(x).logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert (model(x).logits.argmax(1) == y).all()

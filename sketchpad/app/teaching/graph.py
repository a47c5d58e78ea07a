"""What the ONNX graph can tell beyond its outputs: the first layer's filters and activation maps.

The pack's convnet outputs only logits and reduced features, and onnxruntime cannot hand out
weights. With the ``onnx`` package (a training dependency; the app does not require it) we read
the first convolution's initializer and build a copy of the graph that also outputs the first
convolution's activation and, per depth, the last spatial map (rank-4 tensor) the depth's feature
is computed from. Without ``onnx`` every function raises :class:`NeedsOnnx` with the advice, and
the views show it. No Qt here.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from ...engine import session_options

FIRST = "first"


class NeedsOnnx(RuntimeError):
    """The ``onnx`` package is not installed."""


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise NeedsOnnx("install the onnx package (pip install onnx) to see what the network "
                        "learned: onnxruntime cannot show weights or inner layers") from None
    return onnx


def _first_conv(graph: Any) -> Any:
    """The first Conv node (ONNX node lists are topologically sorted)."""
    for node in graph.node:
        if node.op_type == "Conv":
            return node
    raise ValueError("the convnet graph has no Conv node")


def _constant(model: Any, name: str) -> np.ndarray:
    """A constant tensor of the graph; an int8 weight (quantised pack) is dequantised."""
    onnx = _onnx()
    for init in model.graph.initializer:
        if init.name == name:
            return onnx.numpy_helper.to_array(init)
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            return onnx.numpy_helper.to_array(node.attribute[0].t)
        if node.op_type == "DequantizeLinear" and node.output[0] == name:
            q, scale, *zero = (_constant(model, i) for i in node.input if i)
            zp = zero[0] if zero else np.zeros_like(scale)
            if scale.ndim:  # per channel, along the node's axis
                shape = [1] * q.ndim
                shape[next((a.i for a in node.attribute if a.name == "axis"), 1)] = -1
                scale, zp = scale.reshape(shape), zp.reshape(shape)
            return (q.astype(np.float32) - zp.astype(np.float32)) * scale.astype(np.float32)
    raise ValueError(f"weight {name!r} is not a constant of the graph")


def first_layer_filters(path: Path) -> np.ndarray:
    """The first convolution's weights ``[out, in, kh, kw]`` (the paper's Figure 2)."""
    model = _onnx().load(str(path))
    return _constant(model, _first_conv(model.graph).input[1]).astype(np.float32)


def _ranks(model: Any) -> dict[str, int]:
    onnx = _onnx()
    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    out = {}
    for v in [*g.value_info, *g.input, *g.output]:
        t = v.type.tensor_type
        if t.HasField("shape"):
            out[v.name] = len(t.shape.dim)
    return out


#: Ops that only summarise a map for the feature vector, or cut and reassemble it to pool it
#: (the DSN export pools with fixed windows: Slice, ReduceMean, Unsqueeze, Concat); the map
#: before them is the one to show.
_REDUCERS = {"AveragePool", "GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceMax",
             "Flatten", "Reshape", "Slice", "Unsqueeze", "Concat"}
#: Ops of a quantised (QDQ) graph that only change a map's number format; the float map they
#: carry is looked through to the layer that computed it.
_FORMAT_ONLY = {"QuantizeLinear", "DequantizeLinear"}


def _spatial_source(graph: Any, start: str, ranks: dict[str, int], weights: set[str]) -> str:
    """The nearest rank-4 map upstream of ``start`` (itself included) that a layer computes, not
    merely a pooled summary of one (a bottleneck's average pool is looked through)."""
    producer = {o: n for n in graph.node for o in n.output}
    queue, seen = deque([start]), {start}
    while queue:
        name = queue.popleft()
        node = producer.get(name)
        if (ranks.get(name) == 4 and name not in weights
                and (node is None or node.op_type not in _REDUCERS | _FORMAT_ONLY)):
            return name
        for inp in node.input if node is not None else ():
            if inp and inp not in seen and inp not in weights:
                seen.add(inp)
                queue.append(inp)
    raise ValueError(f"no spatial map feeds {start!r}")


@dataclass
class ActivationProbe:
    """A session over a copy of the convnet that also outputs inner activations.

    ``taps`` maps ``"first"`` and each depth to the graph tensor shown for it.
    """

    session: ort.InferenceSession
    taps: dict[str, str]

    @classmethod
    def build(cls, path: Path, feature_outputs: dict[str, str]) -> "ActivationProbe":
        onnx = _onnx()
        model = onnx.load(str(path))
        g = model.graph
        weights = {i.name for i in g.initializer}
        conv = _first_conv(g)
        first = conv.output[0]
        # show what the next layer sees: after the ReLU, and in a quantised graph (whose
        # quantiser folds the ReLU into the activation's range) after the int8 round trip
        for op in ("Relu", "QuantizeLinear", "DequantizeLinear"):
            first = next((n.output[0] for n in g.node if n.op_type == op and n.input[0] == first),
                         first)
        ranks = _ranks(model)
        taps = {FIRST: first}
        for depth, output in feature_outputs.items():
            taps[depth] = _spatial_source(g, output, ranks, weights)
        existing = {o.name for o in g.output}
        for name in dict.fromkeys(taps.values()):
            if name not in existing:
                g.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT,
                                                                   None))
        session = ort.InferenceSession(model.SerializeToString(), session_options(),
                                       providers=["CPUExecutionProvider"])
        return cls(session, taps)

    def run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Activations ``[C, h, w]`` of the first (only) item in ``feed``, per tap."""
        names = list(dict.fromkeys(self.taps.values()))
        got = dict(zip(names, self.session.run(names, feed)))
        return {key: got[name][0] for key, name in self.taps.items()}


def filter_tiles(filters: np.ndarray) -> list[np.ndarray]:
    """One uint8 picture per filter, mean over input channels, mid-grey = 0, each filter scaled
    by its own largest weight so weak and strong filters are equally readable."""
    w = filters.mean(1)
    peak = np.maximum(np.abs(w).reshape(len(w), -1).max(1), 1e-12)[:, None, None]
    return [t for t in np.clip(128 + 127 * w / peak, 0, 255).astype(np.uint8)]


def activation_tiles(act: np.ndarray, top: int = 8) -> tuple[list[tuple[str, np.ndarray]], str]:
    """Pictures of one activation ``[C, h, w]``: the channel mean and the ``top`` most active
    channels, each scaled 0..its max; a ``1 × 1`` map (a vector) becomes one square picture of
    all units. Returns ``(caption, uint8 picture)`` pairs and a sentence about the tensor."""
    c, h, w = act.shape
    if h * w == 1:
        side = math.ceil(math.sqrt(c))
        grid = np.zeros(side * side, np.float32)
        grid[:c] = act.reshape(-1)
        return ([(f"all {c} units", _scaled(grid.reshape(side, side)))],
                f"{c} units (1×1 maps), shown as a {side}×{side} grid")
    energy = act.reshape(c, -1).mean(1)
    order = np.argsort(-energy, kind="stable")[:top]
    tiles = [("mean of all", _scaled(act.mean(0)))]
    tiles += [(f"channel {int(k)}", _scaled(act[k])) for k in order]
    return tiles, f"{c} channels of {h}×{w}; the {len(order)} most active shown"


def _scaled(a: np.ndarray) -> np.ndarray:
    a = np.maximum(a, 0) if a.min() >= 0 else a - a.min()
    peak = a.max()
    return (255 * a / peak).astype(np.uint8) if peak > 0 else np.zeros(a.shape, np.uint8)

"""Inner layers for "What the network learned", cut out of a pack's ONNX graphs at export time.

onnxruntime gives only a graph's declared outputs and never its weights, and the ``onnx`` package
that can read both is a training dependency. So the pack carries what the view needs, written
here once per pack:

* ``probe.onnx`` — the convnet's graph with extra outputs ``probe_first``, ``probe_low``,
  ``probe_mid``, ``probe_high``: the first convolution's activation (after its ReLU) and, per
  depth, the last spatial map (rank-4 tensor) the depth's feature is computed from. Its large
  weights are not copied: they are read from ``convnet.onnx`` itself (:func:`share_weights`),
  so the probe costs the bundle kilobytes;
* ``first_filters.npy`` — the first convolution's weights ``[out, in, kh, kw]`` (float32; an int8
  weight of a quantised pack is dequantised);
* for a DSN pack, ``fusion_probe.onnx`` — the fusion head with its attention weights (one per
  branch) as the extra output ``attention``.

Quantised (QDQ) graphs are looked through: the taps are the float maps a layer computed, not their
uint8 form (``tests/test_dsn_export.py`` compares them with the float network's).
"""
from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

from sketchpad.pack import sha256_of

FIRST = "first"
PROBE_FILE, FILTERS_FILE, FUSION_PROBE_FILE = "probe.onnx", "first_filters.npy", "fusion_probe.onnx"
#: Output name of each tap in ``probe.onnx``.
TAP_OUTPUT = "probe_{}"
ATTENTION_OUTPUT = "attention"

#: Ops that only summarise a map for the feature vector, or cut and reassemble it to pool it
#: (the DSN export pools with fixed windows: Slice, ReduceMean, Unsqueeze, Concat); the map
#: before them is the one to show.
_REDUCERS = {"AveragePool", "GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceMax",
             "Flatten", "Reshape", "Slice", "Unsqueeze", "Concat"}
#: Ops of a quantised (QDQ) graph that only change a map's number format.
_FORMAT_ONLY = {"QuantizeLinear", "DequantizeLinear"}


def _first_conv(graph: Any) -> Any:
    """The first Conv node (ONNX node lists are topologically sorted)."""
    for node in graph.node:
        if node.op_type == "Conv":
            return node
    raise ValueError("the convnet graph has no Conv node")


def _constant(model: Any, name: str) -> np.ndarray:
    """A constant tensor of the graph; an int8 weight (quantised pack) is dequantised."""
    for init in model.graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            return numpy_helper.to_array(node.attribute[0].t)
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
    model = onnx.load(str(path))
    return _constant(model, _first_conv(model.graph).input[1]).astype(np.float32)


def _ranks(model: Any) -> dict[str, int]:
    g = shape_inference.infer_shapes(model).graph
    out = {}
    for v in [*g.value_info, *g.input, *g.output]:
        t = v.type.tensor_type
        if t.HasField("shape"):
            out[v.name] = len(t.shape.dim)
    return out


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


def taps(model: Any, feature_outputs: dict[str, str]) -> dict[str, str]:
    """Graph tensor shown for ``"first"`` and for each depth."""
    g = model.graph
    weights = {i.name for i in g.initializer}
    first = _first_conv(g).output[0]
    # show what the next layer sees: after the ReLU, and in a quantised graph (whose quantiser
    # folds the ReLU into the activation's range) after the int8 round trip
    for op in ("Relu", "QuantizeLinear", "DequantizeLinear"):
        first = next((n.output[0] for n in g.node if n.op_type == op and n.input[0] == first),
                     first)
    ranks = _ranks(model)
    out = {FIRST: first}
    for depth, output in feature_outputs.items():
        out[depth] = _spatial_source(g, output, ranks, weights)
    return out


def with_outputs(model: Any, extra: dict[str, str]) -> Any:
    """``model`` with each graph tensor ``extra[name]`` also given out as output ``name``
    (through an Identity, so several outputs may show one tensor)."""
    g = model.graph
    for name, tensor in extra.items():
        g.node.append(helper.make_node("Identity", [tensor], [name], name=f"{name}_identity"))
        g.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    return model


#: Weights at least this big are read from the source model instead of being copied.
SHARED_MIN_BYTES = 4096


def share_weights(model: Any, source: Path) -> int:
    """Point ``model``'s large weights at the same bytes inside ``source`` (ONNX external data:
    file, offset, length), instead of a second copy: a probe of the TU-Berlin convnet then takes
    38 KB of the bundle instead of 4.3 MB. ``source`` must sit beside the probe (onnxruntime
    reads external data relative to the model's folder), and each weight's bytes must occur in
    it exactly once (they do: ``raw_data`` is stored verbatim). Returns how many were shared."""
    blob = source.read_bytes()
    shared = 0
    for init in model.graph.initializer:
        raw = init.raw_data
        if len(raw) < SHARED_MIN_BYTES:
            continue
        at = blob.find(raw)
        if at < 0 or blob.find(raw, at + 1) >= 0:
            continue
        init.ClearField("raw_data")
        init.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", source.name), ("offset", str(at)),
                           ("length", str(len(raw)))):
            entry = init.external_data.add()
            entry.key, entry.value = key, value
        shared += 1
    return shared


def _save_probe(model: Any, source: Path, path: Path) -> dict[str, Any]:
    """Save a probe whose big weights are read from ``source`` (when it sits in the same
    folder; otherwise a self-contained copy); what the manifest records."""
    if path.parent.resolve() != source.parent.resolve():
        onnx.save(model, str(path))
        return {}
    shared = share_weights(model, source)
    onnx.save(model, str(path))
    return {"weights_from": source.name, "weights_from_sha256": sha256_of(source),
            "shared_weights": shared}


def write_convnet_probe(convnet: Path, feature_outputs: dict[str, str], out_dir: Path
                        ) -> dict[str, Any]:
    """Write ``probe.onnx`` and ``first_filters.npy`` for a convnet; returns the manifest's
    ``probes`` entries for them."""
    model = onnx.load(str(convnet))
    found = taps(model, feature_outputs)
    outputs = {key: TAP_OUTPUT.format(key) for key in found}
    saved = _save_probe(with_outputs(model, {outputs[k]: t for k, t in found.items()}), convnet,
                        out_dir / PROBE_FILE)
    filters = first_layer_filters(convnet)
    np.save(out_dir / FILTERS_FILE, filters, allow_pickle=False)
    return {"file": PROBE_FILE, "outputs": outputs, "graph_tensors": found, **saved,
            "filters": FILTERS_FILE, "filters_shape": list(filters.shape)}


def write_fusion_probe(fusion: Path, out_dir: Path) -> dict[str, Any] | None:
    """``fusion_probe.onnx``: the fusion head with its per-branch attention (the Softmax over two
    values that weighs the CNN and RNN embeddings) as an extra output; None when the head has
    no such Softmax."""
    model = onnx.load(str(fusion))
    ranks = _ranks(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in shape_inference.infer_shapes(model).graph.value_info}
    soft = next((n for n in model.graph.node if n.op_type == "Softmax"
                 and ranks.get(n.output[0]) == 2 and shapes.get(n.output[0], [0, 0])[1] == 2),
                None)
    if soft is None:
        return None
    saved = _save_probe(with_outputs(model, {ATTENTION_OUTPUT: soft.output[0]}), fusion,
                        out_dir / FUSION_PROBE_FILE)
    return {"file": FUSION_PROBE_FILE, "output": ATTENTION_OUTPUT, "branches": ["cnn", "rnn"],
            **saved}

"""Inner layers of the pack's convnet, from the probe written into the pack at export.

The pack's convnet outputs only logits and reduced features, and onnxruntime cannot hand out
weights. ``python -m training.teaching_assets`` (a training tool, which has the ``onnx`` package)
writes a copy of the convnet that also outputs the first convolution's activation and, per depth,
the map the feature is computed from (``probe.onnx``), and the first layer's weights
(``first_filters.npy``); see :mod:`training.teaching_probes`. Here the app runs that probe with
onnxruntime alone and turns what it gives into pictures. No Qt.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from ...engine import session_options
from .assets import ProbeSpec

FIRST = "first"


@dataclass
class ActivationProbe:
    """A session over the pack's ``probe.onnx``; ``outputs`` maps ``"first"`` and each depth to
    the probe's output name."""

    session: ort.InferenceSession
    outputs: dict[str, str]

    @classmethod
    def open(cls, spec: ProbeSpec) -> "ActivationProbe":
        session = ort.InferenceSession(str(spec.file), session_options(1),
                                       providers=["CPUExecutionProvider"])
        return cls(session, dict(spec.outputs))

    def run(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Activations ``[C, h, w]`` of the first (only) item in ``feed``, per tap."""
        names = list(self.outputs.values())
        got = dict(zip(names, self.session.run(names, feed)))
        return {key: got[name][0] for key, name in self.outputs.items()}


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

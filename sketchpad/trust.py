"""How far to trust a prediction: calibrated logits and a known-vs-unknown score (issue 18).

Two optional manifest sections, written by ``python -m training.calibrate PACK_DIR``:

* ``calibration`` — ``{"temperature": {model: T}, ...figures}``: the engine divides each model's
  logits by its ``T`` (temperature scaling, Guo et al. 2017), fitted on held-out validation
  drawings. Without the section, ``T = 1``.
* ``open_set`` — how ``known`` (in [0, 1]: how likely the drawing is one of the pack's classes)
  is computed from the best model's calibrated logits and the search features:
  ``{"method": "logistic", "inputs": [score names], "mean", "scale", "weights", "bias",
  "threshold", "prototypes": FILE?, ...figures}``. ``known = sigmoid(bias + weights · z)`` with
  ``z = (scores - mean) / scale``. Without the section, ``known`` is the maximum calibrated
  probability and the threshold is :data:`FALLBACK_THRESHOLD` (the classic baseline of Hendrycks
  and Gimpel 2017: cheap, monotone in confidence, but it cannot see a confident mistake).

The scores ``known`` may combine (all computed from one prediction, no gallery search):

* ``max_prob`` — the largest calibrated softmax probability;
* ``energy`` — ``logsumexp`` of the calibrated logits (Liu et al. 2020: higher = more familiar);
* ``proto_<depth>`` — the largest cosine similarity between the drawing's ``<depth>`` search
  vector and the class prototypes (each class's mean search vector, normalised), stored as
  ``prototype_<depth>`` ``[classes, dim]`` float32 in the pack's ``open_set.npz``.

Everything read from the manifest is checked here, once, and a bad section is a
:class:`~sketchpad.pack.PackError` naming the field.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .pack import DEPTHS, Pack, PackError, load_npz

#: Threshold on ``known`` (= maximum calibrated probability) for packs without ``open_set``.
FALLBACK_THRESHOLD = 0.5
SCORES = ("max_prob", "energy", *(f"proto_{d}" for d in DEPTHS))
METHODS = ("max_prob", "logistic")


def logsumexp(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=-1, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True)))[..., 0]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero), for cosine similarities."""
    x = np.asarray(x, np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def scores(names: tuple[str, ...], logits: np.ndarray, features: Mapping[str, np.ndarray],
           prototypes: Mapping[str, np.ndarray]) -> np.ndarray:
    """``[N, len(names)]`` scores of ``N`` predictions (``logits [N, C]`` calibrated,
    ``features[depth] [N, D]``); ``prototypes[depth]`` are unit rows, one per class."""
    logits = np.atleast_2d(np.asarray(logits, np.float64))
    cols = []
    for name in names:
        if name == "max_prob":
            cols.append(softmax(logits).max(axis=-1))
        elif name == "energy":
            cols.append(logsumexp(logits))
        else:
            depth = name.removeprefix("proto_")
            f = unit_rows(np.atleast_2d(features[depth]))
            cols.append((f @ prototypes[depth].T).max(axis=-1))
    return np.stack(cols, axis=-1).astype(np.float64)


@dataclass(frozen=True)
class Calibration:
    """Temperature per model (``T = 1`` for a model the manifest does not name)."""

    temperature: dict[str, float] = field(default_factory=dict)

    def scale(self, model: str, logits: np.ndarray) -> np.ndarray:
        return np.asarray(logits, np.float32) / np.float32(self.temperature.get(model, 1.0))


@dataclass(frozen=True)
class KnownScore:
    """``known`` from calibrated logits and search features (see the module docstring)."""

    method: str = "max_prob"
    threshold: float = FALLBACK_THRESHOLD
    inputs: tuple[str, ...] = ("max_prob",)
    mean: np.ndarray = field(default_factory=lambda: np.zeros(1))
    scale: np.ndarray = field(default_factory=lambda: np.ones(1))
    weights: np.ndarray = field(default_factory=lambda: np.ones(1))
    bias: float = 0.0
    prototypes: dict[str, np.ndarray] = field(default_factory=dict)

    def batch(self, logits: np.ndarray, features: Mapping[str, np.ndarray],
              extra_prototypes: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """``known`` of ``N`` predictions, ``[N]`` float64 in [0, 1].

        ``logits`` may carry more columns than the pack has classes (taught words appended);
        ``extra_prototypes[depth]`` (rows of any length, normalised here) then add those
        classes' prototypes, so a drawing of a taught word is as "known" as a pack class."""
        s = scores(self.inputs, logits, features, self._prototypes(extra_prototypes))
        if self.method == "max_prob":
            return s[:, 0]
        z = self.bias + ((s - self.mean) / self.scale) @ self.weights
        return 1.0 / (1.0 + np.exp(-z))

    def __call__(self, logits: np.ndarray, features: Mapping[str, np.ndarray],
                 extra_prototypes: Mapping[str, np.ndarray] | None = None) -> float:
        """``known`` of one prediction (``logits [C]``, ``features[depth] [D]``)."""
        return float(self.batch(logits, {d: np.atleast_2d(v) for d, v in features.items()},
                                extra_prototypes)[0])

    def _prototypes(self, extra: Mapping[str, np.ndarray] | None) -> dict[str, np.ndarray]:
        if not extra:
            return self.prototypes
        return {d: np.concatenate([p, unit_rows(np.atleast_2d(extra[d]))]) if d in extra else p
                for d, p in self.prototypes.items()}


@dataclass(frozen=True)
class Trust:
    """A pack's calibration and known score, as :func:`read_trust` found them."""

    calibration: Calibration = field(default_factory=Calibration)
    known: KnownScore = field(default_factory=KnownScore)


# --- reading and checking the manifest sections --------------------------------------------------
def _number(v: Any, where: str, lo: float = -math.inf, hi: float = math.inf,
            open_lo: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise PackError(f"{where} must be a finite number, got {v!r}")
    if v < lo or v > hi or (open_lo and v <= lo):
        raise PackError(f"{where} must lie in {'(' if open_lo else '['}{lo}, {hi}], got {v!r}")
    return float(v)


def _vector(v: Any, n: int, where: str, positive: bool = False) -> np.ndarray:
    if not isinstance(v, list) or len(v) != n:
        raise PackError(f"{where} must be a list of {n} numbers")
    return np.array([_number(x, f"{where}[{i}]", 0.0 if positive else -math.inf, open_lo=positive)
                     for i, x in enumerate(v)], np.float64)


def read_calibration(pack: Pack) -> Calibration:
    """The ``calibration`` section (T per model, each a positive finite number), or ``T = 1``."""
    sec = pack.manifest.get("calibration")
    where = f"pack {pack.name!r}: calibration"
    if sec is None:
        return Calibration()
    if not isinstance(sec, dict) or not isinstance(sec.get("temperature"), dict):
        raise PackError(f"{where} must be an object with a 'temperature' object")
    temps = {}
    for model, t in sec["temperature"].items():
        if model not in pack.models:
            raise PackError(f"{where}: temperature for {model!r}, which the pack lacks")
        temps[model] = _number(t, f"{where}.temperature.{model}", 1e-3, 1e3, open_lo=True)
    return Calibration(temps)


def read_known_score(pack: Pack, prototype_arrays: Mapping[str, np.ndarray] | None = None
                     ) -> KnownScore:
    """The ``open_set`` section, or the maximum-probability fallback. ``prototype_arrays``
    overrides reading the npz (tests); otherwise the file the section names is read."""
    sec = pack.manifest.get("open_set")
    where = f"pack {pack.name!r}: open_set"
    if sec is None:
        return KnownScore()
    if not isinstance(sec, dict):
        raise PackError(f"{where} must be an object")
    method = sec.get("method")
    if method not in METHODS:
        raise PackError(f"{where}.method must be one of {', '.join(METHODS)}, got {method!r}")
    threshold = _number(sec.get("threshold"), f"{where}.threshold", 0.0, 1.0)
    if method == "max_prob":
        return KnownScore(threshold=threshold)
    inputs = sec.get("inputs")
    if (not isinstance(inputs, list) or not inputs or len(set(inputs)) != len(inputs)
            or any(i not in SCORES for i in inputs)):
        raise PackError(f"{where}.inputs must be distinct names among {', '.join(SCORES)}")
    n = len(inputs)
    depths = [i.removeprefix("proto_") for i in inputs if i.startswith("proto_")]
    for d in depths:
        if d not in pack.features:
            raise PackError(f"{where}: input proto_{d} needs the {d} features, which the pack lacks")
    protos = _prototypes(pack, sec, depths, where, prototype_arrays)
    return KnownScore("logistic", threshold, tuple(inputs), _vector(sec.get("mean"), n, f"{where}.mean"),
                      _vector(sec.get("scale"), n, f"{where}.scale", positive=True),
                      _vector(sec.get("weights"), n, f"{where}.weights"),
                      _number(sec.get("bias"), f"{where}.bias"), protos)


def _prototypes(pack: Pack, sec: dict[str, Any], depths: list[str], where: str,
                arrays: Mapping[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    if not depths:
        return {}
    if arrays is None:
        rel = sec.get("prototypes")
        if not isinstance(rel, str) or rel not in pack.manifest.get("files", {}):
            raise PackError(f"{where}.prototypes must name a file listed in 'files'")
        arrays = load_npz(pack.path / rel, f"{where}: {rel}")
    out = {}
    for d in depths:
        a = arrays.get(f"prototype_{d}")
        shape = (len(pack.classes), pack.features[d].dim)
        if a is None or a.shape != shape or not np.issubdtype(a.dtype, np.floating) \
                or not np.isfinite(a).all():
            raise PackError(f"{where}: prototype_{d} must be finite floats of shape {shape}")
        out[d] = unit_rows(a)
    return out


def read_trust(pack: Pack) -> Trust:
    """Both sections of a pack, checked; raises :class:`PackError` naming the bad field."""
    return Trust(read_calibration(pack), read_known_score(pack))

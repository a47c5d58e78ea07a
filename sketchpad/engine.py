"""Inference: one onnxruntime session per model of a pack, providers chosen once and read back.

An :class:`Engine` turns a :class:`~sketchpad.ink.Sketch` (or a scanned page) into class
probabilities per model, the fused prediction, and the three depth features for search. It holds
no Qt and is called synchronously; the app calls it from a worker thread.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import onnxruntime as ort

from . import preprocess as pp
from .ink import Sketch
from .pack import DEPTHS, ModelSpec, Pack, PackError
from .trust import FALLBACK_THRESHOLD, Trust, read_trust, softmax

log = logging.getLogger(__name__)

CUDA, CPU = "CUDAExecutionProvider", "CPUExecutionProvider"
_DTYPES = {"float32": "tensor(float)", "int64": "tensor(int64)"}

#: Model name → input name → array with a leading batch axis (what :meth:`Engine.inputs_for` gives).
Feeds = dict[str, dict[str, np.ndarray]]


@dataclass(frozen=True)
class ProviderChoice:
    """The provider in use and, when it is the CPU, why CUDA is not."""

    provider: str
    reason: str

    @property
    def label(self) -> str:
        return "CUDA (GPU)" if self.provider == CUDA else "CPU"


@dataclass(frozen=True)
class Prediction:
    """What the models think of one sketch, and how far to trust it (:mod:`sketchpad.trust`).

    ``probs`` is the pack's best prediction (fusion when the pack has one, else the convnet);
    ``per_model`` holds each model's own probabilities; ``features`` the search vectors per depth.
    All probabilities are calibrated (logits divided by the pack's temperature per model);
    ``logits`` are the best model's calibrated logits in the order of ``classes``. ``known`` in
    [0, 1] says how likely the drawing is one of ``classes``; below ``threshold`` the prediction
    is ``unsure``. A plain frozen dataclass: :func:`dataclasses.replace` extends it (taught words).
    """

    probs: np.ndarray
    per_model: dict[str, np.ndarray]
    features: dict[str, np.ndarray]
    classes: list[str] = field(repr=False, default_factory=list)
    logits: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.float32))
    known: float = 1.0
    threshold: float = FALLBACK_THRESHOLD

    @property
    def unsure(self) -> bool:
        return self.known < self.threshold

    def top(self, k: int = 3, model: str | None = None) -> list[tuple[str, float]]:
        p = self.probs if model is None else self.per_model[model]
        order = np.argsort(-p, kind="stable")[:k]
        return [(self.classes[i], float(p[i])) for i in order]


def stack_inputs(feeds: Sequence[Feeds]) -> Feeds:
    """Several sketches' :meth:`Engine.inputs_for` as one batch (every model, every input)."""
    return {m: {i: np.concatenate([f[m][i] for f in feeds]) for i in feeds[0][m]} for m in feeds[0]}


def session_options(threads: int = 0) -> ort.SessionOptions:
    """Options for interactive use: no busy-wait spinning, so an idle app uses no CPU."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return so


@functools.cache
def cuda_library_problem() -> str:
    """Why onnxruntime's CUDA provider library cannot load here ('' when it loads).

    onnxruntime-gpu only logs to stderr (in red, once per session) when CUDA or cuDNN is missing
    and quietly runs on the CPU; loading the provider library ourselves first yields the precise
    reason (e.g. ``libcublasLt.so.13: cannot open shared object file``) for the window and
    ``sketchpad packs``, and spares the user the log. CUDA and cuDNN from the ``nvidia-*``
    wheels are preloaded first where this onnxruntime can (``preload_dlls``)."""
    name = "onnxruntime_providers_cuda.dll" if os.name == "nt" else "libonnxruntime_providers_cuda.so"
    if hasattr(ort, "preload_dlls"):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            with contextlib.suppress(Exception):
                ort.preload_dlls()
    try:
        ctypes.CDLL(str(Path(ort.__file__).parent / "capi" / name))
    except OSError as exc:
        # PyInstaller's ctypes re-raises with a generic "not found when frozen" message; the
        # loader's own message is its cause.
        return str(exc.__cause__ or exc)
    return ""


def wanted_providers(prefer_gpu: bool = True) -> tuple[list[str], str]:
    """Providers to ask for, and why CUDA is not among them when it is not."""
    if not prefer_gpu:
        return [CPU], "GPU use is switched off"
    if CUDA not in ort.get_available_providers():
        return [CPU], ("this onnxruntime build has no CUDA provider "
                       "(install onnxruntime-gpu on a machine with an NVIDIA GPU)")
    problem = cuda_library_problem()
    if problem:
        return [CPU], (f"the CUDA provider cannot load: {problem} (onnxruntime-gpu needs the "
                       "CUDA and cuDNN versions its release notes name)")
    return [CUDA, CPU], ""


def _check_io(spec: ModelSpec, session: ort.InferenceSession, where: str) -> None:
    """The manifest's tensor names, dtypes and shapes must match the ONNX graph exactly: every
    graph input is declared, and an axis the manifest gives as a number (the class count of
    ``logits``, a feature's dim; checked against the classes and features by
    :mod:`sketchpad.manifest`) is that same number in the graph, not a symbolic one."""
    got_in = {i.name: i for i in session.get_inputs()}
    got_out = {o.name: o for o in session.get_outputs()}
    undeclared = sorted(set(got_in) - set(spec.inputs))
    if undeclared:
        raise PackError(f"{where}: {spec.file.name} needs input(s) {', '.join(undeclared)}, "
                        "which the manifest does not declare")
    for kind, wanted, got in (("input", spec.inputs, got_in), ("output", spec.outputs, got_out)):
        for name, info in wanted.items():
            if name not in got:
                raise PackError(f"{where}: {spec.file.name} has no {kind} {name!r} "
                                f"(it has {', '.join(got)})")
            dtype = _DTYPES.get(info.get("dtype", "float32"))
            if dtype and got[name].type != dtype:
                raise PackError(f"{where}: {kind} {name!r} is {got[name].type}, manifest says {dtype}")
            shape = info.get("shape")
            if shape is not None:
                g = got[name].shape
                if len(g) != len(shape) or any(isinstance(a, int) and a != b
                                               for a, b in zip(shape, g)):
                    raise PackError(f"{where}: {kind} {name!r} has shape {g}, manifest says {shape}")


class Engine:
    """All models of one pack, ready to run. Construction validates the ONNX files against the
    manifest and raises :class:`PackError` precisely when they disagree or do not load."""

    def __init__(self, pack: Pack, prefer_gpu: bool = True, threads: int = 0):
        self.pack = pack
        providers, reason = wanted_providers(prefer_gpu)
        self.sessions: dict[str, ort.InferenceSession] = {}
        where = f"pack {pack.name!r}"
        for name, spec in pack.models.items():
            try:
                sess = ort.InferenceSession(str(spec.file), session_options(threads),
                                            providers=providers)
            except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
                raise PackError(f"{where}: {spec.file.name} does not load "
                                f"({str(exc).splitlines()[0][:200]})") from None
            _check_io(spec, sess, where)
            self.sessions[name] = sess
        used = self.sessions["convnet"].get_providers()[0]
        if used != CUDA and not reason:
            reason = ("the CUDA provider did not start (missing CUDA/cuDNN libraries or no usable "
                      "GPU); running on the CPU")
        self.provider = ProviderChoice(used, "" if used == CUDA else reason)
        self.trust: Trust = read_trust(pack)
        log.info("pack %s on %s %s", pack.name, used, reason)

    @property
    def has_rnn(self) -> bool:
        return "rnn" in self.sessions

    def run(self, name: str, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One model's outputs by manifest name, for a batch of any size."""
        spec = self.pack.models[name]
        outs = list(spec.outputs)
        try:
            return dict(zip(outs, self.sessions[name].run(outs, feeds)))
        except Exception as exc:  # onnxruntime's errors are untyped: a checked graph broken inside
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise PackError(f"pack {self.pack.name!r}: {spec.file.name} fails to run ({first})"
                            ) from None

    def run_all(self, feeds: Feeds) -> dict[str, dict[str, np.ndarray]]:
        """Every model's outputs for a batch (:meth:`inputs_for` feeds, or :func:`stack_inputs`
        of several): the fusion, when the pack has one, runs on the two branches' embeddings."""
        out = {"convnet": self.run("convnet", feeds["convnet"])}
        if "rnn" in feeds:
            out["rnn"] = self.run("rnn", feeds["rnn"])
            if "fusion" in self.sessions:
                out["fusion"] = self.run("fusion", {"cnn_embedding": out["convnet"]["embedding"],
                                                    "rnn_embedding": out["rnn"]["embedding"]})
        return out

    def inputs_for(self, source: Sketch | np.ndarray) -> Feeds:
        """The exact tensors each model is fed (the parity tests compare these with training's)."""
        feeds: dict[str, dict[str, np.ndarray]] = {}
        cspec = self.pack.models["convnet"].preprocess
        (cname,) = self.pack.models["convnet"].inputs
        if isinstance(cspec, pp.OrderRaster):
            if not isinstance(source, Sketch):
                raise PackError(f"pack {self.pack.name!r} needs strokes; an image cannot be read")
            image = pp.order_raster(source, cspec)
        elif isinstance(cspec, pp.ConvNetRaster):
            image = pp.convnet_input(source, cspec)
        else:
            raise PackError(f"pack {self.pack.name!r}: convnet has no raster preprocessing")
        feeds["convnet"] = {cname: image[None]}
        if self.has_rnn and isinstance(source, Sketch):
            rspec = self.pack.models["rnn"].preprocess
            seq, n = pp.stroke3_input(source, rspec)
            feeds["rnn"] = {"strokes": seq[None], "lengths": np.array([n], np.int64)}
        return feeds

    def predict(self, source: Sketch | np.ndarray) -> Prediction:
        """Classify a sketch (all models) or a grey page (convnet only) and extract features."""
        return self.predictions(self.run_all(self.inputs_for(source)))[0]

    def predictions(self, out: dict[str, dict[str, np.ndarray]]) -> list[Prediction]:
        """:meth:`run_all` outputs for a batch as one calibrated :class:`Prediction` each."""
        logits = {name: self.trust.calibration.scale(name, o["logits"]) for name, o in out.items()}
        best = "fusion" if "fusion" in logits else "convnet"
        per_model = {name: softmax(z) for name, z in logits.items()}
        features = {d: out["convnet"][f.output] for d, f in self.pack.features.items()}
        known = self.trust.known.batch(logits[best], features)
        preds = []
        for i in range(len(known)):
            mine = {m: p[i] for m, p in per_model.items()}
            preds.append(Prediction(mine[best], mine, {d: f[i] for d, f in features.items()},
                                    self.pack.classes, logits[best][i], float(known[i]),
                                    self.trust.known.threshold))
        return preds

    def describe(self) -> dict[str, Any]:
        """Provider and model summary, for ``sketchpad packs`` and the window's status line."""
        return {"provider": self.provider.provider, "reason": self.provider.reason,
                "models": sorted(self.sessions), "depths": [d for d in DEPTHS
                                                            if d in self.pack.features]}

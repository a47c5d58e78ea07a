"""Quantise a pack's networks to int8 for the CPU, and re-embed its gallery with them.

    python -m training.quantize resources/packs/quickdraw --pool 2420

(the quickdraw gallery's first 2,420 rows are the validation split; ``--models``, ``--calibration``
and ``--seed`` have defaults).

Why: the DSN's five-block CNN and its LSTM-256 are compute-bound on a small CPU, so onnxruntime's
float kernels are only about 2.5× PyTorch eager; its int8 kernels (VNNI, AVX2) halve the time
again. Each model is quantised the way its operators gain most:

* ``convnet`` — static, QDQ format: int8 weights per output channel, uint8 activations whose
  ranges are calibrated (min/max) on gallery sketches fed through the app's own preprocessing;
* ``rnn`` — dynamic, the LSTM only (it becomes ``DynamicQuantizeLSTM``): int8 weights,
  activations quantised per call, so no calibration;
* ``fusion`` stays float: a few small products, nothing to win.

The gallery's vectors are then recomputed by the quantised convnet itself — the model the app
queries with — and its indexes and map projections rebuilt, so a gallery sketch drawn again still
finds itself first. The manifest's ``quantization`` records, per model, the method, the float
model's hash and size, the latency before and after; and, over the whole gallery, how often each
answer's top class agrees with the float one's, how close the depth features stay, and
leave-one-out precision@10 before and after. Accuracy on held-out drawings is the trainer's pack
evaluation run on the quantised pack (``training.dsn.evaluate_pack``,
``training.deepsketch.evaluate_pack``).

A gallery of thumbnails (TU-Berlin) cannot be re-embedded from the pack alone: its trainer passes
the original pictures (``training.deepsketch.export_pack --int8``).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_dynamic, quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

from sketchpad.engine import Engine, Feeds, stack_inputs
from sketchpad.gallery import Gallery
from sketchpad.pack import MANIFEST, load_pack
from training.export import build_index, precision_at_k, projection_arrays, write_manifest

log = logging.getLogger(__name__)

STATIC, DYNAMIC = "static", "dynamic"
#: What dynamic quantisation touches: the LSTM alone. Its small 1-D convolutions as
#: ``ConvInteger`` (with the casts around them) took 2.7× the float time, and the head is tiny.
DYNAMIC_OPS = ["LSTM"]
#: How each model of a pack is quantised (module docstring); models not named stay float.
METHODS = {"convnet": STATIC, "rnn": DYNAMIC}
DESCRIPTIONS = {
    STATIC: "static int8, QDQ: weights int8 per output channel, activations uint8 with min/max "
            "ranges calibrated on {n} of {pool} gallery sketches kept out of testing (seed {seed})",
    DYNAMIC: "dynamic int8 of the LSTM: weights int8, activations quantised per call",
}


class _Feeds(CalibrationDataReader):
    """Calibration batches of one sketch each, as the app feeds the model."""

    def __init__(self, feeds: Sequence[dict[str, np.ndarray]]):
        self._items = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


def quantize_model(method: str, src: Path, dst: Path,
                   calibration: Sequence[dict[str, np.ndarray]]) -> None:
    """Write the int8 version of ``src`` to ``dst`` (``calibration`` is used by static only)."""
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(src), str(prepared))  # shapes inferred, constants folded
        if method == DYNAMIC:
            quantize_dynamic(prepared, dst, weight_type=QuantType.QInt8,
                             op_types_to_quantize=DYNAMIC_OPS)
        else:
            quantize_static(prepared, dst, _Feeds(calibration), quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax)


#: Gallery row → that sketch's model inputs, as :meth:`Engine.inputs_for` makes them.
Inputs = Callable[[int], Feeds]


def run_rows(engine: Engine, inputs: Inputs, n: int, batch: int = 256) -> dict[str, dict[str, np.ndarray]]:
    """:meth:`Engine.run_all` on rows ``0..n-1``, ``batch`` rows a call. A dynamically quantised
    model scales its activations by each call's own range, so its answers depend on the batching;
    ``batch=1`` gives exactly what the app computes for each sketch."""
    parts = [engine.run_all(stack_inputs([inputs(i) for i in range(j, min(j + batch, n))]))
             for j in range(0, n, batch)]
    return {m: {o: np.concatenate([p[m][o] for p in parts]) for o in parts[0][m]} for m in parts[0]}


def median_ms(session: ort.InferenceSession, feed: dict[str, np.ndarray], repeat: int = 100) -> float:
    """Median single-sketch latency of one session (the manifest's speed record)."""
    times = []
    for i in range(repeat + 10):
        t0 = time.perf_counter()
        session.run(None, feed)
        if i >= 10:
            times.append((time.perf_counter() - t0) * 1e3)
    return round(float(np.median(times)), 3)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def quantize_pack(pack_dir: str | Path, models: Sequence[str] | None = None,
                  calibration: int = 256, rows: Sequence[int] | None = None, seed: int = 0,
                  inputs: Inputs | None = None, command: str = "") -> dict[str, Any]:
    """Quantise ``models`` (default: every model :data:`METHODS` names) of the pack, re-embed its
    gallery, rebuild its indexes, and return the manifest's new ``quantization``.

    ``calibration`` sketches are drawn from the gallery ``rows`` given (all if ``None``): a pack
    whose gallery also shows test drawings calibrates on the others, so no test drawing sets a
    range. ``inputs`` gives a gallery row's model inputs; by default they are computed from the
    gallery's strokes, and a gallery of thumbnails needs its original pictures passed this way.
    ``command`` is recorded as what made the int8 pack.

    The work happens on a copy beside the pack, which takes the pack's place only when complete:
    a failure (a full disk, a graph the quantiser refuses) leaves the float pack as it was."""
    out = Path(pack_dir)
    load_pack(out)  # a broken pack is refused before anything is copied
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.int8-", dir=out.parent))
    old = work.with_name(work.name + ".float")
    try:
        shutil.copytree(out, work, dirs_exist_ok=True)
        record = _quantize_copy(work, models, calibration, rows, seed, inputs, command)
        os.replace(out, old)
        os.replace(work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return record


def _quantize_copy(out: Path, models: Sequence[str] | None, calibration: int,
                   rows: Sequence[int] | None, seed: int, inputs: Inputs | None,
                   command: str) -> dict[str, Any]:
    """:func:`quantize_pack`'s work, done in place on the copy ``out``."""
    pack = load_pack(out)
    models = [m for m in (models or METHODS) if m in pack.models]
    unknown = [m for m in models if m not in METHODS]
    if unknown:
        raise ValueError(f"no quantisation method for {', '.join(unknown)} (known: {', '.join(METHODS)})")
    if "quantization" in pack.manifest:
        raise ValueError(f"pack {pack.name!r} is already quantised; quantise a freshly exported pack")
    gallery = Gallery(pack)
    engine = Engine(pack, prefer_gpu=False, threads=1)
    if inputs is None:
        if not gallery.has_strokes:
            raise ValueError(f"pack {pack.name!r}: its gallery keeps no strokes, so the quantised "
                             "convnet cannot re-embed it from the pack alone (pass its pictures)")
        inputs = lambda i: engine.inputs_for(gallery.sketch(i))  # noqa: E731
    n = len(gallery)
    pool = np.arange(n) if rows is None else np.asarray(rows)
    pick = np.sort(np.random.default_rng(seed).choice(pool, min(calibration, len(pool)), replace=False))
    log.info("running the float models on %d gallery sketches", n)
    before = run_rows(engine, inputs, n)
    speed = {m: {"float32": median_ms(engine.sessions[m], inputs(0)[m])} for m in models}
    calib = [inputs(int(i)) for i in pick]

    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    done: dict[str, dict[str, Any]] = {}
    for name in models:
        method, src = METHODS[name], pack.models[name].file
        int8 = src.with_suffix(".int8.onnx")
        log.info("quantising %s (%s)", name, method)
        quantize_model(method, src, int8, [feeds[name] for feeds in calib])
        done[name] = {"method": DESCRIPTIONS[method].format(n=len(pick), pool=len(pool), seed=seed),
                      "float32_sha256": manifest["files"][src.name],
                      "float32_bytes": src.stat().st_size, "int8_bytes": int8.stat().st_size}
        os.replace(int8, src)

    engine = Engine(load_pack(out, verify_hashes=False), prefer_gpu=False, threads=1)
    after = run_rows(engine, inputs, n, batch=1)  # as the app runs: dynamic ranges are per call
    for name in models:
        speed[name]["int8"] = median_ms(engine.sessions[name], inputs(0)[name])
    features = {d: after["convnet"][s.output] for d, s in pack.features.items()}
    record: dict[str, Any] = {
        "models": done, "tool": f"onnxruntime {ort.__version__}",
        "median_ms_one_sketch_one_thread": speed,
        # every answer on the gallery, the fusion's too (it changes when a branch under it does)
        "top1_agreement_with_float32_on_gallery": {
            m: float((after[m]["logits"].argmax(1) == before[m]["logits"].argmax(1)).mean())
            for m in after},
        "feature_cosine_to_float32_on_gallery": {
            d: {"min": float(c.min()), "mean": float(c.mean())}
            for d, c in ((d, _cosines(features[d], before["convnet"][s.output]))
                         for d, s in pack.features.items())},
        # same class = relevant, each gallery sketch querying all others (the figures the
        # manifest's features keep were measured as the trainer chose; they stay as they are)
        "leave_one_out_precision_at_10_on_gallery": {
            d: {kind: precision_at_k(f, gallery.labels, s.metric)
                for kind, f in (("float32", before["convnet"][s.output]), ("int8", features[d]))}
            for d, s in pack.features.items()},
        "calibration_rows": f"{len(pool)} gallery rows" + (
            "" if rows is None else f", from {int(pool.min())} to {int(pool.max())}"),
        "command": command,
    }
    for depth, spec in pack.features.items():
        f = manifest["features"][depth]
        f["annoy"] = build_index(features[depth], spec.metric, out / f["index"],
                                 f["annoy"]["n_trees"], search_k=f["annoy"]["search_k"])
    with np.load(pack.gallery_file) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez_compressed(pack.gallery_file, **{**arrays, **projection_arrays(features)})
    manifest["quantization"] = record
    write_manifest(out, manifest)
    return record


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pack", type=Path)
    ap.add_argument("--models", nargs="+", choices=sorted(METHODS))
    ap.add_argument("--calibration", type=int, default=256, help="gallery sketches for static ranges")
    ap.add_argument("--pool", type=int, help="calibrate on the gallery's first POOL rows only")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    rows = None if args.pool is None else range(args.pool)
    command = " ".join(["python -m training.quantize", str(args.pack),
                        *(["--models", *args.models] if args.models else []),
                        f"--calibration {args.calibration}",
                        *([f"--pool {args.pool}"] if args.pool is not None else []),
                        f"--seed {args.seed}"])
    record = quantize_pack(args.pack, args.models, args.calibration, rows, args.seed, command=command)
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()

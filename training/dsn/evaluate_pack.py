"""MAP@3 and top-1 of a *shipped* pack on the test split, run by onnxruntime as the app runs it.

:mod:`.evaluate` scores PyTorch checkpoints; this scores what users get — the pack's own ONNX
models through :meth:`sketchpad.engine.Engine.run_all`, after any quantisation
(:mod:`training.quantize`) — on the cached test split, whose tensors are the app's preprocessing
of each drawing. ``--record`` writes the figures into the pack's manifest as ``metrics.shipped_*``.

    python -m training.dsn.evaluate_pack [resources/packs/quickdraw] [--record]
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from sketchpad import preprocess as pp
from sketchpad.engine import Engine, Feeds
from sketchpad.pack import load_pack
from training.export import record_metrics, shipped_models
from training.quantize import run_rows

from .data import DEFAULT_CACHE, load_meta, load_split
from .evaluate import PROTOCOL
from .metrics import map_at_k, top1

REPO = Path(__file__).resolve().parents[2]


def evaluate_pack(pack_dir: Path, cache: Path = DEFAULT_CACHE, threads: int = 0) -> dict[str, Any]:
    """Each model's answer (``convnet``, ``rnn``, ``fusion``) on the test split of ``cache``."""
    pack = load_pack(pack_dir)
    meta = load_meta(cache)
    if list(pack.classes) != list(meta["classes"]):
        raise ValueError(f"{pack_dir}: its classes are not the cache's, in the cache's order")
    spec = pack.models["convnet"]
    (image,) = spec.inputs
    test = load_split(cache, "test", spec.preprocess.size)
    canvases = test[f"img{spec.preprocess.size}"]

    def inputs(i: int) -> Feeds:  # what Engine.inputs_for makes of drawing i (the parity tests)
        feeds = {"convnet": {image: pp.to_tensor(canvases[i], spec.preprocess.mean)[None]}}
        if "rnn" in pack.models:
            feeds["rnn"] = {"strokes": test["strokes"][i:i + 1], "lengths": test["lengths"][i:i + 1]}
        return feeds
    y = test["labels"]
    out = run_rows(Engine(pack, prefer_gpu=False, threads=threads), inputs, len(y), batch=1)
    return {"pack": pack.name, "quantized": "quantization" in pack.manifest,
            "protocol": PROTOCOL.format(n=len(y), c=len(pack.classes)),
            "map3": {m: map_at_k(o["logits"], y) for m, o in out.items()},
            "top1": {m: top1(o["logits"], y) for m, o in out.items()}}


def record(pack_dir: Path, result: dict[str, Any]) -> None:
    """Write ``result`` into the manifest's metrics as ``shipped_<metric>_<model>``."""
    kind = shipped_models(load_pack(pack_dir).manifest)
    record_metrics(pack_dir, {
        f"shipped_{metric}_{model}": {
            "value": value,
            "protocol": f"{'MAP@3' if metric == 'map3' else 'top-1'} of the {model} answer of the "
                        f"pack as shipped ({kind}), its ONNX models run by the app's Engine, "
                        f"{result['protocol']}"}
        for metric in ("map3", "top1") for model, value in result[metric].items()},
        "python -m training.dsn.evaluate_pack --record")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pack", nargs="?", type=Path, default=REPO / "resources" / "packs" / "quickdraw")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--record", action="store_true", help="write the figures into the manifest")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    result = evaluate_pack(args.pack, args.cache, args.threads)
    print(json.dumps(result, indent=2))
    if args.record:
        record(args.pack, result)


if __name__ == "__main__":
    main()

"""Ten-view test of a *shipped* pack's ``convnet.onnx``, run by onnxruntime as the app runs it.

:mod:`.evaluate` scores PyTorch checkpoints; this scores what users get, from the pack alone, on
the current preprocessing code. It is how a change to preprocessing (e.g. the move from OpenCV to
Pillow) is checked against the figure the manifest records.

    python -m training.deepsketch.evaluate_pack [resources/packs/tu-berlin] [--split 1]
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from sketchpad.engine import Engine
from sketchpad.pack import load_pack
from training.export import record_metrics, shipped_models

from .data import CACHE, TRAIN_PER_CLASS, TuBerlinCache, split_indices, ten_views, to_batch

log = logging.getLogger("deepsketch.evaluate_pack")
REPO = Path(__file__).resolve().parents[2]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def evaluate_pack(pack_dir: Path, data: TuBerlinCache, split: int, train_per_class: int | None = None,
                  batch: int = 10, threads: int = 0) -> dict[str, float | int | str]:
    """Ten-view and centre-view accuracy of the pack's ConvNet on the test part of ``split``;
    ``train_per_class`` defaults to the one the pack's network was trained with (its manifest)."""
    pack = load_pack(pack_dir)
    if train_per_class is None:
        trained = pack.manifest.get("training", {}).get("config", {})
        train_per_class = int(trained.get("train_per_class", TRAIN_PER_CLASS))
    spec = pack.models["convnet"]
    if list(pack.classes) != list(data.classes):
        raise ValueError(f"{pack_dir}: its classes are not TU-Berlin's in the cache's order")
    session = Engine(pack, prefer_gpu=False, threads=threads).sessions["convnet"]
    mean = float(spec.preprocess.mean)
    _, test_idx = split_indices(data.labels, split, train_per_class)
    ten, centre = [], []
    for i in tqdm(range(0, len(test_idx), batch), desc=f"{pack.name} split {split}", mininterval=5):
        pics = [data.pictures[j] for j in test_idx[i:i + batch]]
        views = to_batch([v for p in pics for v in ten_views(p, spec.preprocess.scale)], mean)
        lp = log_softmax(session.run(["logits"], {"image": views})[0]).reshape(len(pics), 10, -1)
        ten.append(lp.sum(1).argmax(1))
        centre.append(lp[:, 0].argmax(1))  # ten_views starts with the centre view as drawn
    y = data.labels[test_idx]
    return {"pack": pack.name, "split": split, "test_items": int(len(test_idx)),
            "ten_view_accuracy": float((np.concatenate(ten) == y).mean()),
            "single_view_accuracy": float((np.concatenate(centre) == y).mean())}


def record(pack_dir: Path, result: dict[str, Any]) -> None:
    """Write ``result`` into the manifest's metrics as ``shipped_*_accuracy_heldout``: the
    sketches the shipped network never trained on (its split's test set when it was trained on
    the protocol, fewer when it was trained on more, as the protocol says)."""
    kind = shipped_models(load_pack(pack_dir).manifest)
    s = result["split"]
    record_metrics(pack_dir, {
        f"shipped_{view}_accuracy_heldout": {
            "value": result[f"{view}_accuracy"],
            "protocol": f"{view.replace('_', '-')} accuracy of the pack as shipped ({kind}), its "
                        f"convnet.onnx run by the app's Engine on the TU-Berlin sketches split "
                        f"{s} held out of its training ({result['test_items']} sketches; ten views "
                        f"as the trainer's evaluation)"}
        for view in ("ten_view", "single_view")},
        f"python -m training.deepsketch.evaluate_pack --split {s} --record")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pack", nargs="?", type=Path, default=REPO / "resources" / "packs" / "tu-berlin")
    ap.add_argument("--split", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--record", action="store_true", help="write the figures into the manifest")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    result = evaluate_pack(args.pack, TuBerlinCache.load(args.cache), args.split,
                           threads=args.threads)
    print(json.dumps(result, indent=2))
    if args.record:
        record(args.pack, result)


if __name__ == "__main__":
    main()

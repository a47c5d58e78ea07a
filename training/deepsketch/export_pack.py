"""Export a trained DeepSketch as the ``tu-berlin`` pack through :func:`training.export.write_pack`.

The exported ``convnet.onnx`` maps ``image [N, 1, 224, 224]`` to ``logits`` and to ``feat_low``,
``feat_mid``, ``feat_high``: the raw layer-6 / 11 / 13 activations already reduced inside the graph
by a fixed Linear layer (the PCA projection or the trained bottleneck, whichever retrieved better
in :mod:`.similarity`). The gallery is every TU-Berlin sketch as a small thumbnail with its label
and file number; its features are the centre view's, as the app computes them for a query.

    python -m training.deepsketch.export_pack --ckpt runs/deepsketch/cpu-split1/ckpt.pt \\
        --eval-dir runs/deepsketch/cpu-split1/eval --out resources/packs/tu-berlin

When another split's protocol run ends, only the pack's protocol figures need to change:

    python -m training.deepsketch.export_pack --protocol-only --out resources/packs/tu-berlin \\
        --results runs/deepsketch/recipe-split*/eval/results.json
"""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch
from torch import nn

from sketchpad.pack import DEPTHS, MANIFEST, load_pack
from sketchpad.preprocess import ConvNetRaster
from training.export import Gallery, ModelExport, build_index, hardware, write_manifest, write_pack
from training.quantize import quantize_pack

from .data import ATTRIBUTION, BACKGROUND, CACHE, CONTENT, QUICKDRAW, SIZE, TuBerlinCache, centre_view, split_indices, \
    to_batch
from .evaluate import features_scale, load_checkpoint, training_cycles
from .mixed import HELD_OUT
from .model import FEATURE_LAYERS, DeepSketch
from .similarity import Reduction

log = logging.getLogger("deepsketch.export")

RECALL_TARGET = 0.95
LAYER_NAMES = {"low": "layer 6 (max-pool after conv 4)", "mid": "layer 11 (max-pool after conv 9)",
               "high": "layer 13 (ReLU after conv 12)"}


class PackConvNet(nn.Module):
    """DeepSketch followed by a fixed Linear reduction per depth; dropout off (eval).

    With ``mirror``, the class logits are the mean of the drawing's and its mirror image's (the
    paper's mirrored test view; on held-out quick drawings it lifts the shipped network's top-1
    from 59.5 to 61.7 %, where the corner views do not help). The second pass shares the first's
    weights inside the graph, so the engine, the int8 quantisation and the app see one model as
    before (a doubled batch would need a reshape by the batch size, which onnxruntime's shape
    inference for quantisation rejects). The search features stay the drawing's own, so
    neighbours keep its orientation."""

    def __init__(self, model: DeepSketch, reductions: dict[str, Reduction], mirror: bool = False):
        super().__init__()
        self.model = model.eval()
        self.reduce = nn.ModuleDict({d: reductions[d].as_linear() for d in DEPTHS})
        self.mirror = mirror

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(image)
        logits = (out.logits + self.model(image.flip(3)).logits) / 2 if self.mirror else out.logits
        return (logits, *(self.reduce[d](out.feats[d]) for d in DEPTHS))


#: The convnet's manifest note when its graph also reads the mirror image.
MIRROR_VIEWS = ("logits: the mean of the drawing's and its mirror image's (two passes of the "
                "same weights in the graph); search features: the drawing as given")


def thumbnails(pictures: np.ndarray, side: int) -> np.ndarray:
    """The 180-px pictures shrunk by area averaging (thin strokes stay visible)."""
    return np.stack([cv2.resize(np.asarray(p), (side, side), interpolation=cv2.INTER_AREA)
                     for p in pictures])


def choose_n_trees(features: dict[str, np.ndarray], search_k: int,
                   candidates: Sequence[int] = (4, 6, 8, 10, 15, 20, 30, 40, 60, 80),
                   target: float = RECALL_TARGET) -> int:
    """The fewest trees (smallest indexes) whose recall@10 at ``search_k`` reaches ``target`` at
    every depth (few trees searched wider beat many trees at Annoy's default, session 2 found)."""
    with tempfile.TemporaryDirectory() as tmp:
        for n in candidates:
            recalls = {d: build_index(f, "angular", Path(tmp) / f"{d}.ann", n,
                                      search_k=search_k)["recall_at_10"]
                       for d, f in features.items()}
            log.info("n_trees %d: recall@10 %s", n, recalls)
            if min(recalls.values()) >= target:
                return n
    return candidates[-1]


def export_deepsketch(out_dir: Path, model: DeepSketch, mean: float,
                      reductions: dict[str, Reduction], raw_features: dict[str, np.ndarray],
                      pictures: np.ndarray, labels: np.ndarray, ids: Sequence[int],
                      classes: Sequence[str], *, metrics: dict[str, Any], training: dict[str, Any],
                      feature_info: dict[str, dict[str, Any]] | None = None,
                      extra: dict[str, Any] | None = None, n_trees: int | None = None,
                      search_k: int = 1000,
                      thumb: int = 48, name: str = "tu-berlin",
                      title: str = "TU-Berlin · DeepSketch ConvNet", also_trained_on: str = "",
                      mirror: bool = False, scale: float = 1.0) -> Path:
    """Write the pack. ``raw_features[depth]`` are the gallery's raw centre-view activations
    (``model(...).feats``, views at ``scale``: :func:`.data.view_scale`); the reductions turn
    them into the indexed vectors. ``mirror``: see :class:`PackConvNet`."""
    spec = ConvNetRaster(size=SIZE, content=CONTENT, mean=float(mean), scale=scale)
    module = PackConvNet(model, reductions, mirror)
    example = torch.from_numpy(to_batch([centre_view(p, scale) for p in pictures[:2]], spec.mean))
    gallery_features = {d: reductions[d](raw_features[d]) for d in DEPTHS}
    if n_trees is None:
        n_trees = choose_n_trees(gallery_features, search_k)
    features = {d: {"output": f"feat_{d}", "layer": LAYER_NAMES[d], "metric": "angular",
                    "table1_layer": FEATURE_LAYERS[d], "reduction": reductions[d].kind,
                    "raw_dim": int(raw_features[d].shape[1]), **(feature_info or {}).get(d, {})}
                for d in DEPTHS}
    gallery = Gallery(labels=np.asarray(labels), source_ids=[str(i) for i in ids],
                      attribution=ATTRIBUTION, thumbnails=thumbnails(pictures, thumb))
    return write_pack(
        out_dir, name=name, title=title,
        dataset={"name": "tu-berlin", "classes": len(classes), "gallery": "all sketches",
                 "citation": "Eitz, Hays, Alexa, How Do Humans Sketch Objects?, SIGGRAPH 2012",
                 **({"also_trained_on": also_trained_on} if also_trained_on else {})},
        classes=classes,
        models=[ModelExport("convnet", module, {"image": example},
                            ("logits", *(f"feat_{d}" for d in DEPTHS)), spec.to_dict(),
                            info={"views": MIRROR_VIEWS} if mirror else {})],
        features=features, gallery=gallery, gallery_features=gallery_features,
        metrics=metrics, training=training, n_trees=n_trees, search_k=search_k, extra=extra)


def quantize_deepsketch_pack(out: Path, data: TuBerlinCache, split: int, mean: float,
                             command: str) -> dict[str, Any]:
    """The pack's convnet to int8 (:mod:`training.quantize`), calibrated on the split's training
    sketches only; the gallery (thumbnails in the pack) re-embedded from the original pictures,
    each as the app's centre view of that PNG (at the pack's preprocessing scale)."""
    train_idx, _ = split_indices(data.labels, split)
    scale = load_pack(out).models["convnet"].preprocess.scale
    return quantize_pack(out, rows=train_idx, command=command, inputs=lambda i: {
        "convnet": {"image": to_batch([centre_view(data.pictures[i], scale)], mean)}})


def mixed_training(config: dict[str, Any]) -> str:
    """What a network trained on the mixed cache (:mod:`.mixed`) saw besides TU-Berlin, in words;
    "" for a network trained on TU-Berlin alone."""
    cache = Path(config["cache"])
    if not cache.is_file():
        return ""
    data = TuBerlinCache.load(cache)
    quick, background = data.source == QUICKDRAW, data.source == BACKGROUND
    if not quick.any() and not background.any():
        return ""
    drawn = len(np.unique(data.ids[quick]))  # a stroke variant keeps its drawing's id
    variants = int(quick.sum()) // max(drawn, 1) - 1
    also = f", each also as {variants} stroke variants (training.stroke_jitter)" if variants else ""
    return (f"{drawn} Quick, Draw! drawings of {len(set(data.labels[quick]))} shared "
            f"classes{also} ({config.get('quickdraw_repeat', 1)}x an epoch; each class's first "
            f"{HELD_OUT} held out), and {int(background.sum())} drawings of "
            f"{len(set(data.names[background]))} Quick, Draw! classes TU-Berlin lacks (half A) "
            f"as an outlier-exposure background (weight {config.get('oe_weight', 0)}); TU-Berlin "
            f"{config['train_per_class']} sketches a class (training.deepsketch.mixed)")


def merge_results(paths: Sequence[Path]) -> dict[str, Any]:
    """Several ``results.json`` of :mod:`.evaluate` (one per split, say) as one."""
    parts = [json.loads(p.read_text()) for p in paths]
    splits = sorted((r for part in parts for r in part["splits"]), key=lambda r: r["split"])
    return {"protocol": parts[0]["protocol"], "splits": splits,
            **{f"mean_{k}": float(np.mean([r[k] for r in splits]))
               for k in ("ten_view_accuracy", "single_view_accuracy")}}


#: The paper's ten-view accuracy per split (papers.md §1, Table 2).
PAPER_TEN_VIEW = {1: 0.7725, 2: 0.7419, 3: 0.7480}


def protocol_runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 16's table, one row per split: the paper's figure beside ours (ten-view and centre
    view), and the recipe, epochs, wall time and machine of the network that gave ours."""
    rows = []
    for r in results["splits"]:
        row = {"split": r["split"], "paper_ten_view": PAPER_TEN_VIEW.get(r["split"]),
               "ten_view": r["ten_view_accuracy"], "centre_view": r["single_view_accuracy"],
               "epochs": r["epochs"], "checkpoint": r["checkpoint"]}
        ck_path = Path(r["checkpoint"])
        if ck_path.is_file():
            ck = torch.load(ck_path, map_location="cpu", weights_only=False)
            cycles = r.get("cycles") or training_cycles(ck_path, ck)
            row.update(command=ck.get("command", ""),
                       train_seconds=round(sum(c.get("train_seconds", 0.0) for c in cycles), 1),
                       device=ck["device"], hardware=ck.get("hardware", hardware()),
                       recipe={k: ck["config"][k] for k in RECIPE_KEYS if k in ck["config"]})
            if len(cycles) > 1:  # a warm restart: each cycle's schedule, the recipe is the last's
                row["cycles"] = cycles
        if "snapshots" in r:  # tested as a snapshot ensemble of those cycle ends
            row["snapshots"] = r["snapshots"]
        row["test_scale"] = r.get("test_scale", 1.0)  # results before session 10: the sharp paste
        rows.append(row)
    return rows


#: The config keys that make a recipe (the rest are paths and logging).
RECIPE_KEYS = ("widths", "fc", "norm", "dropout", "batch_size", "epochs", "lr", "warmup_steps",
               "weight_decay", "label_smoothing", "ema_decay", "aug_angle", "aug_angle_step",
               "aug_scale", "aug_aspect", "aug_shear", "aug_thicken", "bf16", "channels_last",
               "train_per_class", "threads")


def cycle_epochs(result: dict[str, Any]) -> str:
    """A split's epochs as trained: ``"160 + 45"`` for a warm restart, ``"160"`` for one run."""
    cycles = [c["epochs"] for c in result.get("cycles", []) if "epochs" in c]
    return " + ".join(map(str, cycles)) if len(cycles) > 1 else str(result["epochs"])


#: The metric names :func:`protocol_metrics` writes: per split and mean over the splits.
PROTOCOL_METRICS = ("ten_view_accuracy_split", "single_view_accuracy_split", "mean_ten_view_accuracy",
                    "mean_single_view_accuracy")


def protocol_metrics(results: dict[str, Any]) -> dict[str, Any]:
    """The protocol figures of ``results``: each split's ten-view and centre-view accuracy, and
    their means, each protocol saying which splits (and how many epochs) the mean covers."""
    proto = results["protocol"]
    m: dict[str, Any] = {}
    for r in results["splits"]:
        s, p = r["split"], f"{proto}; network trained {cycle_epochs(r)} epochs on split {r['split']}"
        m[f"ten_view_accuracy_split{s}"] = {"value": r["ten_view_accuracy"], "protocol": p}
        m[f"single_view_accuracy_split{s}"] = {"value": r["single_view_accuracy"], "protocol": p}
    trained = ", ".join(f"split {r['split']}: {cycle_epochs(r)} epochs" for r in results["splits"])
    for k in ("ten_view_accuracy", "single_view_accuracy"):
        m[f"mean_{k}"] = {"value": results[f"mean_{k}"],
                          "protocol": f"mean over splits ({trained}); {proto}"}
    return m


#: The metric names :func:`table3_metrics` writes.
TABLE3_METRICS = ("table3_", "retrieval_")


def table3_metrics(table3: dict[str, Any]) -> dict[str, Any]:
    """Table 3 (kNN / classification on reduced features per depth) and retrieval figures."""
    m: dict[str, Any] = {}
    t3 = ("split 1 test queries (27/class) against the split 1 training gallery (53/class), "
          "centre view, cosine similarity, features reduced to {dim}; kNN k={k} with majority vote "
          "(ties to the nearer neighbour's class); bottleneck = Linear trained with a classifier on "
          "frozen training features; PCA fitted on training features")
    for d, row in table3.items():
        p = t3.format(dim=row["reduced_dim"], k=row["k_vote"])
        m[f"table3_bottleneck_knn_vote_{d}"] = {"value": row["bottleneck"]["knn_majority_vote_accuracy"],
                                               "protocol": p}
        m[f"table3_bottleneck_classification_{d}"] = {
            "value": row["bottleneck"]["classification_accuracy"], "protocol": p}
        m[f"table3_pca_knn_vote_{d}"] = {"value": row["pca"]["knn_majority_vote_accuracy"],
                                        "protocol": p}
        for kind in ("bottleneck", "pca"):
            for key in ("precision_at_10", "mAP"):
                m[f"retrieval_{key}_{kind}_{d}"] = {"value": row[kind][key], "protocol": p}
    return m


def record_protocol(pack_dir: Path, results: dict[str, Any], command: str,
                    training: dict[str, Any] | None = None,
                    table3: dict[str, Any] | None = None) -> None:
    """Replace a finished pack's protocol figures by those of ``results`` (every split trained so
    far): the per-split and mean metrics and ``training.protocol_runs``, plus any ``training``
    facts, and Table 3 when the split-1 network's ``table3`` is given. The protocol networks are
    not the shipped one, so models, gallery and the shipped network's own figures stay as they
    are."""
    manifest = json.loads((pack_dir / MANIFEST).read_text(encoding="utf-8"))
    replaced = PROTOCOL_METRICS + (TABLE3_METRICS if table3 else ())
    manifest["metrics"] = {k: v for k, v in manifest["metrics"].items()
                           if not k.startswith(replaced)} | protocol_metrics(results) \
        | (table3_metrics(table3) if table3 else {})
    manifest["training"].update(training or {}, protocol_runs=protocol_runs(results),
                                protocol_command=command)
    write_manifest(pack_dir, manifest)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", type=Path, help="the shipped network (required unless --protocol-only)")
    ap.add_argument("--eval-dir", type=Path, help="evaluate.py + similarity.py output (required "
                                                   "unless --int8-only)")
    ap.add_argument("--out", type=Path, default=Path("resources/packs/tu-berlin"))
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--thumb", type=int, default=48)
    ap.add_argument("--trees", type=int, help="Annoy trees per index (default: the fewest that "
                                              f"reach recall@10 {RECALL_TARGET} at --search-k)")
    ap.add_argument("--search-k", type=int, default=1000,
                    help="Annoy search_k the app queries with; the fewest trees reaching recall@10 "
                         f"{RECALL_TARGET} at it are built")
    ap.add_argument("--results", type=Path, nargs="*",
                    help="results.json of every split (default: the eval dir's)")
    ap.add_argument("--table3", type=Path,
                    help="table3.json of the protocol network (default: the eval dir's; the shipped "
                         "network may have trained on the protocol's test sketches); with "
                         "--protocol-only, it replaces the pack's Table 3")
    ap.add_argument("--training-json", type=Path, help="extra training facts (command, wall time)")
    ap.add_argument("--int8-only", action="store_true",
                    help="only quantise the pack already exported to --out (its float figures "
                         "measured in between), as --int8 would have")
    ap.add_argument("--protocol-only", action="store_true",
                    help="only put the --results of the protocol runs (and --training-json) into "
                         "the pack already exported to --out; --ckpt is not read")
    ap.add_argument("--mirror", action="store_true",
                    help="the graph also reads each drawing's mirror image and averages the two "
                         "logits (PackConvNet); --int8-only keeps what the float export chose")
    ap.add_argument("--int8", action="store_true",
                    help="then quantise the convnet (training.quantize), calibrated on training "
                         "sketches of the split, and re-embed the gallery with it")
    args = ap.parse_args()
    if args.eval_dir is None and not (args.int8_only or args.protocol_only):
        ap.error("--eval-dir is required to export")
    if args.protocol_only and not args.results:
        ap.error("--protocol-only needs --results")
    if args.ckpt is None and not args.protocol_only:
        ap.error("--ckpt is required to export")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    command = shlex.join(["python", "-m", "training.deepsketch.export_pack", *sys.argv[1:]])
    if args.protocol_only:
        record_protocol(args.out, merge_results(args.results), command,
                        json.loads(args.training_json.read_text()) if args.training_json else None,
                        json.loads(args.table3.read_text()) if args.table3 else None)
        return
    data = TuBerlinCache.load(args.cache)
    model, ck = load_checkpoint(args.ckpt)
    if args.int8_only:
        quantize_deepsketch_pack(args.out, data, ck["split"], float(ck["mean"]), command)
        return
    results = merge_results(args.results or [args.eval_dir / "results.json"])
    table3 = json.loads((args.table3 or args.eval_dir / "table3.json").read_text())
    red = np.load(args.eval_dir / "reductions.npz")
    kinds = dict(zip(DEPTHS, (str(k) for k in red["kinds"])))
    reductions = {d: Reduction(kinds[d], red[f"{d}_weight"], red[f"{d}_bias"]) for d in DEPTHS}
    raw = {d: np.load(args.eval_dir / f"features_{d}.npy", mmap_mode="r") for d in DEPTHS}
    split = ck["split"]
    cm = np.load(args.eval_dir / f"confusion_split{split}.npy")
    held = 80 - int(ck["config"]["train_per_class"])
    proto = f"the shipped network on the TU-Berlin sketches split {split} kept out of its training " \
            f"({held}/class), ten-view test"
    info = {d: {"precision_at_10": table3[d][kinds[d]]["precision_at_10"],
                "mAP": table3[d][kinds[d]]["mAP"],
                "knn_majority_vote_accuracy": table3[d][kinds[d]]["knn_majority_vote_accuracy"],
                "reduction_choice": f"{kinds[d]} (higher mAP than the alternative on split {split})"}
            for d in DEPTHS}
    training = {"config": ck["config"], "model_config": ck["model_config"],
                "epochs": ck["epoch"] + 1, "train_seconds": round(ck["train_seconds"], 1),
                "device": ck["device"], "world_size": ck["world_size"], "split": split,
                "split_seed": split, "train_seed": ck["config"]["seed"]}
    training["protocol_runs"] = protocol_runs(results)
    if args.training_json:
        training.update(json.loads(args.training_json.read_text()))
    export_deepsketch(
        args.out, model, ck["mean"], reductions, raw, data.pictures, data.labels, data.ids,
        data.classes, metrics=protocol_metrics(results) | table3_metrics(table3), training=training,
        feature_info=info,
        extra={"confusion_matrix": {"value": cm.astype(int).tolist(), "protocol": proto},
               "per_class_accuracy": {"value": (np.diag(cm) / np.maximum(cm.sum(1), 1)).tolist(),
                                      "protocol": proto}},
        thumb=args.thumb, n_trees=args.trees, search_k=args.search_k,
        also_trained_on=mixed_training(ck["config"]), mirror=args.mirror,
        scale=features_scale(args.eval_dir))  # the view the gallery's features were computed at
    if args.int8:
        quantize_deepsketch_pack(args.out, data, split, float(ck["mean"]), command)


if __name__ == "__main__":
    main()

"""Export the trained DSN+ as the ``quickdraw`` pack:
``python -m training.dsn.export_pack [run_dir] [results.json] [out_dir]``.

Three ONNX models, as ``sketchpad.engine`` runs them:

* ``convnet`` — the CNN branch: ``image`` → its own ``logits``, ``feat_low/mid/high`` and the
  ``embedding`` the fusion reads. Each depth's feature map is average-pooled to 2×2 and projected
  by a PCA fitted on training drawings, both inside the graph (:class:`ConvnetExport`), so the app
  gets ready-to-index vectors;
* ``rnn`` — the RNN branch: ``strokes``, ``lengths`` → ``logits``, ``embedding``;
* ``fusion`` — the attention head: ``cnn_embedding``, ``rnn_embedding`` → ``logits``, the very
  module the DSN+ classifies with, so the app's fused answer is the trained model's.

The gallery is drawn from the validation and test splits (never training), with stroke-3 for
replay, the Quick, Draw! key_id as source id, and the dataset's attribution.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from sketchpad import preprocess as pp
from sketchpad.ink import Sketch
from training.export import Gallery, ModelExport, precision_at_k, write_pack

from .data import ShardStream, collect, load_meta, raster_tensor
from .evaluate import data_config, load_model
from .model import DSN, SketchCNN

log = logging.getLogger(__name__)

ATTRIBUTION = "Quick, Draw! dataset, Google Inc., CC BY 4.0, https://quickdraw.withgoogle.com/data"
DEPTH_NAMES = ("low", "mid", "high")
PAPER = {"cnn": 86.12, "rnn": 86.08, "dsn": 91.47, "dsnplus": 91.76,
         "size_28": 77.80, "size_64": 89.39, "size_96": 91.76}


def pca_projection(x: np.ndarray, dim: int) -> nn.Linear:
    """A fixed Linear ``y = (x - mean) V_k^T`` with the top ``dim`` principal axes of ``x``."""
    mean = x.mean(0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    w = vt[:dim].astype(np.float32)
    layer = nn.Linear(x.shape[1], len(w))
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
        layer.bias.copy_(torch.from_numpy(-(mean.astype(np.float32) @ w.T)))
    return layer.requires_grad_(False)


def grid_pool(m: torch.Tensor, grid: int) -> torch.Tensor:
    """``adaptive_avg_pool2d(m, grid)`` written out as fixed windows (the same ones), because the
    ONNX exporter refuses the adaptive pool when ``grid`` does not divide the map (3 → 2 at the
    last block of a 96 px input)."""
    size = int(m.shape[-1])
    bounds = [(i * size // grid, -(-(i + 1) * size // grid)) for i in range(grid)]
    rows = [torch.stack([m[..., a:b, c:d].mean((-2, -1)) for c, d in bounds], -1)
            for a, b in bounds]
    return torch.stack(rows, -2)


class ConvnetExport(nn.Module):
    """The CNN branch with each depth pooled to ``grid × grid`` and PCA-projected in the graph."""

    def __init__(self, cnn: SketchCNN, projections: list[nn.Linear] | None = None, grid: int = 2):
        super().__init__()
        self.cnn, self.grid = cnn, grid
        self.projections = nn.ModuleList(projections or [])

    def pooled(self, image: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        logits, maps, emb = self.cnn(image)
        return logits, [grid_pool(m, self.grid).flatten(1) for m in maps], emb

    def forward(self, image: torch.Tensor):
        logits, feats, emb = self.pooled(image)
        return (logits, *(p(f) for p, f in zip(self.projections, feats)), emb)


class RNNExport(nn.Module):
    def __init__(self, model: DSN):
        super().__init__()
        self.rnn = model.rnn

    def forward(self, strokes: torch.Tensor, lengths: torch.Tensor):
        return self.rnn(strokes, lengths)


def fit_convnet_export(model: DSN, cache: Path, mean: float, n_fit: int, dim: int) -> ConvnetExport:
    """PCA of each depth's pooled features on ``n_fit`` training drawings (no flips)."""
    conv = ConvnetExport(model.cnn).eval()
    stream = iter(ShardStream(cache, model.cfg.cnn.size, flip=0.0))
    canvases = torch.stack([next(stream)[0] for _ in range(n_fit)])
    with torch.no_grad():
        feats = [[] for _ in DEPTH_NAMES]
        for i in range(0, n_fit, 256):
            _, pooled, _ = conv.pooled(raster_tensor(canvases[i:i + 256], mean))
            for acc, f in zip(feats, pooled):
                acc.append(f.numpy())
    conv.projections = nn.ModuleList(
        pca_projection(np.concatenate(f).astype(np.float64), dim) for f in feats)
    return conv.eval()


def gallery_sketches(cache: Path, per_class: int) -> tuple[list[Sketch], np.ndarray]:
    """Up to ``per_class`` drawings per class: the validation split, then the test split, then
    the training split (a gallery is what the app shows as neighbours, not a test set; held-out
    drawings first so small classes show unseen drawings too)."""
    meta = load_meta(cache)
    _, splits, _ = collect(Path(meta["data"]["root"]), data_config(meta))
    chosen: list[Sketch] = []
    labels: list[int] = []
    taken = np.zeros(len(meta["classes"]), int)
    for split in ("val", "test", "train"):
        for s, y in zip(splits[split].sketches, splits[split].labels):
            if taken[y] < per_class:
                chosen.append(s)
                labels.append(y)
                taken[y] += 1
    return chosen, np.asarray(labels)


def wrap(value: Any, protocol: str) -> dict[str, Any]:
    return {"value": value, "protocol": protocol}


def carried_rows(previous: dict[str, Any], metrics: dict[str, Any], runs: dict[str, Any]
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Table-1 figures of runs that were not trained again, taken from the pack's previous
    manifest and marked so: a retrain of the shipped row alone keeps the table whole without
    passing old numbers off as new. Returns (metrics, training runs) to add."""
    old_runs = previous.get("training", {}).get("runs", {})
    stale = [k for k in old_runs if k not in runs]
    note = "not retrained since: figure of the previous run, trained on whole drawings only; "
    carried = {}
    for key, entry in previous.get("metrics", {}).items():
        if key in metrics or key.startswith("shipped_") or not isinstance(entry, dict):
            continue
        if any(key in (f"map3_{k}", f"top1_{k}") or key.startswith(f"map3_{k}_") for k in stale) \
                or (key.startswith("map3_cnn_") and key.endswith("px")):
            carried[key] = wrap(entry["value"], note + entry["protocol"])
    return carried, {k: {**old_runs[k], "carried_from_previous_pack": True} for k in stale}


def export(run_dir: Path, results_path: Path, out_dir: Path, per_class: int = 500,
           n_fit: int = 3000, dim: int = 64, n_trees: int = 10, search_k: int = 1000) -> Path:
    previous_path = Path(out_dir) / "manifest.json"
    previous = json.loads(previous_path.read_text()) if previous_path.is_file() else {}
    model, ck = load_model(run_dir)
    cache = Path(ck["config"]["cache"])
    meta = load_meta(cache)
    classes, mean = meta["classes"], meta["order_raster_mean"]
    order = pp.OrderRaster(size=model.cfg.cnn.size, mean=mean)
    seq = pp.spec_from_dict(meta["stroke3"])
    conv = fit_convnet_export(model, cache, mean, n_fit, dim)
    sketches, labels = gallery_sketches(cache, per_class)
    images = torch.from_numpy(np.stack([pp.order_raster(s, order) for s in sketches]))
    pairs = [pp.stroke3_input(s, seq) for s in sketches]
    strokes = torch.from_numpy(np.stack([p for p, _ in pairs]))
    lengths = torch.tensor([n for _, n in pairs], dtype=torch.int64)
    with torch.no_grad():
        outs = [conv(images[i:i + 256]) for i in range(0, len(images), 256)]
        _, rnn_emb = model.rnn(strokes[:4], lengths[:4])
    feats = {d: torch.cat([o[1 + j] for o in outs]).numpy() for j, d in enumerate(DEPTH_NAMES)}
    cnn_emb = outs[0][4][:4]
    models = [
        ModelExport("convnet", conv, {"image": images[:4]},
                    ("logits", "feat_low", "feat_mid", "feat_high", "embedding"), order.to_dict()),
        ModelExport("rnn", RNNExport(model).eval(), {"strokes": strokes[:4], "lengths": lengths[:4]},
                    ("logits", "embedding"), seq.to_dict()),
        ModelExport("fusion", model.fusion.eval(),
                    {"cnn_embedding": cnn_emb, "rnn_embedding": rnn_emb}, ("logits",)),
    ]
    n_blocks = len(model.cfg.cnn.widths)  # the depths are the last three blocks
    maps = {d: f"block {n_blocks - 2 + j}" for j, d in enumerate(DEPTH_NAMES)}
    features = {d: {"output": f"feat_{d}", "layer": f"CNN {maps[d]} (2×2 average pool, PCA {dim})",
                    "metric": "angular",
                    "precision_at_10": precision_at_k(feats[d], labels, "angular")}
                for d in DEPTH_NAMES}
    results = json.loads(Path(results_path).read_text())
    metrics, extra = manifest_figures(results, meta)
    carried_metrics, carried_runs = carried_rows(previous, metrics, results["runs"])
    metrics.update(carried_metrics)
    gallery = Gallery(labels=labels, source_ids=[s.source_id or "" for s in sketches],
                      attribution=ATTRIBUTION, stroke3=[pp.stroke3_raw(s) for s in sketches])
    runs = results["runs"]
    training = {
        "command": "python -m training.dsn.train training/config/dsn_dsnplus.py",
        "all_commands": {k: f"python -m training.dsn.train training/config/dsn_{k}.py" for k in runs},
        "cache_command": "python -m training.dsn.data",
        "evaluate_command": "python -m training.dsn.evaluate",
        "export_command": "python -m training.dsn.export_pack",
        **({"outlier_exposure_command": "python -m training.dsn.outlier_exposure"}
           if "outlier_exposure" in ck["config"] else {}),
        "epochs": ck["config"]["epochs"], "steps": ck["step"],
        "wall_seconds": ck["wall_seconds"], "config": ck["config"],
        "model_config": ck["model_config"],
        "runs": {k: {"epochs": v["epochs"], "steps": v["steps"],
                     "train_wall_seconds": round(v["train_wall_seconds"], 1)} for k, v in runs.items()}
                | carried_runs,
    }
    return write_pack(
        out_dir, name="quickdraw", title=f"Quick, Draw! ({len(classes)} classes, DSN+)",
        dataset={"name": "Quick, Draw! (subset in shared/data/quickdraw)", "url":
                 "https://quickdraw.withgoogle.com/data", "licence": "CC BY 4.0",
                 "classes": len(classes), "drawings_per_class": dict(zip(classes, meta["drawings_per_class"])),
                 "split": meta["data"], "split_counts": meta["split_counts"],
                 "entropy_dropped_per_class": dict(zip(classes, meta["entropy_dropped_per_class"]))},
        classes=classes, models=models, features=features, gallery=gallery,
        gallery_features=feats, metrics=metrics, training=training, n_trees=n_trees,
        search_k=search_k, extra=extra)


def manifest_figures(results: dict[str, Any], meta: dict[str, Any]) -> tuple[dict, dict]:
    """Scalar metrics with their protocol, and the teaching-view tables (top level of the manifest)."""
    proto = results["protocol"]
    metrics: dict[str, Any] = {}
    for k, v in results["table1"].items():
        paper = f"; paper (40 classes, full data): MAP@3 {PAPER[k]}"
        metrics[f"map3_{k}"] = wrap(v["map3"], f"MAP@3, {proto}{paper}")
        metrics[f"top1_{k}"] = wrap(v["top1"], f"top-1, {proto}")
    for k, b in results["branches"].items():
        for branch, v in b.items():
            metrics[f"map3_{k}_{branch}_branch"] = wrap(
                v["map3"], f"MAP@3 of the {branch.upper()} branch's own classifier inside {k}, {proto}")
    for px, v in results["image_size"].items():
        metrics[f"map3_cnn_{px}px"] = wrap(
            v["map3"], f"MAP@3 of the baseline CNN trained and tested at {px}×{px}, {proto}; "
                       f"paper: {PAPER['size_' + px]} (DSN+)")
    frac = results["accuracy_vs_fraction"]["dsnplus"]
    fproto = ("DSN+ top-1 on the test split when only the first fraction of the strokes is drawn "
              "(Sketch.prefix, at least one stroke), re-rendered as the app would; " + proto)
    extra = {
        "per_class_accuracy": wrap(results["per_class_accuracy"], "DSN+ top-1 per class, " + proto),
        "confusion_matrix": wrap(results["confusion_matrix"],
                                 "DSN+ counts, row = true class, column = predicted, " + proto),
        "accuracy_vs_fraction": wrap({f: v["top1"] for f, v in frac.items()}, fproto),
        "accuracy_vs_fraction_all_models": wrap(results["accuracy_vs_fraction"],
                                                "MAP@3 and top-1 per model; " + fproto),
    }
    return metrics, extra


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", nargs="?", type=Path, default=Path("runs/dsn/dsnplus"))
    ap.add_argument("results", nargs="?", type=Path, default=Path("runs/dsn/eval/results.json"),
                    help="training.dsn.evaluate's results")
    ap.add_argument("out", nargs="?", type=Path, default=Path("resources/packs/quickdraw"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    export(args.run_dir, args.results, args.out)


if __name__ == "__main__":
    main()

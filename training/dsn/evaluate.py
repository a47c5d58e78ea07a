"""The DSN paper's evaluation on our Quick, Draw! test split:
``python -m training.dsn.evaluate [runs_dir] [out_dir]``.

* Table 1: MAP@3 and top-1 of CNN, RNN, DSN, DSN+ (and each fused model's own branches);
* the image-size study: the CNN trained at 28, 64 and 96 px;
* confusion matrix and per-class accuracy of DSN+ (csv, npy, PNG);
* accuracy when only the first 25 / 50 / 75 / 100 % of the strokes are drawn
  (:meth:`Sketch.prefix`), re-rendered through :mod:`sketchpad.preprocess` exactly as the app
  would see a sketch mid-drawing.

Everything lands in ``results.json`` (read by ``export_pack``) beside the figures.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sketchpad import preprocess as pp
from sketchpad.ink import Sketch

from .data import DataConfig, collect, load_meta, load_split
from .metrics import map_at_k, predict, top1
from .model import DSN, DSNConfig

log = logging.getLogger(__name__)

TABLE = ("cnn", "rnn", "dsn", "dsnplus")
SIZE_STUDY = {28: "cnn28", 64: "cnn64", 96: "cnn"}
FRACTIONS = (0.25, 0.5, 0.75, 1.0)
PROTOCOL = ("Quick, Draw! test split (10 % of each class's drawings, shuffled with the recorded "
            "seed, disjoint from training and validation; no entropy filter), {n} drawings, "
            "{c} classes")


def load_model(run_dir: Path, name: str = "ckpt.pt") -> tuple[DSN, dict[str, Any]]:
    """A trained model and its checkpoint (config, classes, fitted preprocessing); ``name``
    picks another checkpoint of the run (outlier exposure starts from ``ckpt_before_oe.pt``)."""
    ck = torch.load(Path(run_dir) / name, map_location="cpu", weights_only=False)
    model = DSN(DSNConfig.from_dict(ck["model_config"]))
    model.load_state_dict(ck["model"])
    return model.eval(), ck


def data_config(meta: dict[str, Any]) -> DataConfig:
    """The :class:`DataConfig` a cache was built with (so the test sketches can be read again)."""
    d = {f.name: meta["data"][f.name] for f in fields(DataConfig) if f.name in meta["data"]}
    for key in ("fractions", "classes", "prefix_range"):
        if key in d:
            d[key] = tuple(d[key])
    return DataConfig(**d)


def held_out_sketches(cache: Path) -> tuple[list[Sketch], np.ndarray]:
    """The test split as sketches, read again from the dataset with the cache's protocol."""
    meta = load_meta(cache)
    _, splits, _ = collect(Path(meta["data"]["root"]), data_config(meta))
    return splits["test"].sketches, np.asarray(splits["test"].labels)


def inputs_for(sketches: list[Sketch], size: int, seq: pp.Stroke3Spec
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 canvases and stroke-3 inputs, through the app's preprocessing."""
    line = pp.OrderRaster().line_width
    img = np.stack([pp.order_canvas(s, size, line) for s in sketches])
    pairs = [pp.stroke3_input(s, seq) for s in sketches]
    return img, np.stack([p for p, _ in pairs]), np.array([n for _, n in pairs], np.int64)


def scores(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    return {"map3": map_at_k(logits, labels), "top1": top1(logits, labels)}


def confusion_matrix(pred: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """``[n, n]`` counts, row = true class, column = predicted."""
    cm = np.zeros((n, n), np.int64)
    np.add.at(cm, (labels, pred), 1)
    return cm


def save_confusion(cm: np.ndarray, classes: list[str], out: Path, title: str) -> None:
    """CSV, npy and a PNG of the row-normalised matrix; per-class accuracy as CSV and a bar PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    np.save(out / "confusion_matrix.npy", cm)
    with (out / "confusion_matrix.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["true \\ predicted", *classes])
        for c, row in zip(classes, cm):
            w.writerow([c, *row.tolist()])
    acc = np.diag(cm) / np.maximum(cm.sum(1), 1)
    with (out / "per_class_accuracy.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["class", "accuracy", "test_drawings"])
        for c, a, n in zip(classes, acc, cm.sum(1)):
            w.writerow([c, f"{a:.4f}", int(n)])
    fig, ax = plt.subplots(figsize=(11, 10))
    ax.imshow(cm / np.maximum(cm.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=90)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out / "confusion_matrix.png", dpi=110)
    plt.close(fig)
    order = np.argsort(acc)
    fig, ax = plt.subplots(figsize=(8, 8))
    ax.barh(range(len(classes)), acc[order])
    ax.set_yticks(range(len(classes)), [classes[i] for i in order])
    ax.set_xlim(0, 1)
    ax.set_xlabel("test accuracy")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out / "per_class_accuracy.png", dpi=110)
    plt.close(fig)


def evaluate(runs: Path, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    models = {k: load_model(runs / k) for k in (*TABLE, *SIZE_STUDY.values())
              if (runs / k / "ckpt.pt").exists()}
    ck0 = next(iter(models.values()))[1]
    cache = Path(ck0["config"]["cache"])
    meta = load_meta(cache)
    classes, mean = meta["classes"], meta["order_raster_mean"]
    seq = pp.spec_from_dict(meta["stroke3"])
    protocol = None
    results: dict[str, Any] = {"table1": {}, "branches": {}, "image_size": {}, "runs": {}}
    for name, (model, ck) in models.items():
        size = ck["config"]["image_size"]
        test = load_split(cache, "test", size)
        protocol = PROTOCOL.format(n=len(test["labels"]), c=len(classes))
        logits = predict(model, test[f"img{size}"], test["strokes"], test["lengths"], mean)
        s = scores(logits["logits"], test["labels"])
        results["runs"][name] = {**s, "epochs": ck["config"]["epochs"], "steps": ck["step"],
                                 "train_wall_seconds": ck["wall_seconds"],
                                 "config": ck["config"], "history": ck["history"]}
        if name in TABLE:
            results["table1"][name] = s
            if model.cfg.fused:
                results["branches"][name] = {b: scores(v, test["labels"])
                                             for b, v in logits.items() if b != "logits"}
        for px, run in SIZE_STUDY.items():
            if run == name:
                results["image_size"][str(px)] = s
        if name == "dsnplus":
            pred = logits["logits"].argmax(1)
            cm = confusion_matrix(pred, test["labels"], len(classes))
            save_confusion(cm, classes, out, f"DSN+ on the Quick, Draw! test split ({len(pred)})")
            results["confusion_matrix"] = cm.tolist()
            results["per_class_accuracy"] = dict(zip(
                classes, (np.diag(cm) / np.maximum(cm.sum(1), 1)).round(4).tolist()))
    results["protocol"] = protocol
    results["accuracy_vs_fraction"] = fraction_study(
        {k: m for k, (m, _) in models.items() if k in TABLE}, cache, mean, seq, out)
    results["eval_seconds"] = time.time() - t0
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def fraction_study(models: dict[str, DSN], cache: Path, mean: float, seq: pp.Stroke3Spec,
                   out: Path) -> dict[str, dict[str, dict[str, float]]]:
    """MAP@3 / top-1 of each Table-1 model when only a prefix of the strokes is drawn."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sketches, labels = held_out_sketches(cache)
    cached = load_split(cache, "test")["labels"]
    if not np.array_equal(labels, cached):
        raise RuntimeError("the test split read again differs from the cached one: rebuild the cache")
    curve: dict[str, dict[str, dict[str, float]]] = {k: {} for k in models}
    for frac in FRACTIONS:
        prefixes = [s.prefix(frac) for s in sketches]
        inputs = {size: inputs_for(prefixes, size, seq)
                  for size in {m.cfg.cnn.size for m in models.values()}}
        for name, model in models.items():
            logits = predict(model, *inputs[model.cfg.cnn.size], mean)["logits"]
            curve[name][str(frac)] = scores(logits, labels)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, c in curve.items():
        ax.plot([float(f) for f in c], [v["top1"] for v in c.values()], marker="o", label=name)
    ax.set_xlabel("fraction of strokes drawn")
    ax.set_ylabel("test top-1 accuracy")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_fraction.png", dpi=110)
    plt.close(fig)
    return curve


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="?", type=Path, default=Path("runs/dsn"),
                    help="a folder of runs, one sub-folder (with ckpt.pt) per Table 1 row")
    ap.add_argument("out", nargs="?", type=Path, help="default: RUNS/eval")
    args = ap.parse_args()
    torch.set_num_threads(1)
    r = evaluate(args.runs, args.out or args.runs / "eval")
    for k, v in r["table1"].items():
        log.info("%-8s MAP@3 %.4f  top-1 %.4f", k, v["map3"], v["top1"])
    for k, v in r["image_size"].items():
        log.info("CNN %s px MAP@3 %.4f  top-1 %.4f", k, v["map3"], v["top1"])


if __name__ == "__main__":
    main()

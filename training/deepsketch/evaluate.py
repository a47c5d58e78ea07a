"""Ten-view test of trained DeepSketch checkpoints (papers.md §1, "Testing").

For each test sketch of the checkpoint's split: the picture pasted at the centre and the four
corners of the 224 canvas, each also mirrored; the ten log-probability vectors are summed and the
argmax wins. The centre view alone gives the single-view figure. Writes, under ``--out``:
``results.json`` (accuracy per split and mean), ``confusion_split<s>.npy/.csv``,
``per_class_split<s>.csv``, ``confusion_split<s>.png``, and ``features_<depth>.npy`` — the raw
centre-view activations of layers 6 / 11 / 13 of all sketches (for :mod:`.similarity` and the
export), with ``logits.npy`` and ``features_view.json`` (the view scale they were computed at,
which the exported pack's preprocessing takes). Every view is drawn at the network's training
mean size, resampled (:func:`.data.view_scale`), unless ``--test-scale`` says otherwise.

With ``--snapshots`` a checkpoint that ends a chain of warm restarts is tested as a snapshot
ensemble (Huang et al., "Snapshot Ensembles: Train 1, get M for free", ICLR 2017): the network at
the end of every cosine cycle of the chain (:func:`training_cycles`) reads each view, and the
log-probabilities are summed over views and snapshots, the paper's rule for views extended to
networks. One training run, several networks, no extra training cost; the test costs one pass per
snapshot. The features stay those of the last cycle's network.

    python -m training.deepsketch.evaluate runs/deepsketch/cpu-split1/ckpt.pt [more ckpts] --out DIR
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import torch
from tqdm import tqdm

from .data import CACHE, TuBerlinCache, centre_view, split_indices, ten_views, to_batch, view_scale
from .model import DeepSketch, DeepSketchConfig, fold_norms

matplotlib.use("Agg")
log = logging.getLogger("deepsketch.evaluate")


def load_checkpoint(path: Path) -> tuple[DeepSketch, dict[str, Any]]:
    """The network a checkpoint ships: its weight average when it kept one (``ema_decay``), with
    any BatchNorm folded into its conv, in eval mode."""
    ck = torch.load(path, map_location="cpu", weights_only=False)
    model = DeepSketch(DeepSketchConfig.from_dict(ck["model_config"]))
    model.load_state_dict(ck.get("ema") or ck["model"])
    return fold_norms(model), ck


def training_cycles(path: Path, ck: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The training runs behind a checkpoint, first to last, following each run's ``init_from``
    (a warm restart or a fine-tune starts from another run's weights): what each added, so a
    figure can say how long its network trained in all. ``ck``: ``path`` already loaded. A start
    no longer on disk ends the chain as ``{"checkpoint": ..., "missing": True}``, and a chain that
    loops stops where it would."""
    cycles: list[dict[str, Any]] = []
    seen: set[Path] = set()
    at: Path | None = path
    while at is not None and at.resolve() not in seen:
        seen.add(at.resolve())
        if ck is None and not at.is_file():
            cycles.append({"checkpoint": str(at), "missing": True})
            break
        ck = ck if ck is not None else torch.load(at, map_location="cpu", weights_only=False)
        cfg = ck["config"]
        cycles.append({"checkpoint": str(at), "epochs": ck["epoch"] + 1, "lr": cfg["lr"],
                       "warmup_steps": cfg["warmup_steps"], "seed": cfg["seed"],
                       "train_seconds": round(float(ck["train_seconds"]), 1),
                       "command": ck.get("command", "")}
                      | ({"averaged_from": ck["averaged_from"]} if "averaged_from" in ck else {}))
        at, ck = (Path(cfg["init_from"]) if cfg.get("init_from") else None), None
    return cycles[::-1]


@torch.inference_mode()
def centre_pass(model: DeepSketch, data: TuBerlinCache, idx: np.ndarray, mean: float,
                scale: float = 1.0, batch: int = 100) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Centre-view logits and raw features of ``idx`` (float32), the view at ``scale``."""
    logits, feats = [], {}
    for i in tqdm(range(0, len(idx), batch), desc="centre view", mininterval=5):
        x = to_batch([centre_view(data.pictures[j], scale) for j in idx[i:i + batch]], mean)
        out = model(torch.from_numpy(x))
        logits.append(out.logits.numpy())
        for d, f in out.feats.items():
            feats.setdefault(d, []).append(f.numpy().copy())
    return np.concatenate(logits), {d: np.concatenate(v) for d, v in feats.items()}


@torch.inference_mode()
def view_log_probs(model: DeepSketch, data: TuBerlinCache, idx: np.ndarray, mean: float,
                   scale: float = 1.0, batch: int = 10) -> np.ndarray:
    """Log-probabilities of each of the ten views at ``scale``, ``[len(idx), 10, C]``; view 0 is
    the centre view, the single-view test's."""
    out = []
    for i in tqdm(range(0, len(idx), batch), desc="ten views", mininterval=5):
        part = idx[i:i + batch]
        x = to_batch([v for j in part for v in ten_views(data.pictures[j], scale)], mean)
        lp = torch.log_softmax(model(torch.from_numpy(x)).logits, 1)
        out.append(lp.reshape(len(part), 10, -1).numpy())
    return np.concatenate(out)


def confusion(labels: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    cm = np.zeros((n, n), np.int64)
    np.add.at(cm, (labels, pred), 1)
    return cm


def write_confusion(cm: np.ndarray, classes: list[str], out: Path, tag: str) -> list[float]:
    """Save the matrix (.npy, .csv), per-class accuracy (.csv) and a picture; return per-class acc."""
    import matplotlib.pyplot as plt

    per_class = (np.diag(cm) / np.maximum(cm.sum(1), 1)).tolist()
    np.save(out / f"confusion_{tag}.npy", cm)
    np.savetxt(out / f"confusion_{tag}.csv", cm, fmt="%d", delimiter=",")
    with (out / f"per_class_{tag}.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["class", "accuracy", "test_items"])
        for name, acc, n in zip(classes, per_class, cm.sum(1)):
            w.writerow([name, f"{acc:.4f}", int(n)])
    fig, ax = plt.subplots(figsize=(12, 12))
    ax.imshow(cm / np.maximum(cm.sum(1, keepdims=True), 1), cmap="viridis")
    ax.set_title(f"TU-Berlin confusion ({tag}, ten-view test); rows = truth, columns = prediction")
    ax.set_xlabel("predicted class index")
    ax.set_ylabel("true class index")
    fig.savefig(out / f"confusion_{tag}.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return per_class


def snapshot_members(cycles: list[dict[str, Any]]) -> list[Path]:
    """The checkpoints a snapshot ensemble of ``cycles`` (:func:`training_cycles`) reads: every
    cycle's end, first to last. A chain whose start is gone cannot be tested as trained."""
    missing = [c["checkpoint"] for c in cycles if c.get("missing")]
    if missing:
        raise FileNotFoundError(f"snapshot {missing[0]} of the chain is missing")
    return [Path(c["checkpoint"]) for c in cycles]


#: Beside the saved features: the view they were computed at, which the pack exported from them
#: must ask the app for (:func:`features_scale`).
FEATURES_VIEW = "features_view.json"


def features_scale(features_dir: Path) -> float:
    """The view scale of the features in ``features_dir``; 1 (the sharp paste) for features saved
    before the scale was recorded."""
    view = features_dir / FEATURES_VIEW
    return float(json.loads(view.read_text())["test_scale"]) if view.is_file() else 1.0


def evaluate_checkpoint(path: Path, data: TuBerlinCache, out: Path, save_features: bool,
                        snapshots: bool = False, test_scale: float | None = None) -> dict[str, Any]:
    """Test ``path`` on its split, alone or (``snapshots``) with every cycle end of its chain.
    Each network sees the views at ``test_scale``, by default at its own :func:`view_scale`."""
    def scale_of(config: dict[str, Any]) -> float:
        return view_scale(config) if test_scale is None else test_scale

    model, ck = load_checkpoint(path)
    split, mean = int(ck["split"]), float(ck["mean"])
    scale = scale_of(ck["config"])
    train_idx, test_idx = split_indices(data.labels, split, ck["config"]["train_per_class"])
    if save_features:  # all sketches' centre view: the gallery, the similarity study
        every = np.arange(len(data.labels))
        logits, feats = centre_pass(model, data, every, mean, scale)
        np.save(out / "logits.npy", logits)
        for d, f in feats.items():
            np.save(out / f"features_{d}.npy", f)
        (out / FEATURES_VIEW).write_text(json.dumps({"checkpoint": str(path), "test_scale": scale}) + "\n")
    cycles = training_cycles(path, ck)
    members = snapshot_members(cycles) if snapshots else [path]
    lp = view_log_probs(model, data, test_idx, mean, scale)
    scales = []  # each member's, in the members' order
    for other in members[:-1]:  # the last member is ``path`` itself, read above
        net, other_ck = load_checkpoint(other)
        same = (int(other_ck["split"]), other_ck["config"]["train_per_class"]) == \
            (split, ck["config"]["train_per_class"])
        if not same:  # another test split: its scores would be of other sketches
            raise ValueError(f"snapshot {other} trained on split {other_ck['split']} with "
                             f"{other_ck['config']['train_per_class']} a class, not {split} with "
                             f"{ck['config']['train_per_class']}")
        scales.append(scale_of(other_ck["config"]))
        lp += view_log_probs(net, data, test_idx, float(other_ck["mean"]), scales[-1])
    scales.append(scale)  # ``path``, the last member
    scores, centre = lp.sum(1), lp[:, 0]
    y = data.labels[test_idx]
    pred = scores.argmax(1)
    tag = f"split{split}"
    per_class = write_confusion(confusion(y, pred, len(data.classes)), data.classes, out, tag)
    return {"split": split, "split_seed": split, "checkpoint": str(path),
            "epochs": sum(c.get("epochs", 0) for c in cycles), "cycles": cycles,
            **({"snapshots": [str(m) for m in members]} if snapshots else {}),
            "test_scale": scale if len(set(scales)) == 1 else scales,
            "test_items": int(len(test_idx)), "train_items": int(len(train_idx)),
            "ten_view_accuracy": float((pred == y).mean()),
            "single_view_accuracy": float((centre.argmax(1) == y).mean()),
            "per_class_accuracy_min": float(np.min(per_class)),
            "per_class_accuracy_max": float(np.max(per_class))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--features-of-split", type=int, default=1,
                    help="save all sketches' features from this split's checkpoint")
    ap.add_argument("--test-scale", type=float,
                    help="size factor of every test view (default: each network's own, the mean "
                         "of its training size jitter; 1 = the sketch pasted as it is)")
    ap.add_argument("--snapshots", action="store_true",
                    help="test each checkpoint with every cycle end of its warm-restart chain "
                         "(a snapshot ensemble)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    data = TuBerlinCache.load(args.cache)
    results = []
    for path in args.checkpoints:
        split = int(torch.load(path, map_location="cpu", weights_only=False)["split"])
        r = evaluate_checkpoint(path, data, args.out, save_features=split == args.features_of_split,
                                snapshots=args.snapshots, test_scale=args.test_scale)
        log.info("%s", r)
        results.append(r)
    per_class = sorted({r["train_items"] // len(data.classes) for r in results})
    held = "/".join(str(80 - k) for k in per_class)
    summary = {"protocol": f"TU-Berlin, per class {'/'.join(map(str, per_class))} train / {held} "
                           "test, split s drawn with seed s; "
                           "ten views = centre + 4 corners of the 224 canvas, each mirrored, "
                           "log-probabilities summed; single view = centre; "
                           + ("each view at the network's test scale (the mean of its training "
                              "size jitter), resampled bilinearly as its training views are"
                              if args.test_scale is None else
                              f"every view at scale {args.test_scale}")
                           + ("; snapshot ensemble: every cosine cycle's end of the training "
                              "chain reads each view, log-probabilities summed over views and "
                              "snapshots" if args.snapshots else ""),
               "splits": results,
               "mean_ten_view_accuracy": float(np.mean([r["ten_view_accuracy"] for r in results])),
               "mean_single_view_accuracy": float(np.mean([r["single_view_accuracy"] for r in results]))}
    (args.out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    log.info("mean ten-view accuracy %.4f over %d split(s)", summary["mean_ten_view_accuracy"],
             len(results))


if __name__ == "__main__":
    main()

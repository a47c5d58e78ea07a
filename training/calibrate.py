"""Calibrate a pack and fit its known-vs-unknown score (issue 18, items 1 and 2), in one command:

    python -m training.calibrate resources/packs/quickdraw [--data-root ../shared/data]

1. Runs the pack's models as shipped (through the app's :class:`~sketchpad.engine.Engine`) on the
   sets of :mod:`training.trust_sets`: held-out known drawings to fit on, the test split to
   report on, and Quick, Draw! classes the pack lacks, split by class into a background half A and
   an evaluation-only half B.
2. Fits a temperature per model by minimising the NLL on the fitting set; reports ECE (15 bins)
   and NLL before and after on the test split.
3. Fits ``known`` (:mod:`sketchpad.trust`): a class-balanced logistic regression over the maximum
   calibrated probability, the energy and the cosine similarity to the nearest class prototype at
   each depth, on known fitting drawings against unknown half A; reports AUROC, FPR at 95 % TPR
   and both accept rates at the shipped threshold on the test split against unknown half B, with
   every single score alone (the ablation that justifies the combination).
4. Writes the manifest's ``calibration`` and ``open_set`` sections, ``open_set.npz`` (the class
   prototypes) and ``reliability.png`` (before/after diagram for the pack report), and updates the
   file hashes. Re-running replaces all of them.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from annoy import AnnoyIndex

from sketchpad.engine import Engine
from sketchpad.gallery import Gallery
from sketchpad.pack import MANIFEST, Pack, load_pack
from sketchpad.search import index_vectors
from sketchpad.trust import SCORES, read_trust, scores, softmax, unit_rows
from training.export import shipped_models, write_manifest
from training.trust_fit import Logistic, auroc, fit_logistic, fit_temperature, fpr_at_tpr, nll, \
    reliability
from training.trust_sets import DATA, PER_CLASS, SEED, Outputs, Protocol, protocol_for, run_engine

PROTOTYPES_FILE = "open_set.npz"
DIAGRAM_FILE = "reliability.png"
#: Threshold on ``known``: the logistic is fitted with both classes weighing half, so 0.5 is
#: "as likely known as not" under an even prior.
THRESHOLD = 0.5


def best_model(pack: Pack) -> str:
    return "fusion" if "fusion" in pack.models else "convnet"


# --- calibration ---------------------------------------------------------------------------------
def calibrate(outs: dict[str, Outputs]) -> tuple[dict[str, float], dict[str, Any]]:
    """Temperature per model from the fitting set; figures on the test split."""
    fit, test = outs["fit"], outs["test"]
    temps, figures = {}, {}
    for m in fit.logits:
        t = fit_temperature(fit.logits[m], fit.labels)
        temps[m] = round(t, 5)
        z = test.logits[m]
        figures[m] = {
            "nll_before": nll(z, test.labels), "nll_after": nll(z, test.labels, t),
            "ece15_before": reliability(softmax(z), test.labels).ece,
            "ece15_after": reliability(softmax(z / t), test.labels).ece,
            "mean_confidence_before": float(softmax(z).max(1).mean()),
            "mean_confidence_after": float(softmax(z / t).max(1).mean()),
            "top1_accuracy": float((z.argmax(1) == test.labels).mean())}
    return temps, figures


# --- known score ---------------------------------------------------------------------------------
def prototypes(pack: Pack, exclude: set[str]) -> dict[str, np.ndarray]:
    """Each class's mean search vector per depth over the gallery rows not in ``exclude`` (the
    test drawings), read from the indexes, so they are the vectors the shipped (int8) network
    gives. The quickdraw gallery's big classes hold only validation and test drawings, so the
    fitting drawings stay in (one row among 50 to 500 of its class)."""
    gallery = Gallery(pack)
    keep = np.array([str(s) not in exclude for s in gallery.source_ids])
    labels = gallery.labels[keep]
    out = {}
    for depth, spec in pack.features.items():
        index = AnnoyIndex(spec.dim, spec.metric)
        index.load(str(spec.index))
        vecs = unit_rows(index_vectors(index))[keep]
        index.unload()
        missing = [pack.classes[c] for c in range(len(pack.classes)) if not (labels == c).any()]
        if missing:
            raise ValueError(f"{pack.name}: no gallery rows outside the test split for {missing}")
        out[depth] = np.stack([vecs[labels == c].mean(0) for c in range(len(pack.classes))])
    return out


def score_matrix(o: Outputs, best: str, temps: dict[str, float], names: tuple[str, ...],
                 protos: dict[str, np.ndarray]) -> np.ndarray:
    return scores(names, o.logits[best] / temps[best], o.features, {d: unit_rows(p) for d, p in protos.items()})


def open_set_figures(known: np.ndarray, unknown: np.ndarray, threshold: float | None) -> dict[str, Any]:
    out = {"auroc": auroc(known, unknown), "fpr_at_95_tpr": fpr_at_tpr(known, unknown),
           "n_known": int(len(known)), "n_unknown": int(len(unknown))}
    if threshold is not None:
        out["known_accept_rate"] = float((known >= threshold).mean())
        out["unknown_accept_rate"] = float((unknown >= threshold).mean())
    return out


def fit_known(pack: Pack, outs: dict[str, Outputs], temps: dict[str, float],
              protos: dict[str, np.ndarray]) -> tuple[tuple[str, ...], Logistic, dict[str, Any]]:
    """The logistic known score and its figures (see the module docstring)."""
    best = best_model(pack)
    names = tuple(s for s in SCORES if not s.startswith("proto_") or s[6:] in pack.features)
    known_fit = [k for k in ("fit", "shared_a") if k in outs]
    s = {k: score_matrix(o, best, temps, names, protos) for k, o in outs.items()}
    x = np.vstack([s[k] for k in known_fit] + [s["unknown_a"]])
    y = np.r_[np.ones(sum(len(s[k]) for k in known_fit)), np.zeros(len(s["unknown_a"]))]
    model = fit_logistic(x, y)
    pairs = {"test_vs_unknown_b": ("test", "unknown_b")}
    if "shared_b" in outs:
        pairs["shared_b_vs_unknown_b"] = ("shared_b", "unknown_b")
    figures = {key: open_set_figures(model(s[a]), model(s[b]), THRESHOLD)
               for key, (a, b) in pairs.items()}
    figures["single_scores"] = {
        n: {key: {"auroc": auroc(s[a][:, i], s[b][:, i]),
                  "fpr_at_95_tpr": fpr_at_tpr(s[a][:, i], s[b][:, i])}
            for key, (a, b) in pairs.items()} for i, n in enumerate(names)}
    # The fallback (maximum calibrated probability at 0.5), for comparison.
    mp = names.index("max_prob")
    figures["fallback_max_prob_at_0.5"] = {key: open_set_figures(s[a][:, mp], s[b][:, mp], 0.5)
                                           for key, (a, b) in pairs.items()}
    return names, model, figures


# --- figure --------------------------------------------------------------------------------------
def reliability_diagram(outs: dict[str, Outputs], temps: dict[str, float], models: list[str],
                        path: Path, title: str) -> None:
    """Accuracy against confidence on the test split, before and after scaling, per model."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    test = outs["test"]
    fig = Figure(figsize=(3.0 * len(models), 3.2), dpi=80)
    FigureCanvasAgg(fig)
    for i, m in enumerate(models):
        ax = fig.add_subplot(1, len(models), i + 1)
        ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--")
        for t, colour, label in ((1.0, "tab:red", "before"), (temps[m], "tab:blue", f"T = {temps[m]:.2f}")):
            r = reliability(softmax(test.logits[m] / t), test.labels)
            used = r.count > 0
            ax.plot(r.confidence[used], r.accuracy[used], "o-", ms=3, color=colour,
                    label=f"{label}: ECE {100 * r.ece:.1f} %")
        ax.set(title=m, xlim=(0, 1), ylim=(0, 1), xlabel="confidence")
        if i == 0:
            ax.set_ylabel("accuracy")
        ax.legend(loc="upper left", fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)


# --- manifest ------------------------------------------------------------------------------------
def _rounded(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 5)
    if isinstance(v, dict):
        return {k: _rounded(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_rounded(x) for x in v]
    return v


def sections(pack: Pack, proto: Protocol, outs: dict[str, Outputs], temps: dict[str, float],
             cal_figures: dict[str, Any], names: tuple[str, ...], model: Logistic,
             os_figures: dict[str, Any], command: str) -> tuple[dict[str, Any], dict[str, Any]]:
    best = best_model(pack)
    kind = shipped_models(pack.manifest)
    calibration = {
        "temperature": temps,
        "protocol": (f"temperature scaling per model (logits / T), T minimising the mean NLL "
                     f"(golden-section search on log T in [0.05, 20]) on the fitting set; the "
                     f"models as shipped ({kind}) run by the app's Engine; ECE with 15 equal-width "
                     f"confidence bins; before/after figures on the test split"),
        "validation": {"set": proto.describe["fit"], "drawings": len(outs["fit"].labels)},
        "test": {"set": proto.describe["test"], "drawings": len(outs["test"].labels)},
        "ece15_before": cal_figures[best]["ece15_before"],
        "ece15_after": cal_figures[best]["ece15_after"],
        "nll_before": cal_figures[best]["nll_before"],
        "nll_after": cal_figures[best]["nll_after"],
        "best_model": best,
        "per_model": cal_figures,
        "diagram": DIAGRAM_FILE,
        "command": command,
    }
    n_unknown = {k: len(proto.unknown_classes[k]) for k in ("a", "b")}
    known_fit = "the fitting set" + (" plus Quick, Draw! shared classes half A"
                                     if "shared_a" in outs else "")
    open_set = {
        "method": "logistic",
        "model": best,
        "inputs": list(names),
        "mean": model.mean.tolist(), "scale": model.scale.tolist(),
        "weights": model.weights.tolist(), "bias": model.bias,
        "threshold": THRESHOLD,
        "prototypes": PROTOTYPES_FILE,
        "protocol": (
            f"known = sigmoid(bias + weights . (s - mean) / scale), s = {', '.join(names)} of the "
            f"{best} model's calibrated logits and the search vectors (proto_<depth>: largest "
            f"cosine similarity to a class prototype, the class's mean search vector over the "
            f"gallery rows outside the test split); logistic regression, both "
            f"classes weighing half, L2 1e-3, fitted on known = {known_fit} "
            f"({sum(len(outs[k].labels) for k in ('fit', 'shared_a') if k in outs)} drawings) "
            f"against unknown = Quick, Draw! classes the pack lacks, half A "
            f"({n_unknown['a']} classes, {len(outs['unknown_a'].labels)} drawings). Evaluated on "
            f"known = the test split ({len(outs['test'].labels)} drawings) against unknown half B "
            f"({n_unknown['b']} classes, {len(outs['unknown_b'].labels)} drawings, never seen in "
            f"any role); the unknown classes were split by class with seed {SEED}, at most "
            f"{PER_CLASS} drawings a class (the first non-empty ones of each simplified ndjson). "
            f"Threshold {THRESHOLD}: as likely known as not under an even prior. Models as "
            f"shipped ({kind})."),
        "sets": proto.describe,
        "figures": os_figures,
        "unknown_classes": proto.unknown_classes,
        "command": command,
    }
    return _rounded(calibration), _rounded(open_set)


def run(pack_dir: Path, data_root: Path = DATA, threads: int = 0, batch: int = 128,
        log=print) -> dict[str, Any]:
    """Everything in the module docstring; returns the two manifest sections written."""
    start = time.time()
    pack = load_pack(pack_dir)
    command = f"python -m training.calibrate {pack_dir}"
    proto = protocol_for(pack, data_root)
    log(f"{pack.name}: " + ", ".join(f"{k} {len(d)}" for k, d in proto.sets.items()))
    engine = Engine(pack, prefer_gpu=False, threads=threads)
    outs = {k: run_engine(engine, d, batch) for k, d in proto.sets.items()}
    log(f"  models run on every set in {time.time() - start:.0f} s")
    temps, cal_figures = calibrate(outs)
    protos = prototypes(pack, proto.sets["test"].source_ids())
    names, model, os_figures = fit_known(pack, outs, temps, protos)

    np.savez(pack_dir / PROTOTYPES_FILE, **{f"prototype_{d}": p.astype(np.float32)
                                            for d, p in protos.items()})
    reliability_diagram(outs, temps, list(pack.models), pack_dir / DIAGRAM_FILE,
                        f"{pack.name}: test split, 15 bins")
    calibration, open_set = sections(pack, proto, outs, temps, cal_figures, names, model,
                                     os_figures, command)
    manifest = json.loads((pack_dir / MANIFEST).read_text(encoding="utf-8"))
    manifest["calibration"], manifest["open_set"] = calibration, open_set
    write_manifest(pack_dir, manifest)
    load_pack(pack_dir)  # the hashes and both sections read back
    read_trust(load_pack(pack_dir))
    log(report(calibration, open_set))
    log(f"  done in {time.time() - start:.0f} s")
    return {"calibration": calibration, "open_set": open_set}


def report(calibration: dict[str, Any], open_set: dict[str, Any]) -> str:
    lines = ["  calibration (test split):"]
    for m, f in calibration["per_model"].items():
        lines.append(f"    {m:8s} T {calibration['temperature'][m]:.3f}  NLL {f['nll_before']:.4f}"
                     f" -> {f['nll_after']:.4f}  ECE15 {100 * f['ece15_before']:.2f} % -> "
                     f"{100 * f['ece15_after']:.2f} %  top-1 {100 * f['top1_accuracy']:.2f} %")
    lines.append(f"  known score ({', '.join(open_set['inputs'])}; threshold {open_set['threshold']}):")
    figs = open_set["figures"]
    for key, f in figs.items():
        if key in ("single_scores",) or not isinstance(f, dict) or "auroc" not in f:
            continue
        lines.append(f"    {key}: AUROC {f['auroc']:.4f}  FPR@95%TPR {f['fpr_at_95_tpr']:.4f}  "
                     f"known accepted {100 * f['known_accept_rate']:.1f} %  unknown accepted "
                     f"{100 * f['unknown_accept_rate']:.1f} %  ({f['n_known']} known, "
                     f"{f['n_unknown']} unknown)")
    for key, f in figs["fallback_max_prob_at_0.5"].items():
        lines.append(f"    fallback max_prob, {key}: AUROC {f['auroc']:.4f}  FPR@95%TPR "
                     f"{f['fpr_at_95_tpr']:.4f}  known accepted {100 * f['known_accept_rate']:.1f} %"
                     f"  unknown accepted {100 * f['unknown_accept_rate']:.1f} %")
    for name, per in figs["single_scores"].items():
        lines.append(f"    alone {name:10s} " + "  ".join(
            f"{k}: AUROC {v['auroc']:.4f}" for k, v in per.items()))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pack", type=Path)
    ap.add_argument("--data-root", type=Path, default=DATA, help="the shared data folder")
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: all)")
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args(argv)
    run(args.pack, args.data_root, args.threads, args.batch)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write a model pack (DESIGN.md, "Model packs"): ONNX models, Annoy indexes, gallery, manifest.

Both trainers end here, and so does the tiny pack the tests build, so every pack the app meets was
written by this one function. The layout of ``gallery.npz`` (no pickled objects):

* ``labels`` int32 ``[N]`` — class index of each gallery sketch;
* ``source_ids`` str ``[N]`` — id in the source dataset (TU-Berlin file number, Quick, Draw! key_id);
* ``thumbnails`` uint8 ``[N, h, w]`` — optional, ink bright on dark;
* ``stroke3`` float32 ``[M, 3]`` with ``stroke_offsets`` int64 ``[N + 1]`` — optional, each sketch's
  normalised stroke-3 rows (so the app can draw and replay it);
* ``projection_<depth>`` float32 ``[N, 2]`` — a 2-D map of each depth's features (PCA), for the
  teaching views;
* ``projection_mean_<depth>`` float32 ``[D]`` and ``projection_basis_<depth>`` float32 ``[2, D]`` —
  that PCA itself, so the app places a new sketch on the map exactly where a gallery sketch with
  the same features sits (``(f - mean) @ basis.T``).

A shipped pack's indexes can be rebuilt with other Annoy settings, without the model or the data:

    python -m training.export reindex resources/packs/tu-berlin --trees 8 --search-k 600
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import onnxruntime as ort
import torch
from annoy import AnnoyIndex

from sketchpad.pack import DEPTHS, FORMAT_VERSION, MANIFEST, sha256_of
from sketchpad.search import index_vectors

log = logging.getLogger(__name__)

ANNOY_SEED = 1234


@dataclass
class ModelExport:
    """One model to write: the module, example inputs by name, output names in manifest order."""

    name: str
    module: torch.nn.Module
    inputs: dict[str, torch.Tensor]
    outputs: Sequence[str]
    preprocess: dict[str, Any] | None = None
    dynamic: dict[str, dict[int, str]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # more of the manifest entry, in words


@dataclass
class Gallery:
    """The indexed sketches and where they came from."""

    labels: np.ndarray
    source_ids: Sequence[str]
    attribution: str
    thumbnails: np.ndarray | None = None
    stroke3: Sequence[np.ndarray] | None = None


def _spec(t: np.ndarray | torch.Tensor, dynamic: dict[int, str]) -> dict[str, Any]:
    shape: list[Any] = list(t.shape)
    for axis, name in dynamic.items():
        shape[axis] = name
    dtype = "int64" if t.dtype in (torch.int64, np.int64) else "float32"
    return {"dtype": dtype, "shape": shape}


def export_onnx(model: ModelExport, path: Path, atol: float = 1e-4) -> dict[str, Any]:
    """Export with named tensors and a dynamic batch; then check onnxruntime against PyTorch on
    the example inputs and return the manifest entry (with the largest difference measured)."""
    module = model.module.eval()
    names = list(model.inputs)
    dyn = {n: model.dynamic.get(n, {0: "N"}) for n in names}
    dyn.update({o: {0: "N"} for o in model.outputs})
    with torch.no_grad():
        torch.onnx.export(module, tuple(model.inputs.values()), str(path), input_names=names,
                          output_names=list(model.outputs), dynamic_axes=dyn, dynamo=False,
                          opset_version=17)
        expected = module(*model.inputs.values())
    expected = expected if isinstance(expected, (tuple, list)) else (expected,)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(list(model.outputs), {n: t.numpy() for n, t in model.inputs.items()})
    diff = max(float(np.abs(g - e.numpy()).max()) for g, e in zip(got, expected))
    if diff > atol:
        raise RuntimeError(f"{path.name}: onnxruntime and PyTorch differ by {diff:.2e} > {atol}")
    return {
        "file": path.name,
        "inputs": {n: _spec(t, dyn[n]) for n, t in model.inputs.items()},
        "outputs": {o: _spec(e, {0: "N"}) for o, e in zip(model.outputs, expected)},
        "preprocess": model.preprocess,
        "onnx_vs_torch_max_abs_diff": diff,
    }


def build_index(features: np.ndarray, metric: str, path: Path, n_trees: int,
                queries: int = 500, k: int = 10, search_k: int = -1) -> dict[str, Any]:
    """Build an Annoy index single-threaded with a fixed seed (reproducible bytes), save it, and
    measure recall@k of its answers against exact search on ``queries`` gallery items."""
    n, dim = features.shape
    index = AnnoyIndex(dim, metric)
    index.set_seed(ANNOY_SEED)
    for i, v in enumerate(features):
        index.add_item(i, v.tolist())
    t0 = time.perf_counter()
    index.build(n_trees, n_jobs=1)
    build_s = time.perf_counter() - t0
    index.save(str(path))
    rng = np.random.default_rng(0)
    qs = rng.choice(n, size=min(queries, n), replace=False)
    exact = exact_neighbours(features, features[qs], metric, k)
    hits = 0
    for row, q in enumerate(qs):
        approx = index.get_nns_by_vector(features[q].tolist(), k, search_k=search_k)
        hits += len(set(approx) & set(exact[row].tolist()))
    return {"n_trees": n_trees, "build_seconds": round(build_s, 3), "search_k": search_k,
            f"recall_at_{k}": hits / (len(qs) * min(k, n)), "recall_queries": int(len(qs)),
            "bytes": path.stat().st_size}


def exact_neighbours(gallery: np.ndarray, queries: np.ndarray, metric: str, k: int) -> np.ndarray:
    """Brute-force k nearest (numpy), the reference for recall and for the benchmarks."""
    g, q = gallery.astype(np.float32), queries.astype(np.float32)
    if metric == "angular":
        g = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        d = -q @ g.T
    else:
        d = (q * q).sum(1)[:, None] - 2 * q @ g.T + (g * g).sum(1)[None]
    k = min(k, g.shape[0])
    part = np.argpartition(d, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(d, part, 1).argsort(1, kind="stable")
    return np.take_along_axis(part, order, 1)


def pca_basis(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean and the top two principal axes ``[2, D]`` of the features (fitted on at most
    5000 rows), stored in the gallery so the app can project new sketches the same way."""
    mean = features.mean(0)
    x = features[: min(len(features), 5000)] - mean
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return mean.astype(np.float32), vt[:2].astype(np.float32)


def write_gallery(gallery: Gallery, features: dict[str, np.ndarray], path: Path) -> None:
    arrays: dict[str, np.ndarray] = {
        "labels": np.asarray(gallery.labels, np.int32),
        "source_ids": np.asarray([str(s) for s in gallery.source_ids]),
    }
    if gallery.thumbnails is not None:
        arrays["thumbnails"] = np.asarray(gallery.thumbnails, np.uint8)
    if gallery.stroke3 is not None:
        lengths = [len(s) for s in gallery.stroke3]
        arrays["stroke3"] = (np.concatenate(gallery.stroke3).astype(np.float32)
                             if lengths else np.zeros((0, 3), np.float32))
        arrays["stroke_offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    np.savez_compressed(path, **arrays, **projection_arrays(features))


def projection_arrays(features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The gallery's 2-D map of each depth and the PCA that made it (the layout above)."""
    arrays = {}
    for depth, f in features.items():
        mean, basis = pca_basis(f)
        arrays[f"projection_{depth}"] = ((f - mean) @ basis.T).astype(np.float32)
        arrays[f"projection_mean_{depth}"] = mean
        arrays[f"projection_basis_{depth}"] = basis
    return arrays


def precision_at_k(feats: np.ndarray, labels: np.ndarray, metric: str, k: int = 10) -> float:
    """Leave-one-out retrieval precision@k over the gallery (same class = relevant)."""
    nn_idx = exact_neighbours(feats, feats, metric, k + 1)[:, 1:]
    return float((labels[nn_idx] == labels[:, None]).mean())


def hardware() -> str:
    """What trained the model, for the manifest (the issues ask for it)."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda}), torch {torch.__version__}"
    n = torch.get_num_threads()
    return (f"CPU {platform.processor() or platform.machine()}, {n} thread{'s' * (n != 1)}, "
            f"torch {torch.__version__}")


def write_pack(out_dir: str | Path, *, name: str, title: str, dataset: dict[str, Any],
               classes: Sequence[str], models: Sequence[ModelExport],
               features: dict[str, dict[str, Any]], gallery: Gallery,
               gallery_features: dict[str, np.ndarray], metrics: dict[str, Any],
               training: dict[str, Any], n_trees: int = 20, search_k: int = -1,
               extra: dict[str, Any] | None = None) -> Path:
    """Write ``out_dir`` as a complete pack and return it.

    ``features[depth]`` gives ``output`` (the convnet output name), ``layer``, ``metric`` and any
    figures to keep (e.g. retrieval precision); ``gallery_features[depth]`` are the vectors of the
    gallery sketches as the exported convnet computes them. ``n_trees`` and ``search_k`` set the
    Annoy indexes (the app queries with the ``search_k`` stored here).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        if old.is_file():
            old.unlink()
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION, "name": name, "title": title, "dataset": dataset,
        "classes": list(classes), "models": {}, "features": {}, "metrics": metrics,
        "training": {"hardware": hardware(), **training}, **(extra or {}),
    }
    for model in models:
        manifest["models"][model.name] = export_onnx(model, out / f"{model.name}.onnx") | model.info
    for depth in DEPTHS:
        if depth not in features:
            continue
        spec = dict(features[depth])
        vecs = np.asarray(gallery_features[depth], np.float32)
        metric = spec.pop("metric", "angular")
        idx = build_index(vecs, metric, out / f"index_{depth}.ann", n_trees, search_k=search_k)
        manifest["features"][depth] = {"output": spec.pop("output"), "dim": int(vecs.shape[1]),
                                       "metric": metric, "index": f"index_{depth}.ann",
                                       "annoy": idx, **spec}
    write_gallery(gallery, gallery_features, out / "gallery.npz")
    (out / "ATTRIBUTION.txt").write_text(gallery.attribution + "\n", encoding="utf-8")
    manifest["gallery"] = {"file": "gallery.npz", "size": int(len(gallery.labels)),
                           "attribution": gallery.attribution,
                           "has_strokes": gallery.stroke3 is not None,
                           "has_thumbnails": gallery.thumbnails is not None}
    write_manifest(out, manifest)
    log.info("wrote pack %s to %s", name, out)
    return out


def write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    """Record every file's sha256 in ``manifest`` and write it as the pack's manifest."""
    manifest["files"] = {p.name: sha256_of(p) for p in sorted(out.iterdir())
                         if p.is_file() and p.name != MANIFEST}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, default=_jsonable) + "\n",
                                encoding="utf-8")


def record_metrics(pack_dir: str | Path, metrics: dict[str, dict[str, Any]], command: str) -> None:
    """Add ``{"value", "protocol"}`` figures measured on a finished pack to its manifest's
    metrics, with the command that measured them (hashes recomputed, models untouched)."""
    out = Path(pack_dir)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    manifest["metrics"].update(metrics)
    manifest.setdefault("training", {})["evaluate_pack_command"] = command
    write_manifest(out, manifest)


def shipped_models(manifest: dict[str, Any]) -> str:
    """How a pack's models are stored, for the protocol of a figure measured on the pack."""
    int8 = sorted(manifest.get("quantization", {}).get("models", {}))
    return f"{', '.join(int8)} int8 by training.quantize" if int8 else "all float32"


def reindex_pack(pack_dir: str | Path, n_trees: int, search_k: int) -> dict[str, dict[str, Any]]:
    """Rebuild a pack's Annoy indexes with other settings, from the vectors the indexes hold
    (no model or data needed), and update the manifest; returns the new ``annoy`` entries."""
    out = Path(pack_dir)
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    built = {}
    for depth, spec in manifest["features"].items():
        old = AnnoyIndex(int(spec["dim"]), spec["metric"])
        old.load(str(out / spec["index"]))
        vecs = index_vectors(old)
        old.unload()
        built[depth] = spec["annoy"] = build_index(vecs, spec["metric"], out / spec["index"],
                                                   n_trees, search_k=search_k)
    manifest.setdefault("training", {})["reindex_command"] = (
        f"python -m training.export reindex {out} --trees {n_trees} --search-k {search_k}")
    write_manifest(out, manifest)
    return built


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"{type(v).__name__} is not JSON serialisable")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Pack tools (see the module docstring).")
    sub = ap.add_subparsers(dest="command", required=True)
    re = sub.add_parser("reindex", help="rebuild a pack's Annoy indexes from their own vectors")
    re.add_argument("pack", type=Path)
    re.add_argument("--trees", type=int, required=True)
    re.add_argument("--search-k", type=int, default=-1)
    args = ap.parse_args(argv)
    for depth, built in reindex_pack(args.pack, args.trees, args.search_k).items():
        print(f"{depth}: {built}")


if __name__ == "__main__":
    main()

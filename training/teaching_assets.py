"""What the teaching views need from a pack, computed from the pack itself and written into it.

    python -m training.teaching_assets resources/packs/quickdraw
    python -m training.teaching_assets resources/packs/tu-berlin

Run it last, on a finished pack (after ``training.quantize`` and the trainer's pack evaluation):
it reads only the pack's ONNX models, indexes and gallery (plus Quick, Draw! drawings from
``--data``), and re-running it on a re-exported pack redoes everything. It adds files, each
listed with its sha256 in the manifest's ``files``, and one manifest section per part:

* ``projection`` — ``projection.npz`` with a t-SNE map per depth (``tsne_<depth>`` ``[N, 2]``),
  the rule the app places a new sketch by, what that rule costs against openTSNE's ``transform``,
  and the neighbourhood-share figures of t-SNE and of the stored PCA map
  (:mod:`training.teaching_projection`);
* ``probes`` — ``probe.onnx`` and ``first_filters.npy`` for "What the network learned", and for a
  DSN pack ``fusion_probe.onnx`` with the attention weights and a check of whether those weights
  tell which branch decides (:mod:`training.teaching_probes`);
* ``accuracy_vs_fraction`` — only for a pack that has none from its trainer (TU-Berlin): measured
  on Quick, Draw! drawings of the shared classes, stroke by stroke
  (:mod:`training.teaching_drawing`).

``--parts`` picks some of ``projection,probes,drawing``; ``--parts measure`` only measures the
stored maps again (neighbourhood shares and the placement check), without fitting them.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import onnxruntime as ort

from sketchpad.engine import Engine, session_options
from sketchpad.gallery import Gallery
from sketchpad.pack import MANIFEST, Pack, load_pack
from sketchpad.search import Searcher, index_vectors
from training import teaching_drawing as td
from training import teaching_probes as tp
from training import teaching_projection as tj
from training.export import write_manifest
from training.trust_sets import is_tu_berlin

log = logging.getLogger(__name__)

PARTS = ("projection", "probes", "drawing")
#: Only the figures of the stored maps, without fitting them again.
MEASURE = "measure"
PROJECTION_FILE = "projection.npz"
MEASURED_BY = "training.teaching_assets"
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: The attention weights "mean something" when the branch they weigh more is the one whose
#: answer the fusion gives, clearly more often than a coin would (drawings where the two
#: branches disagree).
ATTENTION_AGREEMENT = 0.75


def command(pack_dir: Path) -> str:
    return f"python -m {MEASURED_BY} {pack_dir}"


def gallery_vectors(pack: Pack) -> dict[str, np.ndarray]:
    """Each depth's gallery vectors, as the pack's own indexes hold them (the app's search space)."""
    searcher = Searcher(pack, Gallery(pack).labels)
    return {d: index_vectors(index) for d, index in searcher.indexes.items()}


def new_drawings(pack: Pack, data: Path, total: int = 300) -> tuple[list, list[str]]:
    """About ``total`` Quick, Draw! drawings of the pack's classes that are not in its gallery."""
    files = td.shared_classes(pack.classes, data / "quickdraw" / "simplified")
    per_class = max(1, math.ceil(total / max(1, len(files))))
    return td.drawings(files, per_class, skip=Gallery(pack).source_ids.tolist())


def projection_part(pack: Pack, engine: Engine, data: Path) -> dict[str, Any]:
    """Fit t-SNE per depth and save the maps (:func:`measure_part` measures them)."""
    arrays = {}
    for depth, x in gallery_vectors(pack).items():
        t0 = time.perf_counter()
        arrays[f"tsne_{depth}"] = np.asarray(tj.fit_tsne(x), np.float32)
        log.info("%s %s: t-SNE in %.0f s", pack.name, depth, time.perf_counter() - t0)
    np.savez_compressed(pack.path / PROJECTION_FILE, **arrays)
    return {"file": PROJECTION_FILE, "method": "tsne", "description": tj.tsne_description(),
            "arrays": {name[len("tsne_"):]: name for name in arrays},
            "placement": {"rule": "median", "k": tj.PLACE_K,
                          "about": "median map position of the k nearest gallery sketches in "
                                   "the depth's search index: openTSNE's transform starts a new "
                                   "point there, then refines it (the app does not)"},
            "neighbourhood_share": {"k": tj.NEIGHBOURHOOD_K, "pca": {}, "tsne": {}},
            "command": command(pack.path)}


def measure_part(pack: Pack, engine: Engine, data: Path, section: dict[str, Any]
                 ) -> dict[str, Any]:
    """The figures of a ``projection`` section, from its stored maps: the neighbourhood share of
    t-SNE and of PCA per depth, and what the app's placement costs against openTSNE's
    ``transform`` (on new drawings)."""
    gallery = Gallery(pack)
    labels = gallery.labels.astype(np.int64)
    vectors = gallery_vectors(pack)
    sketches, names = new_drawings(pack, data)
    new_labels = np.array([pack.classes.index(n) for n in names])
    new_feats = td.run_batched(engine, sketches)["convnet"]
    share, checks = {"k": tj.NEIGHBOURHOOD_K, "pca": {}, "tsne": {}}, {}
    with np.load(pack.path / section["file"], allow_pickle=False) as maps:
        for depth, name in section["arrays"].items():
            xy = maps[name]
            share["tsne"][depth] = round(tj.neighbourhood_share(xy, labels), 4)
            if depth in gallery.projections:
                share["pca"][depth] = round(tj.neighbourhood_share(gallery.projections[depth],
                                                                   labels), 4)
            checks[depth] = tj.placement_check(vectors[depth], xy, labels,
                                               new_feats[pack.features[depth].output], new_labels)
            log.info("%s %s: share %s, placement %s", pack.name, depth, share["tsne"][depth],
                     checks[depth])
    section = dict(section)
    section["neighbourhood_share"] = share
    section["placement"] = {**section["placement"], "check": checks}
    return section


def attention_check(pack: Pack, engine: Engine, probe: Path, n: int = 2000) -> dict[str, Any]:
    """On ``n`` gallery drawings: how the attention weights spread, and on those where the CNN
    and RNN branches give different answers, how often the fusion's answer is the answer of the
    branch the attention weighs more."""
    gallery = Gallery(pack)
    rows = np.random.default_rng(0).permutation(len(gallery))[:n]
    sketches = [s for s in (gallery.sketch(int(i)) for i in rows) if s is not None]
    out = td.run_batched(engine, sketches)
    session = ort.InferenceSession(str(probe), session_options(1),
                                   providers=["CPUExecutionProvider"])
    w = session.run([tp.ATTENTION_OUTPUT], {"cnn_embedding": out["convnet"]["embedding"],
                                            "rnn_embedding": out["rnn"]["embedding"]})[0]
    cnn, rnn = out["convnet"]["logits"].argmax(1), out["rnn"]["logits"].argmax(1)
    fused = out["fusion"]["logits"].argmax(1)
    split = cnn != rnn
    favoured = np.where(w[:, 0] >= w[:, 1], cnn, rnn)
    agree = float((favoured[split] == fused[split]).mean()) if split.any() else float("nan")
    return {"drawings": len(sketches), "branches_disagree": int(split.sum()),
            "weight_cnn_mean": round(float(w[:, 0].mean()), 4),
            "weight_cnn_p5_p95": [round(float(v), 4) for v in np.percentile(w[:, 0], [5, 95])],
            "favoured_branch_decides": round(agree, 4),
            "meaningful": bool(agree >= ATTENTION_AGREEMENT),
            "rule": f"meaningful when, on gallery drawings whose two branches disagree, the "
                    f"fusion gives the answer of the branch with more weight at least "
                    f"{ATTENTION_AGREEMENT:.0%} of the time"}


def probes_part(pack: Pack, engine: Engine) -> dict[str, Any]:
    section = tp.write_convnet_probe(pack.models["convnet"].file,
                                     {d: s.output for d, s in pack.features.items()}, pack.path)
    if "fusion" in pack.models:
        fusion = tp.write_fusion_probe(pack.models["fusion"].file, pack.path)
        if fusion is not None:
            fusion["check"] = attention_check(pack, engine, pack.path / fusion["file"])
            section["attention"] = fusion
    section["command"] = command(pack.path)
    return section


def drawing_part(pack: Pack, engine: Engine, data: Path, per_class: int = 25
                 ) -> dict[str, Any] | None:
    """"Accuracy while drawing" on Quick, Draw! drawings of the classes the pack shares with it,
    for a pack whose trainer measured none (None when the trainer's curve is there). A tu-berlin
    pack is measured on the drawings its mixed training holds out
    (:func:`training.deepsketch.mixed.held_out_quickdraw`); another pack on the first
    ``per_class`` drawings of each class outside its gallery, which it may have trained on."""
    current = pack.manifest.get("accuracy_vs_fraction")
    if current is not None and not (isinstance(current, dict)
                                    and current.get("measured_by") == MEASURED_BY):
        return None
    dataset = pack.manifest.get("dataset", {})
    name = dataset.get("name", pack.name)
    if is_tu_berlin(pack):
        from training.deepsketch.mixed import HELD_OUT, SharedClasses, held_out_quickdraw

        classes = list(pack.classes)
        held, _ = held_out_quickdraw(SharedClasses.read(classes, data / "quickdraw"), classes)
        sketches, names = held.items, [classes[y] for y in held.labels]
        also = dataset.get("also_trained_on")
        chosen = (f"the first {HELD_OUT} non-empty drawings of each class's file, held out of "
                  "the shipped network's mixed training; reviewed name map")
        seen = (f"the network also learnt from other Quick, Draw! drawings of these classes "
                f"({also}), never these" if also else
                "the network was trained on tu-berlin and never saw a Quick, Draw! drawing, so "
                "this also tests it on another dataset")
    else:
        files = td.shared_classes(pack.classes, data / "quickdraw" / "simplified")
        sketches, names = td.drawings(files, per_class, skip=Gallery(pack).source_ids.tolist())
        chosen = f"the first {per_class} of each class's file outside the gallery"
        seen = "these drawings may include some the network was trained on"
    curve = td.accuracy_while_drawing(engine, sketches, names)
    return {"value": curve, "drawings": "Quick, Draw!", "measured_by": MEASURED_BY,
            "classes": sorted(set(names)),
            "protocol": f"top-1 of the pack's answer on {len(sketches)} Quick, Draw! drawings "
                        f"(simplified ndjson, {chosen}) of the {len(set(names))} classes that "
                        f"Quick, Draw! shares with {name}, "
                        f"when only the first fraction of the strokes is drawn (Sketch.prefix, "
                        f"at least one stroke), through the app's engine; {seen}; "
                        f"{command(pack.path)}"}


def build(pack_dir: Path, data: Path = DEFAULT_DATA, parts: Sequence[str] = PARTS) -> dict[str, Any]:
    """Compute ``parts`` for the pack in ``pack_dir`` and write them into it; returns the new
    manifest sections."""
    pack = load_pack(pack_dir)
    engine = Engine(pack, prefer_gpu=False, threads=1)
    sections: dict[str, Any] = {}
    if "projection" in parts:
        sections["projection"] = projection_part(pack, engine, data)
    if "projection" in parts or MEASURE in parts:
        stored = sections.get("projection", pack.manifest.get("projection"))
        if stored is None:
            raise SystemExit(f"{pack.path}: no projection to measure (run --parts projection)")
        sections["projection"] = measure_part(pack, engine, data, stored)
    if "probes" in parts:
        sections["probes"] = probes_part(pack, engine)
    if "drawing" in parts:
        curve = drawing_part(pack, engine, data)
        if curve is not None:
            sections["accuracy_vs_fraction"] = curve
    # read again just before writing: another tool may have added its own section meanwhile
    manifest = json.loads((pack.path / MANIFEST).read_text(encoding="utf-8"))
    manifest.update(sections)
    write_manifest(pack.path, manifest)
    return sections


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pack", type=Path)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help="the shared data folder (Quick, Draw! drawings under quickdraw/)")
    ap.add_argument("--parts", default=",".join(PARTS),
                    help=f"some of {','.join(PARTS)}, or {MEASURE}")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parts = [p for p in args.parts.split(",") if p]
    unknown = set(parts) - {*PARTS, MEASURE}
    if unknown:
        ap.error(f"unknown parts: {', '.join(sorted(unknown))}")
    t0 = time.perf_counter()
    sections = build(args.pack, args.data, parts)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk not in ("classes",)}
                      for k, v in sections.items()}, indent=1, default=str))
    print(f"done in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()

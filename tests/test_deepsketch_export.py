"""A tiny DeepSketch trained on real TU-Berlin PNGs, exported as a pack, loads in the app and
onnxruntime agrees with PyTorch on the app's own input; its int8 twin, and a later protocol run
recorded into it."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from sketchpad import preprocess as pp
from sketchpad.datasets.tu_berlin import read_png
from sketchpad.engine import Engine
from sketchpad.pack import DEPTHS, load_pack
from sketchpad.search import Searcher
from training.deepsketch.data import TuBerlinCache, build_cache
from training.deepsketch.evaluate import centre_pass, load_checkpoint
from training.deepsketch.export_pack import (MIRROR_VIEWS, PackConvNet, export_deepsketch,
                                              merge_results, quantize_deepsketch_pack, record_protocol)
from training.deepsketch.model import DeepSketch, DeepSketchConfig, fold_norms
from training.export import write_manifest
from training.deepsketch.similarity import fit_bottleneck, fit_pca
from training.deepsketch.train import configure, train


def test_export_loads_and_matches_torch(tmp_path: Path, data_root: Path):
    root = data_root / "tu-berlin"
    cache = build_cache(root, tmp_path / "c.npy", workers=1, n_classes=3, per_class=6)
    run = tmp_path / "run"
    train(configure(["--widths=(4,4,8,8)", "--fc=16", "--batch_size=3", "--train_per_class=4",
                     "--epochs=2", "--threads=1", "--eval_items=0", "--lr=0.01",
                     f"--cache={cache}", f"--out_dir={run}"]))
    model, ck = load_checkpoint(run / "ckpt.pt")
    data = TuBerlinCache.load(cache)
    scale = 0.9  # views resampled as a recipe network's would be (data.view_scale)
    _, raw = centre_pass(model, data, np.arange(len(data.labels)), ck["mean"], scale)
    reductions = {"low": fit_pca(raw["low"], 4),
                  "mid": fit_bottleneck(raw["mid"], data.labels, raw["mid"], data.labels, 4, 3,
                                        epochs=2),
                  "high": fit_pca(raw["high"], 4)}
    out = export_deepsketch(tmp_path / "pack", model, ck["mean"], reductions, raw, data.pictures,
                            data.labels, data.ids, data.classes,
                            metrics={"note": {"value": 0.0, "protocol": "test"}},
                            training={"command": "test"}, n_trees=2, thumb=16, name="tiny-tub",
                            scale=scale)

    pack = load_pack(out)
    engine = Engine(pack, prefer_gpu=False)
    spec = pack.models["convnet"].preprocess
    assert spec == pp.ConvNetRaster(size=224, content=180, mean=ck["mean"], scale=scale)
    page = read_png(root / "png" / data.classes[1] / f"{data.ids[7]}.png")
    got = engine.predict(page)
    with torch.no_grad():
        ref = PackConvNet(model, reductions)(torch.from_numpy(pp.convnet_input(page, spec)[None]))
    np.testing.assert_allclose(got.per_model["convnet"],
                               torch.softmax(ref[0], 1)[0].numpy(), rtol=1e-4, atol=1e-5)
    for d, r in zip(DEPTHS, ref[1:]):
        np.testing.assert_allclose(got.features[d], r[0].numpy(), rtol=1e-4, atol=1e-4)
    # the gallery sketch itself comes back first from every index
    gal = np.load(pack.gallery_file)
    assert gal["thumbnails"].shape == (len(data.labels), 16, 16)
    assert list(gal["source_ids"][:2]) == [str(i) for i in data.ids[:2]]
    hits = Searcher(pack, gal["labels"]).query_all(got.features, k=3)
    assert all(h[0].gallery_id == 7 for h in hits.values())

    # int8: the gallery is re-embedded from the original pictures by the quantised convnet, so
    # the PNG of a gallery sketch still finds that sketch first, and the answer barely moves
    int8_dir = shutil.copytree(out, tmp_path / "int8")
    record = quantize_deepsketch_pack(int8_dir, data, 1, ck["mean"], "test")
    int8 = load_pack(int8_dir)
    assert record["models"]["convnet"]["float32_sha256"] == pack.manifest["files"]["convnet.onnx"]
    assert record["command"] == "test" and int8.manifest["quantization"] == record
    got8 = Engine(int8, prefer_gpu=False).predict(page)
    assert np.abs(got8.probs - got.probs).max() < 0.05
    gal8 = np.load(int8.gallery_file)
    hits = Searcher(int8, gal8["labels"]).query_all(got8.features, k=3)
    assert all(h[0].gallery_id == 7 and h[0].distance < 1e-3 for h in hits.values())

    # a later split's protocol run only rewrites the protocol figures: a split no longer in the
    # results goes, the other figures stay, and the pack still loads with its files' hashes
    row = {"epochs": 2, "checkpoint": str(run / "ckpt.pt"), "single_view_accuracy": 0.5}
    parts = []
    for split, acc in ((1, 0.6), (2, 0.8)):
        parts.append(tmp_path / f"results{split}.json")
        parts[-1].write_text(json.dumps({"protocol": "test protocol", "splits": [
            row | {"split": split, "ten_view_accuracy": acc}]}))
    metrics = int8.manifest["metrics"] | {"ten_view_accuracy_split3": {"value": 0.1, "protocol": "old"}}
    write_manifest(int8_dir, int8.manifest | {"metrics": metrics})
    scores = {"knn_majority_vote_accuracy": 0.5, "classification_accuracy": 0.6,
              "precision_at_10": 0.4, "mAP": 0.3}
    table3 = {"low": {"reduced_dim": 4, "k_vote": 10, "bottleneck": scores, "pca": scores}}
    record_protocol(int8_dir, merge_results(parts), "cmd", {"other_splits": "split 3 next"}, table3)
    after = load_pack(int8_dir).manifest
    assert after["metrics"]["table3_bottleneck_knn_vote_low"]["value"] == 0.5
    assert after["metrics"]["retrieval_mAP_pca_low"]["value"] == 0.3
    assert after["metrics"]["mean_ten_view_accuracy"]["value"] == pytest.approx(0.7)
    assert "split 1: 2 epochs, split 2: 2 epochs" in after["metrics"]["mean_ten_view_accuracy"]["protocol"]
    assert after["metrics"]["ten_view_accuracy_split2"]["value"] == 0.8
    assert "ten_view_accuracy_split3" not in after["metrics"] and "note" in after["metrics"]
    runs = after["training"]["protocol_runs"]
    assert [(r["split"], r["paper_ten_view"], r["ten_view"]) for r in runs] == [(1, 0.7725, 0.6),
                                                                              (2, 0.7419, 0.8)]
    assert runs[0]["train_seconds"] == round(ck["train_seconds"], 1) and runs[0]["recipe"]["epochs"] == 2
    assert runs[0]["test_scale"] == 1.0  # a result without one was tested on the sharp paste
    assert after["training"]["other_splits"] == "split 3 next"
    assert after["quantization"] == record
    record_protocol(int8_dir, merge_results(parts[:1]), "cmd")  # no Table 3 given: it stays
    assert load_pack(int8_dir).manifest["metrics"]["table3_pca_knn_vote_low"]["value"] == 0.5


def test_mirror_view_averages_the_logits_inside_the_graph(tmp_path: Path, data_root: Path):
    root = data_root / "tu-berlin"
    data = TuBerlinCache.load(build_cache(root, tmp_path / "c.npy", workers=1, n_classes=2, per_class=6))
    torch.manual_seed(0)
    model = fold_norms(DeepSketch(DeepSketchConfig(widths=(4, 4, 8, 8), fc=16, n_classes=2))).eval()
    _, raw = centre_pass(model, data, np.arange(len(data.labels)), 0.02)
    reductions = {d: fit_pca(raw[d], 3) for d in DEPTHS}
    out = export_deepsketch(tmp_path / "pack", model, 0.02, reductions, raw, data.pictures,
                            data.labels, data.ids, data.classes, metrics={}, training={},
                            n_trees=2, thumb=16, name="mirror", mirror=True)
    pack = load_pack(out)
    assert pack.manifest["models"]["convnet"]["views"] == MIRROR_VIEWS
    spec = pack.models["convnet"].preprocess
    page = read_png(root / "png" / data.classes[1] / f"{data.ids[7]}.png")
    x = torch.from_numpy(pp.convnet_input(page, spec)[None])
    with torch.no_grad():
        ref, flipped = model(x), model(x.flip(3))
    got = Engine(pack, prefer_gpu=False).predict(page)
    want = torch.softmax((ref.logits + flipped.logits) / 2, 1)[0].numpy()
    np.testing.assert_allclose(got.per_model["convnet"], want, rtol=1e-4, atol=1e-5)
    assert np.abs(want - torch.softmax(ref.logits, 1)[0].numpy()).max() > 1e-4  # the mirror counts
    for d in DEPTHS:  # the search features are the drawing's own, not the mirror's
        np.testing.assert_allclose(got.features[d], reductions[d](ref.feats[d].numpy())[0],
                                   rtol=1e-4, atol=1e-4)
    # and it quantises (shape inference takes the second pass) with the answer barely moving
    quantize_deepsketch_pack(out, data, 1, 0.02, "test")
    got8 = Engine(load_pack(out), prefer_gpu=False).predict(page)
    assert np.abs(got8.per_model["convnet"] - want).max() < 0.05

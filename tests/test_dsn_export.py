"""The DSN pipeline end to end on a tiny real setup: cache → train (the real model classes, tiny
configs) → evaluate → export → load_pack + Engine. ONNX and PyTorch must agree on the same
sketch for all three models, and the engine's fused answer must be the trained DSN's."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dsn_tiny import build_tiny_cache, tiny_args  # noqa: E402
from sketchpad import preprocess as pp  # noqa: E402
from sketchpad.engine import Engine, softmax  # noqa: E402
from sketchpad.pack import load_gallery, load_pack  # noqa: E402
from training.dsn.data import entropy_keep, histogram_entropy, raster_tensor  # noqa: E402
from training.dsn.evaluate import evaluate, load_model, held_out_sketches  # noqa: E402
from training.dsn.export_pack import ATTRIBUTION, export  # noqa: E402
from training.dsn.metrics import map_at_k  # noqa: E402
from training.dsn.train import parse_config, run  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, data_root: Path):
    tmp = tmp_path_factory.mktemp("dsn")
    cache = build_tiny_cache(data_root, tmp / "cache")
    run(parse_config(tiny_args(cache, tmp / "runs" / "dsnplus", steps_epochs=1.0)))
    evaluate(tmp / "runs", tmp / "eval")
    pack_dir = export(tmp / "runs" / "dsnplus", tmp / "eval" / "results.json", tmp / "pack",
                      per_class=6, n_fit=40, dim=8, n_trees=4)
    model, ck = load_model(tmp / "runs" / "dsnplus")
    sketches, _ = held_out_sketches(cache)
    return load_pack(pack_dir), model, ck, sketches


def test_onnx_matches_pytorch_for_all_three_models(exported) -> None:
    pack, model, ck, sketches = exported
    engine = Engine(pack, prefer_gpu=False)
    for sketch in sketches[:3]:
        feeds = engine.inputs_for(sketch)
        image = torch.from_numpy(feeds["convnet"]["image"])
        strokes = torch.from_numpy(feeds["rnn"]["strokes"])
        lengths = torch.from_numpy(feeds["rnn"]["lengths"])
        with torch.no_grad():
            c_logits, _, c_emb = model.cnn(image)
            r_logits, r_emb = model.rnn(strokes, lengths)
            fused = model.fusion(c_emb, r_emb)
        conv = engine.run("convnet", feeds["convnet"])
        rnn = engine.run("rnn", feeds["rnn"])
        fus = engine.run("fusion", {"cnn_embedding": conv["embedding"],
                                     "rnn_embedding": rnn["embedding"]})
        np.testing.assert_allclose(conv["logits"], c_logits.numpy(), atol=1e-4)
        np.testing.assert_allclose(conv["embedding"], c_emb.numpy(), atol=1e-4)
        np.testing.assert_allclose(rnn["logits"], r_logits.numpy(), atol=1e-4)
        np.testing.assert_allclose(rnn["embedding"], r_emb.numpy(), atol=1e-4)
        np.testing.assert_allclose(fus["logits"], fused.numpy(), atol=1e-4)
        assert conv["feat_low"].shape == (1, 8)
    for spec in pack.manifest["models"].values():
        assert spec["onnx_vs_torch_max_abs_diff"] < 1e-4


def test_engine_fused_prediction_is_the_trained_dsn(exported) -> None:
    pack, model, ck, sketches = exported
    engine = Engine(pack, prefer_gpu=False)
    mean = ck["order_raster_mean"]
    seq = pp.spec_from_dict(ck["stroke3"])
    for sketch in sketches[:5]:
        canvas = pp.order_canvas(sketch, 32, pp.OrderRaster().line_width)
        image = raster_tensor(torch.from_numpy(canvas[None]), mean)
        # the training path and the app's preprocessing give the same tensor, bit for bit
        assert np.array_equal(image.numpy(), engine.inputs_for(sketch)["convnet"]["image"])
        s, n = pp.stroke3_input(sketch, seq)
        with torch.no_grad():
            logits = model(image, torch.from_numpy(s[None]), torch.tensor([n])).logits
        pred = engine.predict(sketch)
        np.testing.assert_allclose(pred.probs, softmax(logits.numpy()[0]), atol=1e-5)
        assert pred.top(1)[0][0] == pack.classes[int(logits.argmax())]


def test_pack_carries_gallery_metrics_and_teaching_tables(exported) -> None:
    pack, *_ = exported
    m = pack.manifest
    assert pack.name == "quickdraw" and pack.classes == ["airplane", "bicycle", "calculator"]
    assert m["gallery"]["attribution"] == ATTRIBUTION
    g = load_gallery(pack)
    assert len(g["labels"]) == 18 and g["stroke_offsets"][-1] == len(g["stroke3"])
    assert np.asarray(m["confusion_matrix"]["value"]).shape == (3, 3)
    assert set(m["per_class_accuracy"]["value"]) == set(pack.classes)
    assert set(m["accuracy_vs_fraction"]["value"]) == {"0.25", "0.5", "0.75", "1.0"}
    assert 0.0 <= m["metrics"]["map3_dsnplus"]["value"] <= 1.0
    assert "MAP@3" in m["metrics"]["map3_dsnplus"]["protocol"]
    for depth in ("low", "mid", "high"):
        assert m["features"][depth]["dim"] == 8


def test_map_at_3_on_hand_made_cases() -> None:
    scores = np.array([[0.9, 0.05, 0.03, 0.02],    # true 0 at rank 1 → 1
                       [0.5, 0.4, 0.06, 0.04],     # true 1 at rank 2 → 1/2
                       [0.5, 0.3, 0.15, 0.05],     # true 2 at rank 3 → 1/3
                       [0.5, 0.3, 0.15, 0.05]])    # true 3 at rank 4 → 0
    labels = np.array([0, 1, 2, 3])
    assert map_at_k(scores, labels) == pytest.approx((1 + 1 / 2 + 1 / 3 + 0) / 4)
    assert map_at_k(scores[:1], labels[:1]) == 1.0


def test_entropy_filter_on_hand_made_cases() -> None:
    blank = np.zeros((8, 8), np.uint8)
    half = blank.copy()
    half[:4] = 255
    quarters = blank.copy()
    quarters[:2], quarters[2:4], quarters[4:6] = 64, 128, 255
    assert histogram_entropy(blank) == 0.0
    assert histogram_entropy(half) == pytest.approx(1.0)
    assert histogram_entropy(quarters) == pytest.approx(2.0)
    # two classes, entropies 0..100 each: the 5th-95th percentile band keeps 5..95 of each
    ent = np.concatenate([np.arange(101.0), np.arange(101.0) + 1000])
    labels = np.repeat([0, 1], 101)
    keep = entropy_keep(ent, labels, 5, 95)
    assert keep.sum() == 2 * 91
    assert not keep[[0, 4, 96, 100, 101, 201]].any() and keep[[5, 95, 106, 196]].all()


def test_unknown_config_key_is_refused() -> None:
    with pytest.raises(SystemExit, match="unknown config key"):
        parse_config(["--no_such_key=1"])
    with pytest.raises(SystemExit, match="must be float"):
        parse_config(["--epochs=fast"])
    assert parse_config(["--epochs=2", "--model=rnn"])["epochs"] == 2.0


def test_grid_pool_is_the_adaptive_pool_for_every_map_size() -> None:
    """The export pools each depth to 2 × 2 with fixed windows (ONNX refuses the adaptive pool
    when 2 does not divide the map, as at the 3 × 3 last block of a 96 px input)."""
    import torch
    from torch.nn import functional as F

    from training.dsn.export_pack import grid_pool
    for size in range(2, 14):
        m = torch.randn(2, 3, size, size)
        for grid in (1, 2, 3):
            if grid <= size:
                torch.testing.assert_close(grid_pool(m, grid), F.adaptive_avg_pool2d(m, grid))


@pytest.fixture(scope="module")
def quantized(exported, tmp_path_factory: pytest.TempPathFactory):
    """The exported pack beside an int8 copy made by training.quantize."""
    from training.quantize import quantize_pack
    pack, *_ = exported
    copy = tmp_path_factory.mktemp("int8") / "quickdraw"
    shutil.copytree(pack.path, copy)
    record = quantize_pack(copy, calibration=18)  # the whole tiny gallery sets the ranges
    return pack, load_pack(copy), record


def _op_types(path: Path) -> set[str]:
    import onnx
    return {n.op_type for n in onnx.load(str(path)).graph.node}


def _conv_weight_types(path: Path) -> set[int]:
    """The element type of the stored weight behind every Conv (through a DequantizeLinear)."""
    import onnx
    g = onnx.load(str(path)).graph
    stored = {i.name: i.data_type for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    types = set()
    for conv in (n for n in g.node if n.op_type == "Conv"):
        w = conv.input[1]
        types.add(stored[producer[w].input[0]] if w in producer else stored[w])
    return types


def test_quantized_pack_runs_int8_kernels_and_keeps_its_answers(exported, quantized) -> None:
    import onnx
    _, model, ck, sketches = exported
    float_pack, int8_pack, record = quantized
    assert {"QuantizeLinear", "DequantizeLinear"} <= _op_types(int8_pack.models["convnet"].file)
    assert "DynamicQuantizeLSTM" in _op_types(int8_pack.models["rnn"].file)
    assert _op_types(int8_pack.models["fusion"].file) == _op_types(float_pack.models["fusion"].file)
    assert _conv_weight_types(int8_pack.models["convnet"].file) == {onnx.TensorProto.INT8}
    assert _conv_weight_types(float_pack.models["convnet"].file) == {onnx.TensorProto.FLOAT}
    for name in ("convnet", "rnn"):
        assert record["models"][name]["float32_sha256"] == float_pack.manifest["files"][f"{name}.onnx"]
        mode = (p.models[name].file.stat().st_mode for p in (float_pack, int8_pack))
        assert next(mode) == next(mode)  # readable by all, like the file it replaced
    assert int8_pack.manifest["quantization"] == record  # and load_pack verified every hash
    a, b = Engine(float_pack, prefer_gpu=False), Engine(int8_pack, prefer_gpu=False)
    for sketch in sketches[:6]:
        pa, pb = a.predict(sketch), b.predict(sketch)
        assert np.abs(pa.probs - pb.probs).max() < 0.1
        for depth, f in pa.features.items():
            g = pb.features[depth]
            assert f @ g / (np.linalg.norm(f) * np.linalg.norm(g)) > 0.95
    assert min(v["min"] for v in record["feature_cosine_to_float32_on_gallery"].values()) > 0.9


def test_quantized_gallery_is_embedded_by_the_int8_model(quantized) -> None:
    """Every gallery sketch, drawn again, finds itself first at every depth: the gallery vectors
    are the quantised convnet's, the model the app queries with."""
    from sketchpad.runtime import LoadedPack
    _, int8_pack, _ = quantized
    loaded = LoadedPack(int8_pack, prefer_gpu=False)
    for i in range(len(loaded.gallery)):
        analysis = loaded.analyse(loaded.gallery.sketch(i), k=1)
        for depth, (best,) in analysis.neighbours.items():
            assert best.gallery_id == i and best.distance < 1e-3, depth
    g = load_gallery(int8_pack)
    f = loaded.engine.predict(loaded.gallery.sketch(0)).features["mid"]
    xy = (f - g["projection_mean_mid"]) @ g["projection_basis_mid"].T
    np.testing.assert_allclose(xy, g["projection_mid"][0], atol=1e-4)


def test_quantizing_twice_or_a_raster_gallery_is_refused(exported, quantized, tmp_path: Path) -> None:
    from training.export import write_manifest
    from training.quantize import quantize_pack
    float_pack, int8_pack, _ = quantized
    with pytest.raises(ValueError, match="already quantised"):
        quantize_pack(int8_pack.path)
    raster = shutil.copytree(float_pack.path, tmp_path / "raster")
    g = load_gallery(float_pack)
    thumbs = np.zeros((len(g["labels"]), 8, 8), np.uint8)
    np.savez_compressed(raster / "gallery.npz", labels=g["labels"], source_ids=g["source_ids"],
                        thumbnails=thumbs)
    manifest = json.loads((raster / "manifest.json").read_text())
    manifest["gallery"].update(has_strokes=False, has_thumbnails=True)  # a valid raster pack
    write_manifest(raster, manifest)
    with pytest.raises(ValueError, match="keeps no strokes"):
        quantize_pack(raster)
    with pytest.raises(ValueError, match="no quantisation method for fusion"):
        quantize_pack(float_pack.path, models=["fusion"])


def test_shipped_pack_evaluation_is_the_trained_models_on_the_test_split(exported, quantized) -> None:
    """``evaluate_pack`` scores the pack's ONNX models on the cached test split: for the float pack
    that is the PyTorch checkpoint's score; the int8 pack's may differ by a drawing or two."""
    from training.dsn.data import load_split
    from training.dsn.evaluate_pack import evaluate_pack
    from training.dsn.metrics import predict
    _, model, ck, _ = exported
    float_pack, int8_pack, _ = quantized
    cache = Path(ck["config"]["cache"])
    test = load_split(cache, "test", 32)
    want = predict(model, test["img32"], test["strokes"], test["lengths"], ck["order_raster_mean"])
    n = len(test["labels"])
    got = evaluate_pack(float_pack.path, cache)
    assert not got["quantized"] and f"{n} drawings" in got["protocol"]
    for name, key in (("fusion", "logits"), ("convnet", "cnn"), ("rnn", "rnn")):
        assert got["map3"][name] == pytest.approx(map_at_k(want[key], test["labels"]), abs=1 / n)
    int8 = evaluate_pack(int8_pack.path, cache)
    assert int8["quantized"]
    assert abs(int8["top1"]["fusion"] - got["top1"]["fusion"]) <= 3 / n


def test_teaching_probe_reads_the_quantized_convnet_like_the_float_one(exported, quantized,
                                                                       tmp_path: Path) -> None:
    """"What the network learned" looks through the int8 graph: the first layer's weights are
    dequantised, and each tap is the float map the layer computed (not its uint8 form, nor the
    pre-ReLU value the quantiser leaves under the ReLU's name)."""
    from sketchpad.app.teaching.assets import ProbeSpec
    from sketchpad.app.teaching.graph import ActivationProbe
    from training.teaching_probes import first_layer_filters, write_convnet_probe

    class ActivationProbe(ActivationProbe):   # the probe file training.teaching_assets writes
        @classmethod
        def build(cls, convnet: Path, outputs: dict[str, str]) -> "ActivationProbe":
            where = tmp_path / f"probe{len(list(tmp_path.iterdir()))}"
            where.mkdir()
            entry = write_convnet_probe(convnet, outputs, where)
            return cls.open(ProbeSpec(where / entry["file"], entry["outputs"],
                                      where / entry["filters"], None))
    _, _, _, sketches = exported
    float_pack, int8_pack, _ = quantized
    fa = first_layer_filters(float_pack.models["convnet"].file)
    fb = first_layer_filters(int8_pack.models["convnet"].file)
    np.testing.assert_allclose(fb, fa, atol=np.abs(fa).max() / 100)
    feeds = Engine(float_pack, prefer_gpu=False).inputs_for(sketches[0])["convnet"]
    got = [ActivationProbe.build(p.models["convnet"].file,
                                 {d: s.output for d, s in p.features.items()}).run(feeds)
           for p in (float_pack, int8_pack)]
    assert got[0].keys() == got[1].keys() == {"first", "low", "mid", "high"}
    for tap, a in got[0].items():
        b = got[1][tap]
        assert a.shape == b.shape and b.dtype == np.float32 and b.min() >= 0, tap
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.98, tap


def test_a_failed_quantisation_leaves_the_float_pack_as_it_was(quantized, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import training.quantize as tq
    float_pack, int8_pack, _ = quantized
    assert int8_pack.path.stat().st_mode == float_pack.path.stat().st_mode
    pack = shutil.copytree(float_pack.path, tmp_path / "packs" / "quickdraw")
    before = {p.name: p.read_bytes() for p in pack.iterdir()}

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(tq, "build_index", disk_full)
    with pytest.raises(OSError, match="No space left"):
        tq.quantize_pack(pack, calibration=4)
    assert {p.name: p.read_bytes() for p in pack.iterdir()} == before
    assert [p.name for p in pack.parent.iterdir()] == ["quickdraw"]  # no work folder left behind
    assert "quantization" not in load_pack(pack).manifest

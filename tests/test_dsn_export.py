"""The DSN pipeline end to end on a tiny real setup: cache → train (the real model classes, tiny
configs) → evaluate → export → load_pack + Engine. ONNX and PyTorch must agree on the same
sketch for all three models, and the engine's fused answer must be the trained DSN's."""
from __future__ import annotations

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
        conv = engine._run("convnet", feeds["convnet"])
        rnn = engine._run("rnn", feeds["rnn"])
        fus = engine._run("fusion", {"cnn_embedding": conv["embedding"],
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

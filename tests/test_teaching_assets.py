"""``python -m training.teaching_assets`` on the real tiny pack, and the app's checks of what it
writes: t-SNE maps and their measured figures, the inner-layer probe (against the convnet's own
outputs), accuracy while drawing, and a broken section refused with its reason."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openTSNE")
from sketchpad.app.teaching.assets import load_filters, load_maps, probe_spec  # noqa: E402
from sketchpad.app.teaching.graph import ActivationProbe  # noqa: E402
from sketchpad.app.teaching.honest import count_trend, movement  # noqa: E402
from sketchpad.app.teaching.papers import TABLES, difference, tables_for  # noqa: E402
from sketchpad.engine import Engine  # noqa: E402
from sketchpad.gallery import Gallery  # noqa: E402
from sketchpad.pack import PackError, load_pack  # noqa: E402
from training import teaching_assets, teaching_drawing, teaching_projection  # noqa: E402


@pytest.fixture(scope="module")
def built(teaching_pack_dir: Path):
    return load_pack(teaching_pack_dir)


def test_every_new_file_is_listed_with_its_hash_and_the_pack_still_loads(built):
    for name in ("projection.npz", "probe.onnx", "first_filters.npy"):
        assert name in built.manifest["files"]
    load_pack(built.path, verify_hashes=True)     # raises on a stale hash
    assert built.manifest["projection"]["command"].startswith("python -m training.teaching_assets")


def test_tsne_maps_are_stored_per_depth_and_their_shares_measured(built):
    labels = Gallery(built).labels.astype(np.int64)
    maps = load_maps(built, len(labels))
    assert maps is not None and set(maps.positions) == {"low", "mid", "high"}
    share = built.manifest["projection"]["neighbourhood_share"]
    for depth, xy in maps.positions.items():
        assert xy.shape == (len(labels), 2)
        assert share["tsne"][depth] == pytest.approx(
            teaching_projection.neighbourhood_share(xy, labels), abs=1e-4)
        pca = Gallery(built).projections[depth]
        assert share["pca"][depth] == pytest.approx(
            teaching_projection.neighbourhood_share(pca, labels), abs=1e-4)
        check = built.manifest["projection"]["placement"]["check"][depth]
        assert 0 <= check["app_vs_transform"] < 1 and check["new_drawings"] > 0


def test_neighbourhood_share_on_a_hand_made_map():
    xy = np.array([[0, 0], [0, 1], [10, 0], [10, 1], [10, 2]], np.float32)
    labels = np.array([0, 0, 1, 1, 0])
    # k = 1: point 4's nearest other point is 3 (class 1), all others meet their own class
    assert teaching_projection.neighbourhood_share(xy, labels, k=1) == pytest.approx(4 / 5)


def test_the_probe_reads_its_weights_from_the_convnet_instead_of_copying_them(built):
    section = built.manifest["probes"]
    assert section["weights_from"] == "convnet.onnx" and section["shared_weights"] >= 1
    assert (built.path / "probe.onnx").stat().st_size < (built.path / "convnet.onnx").stat().st_size


def test_the_probe_shows_the_maps_the_features_are_computed_from(built):
    """The tiny convnet's high feature is the spatial mean of its last ReLU map, and its mid
    feature the 2 × 2 average pool of the second block's map: the probe's taps must give them
    back exactly, with no ``onnx`` package involved."""
    spec = probe_spec(built)
    probe = ActivationProbe.open(spec)
    engine = Engine(built, prefer_gpu=False)
    sketch = Gallery(built).sketch(5)
    feed = engine.inputs_for(sketch)["convnet"]
    acts = probe.run(feed)
    pred = engine.predict(sketch)
    np.testing.assert_allclose(acts["high"].mean((1, 2)), pred.features["high"], atol=1e-5)
    c, h, w = acts["mid"].shape
    pooled = acts["mid"].reshape(c, 2, h // 2, 2, w // 2).mean((2, 4)).reshape(-1)
    np.testing.assert_allclose(pooled, pred.features["mid"], atol=1e-5)
    assert acts["first"].min() >= 0          # after the ReLU
    filters = load_filters(spec)
    assert filters.shape == tuple(built.manifest["probes"]["filters_shape"]) == (8, 1, 3, 3)


def test_the_attention_probe_gives_the_dsn_fusion_softmax(tmp_path):
    torch = pytest.importorskip("torch")
    from training.dsn.model import Fusion, FusionConfig
    from training.teaching_probes import write_fusion_probe
    import onnxruntime as ort
    fusion = Fusion(6, 5, FusionConfig(dim=4, dropout=0.0), 3).eval()
    a, b = torch.randn(4, 6), torch.randn(4, 5)
    torch.onnx.export(fusion, (a, b), str(tmp_path / "fusion.onnx"), dynamo=False,
                      input_names=["cnn_embedding", "rnn_embedding"], output_names=["logits"],
                      dynamic_axes={"cnn_embedding": {0: "N"}, "rnn_embedding": {0: "N"}})
    entry = write_fusion_probe(tmp_path / "fusion.onnx", tmp_path)
    session = ort.InferenceSession(str(tmp_path / entry["file"]))
    got = session.run([entry["output"]], {"cnn_embedding": a.numpy(), "rnn_embedding": b.numpy()})
    with torch.no_grad():
        want = torch.softmax(fusion.attention(torch.cat([a, b], 1)), 1).numpy()
    np.testing.assert_allclose(got[0], want, atol=1e-6)


def test_accuracy_while_drawing_is_measured_when_the_trainer_gave_none(built, data_root):
    curve = built.manifest["accuracy_vs_fraction"]
    assert set(curve["value"]) == {"0.25", "0.5", "0.75", "1.0"}
    assert curve["drawings"] == "Quick, Draw!" and curve["measured_by"] == "training.teaching_assets"
    # the tiny pack was trained on Quick, Draw!: the protocol says the drawings may overlap
    assert "may include some the network was trained on" in curve["protocol"]
    files = teaching_drawing.shared_classes(built.classes, data_root / "quickdraw" / "simplified")
    sketches, names = teaching_drawing.drawings(files, 25, skip=Gallery(built).source_ids.tolist())
    engine = Engine(built, prefer_gpu=False)
    full = [built.classes.index(n) for n in names]
    got = np.mean([engine.predict(s).top(1)[0][0] == built.classes[c]
                   for s, c in zip(sketches, full)])
    assert curve["value"]["1.0"] == pytest.approx(got)


def test_a_trainers_curve_is_kept(teaching_pack_dir: Path, tmp_path: Path, data_root: Path):
    copy = shutil.copytree(teaching_pack_dir, tmp_path / "p")
    m = json.loads((copy / "manifest.json").read_text())
    m["accuracy_vs_fraction"] = {"value": {"1.0": 0.5}, "protocol": "the trainer's"}
    (copy / "manifest.json").write_text(json.dumps(m))
    teaching_assets.build(copy, data_root, parts=("drawing",))
    assert json.loads((copy / "manifest.json").read_text())["accuracy_vs_fraction"]["protocol"] \
        == "the trainer's"


def test_tu_berlin_names_meet_their_quick_draw_words(tmp_path: Path):
    for word in ("bear", "car", "headphones", "television", "mouse", "wine glass"):
        (tmp_path / f"{word.replace(' ', '_')}.ndjson").write_text("")
    found = teaching_drawing.shared_classes(
        ["bear (animal)", "car (sedan)", "head-phones", "tv", "computer-mouse", "wineglass",
         "santa claus"], tmp_path)
    assert {k: v.stem for k, v in found.items()} == {
        "bear (animal)": "bear", "car (sedan)": "car", "head-phones": "headphones",
        "tv": "television", "computer-mouse": "mouse", "wineglass": "wine_glass"}


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["projection"]["placement"].update(k=0), "integer k"),
    (lambda m: m["projection"].update(file="nope.npz"), "not listed"),
    (lambda m: m["projection"]["arrays"].update(high="missing"), "no array"),
    (lambda m: m["projection"]["neighbourhood_share"]["tsne"].update(high=3), "between 0 and 1"),
    (lambda m: m["probes"].update(outputs={"low": "probe_low"}), "must name 'first'"),
    (lambda m: m["probes"].update(filters="gone.npy"), "not listed"),
    (lambda m: m["probes"].update(weights_from_sha256="0" * 64), "written for another"),
])
def test_a_broken_section_is_refused_with_its_reason(teaching_pack_dir, tmp_path, edit, message):
    copy = shutil.copytree(teaching_pack_dir, tmp_path / "broken")
    m = json.loads((copy / "manifest.json").read_text())
    edit(m)
    (copy / "manifest.json").write_text(json.dumps(m))
    pack = load_pack(copy)          # the pack itself stays usable
    with pytest.raises(PackError, match=message):
        load_maps(pack, len(Gallery(pack).labels))
        probe_spec(pack)


def test_honest_words_say_what_the_numbers_do():
    assert count_trend("same class", [(2, 9), (1, 9), (4, 9)]) == \
        "same class: 2/9 → 1/9 → 4/9 (falls, then rises)"
    assert movement([0.1, 0.2, 0.3]) == "rises at every step"
    assert movement([0.1, 0.1, 0.3]) == "never falls and ends higher"
    assert movement([0.5, 0.5]) == "stays the same"
    assert movement([0.3, 0.2, 0.4, 0.1]) == "falls, then rises, then falls"


def test_paper_tables_are_chosen_by_the_figures_a_pack_has():
    deepsketch = {"ten_view_accuracy_split1": 0.71, "table3_pca_knn_vote_high": 0.6}
    assert [t.paper.authors.split()[0] for t in tables_for(deepsketch)] == ["Omar", "Omar"]
    assert tables_for({"train_accuracy_fusion": 1.0}) == []
    assert all(t.paper.title for t in TABLES)
    assert difference(77.25, 70.92) == "-6.3 points" and difference(None, 3) == "—"

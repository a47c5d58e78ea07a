"""Calibrated probabilities and the known-vs-unknown score (issue 18): the maths, the engine
applying a pack's sections, the shipped quickdraw pack on a single stroke, and bad sections."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from packcopy import copy_pack
from sketchpad.__main__ import main
from sketchpad.engine import Engine
from sketchpad.ink import Sketch, Stroke, iter_ndjson, write_ndjson
from sketchpad.pack import PackError, builtin_packs_dir, load_pack, sha256_of
from sketchpad.trust import FALLBACK_THRESHOLD, softmax
from training.trust_fit import auroc, fit_logistic, fit_temperature, fpr_at_tpr, nll, reliability


def vertical_line() -> Sketch:
    return Sketch((Stroke(np.array([[100.0, 20, 0, 1], [100, 130, 150, 1], [100, 230, 300, 1]])),))


def apple(data_root: Path) -> Sketch:
    return next(iter_ndjson(data_root / "quickdraw" / "simplified" / "apple.ndjson"))


# --- the maths -----------------------------------------------------------------------------------
def test_temperature_fit_recovers_the_temperature_of_synthetic_logits() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(20000, 10))
    for true_t in (0.5, 2.5):
        labels = np.array([rng.choice(10, p=p) for p in softmax(logits / true_t)])
        t = fit_temperature(logits, labels)
        assert t == pytest.approx(true_t, rel=0.05)
        assert nll(logits, labels, t) <= nll(logits, labels, 1.0)


def test_ece_is_zero_for_calibrated_bins_and_counts_overconfidence() -> None:
    probs = np.tile([[0.8, 0.2]], (1000, 1))
    labels = np.r_[np.zeros(800, int), np.ones(200, int)]
    assert reliability(probs, labels).ece == pytest.approx(0.0, abs=1e-12)
    assert reliability(probs, np.zeros(1000, int) + np.r_[np.zeros(500, int), np.ones(500, int)]
                       ).ece == pytest.approx(0.3)


def test_auroc_and_fpr_match_their_definitions() -> None:
    rng = np.random.default_rng(1)
    known, unknown = rng.normal(1, 1, 300), np.r_[rng.normal(0, 1, 200), [1.0, 1.0]]
    known[:5] = 1.0  # ties count one half
    pairs = (known[:, None] > unknown[None]).mean() + 0.5 * (known[:, None] == unknown[None]).mean()
    assert auroc(known, unknown) == pytest.approx(pairs)
    t = np.sort(known)[int(np.floor(0.05 * len(known)))]
    assert (known >= t).mean() >= 0.95
    assert fpr_at_tpr(known, unknown) == pytest.approx((unknown >= t).mean())


def test_logistic_fit_separates_and_balances_classes() -> None:
    rng = np.random.default_rng(2)
    x = np.r_[rng.normal(1, 1.5, (9000, 2)), rng.normal(-1, 1.5, (1000, 2))]
    y = np.r_[np.ones(9000), np.zeros(1000)]
    model = fit_logistic(x, y)
    assert auroc(model(x[:9000]), model(x[9000:])) > 0.85
    # class-balanced: halfway between the two means reads 0.5 despite the 9:1 ratio (an
    # unweighted fit would read about 0.9 there)
    assert model(np.zeros((1, 2)))[0] == pytest.approx(0.5, abs=0.05)


# --- the engine and the manifest sections --------------------------------------------------------
def with_sections(src: Path, dst: Path, calibration: dict[str, Any] | None = None,
                  open_set: dict[str, Any] | None = None,
                  arrays: dict[str, np.ndarray] | None = None) -> Path:
    """A copy of ``src`` with the sections (and an ``open_set.npz``) written and hashed."""
    copy_pack(src, dst)
    manifest = json.loads((dst / "manifest.json").read_text())
    if arrays is not None:
        np.savez(dst / "open_set.npz", **arrays)
        manifest["files"]["open_set.npz"] = sha256_of(dst / "open_set.npz")
    if calibration is not None:
        manifest["calibration"] = calibration
    if open_set is not None:
        manifest["open_set"] = open_set
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def test_a_pack_without_sections_keeps_t_1_and_the_max_probability_fallback(
        tiny_pack_dir: Path, data_root: Path) -> None:
    engine = Engine(load_pack(tiny_pack_dir), prefer_gpu=False)
    feeds = engine.inputs_for(apple(data_root))
    raw = engine.run_all(feeds)["fusion"]["logits"][0]
    pred = engine.predict(apple(data_root))
    np.testing.assert_allclose(pred.logits, raw, rtol=1e-6)
    assert pred.known == pytest.approx(float(pred.probs.max()))
    assert pred.threshold == FALLBACK_THRESHOLD
    assert pred.unsure == (pred.known < FALLBACK_THRESHOLD)


def test_the_engine_divides_each_models_logits_by_the_manifest_temperature(
        tiny_pack_dir: Path, tmp_path: Path, data_root: Path) -> None:
    temps = {"convnet": 2.0, "rnn": 0.5, "fusion": 3.0}
    pack_dir = with_sections(tiny_pack_dir, tmp_path / "t", {"temperature": temps})
    sketch = apple(data_root)
    plain = Engine(load_pack(tiny_pack_dir), prefer_gpu=False)
    raw = {m: o["logits"][0] for m, o in plain.run_all(plain.inputs_for(sketch)).items()}
    pred = Engine(load_pack(pack_dir), prefer_gpu=False).predict(sketch)
    for m, t in temps.items():
        np.testing.assert_allclose(pred.per_model[m], softmax(raw[m] / t), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(pred.logits, raw["fusion"] / 3.0, rtol=1e-6)
    assert pred.probs is pred.per_model["fusion"]
    assert pred.known == pytest.approx(float(pred.probs.max()))  # no open_set: the fallback


def test_a_logistic_known_score_with_prototypes_is_computed_as_documented(
        tiny_pack_dir: Path, tmp_path: Path, data_root: Path) -> None:
    pack = load_pack(tiny_pack_dir)
    rng = np.random.default_rng(3)
    protos = {f"prototype_{d}": rng.normal(size=(3, f.dim)).astype(np.float32)
              for d, f in pack.features.items()}
    open_set = {"method": "logistic", "inputs": ["max_prob", "energy", "proto_high"],
                "mean": [0.5, 1.0, 0.2], "scale": [0.2, 2.0, 0.3], "weights": [1.0, 0.5, 2.0],
                "bias": -0.3, "threshold": 0.7, "prototypes": "open_set.npz"}
    pack_dir = with_sections(tiny_pack_dir, tmp_path / "o", {"temperature": {"fusion": 1.5}},
                             open_set, protos)
    sketch = apple(data_root)
    engine = Engine(load_pack(pack_dir), prefer_gpu=False)
    pred = engine.predict(sketch)
    z = pred.logits.astype(np.float64)
    p = protos["prototype_high"] / np.linalg.norm(protos["prototype_high"], axis=1, keepdims=True)
    f = pred.features["high"] / np.linalg.norm(pred.features["high"])
    s = np.array([softmax(z).max(), np.log(np.exp(z).sum()), (p @ f).max()])
    want = 1 / (1 + np.exp(-(-0.3 + ((s - [0.5, 1.0, 0.2]) / [0.2, 2.0, 0.3]) @ [1.0, 0.5, 2.0])))
    assert pred.known == pytest.approx(want, rel=1e-5)
    assert pred.threshold == 0.7 and pred.unsure == (want < 0.7)
    # a taught word (logits and prototypes appended) is scored by the same function
    word = {"high": pred.features["high"][None]}
    extended = engine.trust.known(np.r_[pred.logits, 5.0], pred.features, word)
    assert extended > pred.known
    assert replace(pred, known=extended).unsure == (extended < 0.7)


BAD: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("negative T", lambda m: m.update(calibration={"temperature": {"convnet": -1.0}}), "temperature"),
    ("T as text", lambda m: m.update(calibration={"temperature": {"convnet": "2"}}), "finite number"),
    ("T for a model the pack lacks", lambda m: m.update(calibration={"temperature": {"gpt": 1.0}}),
     "lacks"),
    ("no temperature object", lambda m: m.update(calibration={"T": 1.0}), "temperature"),
    ("unknown method", lambda m: m.update(open_set={"method": "vibes", "threshold": 0.5}), "method"),
    ("threshold above 1", lambda m: m.update(open_set={"method": "max_prob", "threshold": 1.5}),
     "threshold"),
    ("unknown input", lambda m: m.update(open_set={
        "method": "logistic", "threshold": 0.5, "inputs": ["mood"], "mean": [0], "scale": [1],
        "weights": [1], "bias": 0}), "inputs"),
    ("weights of the wrong length", lambda m: m.update(open_set={
        "method": "logistic", "threshold": 0.5, "inputs": ["energy"], "mean": [0], "scale": [1],
        "weights": [1, 2], "bias": 0}), "weights"),
    ("zero scale", lambda m: m.update(open_set={
        "method": "logistic", "threshold": 0.5, "inputs": ["energy"], "mean": [0], "scale": [0],
        "weights": [1], "bias": 0}), "scale"),
    ("prototypes not listed", lambda m: m.update(open_set={
        "method": "logistic", "threshold": 0.5, "inputs": ["proto_mid"], "mean": [0],
        "scale": [1], "weights": [1], "bias": 0, "prototypes": "nowhere.npz"}), "prototypes"),
]


@pytest.mark.parametrize("edit,needle", [(e, n) for _, e, n in BAD], ids=[b[0] for b in BAD])
def test_invalid_sections_are_a_pack_error_naming_the_field(
        tiny_pack_dir: Path, tmp_path: Path, edit, needle: str) -> None:
    pack = load_pack(copy_pack(tiny_pack_dir, tmp_path / "bad", edit))
    with pytest.raises(PackError, match=needle):
        Engine(pack, prefer_gpu=False)


def test_prototypes_of_the_wrong_shape_are_a_pack_error(tiny_pack_dir: Path, tmp_path: Path) -> None:
    open_set = {"method": "logistic", "inputs": ["proto_mid"], "mean": [0], "scale": [1],
                "weights": [1], "bias": 0, "threshold": 0.5, "prototypes": "open_set.npz"}
    pack_dir = with_sections(tiny_pack_dir, tmp_path / "p", None, open_set,
                             {"prototype_mid": np.zeros((2, 3), np.float32)})
    with pytest.raises(PackError, match="prototype_mid"):
        Engine(load_pack(pack_dir), prefer_gpu=False)


# --- the shipped quickdraw pack ------------------------------------------------------------------
@pytest.fixture(scope="module")
def quickdraw() -> Engine:
    pack = load_pack(builtin_packs_dir() / "quickdraw")
    assert "calibration" in pack.manifest and "open_set" in pack.manifest, \
        "the quickdraw pack is not calibrated: run `python -m training.calibrate resources/packs/quickdraw`"
    return Engine(pack, prefer_gpu=False)


def test_a_single_stroke_is_flagged_unsure_by_the_quickdraw_pack(quickdraw: Engine) -> None:
    pred = quickdraw.predict(vertical_line())
    assert pred.unsure, f"one vertical line: known {pred.known:.3f}, top {pred.top(1)}"
    assert pred.known < pred.threshold == quickdraw.pack.manifest["open_set"]["threshold"]


def test_a_whole_drawing_of_a_pack_class_is_known(quickdraw: Engine, data_root: Path) -> None:
    pred = quickdraw.predict(apple(data_root))
    assert pred.top(1)[0][0] == "apple" and not pred.unsure


def test_classify_json_and_text_carry_known_and_unsure(capsys, monkeypatch, tmp_path: Path,
                                                       quickdraw: Engine) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))  # user data (words) stays here
    f = tmp_path / "one.ndjson"
    write_ndjson([vertical_line()], f)
    pack = str(quickdraw.pack.path)
    assert main(["classify", str(f), "--pack", pack, "--json", "--cpu"]) == 0
    record = json.loads(capsys.readouterr().out)["files"][0]["drawings"][0]
    assert record["unsure"] is True and 0.0 <= record["known"] < 0.5
    assert main(["classify", str(f), "--pack", pack, "--cpu"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(str(f)))
    assert line.split("\t")[3] == f"known {record['known']:.3f} UNSURE"


def test_the_reviewed_name_map_and_the_unknown_halves_are_consistent(data_root: Path) -> None:
    from sketchpad.datasets.tu_berlin import TuBerlin
    from training.trust_sets import fold, quickdraw_files, read_name_map, split_by_class, \
        tu_berlin_matches
    tu = TuBerlin(data_root / "tu-berlin").categories
    qd = list(quickdraw_files(data_root / "quickdraw"))
    name_map = read_name_map()
    assert {fold(k) for k in name_map["synonyms"]} | {fold(k) for k in name_map["excluded"]} \
        <= {fold(q) for q in qd}
    assert not {fold(k) for k in name_map["synonyms"]} & {fold(k) for k in name_map["excluded"]}
    shared, left_out = tu_berlin_matches(qd, tu, name_map)
    assert shared["television"] == ["tv"] and shared["apple"] == ["apple"]
    assert "clock" in left_out and "lollipop" not in shared and "lollipop" not in left_out
    a, b = split_by_class([q for q in qd if q not in shared and q not in left_out])
    assert not set(a) & set(b) and abs(len(a) - len(b)) <= 1

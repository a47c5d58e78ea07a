"""Outlier exposure on a tiny real DSN run: the background is half A of the classes the pack lacks
without the few-shot evaluation classes, the checkpoint keeps the layout the exporter reads, and
the background-classes head trains the CNN embedding without being saved."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from dsn_tiny import CLASSES, build_tiny_cache, tiny_args  # noqa: E402
from training.dsn.evaluate import load_model  # noqa: E402
from training.dsn.outlier_exposure import DEFAULTS, background_classes, run as expose  # noqa: E402
from training.dsn.train import parse_config, run as train  # noqa: E402
from training.fit_words import unknown_classes_of  # noqa: E402
from training.trust_sets import unknown_halves  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    tmp = tmp_path_factory.mktemp("oe")
    cache = build_tiny_cache(data_root, tmp / "cache")
    train(parse_config(tiny_args(cache, tmp / "runs" / "dsnplus", steps_epochs=1.0)))
    return tmp / "runs" / "dsnplus"


def test_the_background_never_holds_a_few_shot_evaluation_class(data_root: Path) -> None:
    names = background_classes(list(CLASSES), data_root / "quickdraw")
    half_a, half_b = unknown_halves(list(CLASSES), data_root / "quickdraw")
    word_eval, _ = unknown_classes_of(data_root / "quickdraw", list(CLASSES))
    assert set(names) < set(half_a)
    assert not set(names) & set(word_eval)
    assert not set(names) & set(half_b)
    assert set(half_a) - set(names) == set(half_a) & set(word_eval)


def test_background_classes_train_the_embedding_and_leave_the_pack_layout(trained: Path) -> None:
    before, _ = load_model(trained)
    cfg = {**DEFAULTS, "run_dir": str(trained), "steps": 100, "batch_size": 8,
           "background_batch": 8, "per_class": 2, "class_weight": 1.0, "learning_rate": 3e-3}
    expose(cfg)
    after, ck = load_model(trained)
    assert (trained / "ckpt_before_oe.pt").is_file()
    # The head over the pack's + the background classes is not part of the network.
    assert after.state_dict().keys() == before.state_dict().keys()
    assert any(not torch.equal(a, b) for a, b in zip(after.state_dict().values(),
                                                     before.state_dict().values()))
    stage = json.loads((trained / "outlier_exposure.json").read_text())
    assert stage == ck["config"]["outlier_exposure"]
    assert stage["background_classes"] == background_classes(list(CLASSES))
    first, last = stage["history"]
    assert last["classes"] < first["classes"]
    assert "background classes as extra classes" in stage["method"]


def test_from_scratch_trains_a_new_network_beside_the_run(trained: Path, tmp_path: Path) -> None:
    run_bytes = (trained / "ckpt.pt").read_bytes()
    before, _ = load_model(trained)
    cfg = {**DEFAULTS, "run_dir": str(trained), "steps": 100, "batch_size": 8,
           "background_batch": 8, "per_class": 2, "class_weight": 1.0, "learning_rate": 3e-3,
           "from_scratch": True, "out_dir": str(tmp_path / "scratch")}
    with pytest.raises(ValueError, match="out_dir"):  # in place it would replace the run
        expose({**cfg, "out_dir": ""})
    expose(cfg)
    assert (trained / "ckpt.pt").read_bytes() == run_bytes  # the run it read is left as it was
    fresh, ck = load_model(tmp_path / "scratch")
    assert ck["step"] == 100 and ck["classes"] == list(CLASSES)
    assert fresh.state_dict().keys() == before.state_dict().keys()
    # nothing of the run's weights: a new start, and it learns (the loss falls)
    for name, w in fresh.state_dict().items():
        if name.endswith("weight") and w.dim() > 1:
            assert not torch.allclose(w, before.state_dict()[name], atol=1e-3), name
    first, last = ck["config"]["outlier_exposure"]["history"]
    assert last["loss"] < first["loss"]
    assert last["lr"] < first["lr"] <= cfg["learning_rate"]  # warm-up and cosine, as train.py
    assert ck["config"]["outlier_exposure"]["method"].startswith("trained from scratch")

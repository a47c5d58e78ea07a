"""Issue 16's recipe: BatchNorm folded away for export, the stronger views, the mixed TU-Berlin +
Quick, Draw! cache with its held-out drawings, and a run with EMA, outlier exposure and a warm
start that resumes where it stopped."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from sketchpad.datasets.tu_berlin import TuBerlin
from training.deepsketch.cross_domain import by_training_size
from training.deepsketch.data import BACKGROUND, QUICKDRAW, TU, Augment, TuBerlinCache, augment, \
    build_cache, split_indices, view_scale
from training.deepsketch.average import average_checkpoints
from training.deepsketch.evaluate import evaluate_checkpoint, features_scale, load_checkpoint, \
    training_cycles, view_log_probs
from training.deepsketch.export_pack import protocol_metrics, protocol_runs
from training.deepsketch.mixed import HELD_OUT, SharedClasses, build_mixed_cache, held_out_quickdraw, \
    training_quickdraw
from training.deepsketch.model import DeepSketch, DeepSketchConfig, fold_norms
from training.deepsketch.train import configure, train
from training.fit_words import unknown_classes_of
from training.trust_sets import quickdraw_files, split_by_class


def test_folded_norms_give_the_same_outputs_as_plain_convs():
    torch.manual_seed(0)
    model = DeepSketch(DeepSketchConfig((4, 8, 8, 16), 32, 0.5, 10, norm="batch"))
    x = torch.randn(4, 1, 224, 224)
    for _ in range(3):
        model(x)  # training-mode passes move the running statistics off their initial values
    model.eval()
    folded = fold_norms(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    with torch.no_grad():
        a, b = model(x), folded(x)
    torch.testing.assert_close(b.logits, a.logits, rtol=1e-4, atol=1e-4)
    for d in a.feats:
        torch.testing.assert_close(b.feats[d], a.feats[d], rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="norm"):
        DeepSketchConfig(norm="layer")


def test_stronger_views_scale_stretch_and_thicken():
    pic = np.zeros((180, 180), np.uint8)
    pic[60:120, 89] = 255  # a vertical line through the centre, 1 px wide
    thick = Augment(angle=0.0, thicken=1.0)
    out = augment(pic, np.random.default_rng(0), thick)
    assert out.shape == (224, 224) and out.dtype == np.uint8
    assert (out > 0).sum() > 1.5 * (augment(pic, np.random.default_rng(0), Augment(angle=0.0)) > 0).sum()
    tall = [(augment(pic, np.random.default_rng(s), Augment(angle=0.0, scale=(0.8, 1.15))) > 127)
            .any(1).sum() for s in range(20)]
    assert min(tall) < 56 and max(tall) > 64  # the 60-px line shrinks and grows
    assert len({tuple(np.argwhere(augment(pic, np.random.default_rng(s), Augment(aspect=0.3, shear=0.2))
                                  > 127).mean(0).round()) for s in range(5)}) == 5


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> tuple[Path, SharedClasses]:
    tmp = tmp_path_factory.mktemp("mixed")
    tu = build_cache(data_root / "tu-berlin", tmp / "tu.npy", workers=1, n_classes=3, per_class=8)
    classes = SharedClasses.read(TuBerlinCache.load(tu).classes, data_root / "quickdraw")
    classes = dataclasses.replace(classes, background=classes.background[:2])
    return build_mixed_cache(tu, tmp / "mixed.npy", data_root / "quickdraw", classes), classes


def test_the_background_leaves_out_the_few_shot_evaluation_classes(data_root: Path):
    root = data_root / "quickdraw"
    every = TuBerlin(data_root / "tu-berlin").categories
    word_eval, _ = unknown_classes_of(root, every, tu_berlin=True)
    background = SharedClasses.read(every, root).background
    assert len(background) > 40 and not set(background) & set(word_eval)
    # some of them are among the unknown classes half A is cut from, so leaving them out is not vacuous
    assert set(word_eval) & set(split_by_class(sorted(set(quickdraw_files(root)) - set(every)))[0])


def test_mixed_cache_keeps_the_held_out_drawings_out(mixed: tuple[Path, SharedClasses]):
    path, classes = mixed
    data = TuBerlinCache.load(path)
    assert set(classes.shared) and all(len(t) == 1 for t in classes.shared.values())
    held, right = held_out_quickdraw(classes, data.classes)
    known, background = training_quickdraw(classes, data.classes)
    assert len(held) == HELD_OUT * len(classes.shared) and right == [[y] for y in held.labels]
    keys = lambda d: {s.source_id for s in d.items}  # the Quick, Draw! key_id
    assert not keys(held) & keys(known)
    assert np.bincount(data.source).tolist() == [24, len(known), len(background)]
    assert (data.labels[data.source == BACKGROUND] == -1).all()
    assert set(data.labels[data.source == QUICKDRAW]) <= set(range(3))
    train_rows, test_rows, bg = data.rows(1, 5)
    assert (data.source[test_rows] == TU).all() and len(test_rows) == 9
    assert set(np.flatnonzero(data.source == QUICKDRAW)) <= set(train_rows)
    assert not set(test_rows) & set(train_rows) and (data.source[bg] == BACKGROUND).all()


def test_recipe_run_with_ema_outliers_and_warm_start_resumes(mixed: tuple[Path, SharedClasses],
                                                            tmp_path: Path):
    path, _ = mixed
    common = ["--widths=(4,4,8,8)", "--fc=16", "--batch_size=3", "--train_per_class=5",
              "--threads=1", "--eval_items=0", "--norm=batch", "--ema_decay=0.9",
              "--label_smoothing=0.1", "--aug_angle_step=0.0", "--aug_scale=(0.8,1.15)",
              "--aug_thicken=0.5", "--bf16=True", f"--cache={path}"]
    train(configure(common + ["--epochs=1", f"--out_dir={tmp_path / 'a'}"]))
    first = torch.load(tmp_path / "a" / "ckpt.pt", weights_only=False)
    assert first["ema"] is not None
    assert not torch.equal(first["ema"]["layers.0.0.weight"], first["model"]["layers.0.0.weight"])
    run = ["--epochs=2", "--oe_weight=0.5", "--oe_batch=2", f"--init_from={tmp_path / 'a' / 'ckpt.pt'}",
           f"--out_dir={tmp_path / 'b'}"]
    whole = train(configure(common + run))
    steps = torch.load(tmp_path / "b" / "ckpt.pt", weights_only=False)["step"]
    # the same run stopped after one epoch and resumed ends with the same weights
    train(configure(common + run[:-1] + [f"--stop_at={steps // 2 + 3}", f"--out_dir={tmp_path / 'c'}"]))
    assert torch.load(tmp_path / "c" / "ckpt.pt", weights_only=False)["step"] == steps // 2 + 3
    resumed = train(configure(common + run[:-1] + ["--resume=True", f"--out_dir={tmp_path / 'c'}"]))
    assert torch.load(tmp_path / "c" / "ckpt.pt", weights_only=False)["step"] == steps
    for k, v in whole.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v, rtol=1e-4, atol=1e-5)
    averages = [torch.load(tmp_path / r / "ckpt.pt", weights_only=False)["ema"] for r in "bc"]
    for k, v in averages[0].items():  # the weight average goes on too, not restarted at resume
        torch.testing.assert_close(averages[1][k], v, rtol=1e-4, atol=1e-5)
    # the warm start's figures say what the network trained in all: both runs, first to last
    cycles = training_cycles(tmp_path / "b" / "ckpt.pt")
    assert [(Path(c["checkpoint"]).parent.name, c["epochs"]) for c in cycles] == [("a", 1), ("b", 2)]
    split = {"split": 1, "ten_view_accuracy": 0.5, "single_view_accuracy": 0.4, "epochs": 3,
             "cycles": cycles, "checkpoint": str(tmp_path / "b" / "ckpt.pt"),
             "snapshots": [c["checkpoint"] for c in cycles]}
    row, = protocol_runs({"splits": [split]})
    assert row["snapshots"] == split["snapshots"]  # the table names the networks that answered
    assert row["train_seconds"] == pytest.approx(sum(c["train_seconds"] for c in cycles), abs=0.1)
    assert row["cycles"] == cycles and row["recipe"]["epochs"] == 2
    results = {"protocol": "p", "splits": [split], "mean_ten_view_accuracy": 0.5,
               "mean_single_view_accuracy": 0.4}
    assert "split 1: 1 + 2 epochs" in protocol_metrics(results)["mean_ten_view_accuracy"]["protocol"]
    # the two cycle ends averaged: weights the mean, BatchNorm statistics measured again
    ends = [tmp_path / r / "ckpt.pt" for r in "ab"]
    avg = average_checkpoints(ends, bn_batches=2)
    ea, eb = first["ema"], torch.load(ends[1], weights_only=False)["ema"]
    w, bn = "layers.0.0.weight", "layers.0.1.running_mean"
    torch.testing.assert_close(avg["ema"][w], (ea[w] + eb[w]) / 2)
    assert not torch.equal(avg["ema"][bn], eb[bn]) and not torch.equal(avg["ema"][bn], ea[bn])
    torch.save(avg, tmp_path / "avg.pt")
    averaged = training_cycles(tmp_path / "avg.pt")
    assert [c["epochs"] for c in averaged] == [1, 2] and len(averaged[1]["averaged_from"]) == 2
    avg["config"] = avg["config"] | {"init_from": str(tmp_path / "gone.pt")}
    torch.save(avg, tmp_path / "orphan.pt")  # its start deleted: the chain says so and ends
    assert training_cycles(tmp_path / "orphan.pt")[0] == {"checkpoint": str(tmp_path / "gone.pt"),
                                                          "missing": True}
    assert torch.isfinite(load_checkpoint(tmp_path / "avg.pt")[0](torch.zeros(1, 1, 224, 224)).logits).all()
    net, _ = load_checkpoint(tmp_path / "b" / "ckpt.pt")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    assert torch.isfinite(net(torch.zeros(1, 1, 224, 224)).logits).all()
    # a snapshot ensemble of the chain: both cycle ends read every view, log-probabilities summed
    data = TuBerlinCache.load(path.parent / "tu.npy")
    r = evaluate_checkpoint(tmp_path / "b" / "ckpt.pt", data, tmp_path, save_features=False,
                            snapshots=True)
    assert r["snapshots"] == [str(e) for e in ends]
    _, test = split_indices(data.labels, 1, 5)
    members = [load_checkpoint(e) for e in ends]
    assert r["test_scale"] == view_scale(members[-1][1]["config"])  # each network's training mean
    summed = sum(view_log_probs(net, data, test, float(ck["mean"]), view_scale(ck["config"])).sum(1)
                 for net, ck in members)
    assert r["ten_view_accuracy"] == pytest.approx(float((summed.argmax(1) == data.labels[test]).mean()))
    pasted = evaluate_checkpoint(tmp_path / "b" / "ckpt.pt", data, tmp_path, save_features=False,
                                 snapshots=True, test_scale=1.0)  # the sketch as it is, no resampling
    plain = sum(view_log_probs(net, data, test, float(ck["mean"])).sum(1) for net, ck in members)
    assert pasted["test_scale"] == 1.0
    feats = tmp_path / "feats"
    feats.mkdir()
    assert features_scale(feats) == 1.0  # features saved before the view was recorded: the paste
    evaluate_checkpoint(tmp_path / "b" / "ckpt.pt", data, feats, save_features=True)
    assert features_scale(feats) == r["test_scale"]  # what a pack exported from them must ask for
    assert pasted["ten_view_accuracy"] == pytest.approx(float((plain.argmax(1) == data.labels[test]).mean()))
    alone = evaluate_checkpoint(tmp_path / "b" / "ckpt.pt", data, tmp_path, save_features=False)
    assert "snapshots" not in alone
    with pytest.raises(FileNotFoundError, match="gone.pt"):
        evaluate_checkpoint(tmp_path / "orphan.pt", data, tmp_path, save_features=False,
                            snapshots=True)


def test_quick_drawing_accuracy_is_broken_down_by_how_many_drawings_a_class_trained_on():
    names = ["anvil"] * 4 + ["barn"] * 4 + ["cat"] * 2
    rank = np.array([1, 2, 1, 1, 1, 3, 3, 3, 1, 1])
    assert by_training_size(rank, names, {"barn": 15, "cat": 100}) == {
        "0": {"classes": 1, "drawings": 4, "top1": 0.75},        # held out only: no key
        "1-20": {"classes": 1, "drawings": 4, "top1": 0.25},
        "61+": {"classes": 1, "drawings": 2, "top1": 1.0}}       # no class in 21-60: no group
    assert list(by_training_size(rank, names, {"barn": 20, "cat": 21})) == ["0", "1-20", "21-60"]

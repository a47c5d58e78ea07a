"""Stroke variants: each stroke moves a bounded amount about its own centre, the first stroke
always stays, a seed gives the same variant, and the mixed cache holds them beside each drawing."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from sketchpad import preprocess as pp
from sketchpad.ink import Sketch
from sketchpad.ink.sketch import Stroke
from training.deepsketch.data import QUICKDRAW, TuBerlinCache, build_cache, meta_path
from training.deepsketch.export_pack import mixed_training
from training.deepsketch.mixed import SharedClasses, build_mixed_cache, training_quickdraw
from training.stroke_jitter import StrokeJitter, stroke_variant

HOUSE = Sketch((Stroke.from_xy([0, 100, 100, 0, 0], [100, 100, 200, 200, 100]),   # walls
                Stroke.from_xy([0, 50, 100], [100, 0, 100]),                       # roof
                Stroke.from_xy([40, 40, 60, 60], [200, 150, 150, 200])), label="house")


def diameter(stroke: Stroke) -> float:
    xy = stroke.points[:, :2]
    return float(np.linalg.norm(xy[:, None] - xy[None], axis=2).max())


def test_each_stroke_moves_a_bounded_amount_about_its_centre():
    jitter = StrokeJitter(drop=0.0)
    for seed in range(20):
        out = stroke_variant(HOUSE, np.random.default_rng(seed), jitter)
        assert len(out) == 3 and out.label == "house"
        for a, b in zip(HOUSE.strokes, out.strokes):
            move = np.abs(b.points[:, :2].mean(0) - a.points[:, :2].mean(0))
            assert (move < (jitter.shift + 3 * jitter.noise) * 200).all()  # 200: the longer side
            spread = diameter(b) / diameter(a)  # a turn keeps it, the size factor scales it
            assert np.exp(-jitter.scale) - 0.05 < spread < np.exp(jitter.scale) + 0.05
            assert (b.points[:, 2:] == a.points[:, 2:]).all()  # time and pressure kept
    a, b = (stroke_variant(HOUSE, np.random.default_rng(s), jitter) for s in (1, 2))
    assert not np.allclose(a.all_points(), b.all_points())
    assert stroke_variant(HOUSE, np.random.default_rng(1), jitter) == a


def test_dropped_strokes_never_include_the_first():
    everything_goes = StrokeJitter(drop=1.0)
    out = stroke_variant(HOUSE, np.random.default_rng(0), everything_goes)
    assert len(out) == 1 and np.ptp(out.strokes[0].points[:, 1]) > 80  # the walls, turned a little
    kept = [len(stroke_variant(HOUSE, np.random.default_rng(s))) for s in range(200)]
    assert min(kept) >= 1 and 2.6 < np.mean(kept) < 2.9  # 1 + 2 × 0.9 on average


def test_mixed_cache_renders_variants_beside_each_drawing(tmp_path: Path, data_root: Path):
    variants = 2
    tu = build_cache(data_root / "tu-berlin", tmp_path / "tu.npy", workers=1, n_classes=3, per_class=4)
    classes = SharedClasses.read(TuBerlinCache.load(tu).classes, data_root / "quickdraw")
    classes = dataclasses.replace(classes, background=classes.background[:1])
    known, background = training_quickdraw(classes, TuBerlinCache.load(tu).classes)
    path = build_mixed_cache(tu, tmp_path / "mixed.npy", data_root / "quickdraw", classes, variants=variants)
    data, meta = TuBerlinCache.load(path), np.load(meta_path(path))
    quick = np.flatnonzero(data.source == QUICKDRAW)
    assert len(quick) == (1 + variants) * len(known)
    assert np.bincount(meta["variant"][quick]).tolist() == [len(known)] * (1 + variants)
    first = quick[:len(known)]
    width = pp.ConvNetRaster(size=224, content=180, mean=0.0).line_width
    assert (data.pictures[first[0]] == pp.render_sketch(known.items[0], 180, width)).all()
    for v in range(1, 1 + variants):
        rows = quick[v * len(known):(v + 1) * len(known)]
        assert (data.labels[rows] == data.labels[first]).all()
        assert (data.ids[rows] == data.ids[first]).all()
        ink, again = data.pictures[first] > 127, data.pictures[rows] > 127
        assert not (ink == again).all((1, 2)).any()  # every variant differs from its drawing
        # ... and is still mostly where the drawing is (dilated overlap of the inked pixels)
        near = np.mean([(np.convolve(a.ravel(), np.ones(9), "same") > 0)[b.ravel()].mean()
                        for a, b in zip(ink, again)])
        assert near > 0.3
    assert len(data.labels) == 12 + (1 + variants) * len(known) + len(background)
    said = mixed_training({"cache": str(path), "train_per_class": 3})  # the manifest's words
    assert said.startswith(f"{len(known)} Quick, Draw! drawings of {len(set(known.labels))} shared "
                           f"classes, each also as {variants} stroke variants")

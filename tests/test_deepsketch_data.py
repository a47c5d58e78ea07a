"""The paper's protocol on the cached pictures: splits, distinct-class batches, views."""
from __future__ import annotations

import numpy as np

from sketchpad import preprocess as pp
from training.deepsketch.data import DistinctClassBatches, augment, split_indices, ten_views

LABELS = np.repeat(np.arange(250), 80)


def test_splits_are_53_27_per_class_disjoint_and_seeded():
    tr, te = split_indices(LABELS, 1)
    assert np.bincount(LABELS[tr]).tolist() == [53] * 250
    assert np.bincount(LABELS[te]).tolist() == [27] * 250
    assert not set(tr) & set(te)
    again, _ = split_indices(LABELS, 1)
    other, _ = split_indices(LABELS, 2)
    assert np.array_equal(tr, again) and not np.array_equal(tr, other)


def test_batches_have_distinct_classes_and_differ_by_rank():
    tr, _ = split_indices(LABELS, 1)
    b0 = list(DistinctClassBatches(LABELS, tr, 64, 5, seed=0, rank=0).epoch(0))
    b1 = list(DistinctClassBatches(LABELS, tr, 64, 5, seed=0, rank=1).epoch(0))
    for idx, _ in b0:
        assert len(set(LABELS[idx])) == 64 and set(idx) <= set(tr)
    assert not np.array_equal(b0[0][0], b1[0][0])


def test_views_paste_the_180_picture_into_224():
    pic = np.zeros((180, 180), np.uint8)
    pic[10:20, 5:15] = 255  # a blob near the top-left corner
    views = ten_views(pic)
    assert len(views) == 10 and all(v.shape == (224, 224) for v in views)
    assert np.array_equal(views[0], pp.place_in_canvas(pic, 224))  # the app's centre view
    assert np.array_equal(views[1], views[0][:, ::-1])  # mirrored centre
    assert views[2][10:20, 5:15].all()  # top-left corner, as drawn
    pic[85:95, 85:95] = 255  # ink inside the inscribed circle survives any rotation
    for seed in range(5):
        out = augment(pic, np.random.default_rng(seed))
        assert out.shape == (224, 224) and out.dtype == np.uint8
        assert (out == 255).sum() >= 60

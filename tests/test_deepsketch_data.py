"""The paper's protocol on the cached pictures: splits, distinct-class batches, views."""
from __future__ import annotations

import numpy as np

from sketchpad import preprocess as pp
from training.deepsketch.data import PAPER_AUGMENT, Augment, DistinctClassBatches, augment, \
    split_indices, ten_views, view_scale

LABELS = np.repeat(np.arange(250), 80)


def test_splits_are_53_27_per_class_disjoint_and_seeded():
    tr, te = split_indices(LABELS, 1)
    assert np.bincount(LABELS[tr]).tolist() == [53] * 250
    assert np.bincount(LABELS[te]).tolist() == [27] * 250
    assert not set(tr) & set(te)
    again, _ = split_indices(LABELS, 1)
    other, _ = split_indices(LABELS, 2)
    assert np.array_equal(tr, again) and not np.array_equal(tr, other)


def test_batches_have_distinct_classes_and_ranks_share_out_one_epoch():
    tr, _ = split_indices(LABELS, 1)
    ranks = [DistinctClassBatches(LABELS, tr, 64, seed=0, rank=r, world=2) for r in (0, 1)]
    assert ranks[0].global_batches == len(tr) // 64 == 207  # 2 of 13,250 sketches left out
    epoch = [[next(b) for _ in range(s.batches_per_epoch)] for s, b in ((s, iter(s)) for s in ranks)]
    assert [len(e) for e in epoch] == [103, 103]  # the 207th global batch would leave ranks unequal
    for batch in epoch[0] + epoch[1]:
        assert len(set(LABELS[batch.indices])) == 64 and set(batch.indices) <= set(tr)
    seen = np.concatenate([b.indices for b in epoch[0] + epoch[1]])
    assert len(set(seen.tolist())) == len(seen) == 206 * 64  # no sketch twice, across ranks
    counts = np.bincount(LABELS[seen], minlength=250)
    assert counts.max() - counts.min() <= 1  # the classes run down evenly
    again = DistinctClassBatches(LABELS, tr, 64, seed=0, rank=0, world=2)
    assert np.array_equal(next(iter(again)).indices, epoch[0][0].indices)
    assert not np.array_equal(again.global_batch(1, 0), epoch[0][0].indices)  # a new epoch


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


def test_the_test_views_are_the_typical_training_view_resampled_as_training_views_are():
    cfg = {"aug_scale": (0.8, 1.15)}  # the recipe's jitter
    assert view_scale(cfg) == 0.975 and view_scale({}) == 1.0 == PAPER_AUGMENT.scale[0]
    pic = np.zeros((180, 180), np.uint8)
    pic[:, 88:92] = 255  # a bar from edge to edge
    views = ten_views(pic, 0.975)
    assert np.array_equal(views[0], pp.place_in_canvas(pic, 224, scale=0.975))  # the app's view
    assert np.array_equal(views[1], views[0][:, ::-1])
    # the size is that of an augment() warp at the same scale, no rotation, no other jitter
    rng = np.random.default_rng(0)
    still = Augment(angle=0.0, angle_step=0.0, scale=(0.975, 0.975))
    warped = augment(pic, rng, still)
    rows = np.flatnonzero(views[0].max(1) > 0)
    assert len(rows) == len(np.flatnonzero(warped.max(1) > 0)) == 176  # 180 × 0.975 rounded out
    # in the ink's middle the resampled view and OpenCV's warp differ by at most one grey level
    shift = np.flatnonzero(warped.max(0))[0] - np.flatnonzero(views[0].max(0))[0]
    dr = np.flatnonzero(warped.max(1))[0] - rows[0]
    same = np.roll(np.roll(views[0], dr, 0), shift, 1)
    assert np.abs(same.astype(int) - warped.astype(int)).max() <= 1

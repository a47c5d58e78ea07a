"""Exact, resumable epochs through the loader both trainers use (``training.loader``): two ranks
of two workers see every row once per epoch; a loader stopped mid-epoch and restored gives the
batches an uninterrupted one gives, with the same or another worker count; the trainers' own
checkpoints hold that position. DSN rows and TU-Berlin distinct-class batches alike."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dsn_tiny import build_tiny_cache, tiny_args  # noqa: E402
from training.deepsketch.data import DistinctClassBatches, TrainViews  # noqa: E402
from training.deepsketch.data import build_cache as build_tu_cache  # noqa: E402
from training.dsn.data import ShardBlockBatches, TrainShards  # noqa: E402
from training.loader import loader_state, make_loader, restore  # noqa: E402


@pytest.fixture(scope="module")
def dsn_rows(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> TrainShards:
    cache = build_tiny_cache(data_root, tmp_path_factory.mktemp("dsn") / "cache")
    return TrainShards(cache, 32, seed=3, flip=0.5)


@pytest.fixture(scope="module")
def tu_views(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> TrainViews:
    cache = build_tu_cache(data_root / "tu-berlin", tmp_path_factory.mktemp("tu") / "c.npy",
                           workers=1, n_classes=6, per_class=4)
    return TrainViews(cache, 0.1, seed=3)


def dsn_sampler(rows: TrainShards, rank: int, world: int, batch: int = 5, **kw) -> ShardBlockBatches:
    return ShardBlockBatches([n for _, n in rows.shards], batch, rank, world, seed=11, block=2, **kw)


def tu_sampler(views: TrainViews, rank: int, world: int) -> DistinctClassBatches:
    data = views.data
    return DistinctClassBatches(data.labels, np.arange(len(data.labels)), 3, 11, rank, world)


def take(loader, n: int) -> list[dict[str, torch.Tensor]]:
    it = iter(loader)
    return [next(it) for _ in range(n)]


def seen_in_one_epoch(dataset, make_sampler, world: int = 2, workers: int = 2) -> np.ndarray:
    indices = []
    for rank in range(world):
        sampler = make_sampler(rank, world)
        loader = make_loader(dataset, sampler, num_workers=workers)
        indices += [b["index"].numpy() for b in take(loader, sampler.batches_per_epoch)]
    return np.concatenate(indices)


def test_two_ranks_of_two_workers_see_each_dsn_row_once_per_epoch(dsn_rows: TrainShards) -> None:
    n = len(dsn_rows)
    assert n % 10 == 0  # 2 ranks × batch 5 divide it: nothing dropped
    seen = seen_in_one_epoch(dsn_rows, lambda r, w: dsn_sampler(dsn_rows, r, w))
    assert sorted(seen.tolist()) == list(range(n))
    # batch 4: 110 = 13 × 8 + 6, so 6 rows (the end of this epoch's order) are dropped ...
    seen = seen_in_one_epoch(dsn_rows, lambda r, w: dsn_sampler(dsn_rows, r, w, batch=4))
    assert len(set(seen.tolist())) == len(seen) == n - n % 8
    # ... or, without drop_last, the last global batches are filled from the start (2 repeats)
    seen = seen_in_one_epoch(dsn_rows, lambda r, w: dsn_sampler(dsn_rows, r, w, batch=4, drop_last=False))
    assert set(seen.tolist()) == set(range(n)) and len(seen) == n + (-n) % 8


def test_two_ranks_of_two_workers_never_share_a_tu_berlin_sketch(tu_views: TrainViews) -> None:
    labels = tu_views.data.labels
    seen = seen_in_one_epoch(tu_views, lambda r, w: tu_sampler(tu_views, r, w))
    assert len(set(seen.tolist())) == len(seen) == 24  # 6 classes × 4, batches of 3: all of them
    for rank in range(2):
        for b in take(make_loader(tu_views, tu_sampler(tu_views, rank, 2)), 4):
            assert len(set(labels[b["index"].numpy()])) == 3  # distinct classes


def test_every_epoch_is_a_new_order_from_seed_and_epoch(dsn_rows: TrainShards) -> None:
    per_epoch = dsn_sampler(dsn_rows, 0, 1).batches_per_epoch
    first, second = np.split(np.concatenate(
        [b["index"].numpy() for b in take(make_loader(dsn_rows, dsn_sampler(dsn_rows, 0, 1)),
                                          2 * per_epoch)]), 2)
    assert sorted(first) == sorted(second) and not np.array_equal(first, second)
    again = np.concatenate([b["index"].numpy() for b in
                            take(make_loader(dsn_rows, dsn_sampler(dsn_rows, 0, 1)), per_epoch)])
    assert np.array_equal(first, again)


@pytest.mark.parametrize("kind", ["dsn", "tu"])
@pytest.mark.parametrize("workers_after", [2, 0, 1])
def test_resumed_mid_epoch_gives_the_uninterrupted_batches(kind: str, workers_after: int,
                                                           dsn_rows, tu_views) -> None:
    dataset = dsn_rows if kind == "dsn" else tu_views
    sampler = (lambda: dsn_sampler(dsn_rows, 1, 2)) if kind == "dsn" else (lambda: tu_sampler(tu_views, 1, 2))
    per_epoch = sampler().batches_per_epoch
    stop = per_epoch // 2 + 1  # mid-epoch; the next batches run into the next epoch
    loader = make_loader(dataset, sampler(), num_workers=2)
    it = iter(loader)
    for _ in range(stop):
        next(it)
    saved = loader_state(loader)  # what a checkpoint keeps
    expected = [next(it) for _ in range(per_epoch)]
    resumed = make_loader(dataset, sampler(), num_workers=workers_after)
    restore(resumed, saved, consumed=stop)
    for want, got in zip(expected, take(resumed, per_epoch)):
        assert want.keys() == got.keys()
        for k in want:  # rows, flips and augmented views alike
            assert torch.equal(want[k], got[k]), k


def test_the_dsn_checkpoint_keeps_the_loaders_position(dsn_rows: TrainShards, tmp_path: Path) -> None:
    from training.dsn.train import parse_config, run
    args = tiny_args(dsn_rows.cache, tmp_path / "run", steps_epochs=0.7) + [
        "--eval_interval=3", "--log_interval=3", "--num_workers=1"]
    cfg = parse_config(args)
    run(cfg)
    ck = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=False)
    steps = ck["step"]
    assert 0 < steps and ck["loader"]["num_workers"] == 1
    reference = make_loader(TrainShards(dsn_rows.cache, 32, cfg["seed"], cfg["flip"]),
                            ShardBlockBatches([n for _, n in dsn_rows.shards], 8, seed=cfg["seed"]))
    want = take(reference, steps + 2)[steps:]
    resumed = make_loader(TrainShards(dsn_rows.cache, 32, cfg["seed"], cfg["flip"]),
                          ShardBlockBatches([n for _, n in dsn_rows.shards], 8, seed=cfg["seed"]),
                          num_workers=1)
    restore(resumed, ck["loader"], steps)
    for a, b in zip(want, take(resumed, 2)):
        assert torch.equal(a["index"], b["index"]) and torch.equal(a["img"], b["img"])

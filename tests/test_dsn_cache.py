"""The streaming, parallel cache builder (``training.dsn.build``) makes the cache the first,
in-memory builder made — the same rows, bit for bit, in another order — so the shipped packs'
figures do not move; its content does not depend on the worker count; caches of the first
layout still read; ``max_per_class`` bounds what is read, and evaluation reads the same split."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from sketchpad import preprocess as pp  # noqa: E402
from training.dsn.build import build_cache  # noqa: E402
from training.dsn.data import (DataConfig, ShardBlockBatches, TrainShards, collect,  # noqa: E402
                               load_meta, load_split)
from training.loader import Batch  # noqa: E402

GOLDEN = DataConfig(classes=("airplane", "alarm clock", "calculator"), train_cap=24, val_cap=6,
                    test_cap=6, shard_size=16)  # "alarm clock" is a sketch-rnn .npz class
FROZEN = Path(__file__).parent / "data" / "dsn_cache_v1.json"
KEYS = ("img32", "strokes", "lengths", "labels")


def digest(arrays, i: int) -> str:
    """The digest ``tests/data/dsn_cache_v1.json`` keeps of one cached row."""
    return hashlib.sha256(b"".join(np.ascontiguousarray(arrays[k][i]).tobytes()
                                   for k in KEYS)).hexdigest()[:20]


@pytest.fixture(scope="module")
def golden_cache(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    out = tmp_path_factory.mktemp("golden") / "cache"
    build_cache(data_root / "quickdraw", out, GOLDEN, sizes=(32,), workers=2, streams=2)
    return out


def test_new_builder_makes_the_rows_of_the_in_memory_builder(golden_cache: Path) -> None:
    frozen = json.loads(FROZEN.read_text())
    meta = load_meta(golden_cache)
    for key in ("classes", "drawings_per_class", "split_counts", "entropy_dropped_per_class",
                "train_kept", "train_kept_whole", "train_prefixes", "stroke3", "order_raster_mean"):
        assert meta[key] == frozen[key], key
    for split in ("val", "test"):  # same drawings, same order, same tensors
        d = load_split(golden_cache, split, 32)
        assert [[str(d["source_ids"][i]), digest(d, i)] for i in range(len(d["labels"]))] == frozen[split]
    rows = []
    for name, n in meta["train_shards"]:  # whole drawings and prefixes: the same multiset
        arrays = {k: np.load(golden_cache / "train" / name / f"{k}.npy") for k in KEYS}
        rows += [digest(arrays, i) for i in range(n)]
    assert sorted(rows) == frozen["train"]


def test_content_does_not_depend_on_the_worker_count(golden_cache: Path, tmp_path: Path,
                                                      data_root: Path) -> None:
    one = tmp_path / "one"
    build_cache(data_root / "quickdraw", one, GOLDEN, sizes=(32,), workers=1, streams=2)
    meta = load_meta(one)
    assert meta["train_shards"] == load_meta(golden_cache)["train_shards"]
    for name, _ in meta["train_shards"]:
        for f in (one / "train" / name).iterdir():
            assert f.read_bytes() == (golden_cache / "train" / name / f.name).read_bytes()
    for split in ("val.npz", "test.npz"):
        with np.load(one / split) as a, np.load(golden_cache / split) as b:
            assert all(np.array_equal(a[k], b[k]) for k in a.files)


def test_cached_rows_are_the_apps_preprocessing_of_the_split_evaluation_reads(
        golden_cache: Path, data_root: Path) -> None:
    meta = load_meta(golden_cache)
    spec = pp.spec_from_dict(meta["stroke3"])
    _, splits, _ = collect(data_root / "quickdraw", GOLDEN)  # what evaluate/export read again
    test = load_split(golden_cache, "test", 32)
    assert [s.source_id for s in splits["test"].sketches] == test["source_ids"].tolist()
    for i in (0, 7, 17):
        sketch = splits["test"].sketches[i]
        assert np.array_equal(test["img32"][i], pp.order_canvas(sketch, 32, pp.OrderRaster().line_width))
        strokes, n = pp.stroke3_input(sketch, spec)
        assert np.array_equal(test["strokes"][i], strokes) and test["lengths"][i] == n


def test_a_cache_of_the_first_layout_reads_the_same(golden_cache: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    (old / "train").mkdir(parents=True)
    meta = load_meta(golden_cache)
    for i, (name, _) in enumerate(meta["train_shards"]):  # train/shard_XXX.npz, no shard table
        np.savez(old / "train" / f"shard_{i:03d}.npz",
                 **{k: np.load(golden_cache / "train" / name / f"{k}.npy") for k in KEYS})
    del meta["train_shards"], meta["format"]
    (old / "meta.json").write_text(json.dumps(meta))
    new_rows, old_rows = TrainShards(golden_cache, 32, flip=0.0), TrainShards(old, 32, flip=0.0)
    assert len(new_rows) == len(old_rows) == meta["train_kept"]
    batch = Batch(0, 0, np.array([5, 0, len(new_rows) - 1, 40, 17]))
    a, b = new_rows.__getitems__(batch), old_rows.__getitems__(batch)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    sampler = ShardBlockBatches([n for _, n in old_rows.shards], 8)
    assert sampler.batches_per_epoch == meta["train_kept"] // 8


def test_max_per_class_bounds_what_is_read(tmp_path: Path, data_root: Path) -> None:
    cfg = DataConfig(classes=("airplane", "alarm clock"), max_per_class=60, train_cap=0,
                     val_cap=0, prefix_copies=0, shard_size=32)
    meta = build_cache(data_root / "quickdraw", tmp_path / "c", cfg, sizes=(28,), workers=1)
    assert meta["drawings_per_class"] == [60, 60]
    assert meta["split_counts"] == {"train": [48, 48], "val": [6, 6], "test": [6, 6]}
    assert meta["train_prefixes"] == 0 and meta["stroke3_fit"]["drawings"] == 96
    _, splits, totals = collect(data_root / "quickdraw", cfg)
    assert list(totals.values()) == [60, 60]
    assert [s.source_id for s in splits["val"].sketches] == \
        load_split(tmp_path / "c", "val")["source_ids"].tolist()
    shutil.rmtree(tmp_path / "c")

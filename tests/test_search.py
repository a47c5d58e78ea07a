"""Annoy search on the tiny pack, measured against exact (numpy) neighbours."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from packcopy import copy_pack
from sketchpad.pack import DEPTHS, PackError, load_pack
from sketchpad.runtime import LoadedPack
from sketchpad.search import Searcher, index_vectors
from training.export import exact_neighbours


@pytest.fixture(scope="module")
def loaded(tiny_pack_dir: Path) -> LoadedPack:
    return LoadedPack.open(tiny_pack_dir, prefer_gpu=False)


def gallery_vectors(loaded: LoadedPack, depth: str) -> np.ndarray:
    return index_vectors(loaded.searcher.indexes[depth])


@pytest.mark.parametrize("depth", DEPTHS)
def test_recall_at_10_against_exact_search(loaded: LoadedPack, depth: str) -> None:
    feats = gallery_vectors(loaded, depth)
    exact = exact_neighbours(feats, feats, loaded.pack.features[depth].metric, 10)
    found = [{n.gallery_id for n in loaded.searcher.query(depth, f, 10)} for f in feats]
    recall = np.mean([len(f & set(e)) / 10 for f, e in zip(found, exact)])
    assert recall >= 0.9
    assert recall == pytest.approx(loaded.pack.features[depth].info["annoy"]["recall_at_10"],
                                   abs=0.1)


@pytest.mark.parametrize("depth", DEPTHS)
def test_neighbours_are_sorted_with_gallery_labels(loaded: LoadedPack, depth: str) -> None:
    hits = loaded.searcher.query(depth, gallery_vectors(loaded, depth)[7], 6)
    assert len(hits) == 6 and hits[0].gallery_id == 7 and hits[0].distance == pytest.approx(0, abs=1e-3)
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)
    assert all(h.label == loaded.gallery.labels[h.gallery_id] for h in hits)


def test_analyse_queries_every_depth(loaded: LoadedPack) -> None:
    sketch = loaded.gallery.sketch(3)
    result = loaded.analyse(sketch, k=4)
    assert set(result.neighbours) == set(DEPTHS)
    assert all(len(v) == 4 for v in result.neighbours.values())


def test_index_of_another_gallery_size_is_rejected(tiny_pack_dir: Path, tmp_path: Path) -> None:
    path = copy_pack(tiny_pack_dir, tmp_path / "tiny")
    (path / "index_high.ann").write_bytes((path / "index_mid.ann").read_bytes()[:4096])
    with pytest.raises(PackError, match="index_high.ann"):
        LoadedPack(load_pack(path, verify_hashes=False), prefer_gpu=False)


def test_reindex_rebuilds_from_the_stored_vectors_and_the_app_uses_the_new_search_k(
        loaded: LoadedPack, tiny_pack_dir: Path, tmp_path: Path) -> None:
    from training.export import reindex_pack
    pack_dir = copy_pack(tiny_pack_dir, tmp_path / "re")
    built = reindex_pack(pack_dir, n_trees=3, search_k=123)
    again = LoadedPack.open(pack_dir, prefer_gpu=False)   # sha256 of the new files recorded
    for depth in DEPTHS:
        assert built[depth]["n_trees"] == 3 and 0 < built[depth]["recall_at_10"] <= 1
        assert again.pack.features[depth].info["annoy"] == built[depth]
        assert again.searcher.search_k[depth] == 123
        np.testing.assert_array_equal(gallery_vectors(again, depth), gallery_vectors(loaded, depth))
    assert "--trees 3 --search-k 123" in again.pack.manifest["training"]["reindex_command"]
    assert Searcher(again.pack, again.gallery.labels, search_k=7).search_k == {d: 7 for d in DEPTHS}

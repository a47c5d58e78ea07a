"""Annoy search on the tiny pack, measured against exact (numpy) neighbours; the index file
checked before Annoy maps it, and query arguments bounded."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from annoy import AnnoyIndex

from packcopy import copy_pack
from sketchpad.pack import DEPTHS, PackError, load_pack
from sketchpad.runtime import LoadedPack, open_pack
from sketchpad.search import MAX_K, Searcher, check_index, index_vectors, node_layout
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


# --- the index file is checked before Annoy maps it ------------------------------------------
def _nodes(path: Path, dim: int, metric: str = "angular") -> tuple[np.ndarray, int, int]:
    """The index as an int32 ``[nodes, words]`` array, the children's column and slot count."""
    node_bytes, children = node_layout(dim, metric)
    return (np.fromfile(path, "<i4").reshape(-1, node_bytes // 4), children // 4,
            (node_bytes - children) // 4)


def _damage(tiny_pack_dir: Path, tmp_path: Path, edit) -> Path:
    """The tiny pack with its high index (dim 16: buckets of up to 18 items, so split nodes
    exist) edited in place by ``edit(nodes, children column, slots, items)``."""
    path = copy_pack(tiny_pack_dir, tmp_path / "tiny")
    index = path / "index_high.ann"
    nodes, c0, slots = _nodes(index, 16)
    edit(nodes, c0, slots, int(nodes[-1, 0]))
    nodes.tofile(index)
    return path


def _last_split(nodes: np.ndarray, slots: int) -> int:
    return int(np.flatnonzero(nodes[:, 0] > slots)[-1])


def _first_bucket(nodes: np.ndarray, slots: int, items: int) -> int:
    nd = nodes[:, 0]
    return int(np.flatnonzero((np.arange(len(nd)) >= items) & (nd >= 2) & (nd <= slots))[0])


def _set_children(value):
    def edit(nodes, c0, slots, items):
        i = _last_split(nodes, slots)
        nodes[i, c0:c0 + 2] = value(i)
    return edit


def _set_bucket_id(nodes, c0, slots, items):
    nodes[_first_bucket(nodes, slots, items), c0 + 1] = items + 5


def _set_nd(row, value):
    def edit(nodes, c0, slots, items):
        nodes[row(nodes, slots, items), 0] = value
    return edit


@pytest.mark.parametrize("edit, reason", [
    (_set_children(lambda i: 2 ** 30), "a split node points at a node that does not precede it"),
    (_set_children(lambda i: -1), "a split node points at a node that does not precede it"),
    (_set_children(lambda i: i), "a split node points at a node that does not precede it"),
    (_set_bucket_id, "a bucket lists an item id outside the index"),
    (_set_nd(lambda n, s, items: items + 3, -3), r"node \d+ claims -3 descendants"),
    (_set_nd(lambda n, s, items: items + 3, 10 ** 6), r"node \d+ claims 1000000 descendants"),
    (_set_nd(lambda n, s, items: 7, 5), "item node 7 is not a leaf"),
    (_set_nd(lambda n, s, items: len(n) - 1, 119), "it holds 119 items, the gallery 120"),
])
def test_damaged_index_is_refused_before_annoy_maps_it(tiny_pack_dir: Path, tmp_path: Path, edit,
                                                       reason: str) -> None:
    path = _damage(tiny_pack_dir, tmp_path, edit)
    with pytest.raises(PackError, match=f"index_high.ann is damaged: {reason}"):
        open_pack(load_pack(path, verify_hashes=False), prefer_gpu=False)


def test_unchecked_annoy_dies_on_the_file_the_check_refuses(tiny_pack_dir: Path,
                                                            tmp_path: Path) -> None:
    """Why the check exists: Annoy itself follows the bad child id out of its mapping."""
    path = _damage(tiny_pack_dir, tmp_path, _set_children(lambda i: 2 ** 30))
    code = ("from annoy import AnnoyIndex; a = AnnoyIndex(16, 'angular'); "
            f"a.load({str(path / 'index_high.ann')!r}); a.get_nns_by_vector([0.1] * 16, 10)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGSEGV
    with pytest.raises(ValueError, match="does not precede it"):
        check_index(path / "index_high.ann", 16, "angular", 120)


@pytest.mark.parametrize("damage, reason", [
    (lambda b: b[:-7], "is not a whole number of 76-byte nodes"),
    (lambda b: b"", "is not a whole number"),
    (lambda b: b[: 76 * 120], "it has no trees|it holds 1 items"),
])
def test_truncated_index_is_refused(tiny_pack_dir: Path, tmp_path: Path, damage, reason) -> None:
    path = copy_pack(tiny_pack_dir, tmp_path / "tiny")
    index = path / "index_high.ann"
    index.write_bytes(damage(index.read_bytes()))
    with pytest.raises(PackError, match=f"index_high.ann is damaged: .*({reason})"):
        open_pack(load_pack(path, verify_hashes=False), prefer_gpu=False)


def test_index_read_with_another_metric_is_refused(tiny_pack_dir: Path, tmp_path: Path) -> None:
    path = copy_pack(tiny_pack_dir, tmp_path / "tiny",
                     lambda m: m["features"]["high"].update(metric="euclidean"))
    with pytest.raises(PackError, match="index_high.ann is damaged"):
        open_pack(path, prefer_gpu=False)


@pytest.mark.parametrize("metric", ["angular", "euclidean", "manhattan", "dot", "hamming"])
@pytest.mark.parametrize("dim, n", [(5, 3), (16, 200), (70, 300)])
def test_check_accepts_what_annoy_writes(tmp_path: Path, metric: str, dim: int, n: int) -> None:
    """The node layouts in ``sketchpad.search`` are Annoy's own, for every metric."""
    rng = np.random.default_rng(dim + n)
    built = AnnoyIndex(dim, metric)
    for i in range(n):
        v = rng.random(dim) > 0.5 if metric == "hamming" else rng.normal(size=dim)
        built.add_item(i, v.astype(float).tolist())
    built.build(4, n_jobs=1)
    built.save(str(tmp_path / "i.ann"))
    shape = check_index(tmp_path / "i.ann", dim, metric, n)
    assert shape.items == n and shape.nodes * shape.node_bytes == (tmp_path / "i.ann").stat().st_size
    assert shape.roots >= built.get_n_trees() >= 1


def test_query_arguments_are_checked(loaded: LoadedPack) -> None:
    v = gallery_vectors(loaded, "mid")[0]
    for k in (0, -1, MAX_K + 1, 99_999_999_999, True, 2.0):
        with pytest.raises(ValueError, match="k must be an integer from 1 to 1000"):
            loaded.searcher.query("mid", v, k)
    with pytest.raises(ValueError, match="a mid query needs 64 values, got shape"):
        loaded.searcher.query("mid", v[:10], 3)
    with pytest.raises(PackError, match="feat_mid is not finite"):
        loaded.searcher.query("mid", np.full(64, np.nan, np.float32), 3)
    assert len(loaded.searcher.query("mid", v, MAX_K)) == len(loaded.gallery)

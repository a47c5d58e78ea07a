"""Nearest gallery sketches per depth, from the pack's memory-mapped Annoy indexes.

Annoy trusts its file: ``load`` only checks that the size is a multiple of the node size, and a
query follows whatever child ids the nodes hold, so a damaged index reads outside the mapping and
kills the process (signal 11). :func:`check_index` therefore reads the file first, with numpy on a
memory map, and proves what a query relies on before :meth:`AnnoyIndex.load` sees it.

Annoy 1.17.3's file (``annoylib.h``; checked against files the installed module writes, in
``tests/test_search.py``) is an array of equal nodes, items first (node ``i`` = item ``i``), then
the trees, then a copy of each root at the end. A node is ``int32 n_descendants``, then per metric:

* angular: ``int32 children[2]`` (a union with ``float norm``), ``float v[f]``;
* euclidean, manhattan: ``float a``, ``int32 children[2]``, ``float v[f]``;
* dot: ``int32 children[2]``, ``float dot_factor``, ``float v[f]``;
* hamming: ``int32 children[2]``, 4 bytes of padding, ``uint64 v[ceil(f / 64)]``.

``n_descendants`` says what a node is: 1 for an item; up to ``K`` (the int32 slots from
``children`` to the node's end) for a bucket whose ``children`` run lists that many item ids; more
for a split node whose two children are node ids. The items count is the last node's
``n_descendants`` (the roots, at the end, span every item), as ``load`` finds it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

from .pack import Pack, PackError

#: The largest ``k`` a query may ask for (the CLI's ``--k`` is bounded by it too).
MAX_K = 1000
#: Metric → (byte offset of ``children``, byte offset of ``v``, bytes per element of ``v``).
_LAYOUT = {"angular": (4, 12, 4), "euclidean": (8, 16, 4), "manhattan": (8, 16, 4),
           "dot": (4, 16, 4), "hamming": (4, 16, 8)}


@dataclass(frozen=True)
class Neighbour:
    """A gallery sketch near the query: its gallery row, class index and distance."""

    gallery_id: int
    label: int
    distance: float


@dataclass(frozen=True)
class IndexShape:
    """What :func:`check_index` found: node size and count, items, roots."""

    node_bytes: int
    nodes: int
    items: int
    roots: int


def node_layout(dim: int, metric: str) -> tuple[int, int]:
    """(bytes per node, byte offset of ``children``) of an Annoy 1.17.3 index."""
    children, v, element = _LAYOUT[metric]
    words = math.ceil(dim / 64) if metric == "hamming" else dim
    return v + element * words, children


def check_index(path: Path, dim: int, metric: str, n_items: int) -> IndexShape:
    """Prove that every query on the index at ``path`` stays inside it; raises ValueError.

    Items ``0 .. n_items-1`` must be leaves; every bucket may list only item ids; every split
    node's children must come before it in the file (Annoy writes children first), which keeps
    them inside the file and makes every tree finite; and for hamming, a split node's bit index
    must lie inside the vector. Vectorised over all nodes: about 1 ms for a 20 000-item index."""
    node_bytes, children = node_layout(dim, metric)
    size = path.stat().st_size
    if size == 0 or size % node_bytes:
        raise ValueError(f"its size ({size} bytes) is not a whole number of {node_bytes}-byte "
                         f"nodes (dim {dim}, {metric})")
    n_nodes = size // node_bytes
    if n_nodes >= 2 ** 31:
        raise ValueError(f"it has {n_nodes} nodes, more than Annoy can count")
    words = np.memmap(path, dtype="<i4", mode="r", shape=(n_nodes, node_bytes // 4))
    nd = np.array(words[:, 0])
    items = int(nd[-1])
    if items != n_items:
        raise ValueError(f"it holds {items} items, the gallery {n_items}")
    if n_nodes <= items:
        raise ValueError("it has no trees")
    if (nd[:items] != 1).any():
        raise ValueError(f"item node {int(np.flatnonzero(nd[:items] != 1)[0])} is not a leaf")
    inner = nd[items:]
    if (inner < 1).any() or (inner > items).any():
        bad = items + int(np.flatnonzero((inner < 1) | (inner > items))[0])
        raise ValueError(f"node {bad} claims {int(nd[bad])} descendants")
    c0, slots = children // 4, (node_bytes - children) // 4
    ids = np.arange(items, n_nodes)
    bucket = inner <= slots
    listed = np.asarray(words[ids[bucket], c0:])
    in_use = np.arange(slots) < inner[bucket, None]
    if (in_use & ((listed < 0) | (listed >= items))).any():
        raise ValueError("a bucket lists an item id outside the index")
    split = ids[~bucket]
    kids = np.asarray(words[split, c0:c0 + 2])
    if ((kids < 0) | (kids >= split[:, None])).any():
        raise ValueError("a split node points at a node that does not precede it")
    if metric == "hamming" and len(split):
        bits = np.memmap(path, dtype="<u8", mode="r", shape=(n_nodes, node_bytes // 8))
        if (np.asarray(bits[split, 2]) >= 64 * math.ceil(dim / 64)).any():
            raise ValueError("a split node tests a bit outside the vector")
    roots = int(np.argmax(nd[::-1] != items)) if (nd != items).any() else n_nodes
    return IndexShape(node_bytes, n_nodes, items, roots)


def index_vectors(index: AnnoyIndex) -> np.ndarray:
    """Every vector an index holds, ``[n, dim]`` float32, in gallery order."""
    return np.array([index.get_item_vector(i) for i in range(index.get_n_items())], np.float32)


class Searcher:
    """One Annoy index per depth, memory-mapped (loading costs no copy of the index), each
    checked by :func:`check_index` against the gallery before Annoy maps it.

    Each depth is queried with the ``search_k`` its manifest records (``features.<depth>.annoy``),
    the setting its recall was measured with; ``search_k`` overrides it for every depth.
    """

    def __init__(self, pack: Pack, labels: np.ndarray, search_k: int | None = None):
        self.pack = pack
        self.labels = labels
        self.search_k = {d: spec.search_k if search_k is None else search_k
                         for d, spec in pack.features.items()}
        self.indexes: dict[str, AnnoyIndex] = {}
        for depth, spec in pack.features.items():
            where = f"pack {pack.name!r}: index {spec.index.name}"
            try:
                check_index(spec.index, spec.dim, spec.metric, len(labels))
                index = AnnoyIndex(spec.dim, spec.metric)
                index.load(str(spec.index), prefault=False)
            except ValueError as exc:
                raise PackError(f"{where} is damaged: {exc}") from None
            except OSError as exc:
                raise PackError(f"{where} does not load ({exc})") from None
            self.indexes[depth] = index

    def query(self, depth: str, vector: np.ndarray, k: int = 8) -> list[Neighbour]:
        """The ``k`` nearest gallery sketches (1 ≤ k ≤ :data:`MAX_K`) to a ``dim``-vector.

        A vector that is not finite (a model gone wrong) raises :class:`PackError`; a wrong
        ``k`` or length is a caller's mistake and raises ValueError."""
        spec = self.pack.features[depth]
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= MAX_K:
            raise ValueError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")
        v = np.asarray(vector, np.float32)
        if v.shape != (spec.dim,):
            raise ValueError(f"a {depth} query needs {spec.dim} values, got shape {v.shape}")
        if not np.isfinite(v).all():
            raise PackError(f"pack {self.pack.name!r}: the convnet's {spec.output} is not finite "
                            "for this drawing")
        ids, dists = self.indexes[depth].get_nns_by_vector(v.tolist(), int(k),
                                                           search_k=self.search_k[depth],
                                                           include_distances=True)
        return [Neighbour(i, int(self.labels[i]), float(d)) for i, d in zip(ids, dists)]

    def query_all(self, features: dict[str, np.ndarray], k: int = 8) -> dict[str, list[Neighbour]]:
        return {d: self.query(d, features[d], k) for d in self.indexes if d in features}

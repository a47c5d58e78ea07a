"""Nearest gallery sketches per depth, from the pack's memory-mapped Annoy indexes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from annoy import AnnoyIndex

from .pack import Pack, PackError


@dataclass(frozen=True)
class Neighbour:
    """A gallery sketch near the query: its gallery row, class index and distance."""

    gallery_id: int
    label: int
    distance: float


def index_vectors(index: AnnoyIndex) -> np.ndarray:
    """Every vector an index holds, ``[n, dim]`` float32, in gallery order."""
    return np.array([index.get_item_vector(i) for i in range(index.get_n_items())], np.float32)


class Searcher:
    """One Annoy index per depth, memory-mapped (loading costs no copy of the index).

    Each depth is queried with the ``search_k`` its manifest records (``features.<depth>.annoy``),
    the setting its recall was measured with; ``search_k`` overrides it for every depth.
    """

    def __init__(self, pack: Pack, labels: np.ndarray, search_k: int | None = None):
        self.pack = pack
        self.labels = labels
        self.search_k = {d: int(spec.info.get("annoy", {}).get("search_k", -1))
                         if search_k is None else search_k for d, spec in pack.features.items()}
        self.indexes: dict[str, AnnoyIndex] = {}
        for depth, spec in pack.features.items():
            index = AnnoyIndex(spec.dim, spec.metric)
            try:
                index.load(str(spec.index), prefault=False)
            except OSError as exc:
                raise PackError(f"pack {pack.name!r}: index {spec.index.name} does not load "
                                f"({exc})") from None
            if index.get_n_items() != len(labels):
                raise PackError(f"pack {pack.name!r}: index {spec.index.name} holds "
                                f"{index.get_n_items()} items, the gallery {len(labels)}")
            self.indexes[depth] = index

    def query(self, depth: str, vector: np.ndarray, k: int = 8) -> list[Neighbour]:
        index = self.indexes[depth]
        ids, dists = index.get_nns_by_vector(np.asarray(vector, np.float32).tolist(), k,
                                             search_k=self.search_k[depth],
                                             include_distances=True)
        return [Neighbour(i, int(self.labels[i]), float(d)) for i, d in zip(ids, dists)]

    def query_all(self, features: dict[str, np.ndarray], k: int = 8) -> dict[str, list[Neighbour]]:
        return {d: self.query(d, features[d], k) for d in self.indexes if d in features}

"""A pack ready to answer: engine + gallery + searcher, and one call from sketch to answer.

The app (on its worker thread) and the command line both go through :meth:`LoadedPack.analyse`,
so "what the window shows" and "what ``sketchpad classify`` prints" cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .engine import Engine, Prediction
from .gallery import Gallery
from .ink import Sketch
from .pack import Pack, load_pack
from .search import Neighbour, Searcher


@dataclass(frozen=True)
class Analysis:
    """The prediction for one sketch and its neighbours per depth."""

    prediction: Prediction
    neighbours: dict[str, list[Neighbour]]
    #: Gallery id → the neighbour's uint8 thumbnail (:meth:`Gallery.picture`), drawn on the
    #: worker thread so that showing an answer costs the GUI thread no rendering.
    pictures: dict[int, np.ndarray] = field(default_factory=dict)


class LoadedPack:
    """Everything the app needs of one pack; construction raises PackError with the reason."""

    def __init__(self, pack: Pack, prefer_gpu: bool = True, threads: int = 0):
        self.pack = pack
        self.engine = Engine(pack, prefer_gpu=prefer_gpu, threads=threads)
        self.gallery = Gallery(pack)
        self.searcher = Searcher(pack, self.gallery.labels)

    @classmethod
    def open(cls, path: str | Path, prefer_gpu: bool = True, threads: int = 0) -> "LoadedPack":
        return cls(load_pack(path), prefer_gpu=prefer_gpu, threads=threads)

    @property
    def name(self) -> str:
        return self.pack.name

    def analyse(self, source: Sketch | np.ndarray, k: int = 8) -> Analysis:
        """Classify and search: the whole pen-up → result path, synchronously."""
        prediction = self.engine.predict(source)
        neighbours = self.searcher.query_all(prediction.features, k)
        pictures = {n.gallery_id: self.gallery.picture(n.gallery_id)
                    for found in neighbours.values() for n in found}
        return Analysis(prediction, neighbours, pictures)

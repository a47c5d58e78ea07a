"""A pack ready to answer: engine + gallery + searcher, and one call from sketch to answer.

:func:`open_pack` is the one way a pack becomes usable: ``sketchpad packs``, ``classify``,
``search``, ``--self-test`` and the window (its worker calls :meth:`LoadedPack.open`) all go
through it, so the verdict ``packs`` prints is what the other commands meet. It checks the whole
pack at the border: the manifest schema and file hashes (:func:`~sketchpad.pack.load_pack`), the
ONNX graphs against the manifest (:class:`~sketchpad.engine.Engine`), the gallery against the
classes (:func:`~sketchpad.pack.load_gallery`), each Annoy file's structure against the gallery
(:func:`~sketchpad.search.check_index`), and finally one probe drawing through every model and
every index, which catches what no static check can (a graph whose real output shape or values
differ from what it declares). Whatever is wrong surfaces as :class:`~sketchpad.pack.PackError`.

The app (on its worker thread) and the command line both go through :meth:`LoadedPack.analyse`,
so "what the window shows" and "what ``sketchpad classify`` prints" cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .engine import Engine, Prediction
from .gallery import Gallery
from .ink import Sketch, Stroke
from .pack import Pack, PackEntry, PackError, load_pack
from .search import Neighbour, Searcher
from .words import Words

#: The probe drawing: a square with a diagonal (any pack can read strokes).
PROBE = Sketch((Stroke.from_xy([20, 230, 230, 20, 20], [20, 20, 230, 230, 20]),
                Stroke.from_xy([20, 230], [20, 230])))


@dataclass(frozen=True)
class Analysis:
    """The prediction for one sketch and its neighbours per depth."""

    prediction: Prediction
    neighbours: dict[str, list[Neighbour]]
    #: Neighbour id → its uint8 thumbnail (:meth:`LoadedPack.picture`: a gallery row or a taught
    #: word's example), drawn on the worker thread so showing an answer costs the GUI no rendering.
    pictures: dict[int, np.ndarray] = field(default_factory=dict)


class LoadedPack:
    """Everything the app needs of one pack; construction checks it whole (see the module) and
    raises PackError with the reason."""

    def __init__(self, pack: Pack, prefer_gpu: bool = True, threads: int = 0,
                 words_dir: Path | None = None):
        self.pack = pack
        self.engine = Engine(pack, prefer_gpu=prefer_gpu, threads=threads)
        self.gallery = Gallery(pack)
        self.searcher = Searcher(pack, self.gallery.labels)
        self._probe()
        # The pack's taught words (words_dir, default $SKETCHPAD_WORDS or the user data folder);
        # a bad words file never stops the pack from loading: see self.words.problems.
        self.words = Words(pack, self.engine, words_dir, self.gallery)

    @classmethod
    def open(cls, path: str | Path, prefer_gpu: bool = True, threads: int = 0,
             words_dir: Path | None = None) -> "LoadedPack":
        return open_pack(path, prefer_gpu=prefer_gpu, threads=threads, words_dir=words_dir)

    @property
    def name(self) -> str:
        return self.pack.name

    def _probe(self) -> None:
        """:data:`PROBE` through every model and index: outputs of the declared widths, finite,
        and a neighbour at every depth."""
        with np.errstate(all="ignore"):  # non-finite outputs are reported below, not warned of
            pred = self.engine.predict(PROBE)
        n = len(self.pack.classes)
        for model, p in pred.per_model.items():
            if p.shape != (n,):
                raise PackError(f"pack {self.name!r}: {model} gives {p.size} scores for "
                                f"{n} classes")
            if not np.isfinite(p).all():
                raise PackError(f"pack {self.name!r}: {model} gives scores that are not finite")
        for depth, spec in self.pack.features.items():
            v = pred.features[depth]
            if v.shape != (spec.dim,):
                raise PackError(f"pack {self.name!r}: the convnet's {spec.output} has shape "
                                f"{v.shape}, the manifest says {spec.dim} values")
        for depth, found in self.searcher.query_all(pred.features, k=1).items():
            if not found:
                raise PackError(f"pack {self.name!r}: the {depth} index finds no neighbour")

    def predict(self, source: Sketch | np.ndarray) -> Prediction:
        """The engine's prediction with the taught words competing beside the pack's classes."""
        return self.words.extend(self.engine.predict(source))

    def neighbours(self, features: dict[str, np.ndarray], k: int = 8) -> dict[str, list[Neighbour]]:
        """The ``k`` nearest per depth among the gallery and the taught words' examples
        (a word example's id is at least :data:`sketchpad.words.WORD_ID_BASE`)."""
        return self.words.merge_neighbours(self.searcher.query_all(features, k), features, k)

    def picture(self, neighbour_id: int) -> np.ndarray:
        if self.words.is_word_id(neighbour_id):
            return self.words.picture(neighbour_id)
        return self.gallery.picture(neighbour_id)

    def label_name(self, neighbour_id: int) -> str:
        """The class (or word) of a neighbour id."""
        if self.words.is_word_id(neighbour_id):
            found = self.words.example_at(neighbour_id)
            return found[0] if found else "?"
        return self.gallery.label_name(neighbour_id)

    def source_id(self, neighbour_id: int) -> str:
        """Where a neighbour comes from: the gallery's source id, or ``word:NAME#N`` (from 1)."""
        if self.words.is_word_id(neighbour_id):
            found = self.words.example_at(neighbour_id)
            return f"word:{found[0]}#{found[1] + 1}" if found else "word:?"
        return str(self.gallery.source_ids[neighbour_id])

    def analyse(self, source: Sketch | np.ndarray, k: int = 8) -> Analysis:
        """Classify and search: the whole pen-up → result path, synchronously."""
        prediction = self.predict(source)
        neighbours = self.neighbours(prediction.features, k)
        pictures = {n.gallery_id: self.picture(n.gallery_id)
                    for found in neighbours.values() for n in found}
        return Analysis(prediction, neighbours, pictures)


def open_pack(source: str | Path | Pack | PackEntry, prefer_gpu: bool = True,
              threads: int = 0, **options: Any) -> LoadedPack:
    """A folder, a validated :class:`Pack` or a discovered entry, fully opened (``options`` go
    to :class:`LoadedPack`); raises :class:`PackError`, and only that, when any part of the pack
    is unusable."""
    if isinstance(source, PackEntry):
        if source.pack is None:
            raise PackError(str(source.error))
        source = source.pack
    pack = source if isinstance(source, Pack) else load_pack(source)
    return LoadedPack(pack, prefer_gpu=prefer_gpu, threads=threads, **options)

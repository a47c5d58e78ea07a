"""A second opinion: when the active pack is not sure, another installed pack may be (issue 18).

The recognition worker calls :meth:`SecondOpinions.ask` on its own thread right after the active
pack's analysis, and only when that analysis is unsure and no newer request is waiting (latest
request wins, STYLE.md point 7). Each other pack is loaded lazily, once, on a loader thread of
its own: a pack takes seconds to open (TU-Berlin's 250-class gallery and indexes), and
recognition must not wait for it. Until a pack is loaded it gives no opinion; ``on_loaded``
says when one is ready, so the window can ask again.

Switching packs reuses what is loaded: :meth:`take` hands the worker a pack already open and
:meth:`keep` holds the one it replaces as a candidate, so "use the other pack" costs no load.
Nothing here touches Qt: the worker turns answers into signals.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..engine import Prediction
from ..ink import Sketch
from ..pack import PackError
from ..runtime import LoadedPack

log = logging.getLogger(__name__)

#: A second opinion is shown only when the other pack's best guess is at least this likely
#: (besides the other pack being sure that the drawing is one of its classes).
MIN_P = 0.5


def short_title(title: str) -> str:
    """A pack's title up to its details: "TU-Berlin · DeepSketch ConvNet" → "TU-Berlin"."""
    return re.split(r" · | \(", title, maxsplit=1)[0].strip() or title


@dataclass(frozen=True)
class Opinion:
    """Another pack's confident answer for the drawing the active pack is unsure of."""

    path: Path            # the pack's folder (what switching loads)
    title: str            # its short title
    cls: str              # its best guess (a class or a taught word)
    p: float              # that guess's calibrated probability
    known: float          # how sure it is that the drawing is one of its classes

    @property
    def text(self) -> str:
        return f"{self.title} pack: {self.cls.replace('_', ' ')} {self.p * 100:.0f} %"


def confident(prediction: Prediction) -> bool:
    """Sure enough to be offered: not unsure, and its best guess at least :data:`MIN_P`."""
    return not prediction.unsure and float(np.max(prediction.probs)) >= MIN_P


def _key(path: Path | str) -> Path:
    return Path(path).resolve()


class SecondOpinions:
    """The other installed packs, loaded on demand, and their verdicts on a drawing.

    :meth:`set_candidates` (any thread) says which packs may be asked; :meth:`ask`, :meth:`take`
    and :meth:`keep` are called on the recognition thread. ``opener`` opens a pack (tests)."""

    def __init__(self, on_loaded: Callable[[], None] = lambda: None,
                 opener: Callable[..., LoadedPack] = LoadedPack.open):
        self._lock = threading.Lock()
        self._on_loaded = on_loaded
        self._open = opener
        #: Resolved folder → the folder as the pack menu names it (packs are opened by the
        #: latter, so a pack handed over by :meth:`take` has the path the menu knows).
        self._candidates: dict[Path, Path] = {}
        self._prefer_gpu = True
        #: Loaded packs by resolved folder, each with the GPU choice it was opened with.
        self._loaded: dict[Path, tuple[LoadedPack, bool]] = {}
        self._loading: set[Path] = set()
        #: Packs that failed to load: not tried again until the list of candidates changes.
        self._failed: set[Path] = set()

    def set_candidates(self, paths: Iterable[Path], prefer_gpu: bool) -> None:
        """The packs that may give an opinion (the active one among them is skipped)."""
        keys = {_key(p): Path(p) for p in paths}
        with self._lock:
            if keys != self._candidates or prefer_gpu != self._prefer_gpu:
                self._failed.clear()
            self._candidates, self._prefer_gpu = keys, prefer_gpu
            self._loaded = {k: v for k, v in self._loaded.items()
                            if k in keys and v[1] == prefer_gpu}

    def loaded(self) -> list[Path]:
        """The folders of the packs ready to give an opinion (benchmarks and tests wait on it)."""
        with self._lock:
            return list(self._loaded)

    def ask(self, source: Sketch | np.ndarray, active: LoadedPack) -> Opinion | None:
        """The most confident other pack's answer for ``source``, or None when no loaded pack
        is confident. Packs not loaded yet start loading and give no answer this time."""
        me = _key(active.pack.path)
        with self._lock:
            others = [k for k in self._candidates if k != me]
            ready = [self._loaded[k][0] for k in others if k in self._loaded]
            missing = [k for k in others
                       if k not in self._loaded and k not in self._loading and k not in self._failed]
            self._loading.update(missing)
            prefer_gpu = self._prefer_gpu
        if missing:
            self._load(missing, prefer_gpu)
        best: Opinion | None = None
        for pack in ready:
            try:
                prediction = pack.predict(source)
            except PackError:        # it cannot read this input (a picture, for a strokes pack)
                continue
            if confident(prediction):
                cls, p = prediction.top(1)[0]
                if best is None or p > best.p:
                    best = Opinion(pack.pack.path, short_title(pack.pack.title), cls, p,
                                   prediction.known)
        return best

    def take(self, path: Path, prefer_gpu: bool) -> LoadedPack | None:
        """The pack at ``path`` if it is loaded (with that GPU choice), handed over: the worker
        makes it the active pack. Its words are read again (they may have changed on disk)."""
        with self._lock:
            found = self._loaded.get(_key(path))
            if found is None or found[1] != prefer_gpu:
                return None
            del self._loaded[_key(path)]
        found[0].words.reload()
        return found[0]

    def keep(self, pack: LoadedPack, prefer_gpu: bool) -> None:
        """Hold the pack the worker stops using, ready to give opinions (when it may)."""
        key = _key(pack.pack.path)
        with self._lock:
            if key in self._candidates and prefer_gpu == self._prefer_gpu:
                self._loaded[key] = (pack, prefer_gpu)

    def _load(self, keys: list[Path], prefer_gpu: bool) -> None:
        threading.Thread(target=self._load_all, args=(keys, prefer_gpu), daemon=True,
                         name="second-opinion-loader").start()

    def _load_all(self, keys: list[Path], prefer_gpu: bool) -> None:
        for key in keys:
            with self._lock:
                path = self._candidates.get(key, key)
            try:
                pack = self._open(path, prefer_gpu=prefer_gpu)
            except Exception as exc:  # a broken pack never takes the app down
                log.warning("second opinion: %s does not load: %s", key, exc)
                with self._lock:
                    self._loading.discard(key)
                    self._failed.add(key)
                continue
            with self._lock:
                self._loading.discard(key)
                if key not in self._candidates or prefer_gpu != self._prefer_gpu:
                    continue          # the list changed while it loaded
                self._loaded[key] = (pack, prefer_gpu)
            try:
                self._on_loaded()
            except RuntimeError:      # the worker is gone (the window closed meanwhile)
                return

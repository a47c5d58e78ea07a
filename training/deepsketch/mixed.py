"""The shipped tu-berlin network's training set: TU-Berlin scans plus Quick, Draw! drawings (issue 16).

People draw in the app the way Quick, Draw! players do — fast, few strokes, rendered lines — not
the way TU-Berlin's volunteers drew on paper, and a network trained on the scans alone gets about
half of such drawings right. The shipped network also sees Quick, Draw! drawings of the classes the
two sets share (the reviewed name map of :mod:`training.trust_sets`), and Quick, Draw! classes
TU-Berlin lacks as an outlier-exposure background (half A of them only; half B stays unseen).

Held out, never trained on: per shared Quick, Draw! class its first :data:`HELD_OUT` non-empty
drawings (file order) — the cross-domain test of :mod:`.cross_domain` and the ``shared`` sets of the
calibration protocol — and per TU-Berlin class the sketches its ``split``/``train_per_class`` leave
out. A Quick, Draw! class that maps to more than one TU-Berlin class (bird, coffee cup, mouse) is
held out only: its label would be a guess.

The cache (``cache/tu_berlin_qd_180.npy``, gitignored) is the TU-Berlin cache's 20,000 pictures in
their order, then the rendered Quick, Draw! training drawings (label = TU-Berlin class), then the
background drawings (label -1); ``source`` in the meta says which (0, 1, 2). Drawings are rendered
by :func:`sketchpad.preprocess.render_sketch` at the pack's line width, as the app renders a canvas.
With ``--variants K`` each shared-class drawing is also rendered as K stroke variants
(:mod:`training.stroke_jitter`) right after the drawings themselves, with the same label; the
shipped pack (session 7) was trained with 3.

    python -m training.deepsketch.mixed        # ~1 min on 2 cores, after training.deepsketch.data
    python -m training.deepsketch.mixed --variants 3 --out cache/tu_berlin_qd3_180.npy   # the shipped one
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sketchpad import preprocess as pp
from sketchpad.datasets.tu_berlin import TuBerlin
from sketchpad.preprocess import ConvNetRaster

from ..fit_words import unknown_classes_of
from ..stroke_jitter import StrokeJitter, stroke_variant
from ..trust_sets import DATA, Drawings, first_drawings, non_empty, quickdraw_files, read_name_map, split_by_class, \
    tu_berlin_matches
from .data import BACKGROUND, CACHE, CONTENT, QUICKDRAW, TU, TuBerlinCache, meta_path

log = logging.getLogger(__name__)

MIXED_CACHE = CACHE.with_name("tu_berlin_qd_180.npy")
#: Drawings per shared Quick, Draw! class kept out of training (most classes have only 25).
HELD_OUT = 10
#: Training drawings per Quick, Draw! class at most, so apple's 5,929 do not swamp the 15 of most.
CAP = 100


@dataclass
class SharedClasses:
    """Quick, Draw! class → the TU-Berlin classes it is, and the background classes (half A, less
    the few-shot evaluation classes of :func:`training.fit_words.unknown_classes_of`)."""

    files: dict[str, Path]
    shared: dict[str, list[str]]
    background: list[str]

    @classmethod
    def read(cls, tu_classes: list[str], root: Path = DATA / "quickdraw") -> "SharedClasses":
        """The map checked against all of TU-Berlin's classes, then kept to ``tu_classes``."""
        files = quickdraw_files(root)
        every = TuBerlin(root.parent / "tu-berlin").categories
        shared, left_out = tu_berlin_matches(list(files), every, read_name_map())
        shared = {q: t for q, t in shared.items() if set(t) <= set(tu_classes)}
        unknown_a, _ = split_by_class([n for n in files if n not in shared and n not in left_out])
        word_eval, _ = unknown_classes_of(root, every, tu_berlin=True)  # taught as words in fewshot
        return cls(files, shared, [q for q in unknown_a if q not in set(word_eval)])


def held_out_quickdraw(classes: SharedClasses, tu_classes: list[str]) -> tuple[Drawings, list[list[int]]]:
    """The held-out Quick, Draw! drawings of the shared classes, labelled with the first mapped
    TU-Berlin class, and for each drawing every TU-Berlin class that counts as right."""
    out, right = Drawings(), []
    for q, targets in classes.shared.items():
        for s in first_drawings(classes.files[q], HELD_OUT):
            out.add(s, tu_classes.index(targets[0]), q)
            right.append([tu_classes.index(t) for t in targets])
    return out, right


def training_quickdraw(classes: SharedClasses, tu_classes: list[str]) -> tuple[Drawings, Drawings]:
    """The Quick, Draw! training drawings: shared classes after their held-out ones (single-target
    classes only), and the background classes; at most :data:`CAP` a class."""
    known, background = Drawings(), Drawings()
    for q, targets in classes.shared.items():
        if len(targets) == 1:
            for s in islice(non_empty(classes.files[q]), HELD_OUT, HELD_OUT + CAP):
                known.add(s, tu_classes.index(targets[0]), q)
    for q in classes.background:
        for s in islice(non_empty(classes.files[q]), CAP):
            background.add(s, -1, q)
    return known, background


def build_mixed_cache(tu_cache: Path = CACHE, out: Path = MIXED_CACHE,
                      root: Path = DATA / "quickdraw", classes: SharedClasses | None = None,
                      variants: int = 0, seed: int = 16) -> Path:
    """TU-Berlin's cached pictures, then the rendered Quick, Draw! drawings (see the module doc),
    each shared-class drawing also as ``variants`` stroke variants (:mod:`training.stroke_jitter`,
    drawn with ``seed``; ``variant`` in the meta: 0 = the drawing itself); ``classes`` defaults to
    :meth:`SharedClasses.read` of the cache's classes."""
    tu = TuBerlinCache.load(tu_cache)
    classes = classes or SharedClasses.read(tu.classes, root)
    known, background = training_quickdraw(classes, tu.classes)
    n_tu, n_known = len(tu.labels), len(known) * (1 + variants)
    pictures = np.lib.format.open_memmap(out, "w+", np.uint8,
                                         (n_tu + n_known + len(background), CONTENT, CONTENT))
    pictures[:n_tu] = tu.pictures
    width = ConvNetRaster(size=224, content=CONTENT, mean=0.0).line_width
    rng, jitter = np.random.default_rng(seed), StrokeJitter()
    renders = [(s, width) for s in known.items]
    renders += [(stroke_variant(s, rng, jitter), width * rng.uniform(*jitter.width))
                for _ in range(variants) for s in known.items]
    renders += [(s, width) for s in background.items]
    for i, (s, w) in enumerate(tqdm(renders, desc="render Quick, Draw!", mininterval=2)):
        pictures[n_tu + i] = pp.render_sketch(s, CONTENT, w)
    pictures.flush()
    source = np.concatenate([np.full(n_tu, TU), np.full(n_known, QUICKDRAW),
                             np.full(len(background), BACKGROUND)]).astype(np.int8)
    ids = np.arange(len(known)), np.arange(len(known), len(known) + len(background))
    np.savez(meta_path(out), labels=np.concatenate([tu.labels, *[known.labels] * (1 + variants),
                                                    background.labels]).astype(np.int32),
             ids=np.concatenate([tu.ids, *[ids[0]] * (1 + variants), ids[1]]).astype(np.int32),
             classes=np.array(tu.classes), source=source,
             variant=np.concatenate([np.zeros(n_tu), np.repeat(np.arange(1 + variants), len(known)),
                                     np.zeros(len(background))]).astype(np.int16),
             names=np.array([""] * n_tu + known.names * (1 + variants) + background.names))
    log.info("%s: %d TU-Berlin, %d Quick, Draw! (%d classes, %d variants each), %d background "
             "(%d classes)", out, n_tu, len(known), len(set(known.names)), variants,
             len(background), len(set(background.names)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=CACHE, help="the TU-Berlin cache")
    ap.add_argument("--out", type=Path, default=MIXED_CACHE)
    ap.add_argument("--root", type=Path, default=DATA / "quickdraw")
    ap.add_argument("--variants", type=int, default=0,
                    help="stroke variants of each shared-class drawing, rendered beside it")
    ap.add_argument("--seed", type=int, default=16, help="the variants' random draws")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    build_mixed_cache(args.cache, args.out, args.root, variants=args.variants, seed=args.seed)


if __name__ == "__main__":
    main()

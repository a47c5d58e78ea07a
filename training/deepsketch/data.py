"""TU-Berlin for DeepSketch: the 180-px picture cache, the paper's splits, augmentation and views.

Every PNG goes through :func:`sketchpad.preprocess.render_image` once (the same function the app
uses for pictures; drawn sketches go through ``render_sketch``, which matches it) and the uint8
180×180 pictures are cached in ``cache/tu_berlin_180.npy`` (about 650 MB, gitignored) with labels
and file numbers beside it. Everything after that works on the cache.

Protocol (papers.md §1): three random splits, per class 53 train / 27 test, split ``s`` drawn with
seed ``s``. Training views (:class:`Augment`): the picture rotated by a multiple of 5° in [-35°, 35°],
maybe mirrored, pasted at a random place of the 224 canvas; optionally scaled, stretched, sheared
and thickened. Test views: centre and the four corners, each also
mirrored (ten views).

Training reads the cache through the same loader as the DSN (:func:`training.loader.make_loader`):
:class:`DistinctClassBatches` deals each epoch's distinct-class batches to the ranks and
:class:`TrainViews` augments them in the loader's workers.
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing import Pool
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset
from tqdm import tqdm

from sketchpad import preprocess as pp
from sketchpad.datasets.tu_berlin import PER_CLASS, TuBerlin, read_png

from ..loader import Batch, EpochBatches

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
DATA_ROOT = REPO.parent / "shared" / "data" / "tu-berlin"
CACHE = REPO / "cache" / "tu_berlin_180.npy"
CONTENT = 180
SIZE = 224
TRAIN_PER_CLASS = 53
ATTRIBUTION = "TU-Berlin sketch dataset, Eitz, Hays, Alexa 2012, CC BY 4.0"
AUGMENT_STREAM = 0xA06  # keeps the views' generator apart from the batches' ``(seed, epoch)``


def meta_path(cache: Path) -> Path:
    return cache.with_name(cache.stem + "_meta.npz")


def _render(path: Path) -> np.ndarray:
    return pp.render_image(read_png(path), CONTENT)


def build_cache(root: Path = DATA_ROOT, cache: Path = CACHE, workers: int = 2,
                n_classes: int | None = None, per_class: int | None = None) -> Path:
    """Render every PNG into the uint8 cache (or, for tests, the first ``per_class`` sketches of
    the first ``n_classes`` classes)."""
    ds = TuBerlin(root)
    ds.categories = ds.categories[:n_classes]
    items = [it for it in ds.items()
             if per_class is None or (it.sketch_id - 1) % PER_CLASS < per_class]
    cache.parent.mkdir(parents=True, exist_ok=True)
    out = np.lib.format.open_memmap(cache, "w+", np.uint8, (len(items), CONTENT, CONTENT))
    with Pool(workers) as pool:
        for i, pic in enumerate(tqdm(pool.imap(_render, [it.path for it in items], chunksize=32),
                                     total=len(items), desc="render 180 px", mininterval=2)):
            out[i] = pic
    out.flush()
    np.savez(meta_path(cache), labels=np.array([it.label for it in items], np.int32),
             ids=np.array([it.sketch_id for it in items], np.int32),
             classes=np.array(ds.categories))
    return cache


#: Where a cached picture comes from (``source`` of a cache's meta; the TU-Berlin cache is all TU).
TU, QUICKDRAW, BACKGROUND = 0, 1, 2


@dataclass
class TuBerlinCache:
    """The cached pictures ``[N, 180, 180]`` (memory-mapped), labels, file numbers, class names,
    and each picture's :data:`TU` / :data:`QUICKDRAW` / :data:`BACKGROUND` source (the mixed
    cache of :mod:`.mixed`; background pictures are labelled -1)."""

    pictures: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    classes: list[str]
    source: np.ndarray
    names: np.ndarray  # the Quick, Draw! class of each Quick, Draw! picture ("" for TU-Berlin)

    @classmethod
    def load(cls, cache: Path = CACHE) -> "TuBerlinCache":
        if not cache.is_file():
            raise FileNotFoundError(f"{cache}: missing; build it with "
                                    "`python -m training.deepsketch.data`")
        m = np.load(meta_path(cache))
        source = m["source"] if "source" in m.files else np.full(len(m["labels"]), TU, np.int8)
        names = m["names"] if "names" in m.files else np.full(len(source), "")
        return cls(np.load(cache, mmap_mode="r"), m["labels"], m["ids"], [str(c) for c in m["classes"]],
                   source, names)

    def rows(self, split: int, train_per_class: int = TRAIN_PER_CLASS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Training rows (the split's TU-Berlin training sketches and every Quick, Draw! one),
        the split's held-out TU-Berlin rows, and the background rows."""
        tu = np.flatnonzero(self.source == TU)
        train, test = split_indices(self.labels[tu], split, train_per_class)
        return (np.sort(np.concatenate([tu[train], np.flatnonzero(self.source == QUICKDRAW)])),
                tu[test], np.flatnonzero(self.source == BACKGROUND))


def split_indices(labels: np.ndarray, split: int,
                  train_per_class: int = TRAIN_PER_CLASS) -> tuple[np.ndarray, np.ndarray]:
    """The paper's protocol: per class a random ``train_per_class`` train, the rest test; the
    permutation is drawn with seed ``split`` (splits 1, 2, 3)."""
    rng = np.random.default_rng(split)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        train.append(idx[:train_per_class])
        test.append(idx[train_per_class:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def canvas_mean(pictures: np.ndarray, chunk: int = 1000) -> float:
    """Mean of the centred 224 canvases in 0..1 (the canvas border is 0, so it scales the
    picture mean by the area ratio) — the ``mean`` of :class:`ConvNetRaster`."""
    total = sum(float(pictures[i:i + chunk].astype(np.float64).sum())
                for i in range(0, len(pictures), chunk))
    return total / (len(pictures) * SIZE * SIZE * 255.0)


@dataclass(frozen=True)
class Augment:
    """How a training view is drawn. The defaults are the paper's (rotation by a multiple of 5° in
    ±35°, a mirror, a random paste); the rest is issue 16's stronger geometry for a small set:
    scale and aspect jitter, shear, and strokes thickened by a grey dilation (people draw with
    other pens than TU-Berlin's scanner lines, 1-2 px at 180)."""

    angle: float = 35.0                           # largest |rotation|, degrees
    angle_step: float = 5.0                       # rotations are multiples of it; 0 = continuous
    scale: tuple[float, float] = (1.0, 1.0)       # uniform range of the size factor
    aspect: float = 0.0                           # width/height factor exp(U(-aspect, aspect))
    shear: float = 0.0                            # largest |horizontal shear|
    thicken: float = 0.0                          # probability of a 2×2 grey dilation

    @classmethod
    def from_config(cls, cfg: dict) -> "Augment":
        """The ``aug_*`` keys of a training config."""
        return cls(cfg["aug_angle"], cfg["aug_angle_step"], tuple(cfg["aug_scale"]),
                   cfg["aug_aspect"], cfg["aug_shear"], cfg["aug_thicken"])


PAPER_AUGMENT = Augment()


def augment(picture: np.ndarray, rng: np.random.Generator, aug: Augment = PAPER_AUGMENT) -> np.ndarray:
    """One training canvas (uint8 224×224): the picture's centre goes where the paper's random
    paste would put it, with rotation, scale, aspect and shear about that centre, maybe mirrored,
    in one warp (ink pushed past the canvas edge is cut, as a paste at the edge would)."""
    if aug.angle_step:
        angle = float(rng.choice(np.arange(-aug.angle, aug.angle + 1e-9, aug.angle_step)))
    else:
        angle = float(rng.uniform(-aug.angle, aug.angle))
    size = rng.uniform(*aug.scale)
    stretch = float(np.exp(rng.uniform(-aug.aspect, aug.aspect))) if aug.aspect else 1.0
    shear = rng.uniform(-aug.shear, aug.shear) if aug.shear else 0.0
    mirror = rng.random() < 0.5
    r, c = rng.integers(0, SIZE - CONTENT + 1, size=2)
    picture = np.ascontiguousarray(picture[:, ::-1] if mirror else picture)
    if aug.thicken and rng.random() < aug.thicken:
        picture = cv2.dilate(picture, np.ones((2, 2), np.uint8))
    t = np.radians(angle)
    rot = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    linear = rot @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([size * np.sqrt(stretch),
                                                                    size / np.sqrt(stretch)])
    centre = np.full(2, (CONTENT - 1) / 2)
    to = np.array([c, r], float) + centre  # (x, y) of the paste's centre
    matrix = np.hstack([linear, (to - linear @ centre)[:, None]])
    return cv2.warpAffine(picture, matrix, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderValue=0)


def test_positions() -> list[tuple[int, int]]:
    """Centre and the four corners of the canvas, as paste positions."""
    m, e = (SIZE - CONTENT) // 2, SIZE - CONTENT
    return [(m, m), (0, 0), (0, e), (e, 0), (e, e)]


def view_scale(config: dict) -> float:
    """The size factor a network trained with ``config`` is tested at (:attr:`ConvNetRaster.scale`):
    the mean of its training size jitter, so the test view is its typical training view. 1 for
    the paper's augmentation, which does not resize."""
    lo, hi = config.get("aug_scale", PAPER_AUGMENT.scale)
    return (float(lo) + float(hi)) / 2


def centre_view(picture: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """The view the app computes (:func:`preprocess.convnet_input` before mean subtraction)."""
    return pp.place_in_canvas(np.ascontiguousarray(picture), SIZE, scale=scale)


def ten_views(picture: np.ndarray, scale: float = 1.0) -> list[np.ndarray]:
    """The paper's ten test canvases: five positions × (as drawn, mirrored), each at ``scale``."""
    mirrored = np.ascontiguousarray(picture[:, ::-1])
    return [pp.place_in_canvas(p, SIZE, at=at, scale=scale)
            for at in test_positions() for p in (picture, mirrored)]


def to_batch(canvases: list[np.ndarray], mean: float) -> np.ndarray:
    """uint8 canvases → float32 ``[N, 1, 224, 224]`` exactly as :func:`preprocess.to_tensor`."""
    return np.stack([pp.to_tensor(c, mean) for c in canvases])


class DistinctClassBatches(EpochBatches):
    """Batches whose sketches all come from different classes (the paper: 64 sketches of 64
    categories), each training sketch at most once per epoch, across all ranks.

    Epoch ``e`` is drawn from ``(seed, e)`` alone, the same on every rank: every class queues its
    sketches in a random order, and each global batch takes the next sketch of the ``batch``
    classes with the most left (ties broken at random), so the classes run down evenly. The
    epoch ends when fewer than ``batch`` classes have sketches left (fewer than ``batch``
    sketches are left out); global batch ``j`` goes to rank ``j % world`` (see
    :class:`~training.loader.EpochBatches`), so ranks never share a sketch within an epoch.
    """

    def __init__(self, labels: np.ndarray, indices: np.ndarray, batch: int, seed: int,
                 rank: int = 0, world: int = 1):
        super().__init__(rank, world)
        self.by_class = [indices[labels[indices] == c] for c in np.unique(labels[indices])]
        if batch > len(self.by_class):
            raise ValueError(f"batch {batch} > {len(self.by_class)} classes: cannot be distinct")
        self.size, self.seed = batch, seed
        self._global = len(self._plan(0))  # the same every epoch: it depends on the counts only

    @property
    def global_batches(self) -> int:
        return self._global

    def global_batch(self, epoch: int, number: int) -> np.ndarray:
        return self._plan(epoch)[number]

    @lru_cache(maxsize=2)
    def _plan(self, epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        queues = [rng.permutation(ix) for ix in self.by_class]
        left = np.array([len(q) for q in queues])
        out = []
        while (left > 0).sum() >= self.size:
            ties = rng.random(len(queues))
            chosen = np.lexsort((ties, -left))[:self.size]
            out.append(np.array([queues[c][len(queues[c]) - left[c]] for c in chosen]))
            left[chosen] -= 1
        return out


class TrainViews(Dataset):
    """Augmented training canvases for the batches a :class:`DistinctClassBatches` names.

    ``__getitems__(batch)`` returns ``{"x": float32 [B, 1, 224, 224], "y", "index"}``, the views
    drawn from ``(seed, epoch, batch number)``, so they do not depend on the worker that makes
    them. The cache is memory-mapped in the process that reads it.
    """

    def __init__(self, cache: Path, mean: float, seed: int, aug: Augment = PAPER_AUGMENT):
        self.cache, self.mean, self.seed, self.aug = Path(cache), mean, seed, aug

    @property
    def data(self) -> "TuBerlinCache":
        return _load_cache(self.cache)

    def __len__(self) -> int:
        return len(self.data.labels)

    def __getitems__(self, batch: Batch) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, AUGMENT_STREAM, batch.epoch, batch.number])
        x = to_batch([augment(self.data.pictures[j], rng, self.aug) for j in batch.indices],
                     self.mean)
        y = self.data.labels[batch.indices].astype(np.int64)
        return {"x": torch.from_numpy(x), "y": torch.from_numpy(y),
                "index": torch.from_numpy(np.asarray(batch.indices, np.int64))}


@lru_cache(maxsize=2)
def _load_cache(cache: Path) -> "TuBerlinCache":
    return TuBerlinCache.load(cache)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=DATA_ROOT)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    build_cache(args.root, args.cache, args.workers)


if __name__ == "__main__":
    main()

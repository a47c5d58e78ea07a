"""Quick, Draw! for the DSN: class choice, fixed splits, entropy noise filter, a sharded cache.

Every drawing is read through :mod:`sketchpad.datasets` into a :class:`~sketchpad.ink.Sketch` and
turned into tensors only by :mod:`sketchpad.preprocess`, so training sees exactly what the app
computes. The expensive part (normalise, simplify, render) is done once into a cache folder by
:mod:`training.dsn.build` (streaming, a process pool, memory bounded whatever the size):

* ``meta.json`` — classes, split protocol, caps, fitted preprocessing, what the filter dropped,
  the training shards and their sizes;
* ``train/<shard>/<key>.npy`` — the training rows (whole drawings and stroke prefixes) shuffled
  over all classes into shards of ``shard_size``, each array memory-mapped on reading;
* ``val.npz``, ``test.npz`` — the held-out splits, with source ids.

Each shard holds ``img<S>`` (uint8 stroke-order canvases from :func:`~sketchpad.preprocess.order_canvas`
for every size in ``SIZES``), ``strokes`` (float32 ``[n, T, 3]``, from
:func:`~sketchpad.preprocess.stroke3_input`), ``lengths``, ``labels`` and ``source_ids``. A canvas
becomes the model input with :func:`raster_tensor`, the same float32 operations as ``to_tensor``.
Caches of the first layout (``train/shard_XXX.npz``, built before issue 17) read the same way.

Training reads the shards through :class:`TrainShards` (a map-style dataset) and
:class:`ShardBlockBatches` (exact epochs, shuffled from ``(seed, epoch)``) in
:func:`training.loader.make_loader`.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
from torch.utils.data import Dataset

from sketchpad import preprocess as pp
from sketchpad.datasets.quickdraw import class_name, iter_ndjson, iter_sketchrnn_npz
from sketchpad.ink import Sketch

from ..loader import Batch, EpochBatches

#: Raster sizes cached (96 is the DSN input; 28 and 64 for the paper's image-size study).
SIZES = (28, 64, 96)
SPLITS = ("train", "val", "test")
REPO = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = REPO.parent / "shared" / "data" / "quickdraw"
DEFAULT_CACHE = REPO / "cache" / "dsn"
FLIP_STREAM = 0xF11B  # keeps the flips' generator apart from the samplers' ``(seed, epoch, ...)``


@dataclass(frozen=True)
class DataConfig:
    """How the drawings are chosen and split; stored in ``meta.json`` and in every checkpoint."""

    min_drawings: int = 500          # a class needs this many vector drawings
    seed: int = 0                    # per-class shuffle before the split
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    train_cap: int = 3000            # per class, after the split (CPU budget)
    val_cap: int = 150               # per class (monitoring and gallery)
    test_cap: int = 0                # per class; 0 = the whole test split
    entropy_low: float = 5.0         # keep training drawings between these percentiles
    entropy_high: float = 95.0
    shard_size: int = 1024
    classes: tuple[str, ...] = ()    # empty: every class with min_drawings
    # Stroke prefixes (issue 18, "right earlier"): each kept training drawing of two or more
    # strokes adds this many copies cut to its first ceil(f * n) strokes, f uniform in
    # prefix_range, so the models learn what the live window shows mid-drawing.
    prefix_copies: int = 1
    prefix_range: tuple[float, float] = (0.2, 0.9)
    # Scale: a class's drawings are its first max_per_class non-empty ones (0: all), read in
    # file order, before the split; the stroke-3 scale and T are fitted on the first
    # scale_sample training drawings of each class (>= train_cap: the whole capped split).
    max_per_class: int = 0
    scale_sample: int = 3000


@dataclass
class Split:
    """Sketches of one split with integer labels."""

    sketches: list[Sketch] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)


def vector_sources(root: Path) -> dict[str, tuple[Path, int]]:
    """Class name → (file with its vector drawings, number of drawings), simplified ndjson or
    sketch-rnn npz.

    A class present in both keeps only the larger source: the sketch-rnn classes have 25
    simplified drawings next to 2,500 stroke-3 ones, and mixing two codings of one class for
    25 drawings would only add a source bias.
    """
    found: dict[str, tuple[Path, int]] = {}
    for path in sorted((root / "simplified").glob("*.ndjson")):
        with path.open("rb") as f:
            found[class_name(path)] = (path, sum(1 for line in f if line.strip()))
    for path in sorted((root / "sketchrnn").glob("*.npz")):
        n = sum(1 for _ in iter_sketchrnn_npz(path, keys=["sketches"]))  # read without pickle
        name = class_name(path)
        if n > found.get(name, (path, -1))[1]:
            found[name] = (path, n)
    return dict(sorted(found.items()))


def read_class(path: Path) -> Iterator[Sketch]:
    if path.suffix == ".npz":
        return iter_sketchrnn_npz(path, keys=["sketches"])
    return iter_ndjson(path)


def class_sketches(path: Path, cfg: DataConfig) -> Iterator[Sketch]:
    """A class's drawings as the protocol counts them: the non-empty ones, the first
    ``cfg.max_per_class`` of them if set."""
    sketches = (s for s in read_class(path) if not s.is_empty)
    return itertools.islice(sketches, cfg.max_per_class or None)


def choose_classes(root: Path, cfg: DataConfig) -> dict[str, Path]:
    """The classes the pack covers, sorted by name: ``cfg.classes`` or all with enough drawings."""
    sources = vector_sources(root)
    if cfg.classes:
        return {c: sources[c][0] for c in sorted(cfg.classes)}
    return {name: path for name, (path, n) in sources.items() if n >= cfg.min_drawings}


def split_indices(n: int, cfg: DataConfig, class_index: int) -> dict[str, np.ndarray]:
    """Shuffle a class of ``n`` drawings with ``(seed, class_index)`` and cut it 80/10/10; caps
    apply afterwards, so a smaller cap never moves a drawing from one split to another. Returns
    the drawings' positions in the class, in split order."""
    order = np.random.default_rng([cfg.seed, class_index]).permutation(n)
    n_train = int(round(cfg.fractions[0] * n))
    n_val = int(round(cfg.fractions[1] * n))
    parts = {"train": order[:n_train], "val": order[n_train:n_train + n_val],
             "test": order[n_train + n_val:]}
    caps = {"train": cfg.train_cap, "val": cfg.val_cap, "test": cfg.test_cap}
    return {k: v[:caps[k]] if caps[k] else v for k, v in parts.items()}


def split_class(sketches: list[Sketch], cfg: DataConfig, class_index: int) -> dict[str, list[Sketch]]:
    """:func:`split_indices` applied to a class held in memory."""
    return {k: [sketches[i] for i in v]
            for k, v in split_indices(len(sketches), cfg, class_index).items()}


def collect(root: Path, cfg: DataConfig) -> tuple[list[str], dict[str, Split], dict[str, int]]:
    """Read every chosen class and split it; returns classes, splits and drawings per class."""
    chosen = choose_classes(root, cfg)
    classes = list(chosen)
    splits = {k: Split() for k in SPLITS}
    totals = {}
    for ci, (name, path) in enumerate(chosen.items()):
        sketches = list(class_sketches(path, cfg))
        totals[name] = len(sketches)
        for k, part in split_class(sketches, cfg, ci).items():
            splits[k].sketches.extend(part)
            splits[k].labels.extend([ci] * len(part))
    return classes, splits, totals


# ----------------------------------------------------------------------------------------------
# Noise removal (papers.md §2): entropy of each rendered drawing's grey-level histogram
# ----------------------------------------------------------------------------------------------
def histogram_entropy(canvas: np.ndarray) -> float:
    """Shannon entropy (bits) of the 256-bin histogram of a uint8 picture."""
    p = np.bincount(canvas.ravel(), minlength=256).astype(np.float64)
    p = p[p > 0] / canvas.size
    return float(-(p * np.log2(p)).sum())


def entropy_keep(entropy: np.ndarray, labels: np.ndarray, low: float, high: float) -> np.ndarray:
    """Mask of drawings whose entropy lies within their class's ``[low, high]`` percentiles.

    Very low entropy means little ink (an abandoned drawing), very high means scribbled-over.
    """
    keep = np.ones(len(entropy), bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        lo, hi = np.percentile(entropy[idx], [low, high])
        keep[idx] = (entropy[idx] >= lo) & (entropy[idx] <= hi)
    return keep


# ----------------------------------------------------------------------------------------------
# Fitting the preprocessing on the training split
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OffsetStats:
    """Count, mean and sum of squared deviations of stroke-3 offsets (dx and dy together): the
    moments of many drawings combine exactly (Chan et al.), so the scale is fitted in one
    streaming pass per class and the classes are merged afterwards."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, raw: np.ndarray) -> "OffsetStats":
        """The moments of one drawing's unscaled stroke-3 (:func:`sketchpad.preprocess.stroke3_raw`)."""
        v = raw[:, :2].astype(np.float64).ravel()
        mean = float(v.mean())
        return cls(v.size, mean, float(((v - mean) ** 2).sum()))

    @classmethod
    def combine(cls, n: np.ndarray, mean: np.ndarray, m2: np.ndarray) -> "OffsetStats":
        """The moments of the union of groups given by their counts, means and ``m2``."""
        n, mean, m2 = (np.asarray(a, np.float64) for a in (n, mean, m2))
        total = n.sum()
        if total == 0:
            return cls()
        mu = float((n * mean).sum() / total)
        return cls(int(total), mu, float(m2.sum() + (n * (mean - mu) ** 2).sum()))

    @property
    def std(self) -> float:
        return float(np.sqrt(self.m2 / self.n))


def fit_stroke3(stats: OffsetStats, lengths: np.ndarray, max_len_quantile: float = 95.0,
                max_len_cap: int = 128) -> pp.Stroke3Spec:
    """Scale = std of all raw offsets of the fitting sample (dx and dy together); ``max_len`` =
    the sample's length quantile rounded up to a multiple of 8, at most ``max_len_cap``."""
    q = int(np.ceil(np.percentile(lengths, max_len_quantile) / 8.0) * 8)
    return pp.Stroke3Spec(scale=round(stats.std, 4), max_len=min(max_len_cap, q))


def render(sketches: list[Sketch], labels: list[int], seq: pp.Stroke3Spec,
           sizes: tuple[int, ...] = SIZES) -> dict[str, np.ndarray]:
    """Canvases at every size, stroke-3 inputs and labels, as arrays."""
    out: dict[str, np.ndarray] = {}
    for size in sizes:
        line = pp.OrderRaster().line_width
        out[f"img{size}"] = np.stack([pp.order_canvas(s, size, line) for s in sketches])
    pairs = [pp.stroke3_input(s, seq) for s in sketches]
    out["strokes"] = np.stack([p for p, _ in pairs]).astype(np.float32)
    out["lengths"] = np.array([n for _, n in pairs], np.int64)
    out["labels"] = np.asarray(labels, np.int64)
    return out


def stroke_prefixes(sketches: Iterable[Sketch], labels: Iterable[int], cfg: DataConfig,
                    skip: int = 0) -> Iterator[tuple[Sketch, int]]:
    """``cfg.prefix_copies`` random stroke prefixes of every sketch with two or more strokes,
    drawn with ``(seed, "prefix")``; a prefix is never the whole sketch.

    ``skip`` is the number of draws made for the drawings before these in the training order
    (:func:`prefix_draws`), so one class cut on its own gets the prefixes it gets when the whole
    training split is cut in one pass.
    """
    rng = np.random.default_rng([cfg.seed, 0x9E1F])
    rng.bit_generator.advance(skip)  # one 64-bit draw per uniform
    lo, hi = cfg.prefix_range
    for sketch, label in zip(sketches, labels):
        n = len(sketch.strokes)
        if n < 2:
            continue
        for _ in range(cfg.prefix_copies):
            prefix = sketch.prefix(float(rng.uniform(lo, hi)))
            if len(prefix.strokes) < n:
                yield prefix, int(label)


def prefix_draws(stroke_counts: np.ndarray, cfg: DataConfig) -> int:
    """Random draws :func:`stroke_prefixes` makes for drawings with these stroke counts."""
    return int((np.asarray(stroke_counts) >= 2).sum()) * cfg.prefix_copies


def raster_tensor(canvas: torch.Tensor, mean: float) -> torch.Tensor:
    """uint8 ``[N, S, S]`` → float32 ``[N, 1, S, S]``, bit-identical to :func:`sketchpad.preprocess.to_tensor`."""
    x = canvas.to(torch.float32) * torch.tensor(np.float32(1.0 / 255.0))
    return (x - torch.tensor(np.float32(mean))).unsqueeze(1)


def load_meta(cache: Path) -> dict:
    return json.loads((Path(cache) / "meta.json").read_text())


def load_split(cache: Path, split: str, size: int | None = None) -> dict[str, np.ndarray]:
    """A held-out split in memory, with only the raster size asked for (none if ``None``)."""
    keys = ["strokes", "lengths", "labels", "source_ids"] + ([f"img{size}"] if size else [])
    with np.load(Path(cache) / f"{split}.npz") as d:
        return {k: d[k] for k in keys}


class TrainShards(Dataset):
    """The training rows of a cache as a map-style dataset of whole batches.

    ``__getitems__(batch)`` returns ``{"img", "strokes", "lengths", "labels", "index"}`` for the
    rows a :class:`~training.loader.Batch` names, in its order; ``img`` stays uint8 (the model
    input is :func:`raster_tensor` of it, on the device). Horizontal flips (raster mirrored,
    ``dx`` negated) are drawn with probability ``flip`` from ``(seed, epoch, batch number)``
    (tagged with ``FLIP_STREAM``).
    Shards are opened lazily in the process that reads them (memory-mapped ``.npy``; a shard
    of the first layout is an ``.npz`` loaded whole, a few at a time).
    """

    def __init__(self, cache: Path, size: int, seed: int = 0, flip: float = 0.5):
        self.cache, self.size, self.seed, self.flip = Path(cache), size, seed, flip
        self.shards = shard_table(self.cache)
        self.offsets = np.concatenate([[0], np.cumsum([n for _, n in self.shards])])
        self.keys = (f"img{size}", "strokes", "lengths", "labels")

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitems__(self, batch: Batch) -> dict[str, torch.Tensor]:
        rows = np.asarray(batch.indices, np.int64)
        shard = np.searchsorted(self.offsets, rows, side="right") - 1
        out = {k: [] for k in self.keys}
        order = np.argsort(shard, kind="stable")
        for s in np.unique(shard):
            local = rows[shard == s] - self.offsets[s]
            arrays = _open_shard(self.cache / "train" / self.shards[s][0], self.keys)
            for k in self.keys:
                out[k].append(arrays[k][local])
        back = np.argsort(order, kind="stable")
        img, strokes, lengths, labels = (np.concatenate(out[k])[back] for k in self.keys)
        rng = np.random.default_rng([self.seed, FLIP_STREAM, batch.epoch, batch.number])
        hflip(img, strokes, rng.random(len(rows)) < self.flip)
        return {"img": torch.from_numpy(img), "strokes": torch.from_numpy(strokes),
                "lengths": torch.from_numpy(lengths.astype(np.int64)),
                "labels": torch.from_numpy(labels.astype(np.int64)), "index": torch.from_numpy(rows)}


def hflip(img: np.ndarray, strokes: np.ndarray, rows: np.ndarray) -> None:
    """Mirror the chosen rows in place: the raster left-right, the stroke-3 ``dx`` negated."""
    img[rows] = img[rows][:, :, ::-1]
    strokes[rows] = strokes[rows] * np.array([-1, 1, 1], np.float32)


def shard_table(cache: Path) -> list[tuple[str, int]]:
    """``(name, rows)`` of each training shard, from ``meta.json`` (or, for a cache of the first
    layout, from the ``.npz`` files themselves)."""
    meta = load_meta(cache)
    if "train_shards" in meta:
        return [(name, int(n)) for name, n in meta["train_shards"]]
    files = sorted((Path(cache) / "train").glob("shard_*.npz"))
    if not files:
        raise FileNotFoundError(f"no training shards under {cache}/train (build the cache)")
    table = []
    for f in files:
        with np.load(f) as d:
            table.append((f.name, len(d["labels"])))
    return table


@lru_cache(maxsize=16)  # two blocks of shards
def _open_shard(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    if path.suffix == ".npz":
        with np.load(path) as d:
            return {k: d[k] for k in keys}
    return {k: np.load(path / f"{k}.npy", mmap_mode="r") for k in keys}


class ShardBlockBatches(EpochBatches):
    """Exact epochs over the training shards, shuffled from ``(seed, epoch)`` with locality.

    Epoch ``e``: the shards are permuted with ``(seed, e)`` and taken ``block`` at a time; the
    rows of block ``b`` are permuted with ``(seed, e, b)``; the epoch is the concatenation, cut
    into global batches of ``batch`` rows. Every row appears once per epoch; the
    ``N mod (batch × world)`` rows at the end of the epoch's order are dropped (a different
    set each epoch), or with ``drop_last=False`` the last global batches are filled from the
    start of the same order (``DistributedSampler``'s padding). The builder shuffles all
    classes into every shard, so a block of shards is a uniform sample of the data and only
    ``block`` shards are read at a time.
    """

    def __init__(self, shard_rows: list[int], batch: int, rank: int = 0, world: int = 1,
                 seed: int = 0, block: int = 8, drop_last: bool = True):
        super().__init__(rank, world)
        self.rows = np.asarray(shard_rows, np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.rows)])
        self.size, self.seed, self.block, self.drop_last = batch, seed, block, drop_last
        n, step = int(self.offsets[-1]), batch * world
        self.n = n
        self._global = (n // step if drop_last else -(-n // step)) * world

    @property
    def global_batches(self) -> int:
        return self._global

    def global_batch(self, epoch: int, number: int) -> np.ndarray:
        positions = np.arange(number * self.size, (number + 1) * self.size) % self.n
        blocks, ends = self._plan(epoch)
        which = np.searchsorted(ends, positions, side="right")
        out = np.empty(len(positions), np.int64)
        for b in np.unique(which):
            mask = which == b
            start = int(ends[b - 1]) if b else 0
            out[mask] = self._block_rows(epoch, int(b), blocks[b])[positions[mask] - start]
        return out

    @lru_cache(maxsize=2)
    def _plan(self, epoch: int) -> tuple[list[tuple[int, ...]], np.ndarray]:
        """The epoch's blocks of shards and the position where each block ends."""
        perm = np.random.default_rng([self.seed, epoch]).permutation(len(self.rows))
        blocks = [tuple(int(s) for s in perm[i:i + self.block]) for i in range(0, len(perm), self.block)]
        return blocks, np.cumsum([self.rows[list(b)].sum() for b in blocks])

    @lru_cache(maxsize=4)
    def _block_rows(self, epoch: int, b: int, shards: tuple[int, ...]) -> np.ndarray:
        rows = np.concatenate([np.arange(self.offsets[s], self.offsets[s + 1]) for s in shards])
        return np.random.default_rng([self.seed, epoch, b]).permutation(rows)


class ShardStream:
    """One rank's training rows one at a time, in the order of :class:`ShardBlockBatches` with
    batches of one: ``(img, strokes, length, label)`` tensors, for tools that want samples
    rather than a loader (the export's PCA fit)."""

    def __init__(self, cache: Path, size: int, rank: int = 0, world: int = 1, seed: int = 0,
                 flip: float = 0.5):
        self.data = TrainShards(cache, size, seed, flip)
        self.batches = ShardBlockBatches([n for _, n in self.data.shards], 1, rank, world, seed)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        for batch in self.batches:
            d = self.data.__getitems__(batch)
            yield d["img"][0], d["strokes"][0], d["lengths"][0], d["labels"][0]


def main() -> None:
    """``python -m training.dsn.data [options]``: build the cache (see :mod:`training.dsn.build`)."""
    from .build import main as build_main
    build_main()


if __name__ == "__main__":
    main()

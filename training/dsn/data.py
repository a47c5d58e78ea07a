"""Quick, Draw! for the DSN: class choice, fixed splits, entropy noise filter, a sharded cache.

Every drawing is read through :mod:`sketchpad.datasets` into a :class:`~sketchpad.ink.Sketch` and
turned into tensors only by :mod:`sketchpad.preprocess`, so training sees exactly what the app
computes. The expensive part (normalise, simplify, render) is done once into ``cache/dsn/``:

* ``meta.json`` — classes, split protocol, caps, fitted preprocessing, what the filter dropped;
* ``train/shard_XXX.npz`` — shuffled training drawings in shards, so a stream can hand whole
  shards to each rank and worker (the same layout would hold the full 50 M drawings);
* ``val.npz``, ``test.npz`` — the held-out splits, with source ids.

Each shard holds ``img<S>`` (uint8 stroke-order canvases from :func:`~sketchpad.preprocess.order_canvas`
for every size in ``SIZES``), ``strokes`` (float32 ``[n, T, 3]``, from
:func:`~sketchpad.preprocess.stroke3_input`), ``lengths`` and ``labels``. A canvas becomes the
model input with :func:`raster_tensor`, the same float32 operations as ``to_tensor``.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from sketchpad import preprocess as pp
from sketchpad.datasets.quickdraw import class_name, iter_ndjson, iter_sketchrnn_npz
from sketchpad.ink import Sketch

log = logging.getLogger(__name__)

#: Raster sizes cached (96 is the DSN input; 28 and 64 for the paper's image-size study).
SIZES = (28, 64, 96)
SPLITS = ("train", "val", "test")
REPO = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = REPO.parent / "shared" / "data" / "quickdraw"
DEFAULT_CACHE = REPO / "cache" / "dsn"


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
        with np.load(path, allow_pickle=True, encoding="latin1") as d:
            n = len(d["sketches"])
        name = class_name(path)
        if n > found.get(name, (path, -1))[1]:
            found[name] = (path, n)
    return dict(sorted(found.items()))


def read_class(path: Path) -> Iterator[Sketch]:
    if path.suffix == ".npz":
        return iter_sketchrnn_npz(path, keys=["sketches"])
    return iter_ndjson(path)


def choose_classes(root: Path, cfg: DataConfig) -> dict[str, Path]:
    """The classes the pack covers, sorted by name: ``cfg.classes`` or all with enough drawings."""
    sources = vector_sources(root)
    if cfg.classes:
        return {c: sources[c][0] for c in sorted(cfg.classes)}
    return {name: path for name, (path, n) in sources.items() if n >= cfg.min_drawings}


def split_class(sketches: list[Sketch], cfg: DataConfig, class_index: int) -> dict[str, list[Sketch]]:
    """Shuffle one class with ``(seed, class_index)`` and cut it 80/10/10; caps apply afterwards,
    so a smaller cap never moves a drawing from one split to another."""
    rng = np.random.default_rng([cfg.seed, class_index])
    order = rng.permutation(len(sketches))
    n = len(order)
    n_train = int(round(cfg.fractions[0] * n))
    n_val = int(round(cfg.fractions[1] * n))
    parts = {"train": order[:n_train], "val": order[n_train:n_train + n_val],
             "test": order[n_train + n_val:]}
    caps = {"train": cfg.train_cap, "val": cfg.val_cap, "test": cfg.test_cap}
    return {k: [sketches[i] for i in (v[:caps[k]] if caps[k] else v)] for k, v in parts.items()}


def collect(root: Path, cfg: DataConfig) -> tuple[list[str], dict[str, Split], dict[str, int]]:
    """Read every chosen class and split it; returns classes, splits and drawings per class."""
    chosen = choose_classes(root, cfg)
    classes = list(chosen)
    splits = {k: Split() for k in SPLITS}
    totals = {}
    for ci, (name, path) in enumerate(chosen.items()):
        sketches = [s for s in read_class(path) if not s.is_empty]
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
def fit_stroke3(sketches: list[Sketch], max_len_quantile: float = 95.0,
                max_len_cap: int = 128) -> pp.Stroke3Spec:
    """Scale = std of all raw training offsets (dx and dy together); ``max_len`` = the length
    quantile rounded up to a multiple of 8, at most ``max_len_cap``."""
    raws = [pp.stroke3_raw(s) for s in sketches]
    offsets = np.concatenate([r[:, :2] for r in raws]).astype(np.float64)
    lengths = np.array([len(r) for r in raws])
    q = int(np.ceil(np.percentile(lengths, max_len_quantile) / 8.0) * 8)
    return pp.Stroke3Spec(scale=round(float(offsets.std()), 4), max_len=min(max_len_cap, q))


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


def raster_tensor(canvas: torch.Tensor, mean: float) -> torch.Tensor:
    """uint8 ``[N, S, S]`` → float32 ``[N, 1, S, S]``, bit-identical to :func:`sketchpad.preprocess.to_tensor`."""
    x = canvas.to(torch.float32) * torch.tensor(np.float32(1.0 / 255.0))
    return (x - torch.tensor(np.float32(mean))).unsqueeze(1)


def build_cache(root: Path, out: Path, cfg: DataConfig = DataConfig(),
                sizes: tuple[int, ...] = SIZES) -> dict:
    """Read, split, fit, filter, render and shard; returns (and writes) ``meta.json``."""
    out.mkdir(parents=True, exist_ok=True)
    classes, splits, totals = collect(root, cfg)
    train = splits["train"]
    seq = fit_stroke3(train.sketches)
    arrays = {k: render(v.sketches, v.labels, seq, sizes) for k, v in splits.items()}
    tr = arrays["train"]
    ent = np.array([histogram_entropy(c) for c in tr["img96" if 96 in sizes else f"img{sizes[-1]}"]])
    keep = entropy_keep(ent, tr["labels"], cfg.entropy_low, cfg.entropy_high)
    dropped = np.bincount(tr["labels"][~keep], minlength=len(classes))
    mean = float(tr[f"img{max(sizes)}"][keep].mean() / 255.0)
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(np.flatnonzero(keep))
    (out / "train").mkdir(exist_ok=True)
    for old in (out / "train").glob("shard_*.npz"):
        old.unlink()
    n_shards = 0
    for n_shards, start in enumerate(range(0, len(order), cfg.shard_size), 1):
        idx = order[start:start + cfg.shard_size]
        np.savez(out / "train" / f"shard_{n_shards - 1:03d}.npz", **{k: v[idx] for k, v in tr.items()})
    for k in ("val", "test"):
        ids = np.array([s.source_id or "" for s in splits[k].sketches])
        np.savez(out / f"{k}.npz", source_ids=ids, **arrays[k])
    counts = {k: np.bincount(np.asarray(v.labels, int), minlength=len(classes)).tolist()
              for k, v in splits.items()}
    meta = {
        "classes": classes,
        "data": {**asdict(cfg), "root": str(root)},
        "drawings_per_class": [totals[c] for c in classes],
        "split_counts": counts,
        "entropy_dropped_per_class": dropped.tolist(),
        "train_kept": int(keep.sum()),
        "n_shards": n_shards,
        "stroke3": seq.to_dict(),
        "order_raster_mean": mean,
        "sizes": list(sizes),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def load_meta(cache: Path) -> dict:
    return json.loads((Path(cache) / "meta.json").read_text())


def load_split(cache: Path, split: str, size: int | None = None) -> dict[str, np.ndarray]:
    """A held-out split in memory, with only the raster size asked for (none if ``None``)."""
    keys = ["strokes", "lengths", "labels", "source_ids"] + ([f"img{size}"] if size else [])
    with np.load(Path(cache) / f"{split}.npz") as d:
        return {k: d[k] for k in keys}


class ShardStream(IterableDataset):
    """An endless shuffled stream of training samples, sharded by rank and worker.

    Shard ``i`` belongs to reader ``i % readers`` (reader = rank × workers + worker), so no two
    readers see the same drawing and nothing has to fit in memory beyond one shard. Each pass
    reshuffles the shard order and the samples within a shard with ``(seed, pass, reader)``.
    Training is counted in steps, not passes, so ranks never wait on an uneven last batch.
    Horizontal flips (raster mirrored, ``dx`` negated) are applied with probability ``flip``.
    """

    def __init__(self, cache: Path, size: int, rank: int = 0, world: int = 1,
                 seed: int = 0, flip: float = 0.5):
        self.files = sorted((Path(cache) / "train").glob("shard_*.npz"))
        if not self.files:
            raise FileNotFoundError(f"no training shards under {cache}/train (build the cache)")
        self.size, self.rank, self.world, self.seed, self.flip = size, rank, world, seed, flip

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        readers = self.world * workers
        reader = self.rank * workers + worker
        mine = self.files[reader::readers] or [self.files[reader % len(self.files)]]
        epoch = 0
        while True:
            rng = np.random.default_rng([self.seed, epoch, reader])
            for f in rng.permutation(len(mine)):
                with np.load(mine[f]) as d:
                    img, strokes = d[f"img{self.size}"], d["strokes"]
                    lengths, labels = d["lengths"], d["labels"]
                for i in rng.permutation(len(labels)):
                    im, st = img[i], strokes[i]
                    if rng.random() < self.flip:
                        im = im[:, ::-1]
                        st = st * np.array([-1, 1, 1], np.float32)
                    yield (torch.from_numpy(np.ascontiguousarray(im)), torch.from_numpy(st),
                           torch.tensor(lengths[i]), torch.tensor(labels[i]))
            epoch += 1


def main() -> None:
    """``python -m training.dsn.data [data_root] [cache_dir]``: build the cache with the defaults."""
    import sys
    import time
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_ROOT
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_CACHE
    t0 = time.time()
    meta = build_cache(root, out)
    log.info("cache %s: %d classes, %d training drawings kept, %d dropped by entropy, %.0f s",
             out, len(meta["classes"]), meta["train_kept"], sum(meta["entropy_dropped_per_class"]),
             time.time() - t0)


if __name__ == "__main__":
    main()

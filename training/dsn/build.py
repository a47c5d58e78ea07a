"""Build the DSN cache, streaming and in parallel, with memory bounded whatever the data size.

    python -m training.dsn.build [ROOT] [OUT] [--max-per-class N] [--train-cap N] [--workers N] ...

(``python -m training.dsn.data`` is the same command.) Each stage runs per class through a
process pool, so no process ever holds more than one class, and then only as integers (byte
offsets, split positions, statistics), never as drawings or pictures:

1. **scan** — read the class once: the byte offset of each drawing the protocol counts
   (:func:`~training.dsn.data.class_sketches`) and the moments of its stroke-3 offsets; split it
   (:func:`~training.dsn.data.split_indices`) and return the moments of the fitting sample (the
   first ``scale_sample`` training drawings).
2. **fit** (parent) — the stroke-3 scale and ``T`` from the merged sample moments.
3. **render** — every split in split order, a few dozen drawings at a time, appended to the
   class's record files; the entropy filter per class; pixel sums for the raster mean.
4. **prefixes** — the stroke prefixes of the kept drawings, the prefix generator advanced to the
   class's place in the training order, so the rows are those one in-memory pass would cut.
5. **merge** — ``streams`` mergers, each taking an equal slice of every class, interleave the
   classes uniformly at random (a multivariate hypergeometric draw per shard, then a shuffle
   within it) and write each shard as it fills.
6. **held-out** — ``val.npz`` and ``test.npz`` streamed member by member in class order.

The result holds the same rows as the first, in-memory builder (``tests/test_dsn_cache.py``
checks this against a frozen sample of it); only the order of the training rows differs.
"""
from __future__ import annotations

import argparse
import json
from array import array
import logging
import os
import shutil
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from itertools import islice, repeat
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from sketchpad import preprocess as pp
from sketchpad.datasets.quickdraw import iter_sketchrnn_npz
from sketchpad.ink import Sketch, parse_line

from .data import (DEFAULT_CACHE, DEFAULT_ROOT, SIZES, SPLITS, DataConfig, OffsetStats, choose_classes,
                   entropy_keep, fit_stroke3, histogram_entropy, prefix_draws, render,
                   split_indices, stroke_prefixes)

log = logging.getLogger(__name__)

CHUNK = 64          # drawings rendered and written at a time
TMP_ID = 96         # characters kept per source id in the temporary record files
PREFIX_TAG = ":prefix"


@dataclass(frozen=True)
class Job:
    """One class in one stage: everything a pool worker needs, all picklable."""

    index: int
    path: Path
    tmp: Path
    cfg: DataConfig
    sizes: tuple[int, ...]
    spec: pp.Stroke3Spec | None = None
    skip: int = 0


def record_dtype(sizes: Sequence[int], max_len: int, id_width: int = TMP_ID) -> np.dtype:
    """One cached row: a canvas per size, the stroke-3 input, its length, label and source id."""
    return np.dtype([*((f"img{s}", np.uint8, (s, s)) for s in sizes),
                     ("strokes", np.float32, (max_len, 3)), ("lengths", np.int64),
                     ("labels", np.int64), ("source_ids", f"<U{id_width}")])


class Records:
    """A headerless file of fixed-size rows: appended in chunks, read back by row numbers with
    plain reads (no memory map, so a reader's memory is its request, not the file)."""

    def __init__(self, path: Path, dtype: np.dtype):
        self.path, self.dtype = Path(path), dtype

    def append(self, rows: np.ndarray) -> None:
        with self.path.open("ab") as f:
            f.write(rows.astype(self.dtype, copy=False).tobytes())

    def __len__(self) -> int:
        return self.path.stat().st_size // self.dtype.itemsize if self.path.exists() else 0

    def read(self, rows: np.ndarray) -> np.ndarray:
        """The rows numbered ``rows`` (ascending), read as one contiguous span."""
        if len(rows) == 0:
            return np.empty(0, self.dtype)
        first, span = int(rows[0]), int(rows[-1] - rows[0] + 1)
        with self.path.open("rb") as f:
            f.seek(first * self.dtype.itemsize)
            block = np.frombuffer(f.read(span * self.dtype.itemsize), self.dtype)
        return block[rows - first]

    def chunks(self, size: int = 1024) -> Iterator[np.ndarray]:
        for start in range(0, len(self), size):
            yield self.read(np.arange(start, min(start + size, len(self))))


def records(tmp: Path, kind: str, index: int, dtype: np.dtype) -> Records:
    folder = tmp / kind
    folder.mkdir(parents=True, exist_ok=True)
    return Records(folder / f"{index:05d}.rec", dtype)


class ClassSource:
    """Random access to one class's drawings, numbered as :func:`~training.dsn.data.class_sketches`
    counts them: ndjson lines by byte offset; a sketch-rnn ``.npz`` (a few MB) read whole."""

    def __init__(self, path: Path, offsets: np.ndarray | None = None):
        self.path, self.offsets = Path(path), offsets
        self._sketches: list[Sketch] | None = None

    def scan(self, limit: int) -> Iterator[Sketch]:
        """Every counted drawing in order, recording the ndjson offsets on the way."""
        if self.path.suffix == ".npz":
            self._sketches = self._npz(limit)
            self.offsets = np.arange(len(self._sketches))
            yield from self._sketches
            return
        offsets, pos = array("q"), 0  # 8 bytes a drawing
        with self.path.open("rb") as f:
            for lineno, raw in enumerate(f, 1):
                start, pos = pos, pos + len(raw)
                if not raw.strip():
                    continue
                sketch = parse_line(raw.decode("utf-8"), f"{self.path}:{lineno}")
                if sketch.is_empty:
                    continue
                offsets.append(start)
                yield sketch
                if limit and len(offsets) == limit:
                    break
        self.offsets = np.asarray(offsets, np.int64)

    def sketches(self, positions: Iterable[int]) -> Iterator[Sketch]:
        if self.path.suffix == ".npz":
            self._sketches = self._sketches or self._npz(0)
            for i in positions:
                yield self._sketches[i]
            return
        with self.path.open("rb") as f:
            for i in positions:
                f.seek(int(self.offsets[i]))
                yield parse_line(f.readline().decode("utf-8"), f"{self.path}@{self.offsets[i]}")

    def _npz(self, limit: int) -> list[Sketch]:
        kept = (s for s in iter_sketchrnn_npz(self.path, keys=["sketches"]) if not s.is_empty)
        return list(islice(kept, limit or None))


# ---- the stages (run in pool workers) -------------------------------------------------------
def scan_class(job: Job) -> dict[str, Any]:
    source = ClassSource(job.path)
    n_off, means, m2s, lengths = array("q"), array("d"), array("d"), array("q")  # 32 bytes a drawing
    for sketch in source.scan(job.cfg.max_per_class):
        raw = pp.stroke3_raw(sketch)
        st = OffsetStats.of(raw)
        n_off.append(st.n), means.append(st.mean), m2s.append(st.m2), lengths.append(len(raw))
    n = len(source.offsets)
    np.save(job.tmp / "scan" / f"{job.index:05d}.npy", source.offsets)
    sample = split_indices(n, job.cfg, job.index)["train"][:job.cfg.scale_sample or None]
    stats = OffsetStats.combine(np.asarray(n_off)[sample], np.asarray(means)[sample],
                                np.asarray(m2s)[sample])
    return {"n": n, "stats": stats, "lengths": np.asarray(lengths, np.int64)[sample]}


def _rows(sketches: list[Sketch], label: int, job: Job, dtype: np.dtype,
          suffix: str = "") -> np.ndarray:
    arrays = render(sketches, [label] * len(sketches), job.spec, job.sizes)
    rows = np.empty(len(sketches), dtype)
    for key, value in arrays.items():
        rows[key] = value
    rows["source_ids"] = [(s.source_id or "") + suffix for s in sketches]
    return rows


def _chunked(items: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def render_class(job: Job) -> dict[str, Any]:
    offsets = np.load(job.tmp / "scan" / f"{job.index:05d}.npy")
    source = ClassSource(job.path, offsets)
    dtype = record_dtype(job.sizes, job.spec.max_len)
    ent_key = "img96" if 96 in job.sizes else f"img{job.sizes[-1]}"
    mean_key = f"img{max(job.sizes)}"
    out: dict[str, Any] = {"counts": {}, "id_width": {}}
    for split, positions in split_indices(len(offsets), job.cfg, job.index).items():
        rec = records(job.tmp, split, job.index, dtype)
        ent, pixels, strokes, width = array("d"), array("q"), array("q"), 1
        for chunk in _chunked(source.sketches(positions)):
            rows = _rows(chunk, job.index, job, dtype)
            rec.append(rows)
            width = max(width, max(len(s.source_id or "") for s in chunk))
            if split == "train":
                ent.extend(histogram_entropy(c) for c in rows[ent_key])
                pixels.extend(rows[mean_key].reshape(len(rows), -1).sum(1, dtype=np.int64).tolist())
                strokes.extend(len(s.strokes) for s in chunk)
        out["counts"][split], out["id_width"][split] = len(positions), width
        if split == "train":
            keep = entropy_keep(np.asarray(ent), np.zeros(len(ent), int), job.cfg.entropy_low,
                                job.cfg.entropy_high) if len(ent) else np.zeros(0, bool)
            np.save(job.tmp / "keep" / f"{job.index:05d}.npy", keep)
            out.update(kept=int(keep.sum()), dropped=int((~keep).sum()),
                       pixel_sum=int(np.asarray(pixels, np.int64)[keep].sum()),
                       draws=prefix_draws(np.asarray(strokes)[keep], job.cfg))
    return out


def prefix_class(job: Job) -> dict[str, Any]:
    offsets = np.load(job.tmp / "scan" / f"{job.index:05d}.npy")
    keep = np.load(job.tmp / "keep" / f"{job.index:05d}.npy")
    kept = split_indices(len(offsets), job.cfg, job.index)["train"][keep]
    sketches = ClassSource(job.path, offsets).sketches(kept)
    rec = records(job.tmp, "prefix", job.index, record_dtype(job.sizes, job.spec.max_len))
    n, width = 0, 1
    for chunk in _chunked(stroke_prefixes(sketches, repeat(job.index), job.cfg, job.skip)):
        rec.append(_rows([p for p, _ in chunk], job.index, job, rec.dtype, PREFIX_TAG))
        n += len(chunk)
        width = max(width, max(len(p.source_id or "") for p, _ in chunk) + len(PREFIX_TAG))
    return {"n": n, "id_width": width}


@dataclass(frozen=True)
class Merge:
    """One merger: which slice of every class it takes, and where its shards go."""

    stream: int
    streams: int
    tmp: Path
    out: Path
    classes: int
    dtype: np.dtype
    final: np.dtype
    shard_size: int
    seed: int


def merge_stream(m: Merge) -> list[tuple[str, int]]:
    """Interleave this stream's slice of every class's kept and prefix rows into shards."""
    sources: list[tuple[Records, np.ndarray]] = []
    for c in range(m.classes):
        whole = records(m.tmp, "train", c, m.dtype)
        prefixes = records(m.tmp, "prefix", c, m.dtype)
        keep = np.load(m.tmp / "keep" / f"{c:05d}.npy")
        for rec, rows in ((whole, np.flatnonzero(keep)), (prefixes, np.arange(len(prefixes)))):
            lo, hi = (len(rows) * m.stream) // m.streams, (len(rows) * (m.stream + 1)) // m.streams
            sources.append((rec, rows[lo:hi]))
    left = np.array([len(rows) for _, rows in sources], np.int64)
    taken = np.zeros_like(left)
    rng = np.random.default_rng([m.seed, 0x5A4D, m.stream])
    shards = []
    while left.sum():
        take = rng.multivariate_hypergeometric(left, min(m.shard_size, int(left.sum())))
        parts = [rec.read(rows[taken[s]:taken[s] + take[s]])
                 for s, (rec, rows) in enumerate(sources) if take[s]]
        taken += take
        left -= take
        block = np.concatenate(parts)[rng.permutation(int(take.sum()))].astype(m.final)
        name = f"shard_{m.stream:02d}_{len(shards):05d}"
        write_shard(m.out / name, block)
        shards.append((name, len(block)))
    return shards


def write_shard(folder: Path, rows: np.ndarray) -> None:
    """One ``.npy`` per field, written to a temporary folder renamed into place."""
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    for key in rows.dtype.names:
        np.save(tmp / f"{key}.npy", np.ascontiguousarray(rows[key]))
    tmp.rename(folder)


def write_held_out(path: Path, parts: list[Records], final: np.dtype) -> None:
    """``np.savez`` layout (one ``.npy`` member per field) written member by member from the
    classes' record files, so a 5 M-drawing test split never sits in memory."""
    n = sum(len(r) for r in parts)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        for key in final.names:
            field = final.fields[key][0]
            header = {"descr": np.lib.format.dtype_to_descr(field.base), "fortran_order": False,
                      "shape": (n, *field.shape)}
            with z.open(f"{key}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array_header_2_0(f, header)
                for rec in parts:
                    for chunk in rec.chunks():
                        f.write(np.ascontiguousarray(chunk[key].astype(field.base)).tobytes())
    tmp.replace(path)


def pool_map(fn: Callable[[Any], Any], jobs: Sequence[Any], workers: int) -> list[Any]:
    """``fn`` over ``jobs`` in a process pool (in this process when ``workers <= 1``)."""
    if workers <= 1:
        return [fn(j) for j in jobs]
    with ProcessPoolExecutor(min(workers, len(jobs))) as pool:
        return list(pool.map(fn, jobs))


def build_cache(root: Path, out: Path, cfg: DataConfig = DataConfig(),
                sizes: tuple[int, ...] = SIZES, workers: int = 1, streams: int = 4) -> dict:
    """Read, split, fit, filter, render, cut prefixes and shard; returns (and writes) ``meta.json``.

    ``workers`` only changes the speed; ``streams`` (recorded) changes the order of the
    training rows, never which rows there are.
    """
    out = Path(out)
    tmp = out / ".build"
    shutil.rmtree(tmp, ignore_errors=True)
    for sub in ("scan", "keep"):
        (tmp / sub).mkdir(parents=True)
    chosen = choose_classes(root, cfg)
    classes = list(chosen)
    jobs = [Job(i, path, tmp, cfg, tuple(sizes)) for i, path in enumerate(chosen.values())]
    t0 = time.perf_counter()
    scans = pool_map(scan_class, jobs, workers)
    stats = OffsetStats.combine(*(np.array([getattr(s["stats"], k) for s in scans])
                                  for k in ("n", "mean", "m2")))
    spec = fit_stroke3(stats, np.concatenate([s["lengths"] for s in scans]))
    log.info("scan: %d classes, %d drawings, stroke-3 %s (%.0f s)", len(classes),
             sum(s["n"] for s in scans), spec, time.perf_counter() - t0)
    jobs = [replace(j, spec=spec) for j in jobs]
    rendered = pool_map(render_class, jobs, workers)
    skips = np.concatenate([[0], np.cumsum([r["draws"] for r in rendered])])[:-1]
    log.info("render: %d training drawings kept (%.0f s)", sum(r["kept"] for r in rendered),
             time.perf_counter() - t0)
    prefixed = pool_map(prefix_class, [replace(j, skip=int(s)) for j, s in zip(jobs, skips)],
                        workers) if cfg.prefix_copies else [{"n": 0, "id_width": 1}] * len(jobs)
    dtype = record_dtype(sizes, spec.max_len)
    train_width = max([1] + [r["id_width"]["train"] for r in rendered] + [p["id_width"] for p in prefixed])
    staging = tmp / "shards"
    staging.mkdir()
    merges = [Merge(m, streams, tmp, staging, len(classes), dtype,
                    record_dtype(sizes, spec.max_len, train_width), cfg.shard_size, cfg.seed)
              for m in range(streams)]
    shards = [s for part in pool_map(merge_stream, merges, workers) for s in part]
    for split in ("val", "test"):
        width = max([1] + [r["id_width"][split] for r in rendered])
        write_held_out(out / f"{split}.npz", [records(tmp, split, c, dtype) for c in range(len(classes))],
                       record_dtype(sizes, spec.max_len, width))
    shutil.rmtree(out / "train", ignore_errors=True)
    staging.rename(out / "train")
    kept = sum(r["kept"] for r in rendered)
    n_prefix = sum(p["n"] for p in prefixed)
    side = max(sizes)
    meta = {
        "format": 2,
        "classes": classes,
        "data": {**asdict(cfg), "root": str(root)},
        "drawings_per_class": [s["n"] for s in scans],
        "split_counts": {k: [r["counts"][k] for r in rendered] for k in SPLITS},
        "entropy_dropped_per_class": [r["dropped"] for r in rendered],
        "train_kept": kept + n_prefix,
        "train_kept_whole": kept,
        "train_prefixes": n_prefix,
        "n_shards": len(shards),
        "train_shards": shards,
        "stroke3": spec.to_dict(),
        "stroke3_fit": {"sample_per_class": cfg.scale_sample,
                        "drawings": int(sum(len(s["lengths"]) for s in scans))},
        "order_raster_mean": sum(r["pixel_sum"] for r in rendered) / (kept * side * side) / 255.0,
        "sizes": list(sizes),
        "build": {"streams": streams, "seconds": round(time.perf_counter() - t0, 1)},
    }
    (out / "meta.json.tmp").write_text(json.dumps(meta, indent=2) + "\n")
    (out / "meta.json.tmp").replace(out / "meta.json")
    shutil.rmtree(tmp)
    return meta


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    d = DataConfig()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", nargs="?", type=Path, default=DEFAULT_ROOT,
                    help="Quick, Draw! folder with simplified/ (ndjson) and/or sketchrnn/ (npz)")
    ap.add_argument("out", nargs="?", type=Path, default=DEFAULT_CACHE, help="cache folder")
    ap.add_argument("--classes", default="", help="comma-separated (default: all with --min-drawings)")
    ap.add_argument("--min-drawings", type=int, default=d.min_drawings)
    ap.add_argument("--max-per-class", type=int, default=d.max_per_class,
                    help="read only the first N drawings of each class (0: all)")
    ap.add_argument("--train-cap", type=int, default=d.train_cap, help="per class, 0: no cap")
    ap.add_argument("--val-cap", type=int, default=d.val_cap, help="per class, 0: no cap")
    ap.add_argument("--test-cap", type=int, default=d.test_cap, help="per class, 0: no cap")
    ap.add_argument("--prefix-copies", type=int, default=d.prefix_copies)
    ap.add_argument("--scale-sample", type=int, default=d.scale_sample,
                    help="training drawings per class the stroke-3 scale is fitted on")
    ap.add_argument("--shard-size", type=int, default=d.shard_size)
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="raster sizes to cache")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--streams", type=int, default=4, help="parallel shard writers")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    a = parse_args(argv)
    cfg = DataConfig(min_drawings=a.min_drawings, max_per_class=a.max_per_class,
                     train_cap=a.train_cap, val_cap=a.val_cap, test_cap=a.test_cap,
                     prefix_copies=a.prefix_copies, scale_sample=a.scale_sample,
                     shard_size=a.shard_size,
                     classes=tuple(c.strip() for c in a.classes.split(",") if c.strip()))
    meta = build_cache(a.root, a.out, cfg, tuple(int(s) for s in a.sizes.split(",")),
                       a.workers, a.streams)
    log.info("cache %s: %d classes, %d training rows (%d whole, %d prefixes) in %d shards, "
             "%d dropped by entropy, %.0f s", a.out, len(meta["classes"]), meta["train_kept"],
             meta["train_kept_whole"], meta["train_prefixes"], meta["n_shards"],
             sum(meta["entropy_dropped_per_class"]), meta["build"]["seconds"])


if __name__ == "__main__":
    main()

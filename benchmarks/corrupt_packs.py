"""Break copies of both shipped packs in well over 100 ways; every command must cope (issue 13).

Each case is one pack (``quickdraw`` or ``tu-berlin``, copied with hard links, the damaged file
written anew) in a packs folder beside a healthy copy of the other pack. On each case, as
subprocesses with a timeout:

* ``sketchpad packs --json --packs-dir DIR`` — the verdict: ok, or broken with a reason;
* ``sketchpad classify`` — a few Quick, Draw! drawings (from ``shared/data``), and for TU-Berlin
  also a PNG from ``shared/data`` (read by path) and a tiny PNG made in the temp folder;
* ``sketchpad search`` — the same drawings, all depths, ``--k 5``;
* ``sketchpad --self-test --packs-dir DIR``.

Counted: signals (a negative exit status), Python tracebacks, hangs (the timeout), and
disagreements: ``packs`` says ok and another command fails, or it says broken and another does
not exit 4 (self-test: the pack's line says FAILED). The healthy sibling must stay ok everywhere
(isolation). The damage: manifest fields (types, ranges, cross-references, nesting, numbers JSON
cannot hold), Annoy files (truncated, random, bit flips, child ids, bucket ids, counts, swapped),
galleries (truncated, random, labels, lengths, offsets, dtypes, pickled arrays, swapped) and ONNX
files (truncated, random, bit flips, swapped between models and packs). Most file damage is
re-hashed in the manifest, as a buggy exporter would write it, so that the structure checks
(not the sha256) must catch it; a few cases keep the old hash.

    python benchmarks/corrupt_packs.py [--jobs 2] [--timeout 120] [--only TEXT] [--list]

Prints a summary table and each offending case; exits 1 unless every count is 0.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
PACKS = ROOT / "resources" / "packs"
DATA = ROOT.parent / "shared" / "data"
NAMES = ("quickdraw", "tu-berlin")
SIBLING = {"quickdraw": "tu-berlin", "tu-berlin": "quickdraw"}
DEEP_TEXT = "[" * 50_000 + "]" * 50_000


@dataclass(frozen=True)
class Case:
    pack: str
    kind: str          # manifest | index | gallery | onnx
    name: str
    apply: Callable[[Path], None]


# --- writing damage (never through a hard link to the pristine copy) ---------------------------
def _rewrite(path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)
    path.write_bytes(data)


def _manifest(pack_dir: Path) -> dict[str, Any]:
    return json.loads((pack_dir / "manifest.json").read_text())


def _save_manifest(pack_dir: Path, m: dict[str, Any]) -> None:
    _rewrite(pack_dir / "manifest.json", json.dumps(m).encode())


def _rehash(pack_dir: Path, rel: str) -> None:
    m = _manifest(pack_dir)
    m["files"][rel] = hashlib.sha256((pack_dir / rel).read_bytes()).hexdigest()
    _save_manifest(pack_dir, m)


def edit(fn: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    """A manifest edit (the files and their hashes stay as they are)."""
    def apply(pack_dir: Path) -> None:
        m = _manifest(pack_dir)
        fn(m)
        _save_manifest(pack_dir, m)
    return apply


def setp(path: str, value: Any) -> Callable[[Path], None]:
    """Set the value at a dotted path; ``value`` may be a function of the old value."""
    *head, last = path.split(".")

    def fn(m: dict[str, Any]) -> None:
        for k in head:
            m = m[k]
        m[last] = value(m.get(last)) if callable(value) else value
    return edit(fn)


def dropp(path: str) -> Callable[[Path], None]:
    *head, last = path.split(".")

    def fn(m: dict[str, Any]) -> None:
        for k in head:
            m = m[k]
        del m[last]
    return edit(fn)


def raw_manifest(text: str | bytes) -> Callable[[Path], None]:
    return lambda d: _rewrite(d / "manifest.json", text.encode() if isinstance(text, str) else text)


def damage(rel: str, fn: Callable[[bytes, random.Random], bytes], rehash: bool = True
           ) -> Callable[[Path], None]:
    def apply(pack_dir: Path) -> None:
        data = (pack_dir / rel).read_bytes()
        _rewrite(pack_dir / rel, fn(data, random.Random(f"{rel}{len(data)}")))
        if rehash:
            _rehash(pack_dir, rel)
    return apply


def swap_in(rel: str, source: Callable[[Path], Path], rehash: bool = True) -> Callable[[Path], None]:
    """Replace ``rel`` by another file (another depth's, another model's, the other pack's)."""
    def apply(pack_dir: Path) -> None:
        _rewrite(pack_dir / rel, source(pack_dir).read_bytes())
        if rehash:
            _rehash(pack_dir, rel)
    return apply


def gallery(fn: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]) -> Callable[[Path], None]:
    def apply(pack_dir: Path) -> None:
        with np.load(pack_dir / "gallery.npz") as data:
            arrays = fn({k: data[k] for k in data.files})
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays, allow_pickle=True)
        _rewrite(pack_dir / "gallery.npz", buf.getvalue())
        _rehash(pack_dir, "gallery.npz")
    return apply


# --- byte damage -----------------------------------------------------------------------------
def truncate(fraction: float) -> Callable[[bytes, random.Random], bytes]:
    return lambda b, r: b[: int(len(b) * fraction)]


def chop(n: int) -> Callable[[bytes, random.Random], bytes]:
    return lambda b, r: b[:-n]


def random_bytes(b: bytes, r: random.Random) -> bytes:
    return r.randbytes(len(b))


def zeros(b: bytes, r: random.Random) -> bytes:
    return bytes(len(b))


def bit_flips(n: int, start: float = 0.0) -> Callable[[bytes, random.Random], bytes]:
    def fn(b: bytes, r: random.Random) -> bytes:
        out = bytearray(b)
        for _ in range(n):
            i = r.randrange(int(len(out) * start), len(out))
            out[i] ^= 1 << r.randrange(8)
        return bytes(out)
    return fn


def span(at: float, n: int) -> Callable[[bytes, random.Random], bytes]:
    def fn(b: bytes, r: random.Random) -> bytes:
        i = int(len(b) * at)
        return b[:i] + r.randbytes(min(n, len(b) - i)) + b[i + n:]
    return fn


# --- Annoy node edits (dim 64, angular: 268-byte nodes, children at word 1, 66 slots) -----------
def nodes_edit(fn: Callable[[np.ndarray, int], None]) -> Callable[[bytes, random.Random], bytes]:
    def apply(b: bytes, r: random.Random) -> bytes:
        a = np.frombuffer(b, "<i4").reshape(-1, 67).copy()
        fn(a, int(a[-1, 0]))
        return a.tobytes()
    return apply


def _splits(a: np.ndarray, items: int) -> np.ndarray:
    return np.flatnonzero((np.arange(len(a)) >= items) & (a[:, 0] > 66))


def _buckets(a: np.ndarray, items: int) -> np.ndarray:
    nd = a[:, 0]
    return np.flatnonzero((np.arange(len(a)) >= items) & (nd >= 2) & (nd <= 66))


def child_of_last_root(value: Callable[[int], int]) -> Callable[[np.ndarray, int], None]:
    def fn(a: np.ndarray, items: int) -> None:
        i = _splits(a, items)[-1]
        a[i, 1] = value(int(i))
    return fn


def child_of_inner_split(a: np.ndarray, items: int) -> None:
    i = _splits(a, items)[len(_splits(a, items)) // 2]
    a[i, 2] = len(a) + 10


def bucket_id(value: Callable[[int], int]) -> Callable[[np.ndarray, int], None]:
    def fn(a: np.ndarray, items: int) -> None:
        a[_buckets(a, items)[0], 2] = value(items)
    return fn


def descendants(row: Callable[[np.ndarray, int], int], value: Callable[[int], int]
                ) -> Callable[[np.ndarray, int], None]:
    """Set one node's ``n_descendants`` (``value`` of the item count)."""
    def fn(a: np.ndarray, items: int) -> None:
        a[row(a, items), 0] = value(items)
    return fn


# --- gallery edits ---------------------------------------------------------------------------
def arrays(**changes: Any) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    def fn(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        a = dict(a)
        for k, v in changes.items():
            if v is None:
                a.pop(k, None)
            else:
                a[k] = v(a[k]) if callable(v) else v
        return a
    return fn


def first_rows(n: int) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """A smaller gallery, consistent in itself (so only the index count disagrees)."""
    def fn(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = dict(a)
        for k in ("labels", "source_ids", "thumbnails", "projection_low", "projection_mid",
                  "projection_high"):
            if k in out:
                out[k] = out[k][:n]
        if "stroke_offsets" in out:
            out["stroke_offsets"] = a["stroke_offsets"][: n + 1]
            out["stroke3"] = a["stroke3"][: out["stroke_offsets"][-1]]
        return out
    return fn


def label_at(i: int, value: int) -> Callable[[np.ndarray], np.ndarray]:
    def fn(labels: np.ndarray) -> np.ndarray:
        out = labels.copy()
        out[i] = value
        return out
    return fn


def extra_member(pack_dir: Path) -> None:
    data = (pack_dir / "gallery.npz").read_bytes()
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as z:
        z.writestr("payload.pkl", b"\x80\x04cos\nsystem\n.")
    _rewrite(pack_dir / "gallery.npz", buf.getvalue())
    _rehash(pack_dir, "gallery.npz")


# --- the catalogue ---------------------------------------------------------------------------
def cases_for(pack: str, pristine: Path) -> list[Case]:
    m = json.loads((pristine / pack / "manifest.json").read_text())
    n_classes = len(m["classes"])
    pre = "models.convnet.preprocess"
    size = m["models"]["convnet"]["preprocess"]["size"]
    other = pristine / SIBLING[pack]
    c: list[tuple[str, str, Callable[[Path], None]]] = [
        # manifest: versions, identity, classes
        ("manifest", "format_version string", setp("format_version", "1")),
        ("manifest", "format_version 2", setp("format_version", 2)),
        ("manifest", "format_version true", setp("format_version", True)),
        ("manifest", "title a number", setp("title", 5)),
        ("manifest", "title a list", setp("title", ["a"])),
        ("manifest", "name an object", setp("name", {"x": 1})),
        ("manifest", "classes empty", setp("classes", [])),
        ("manifest", "classes one short of the logits", setp("classes", lambda v: v[:-1])),
        ("manifest", "classes one more than the logits", setp("classes", lambda v: v + ["extra"])),
        ("manifest", "classes duplicated", setp("classes", lambda v: [v[0]] + v[:-1])),
        ("manifest", "classes numbers", setp("classes", list(range(n_classes)))),
        ("manifest", "classes a string", setp("classes", "cat")),
        ("manifest", "classes a dict", setp("classes", {"a": 1})),
        # manifest: preprocessing
        ("manifest", "raster size 0", setp(f"{pre}.size", 0)),
        ("manifest", "raster size negative", setp(f"{pre}.size", -size)),
        ("manifest", "raster size huge", setp(f"{pre}.size", 10 ** 9)),
        ("manifest", "raster size string", setp(f"{pre}.size", str(size))),
        ("manifest", "raster size float", setp(f"{pre}.size", size + 0.5)),
        ("manifest", "raster size off by one", setp(f"{pre}.size", size + 1)),
        ("manifest", "line width 0", setp(f"{pre}.line_width", 0)),
        ("manifest", "line width huge", setp(f"{pre}.line_width", 1e300)),
        ("manifest", "line width string", setp(f"{pre}.line_width", "6")),
        ("manifest", "mean NaN", setp(f"{pre}.mean", float("nan"))),
        ("manifest", "mean huge", setp(f"{pre}.mean", 1e308)),
        ("manifest", "preprocess kind unknown", setp(f"{pre}.kind", "wavelet")),
        ("manifest", "preprocess null", setp(pre, None)),
        ("manifest", "preprocess a list", setp(pre, [1, 2])),
        ("manifest", "preprocess unknown key", setp(f"{pre}.zoom", 2)),
        # manifest: models and tensors
        ("manifest", "logits one wider", setp("models.convnet.outputs.logits.shape",
                                              ["N", n_classes + 1])),
        ("manifest", "logits rank 1", setp("models.convnet.outputs.logits.shape", ["N"])),
        ("manifest", "logits shape a string", setp("models.convnet.outputs.logits.shape", "N,C")),
        ("manifest", "image shape off", setp("models.convnet.inputs.image.shape",
                                             ["N", 1, size, size + 1])),
        ("manifest", "image dtype float16", setp("models.convnet.inputs.image.dtype", "float16")),
        ("manifest", "no inputs", setp("models.convnet.inputs", {})),
        ("manifest", "an undeclared-in-graph input", setp(
            "models.convnet.inputs.mask", {"dtype": "float32", "shape": ["N", 1]})),
        ("manifest", "model file unlisted", setp("models.convnet.file", "missing.onnx")),
        ("manifest", "model file a number", setp("models.convnet.file", 5)),
        ("manifest", "models a list", setp("models", [])),
        ("manifest", "no convnet", dropp("models.convnet")),
        ("manifest", "unknown model", setp("models.extra", {"file": "convnet.onnx"})),
        # manifest: features
        ("manifest", "feature dim 0", setp("features.low.dim", 0)),
        ("manifest", "feature dim negative", setp("features.mid.dim", -64)),
        ("manifest", "feature dim string", setp("features.high.dim", "64")),
        ("manifest", "feature dim 65", setp("features.low.dim", 65)),
        ("manifest", "feature dim huge", setp("features.low.dim", 10 ** 9)),
        ("manifest", "metric unknown", setp("features.low.metric", "cosine")),
        ("manifest", "metric euclidean (not the file's)", setp("features.mid.metric", "euclidean")),
        ("manifest", "metric dot (not the file's)", setp("features.high.metric", "dot")),
        ("manifest", "metric hamming (not the file's)", setp("features.low.metric", "hamming")),
        ("manifest", "metric null", setp("features.low.metric", None)),
        ("manifest", "search_k string", setp("features.low.annoy.search_k", "1000")),
        ("manifest", "search_k 0", setp("features.mid.annoy.search_k", 0)),
        ("manifest", "search_k -5", setp("features.mid.annoy.search_k", -5)),
        ("manifest", "search_k 1e20", setp("features.high.annoy.search_k", 10 ** 20)),
        ("manifest", "search_k float", setp("features.high.annoy.search_k", 1.5)),
        ("manifest", "annoy a list", setp("features.low.annoy", [1000])),
        ("manifest", "feature reads logits", setp("features.low.output", "logits")),
        ("manifest", "feature reads nothing", setp("features.low.output", "nope")),
        ("manifest", "feature index of another depth", setp("features.low.index", "index_mid.ann")),
        ("manifest", "feature index unlisted", setp("features.low.index", "index_x.ann")),
        ("manifest", "unknown depth", setp("features.deep", {"output": "feat_low", "dim": 64,
                                                             "index": "index_low.ann"})),
        ("manifest", "features empty", setp("features", {})),
        ("manifest", "features a list", setp("features", [])),
        # manifest: gallery, files, informational sections
        ("manifest", "gallery file unlisted", setp("gallery.file", "nope.npz")),
        ("manifest", "gallery a list", setp("gallery", [])),
        ("manifest", "gallery size wrong", setp("gallery.size", 5)),
        ("manifest", "gallery size string", setp("gallery.size", "100")),
        ("manifest", "gallery flags lie", setp("gallery.has_thumbnails",
                                               lambda v: not v)),
        ("manifest", "files a list", setp("files", [])),
        ("manifest", "file outside the pack", edit(lambda m: m["files"].update(
            {"../../etc/passwd": "0" * 64}))),
        ("manifest", "digest not hex", edit(lambda m: m["files"].update({"gallery.npz": "zz"}))),
        ("manifest", "metrics a list", setp("metrics", [1, 2])),
        ("manifest", "metric protocol a number", edit(lambda m: next(iter(
            m["metrics"].values())).update(protocol=5))),
        ("manifest", "confusion matrix wrong size", setp("confusion_matrix", [[1]])),
        ("manifest", "dataset a list", setp("dataset", ["x"])),
        ("manifest", "training a string", setp("training", "cpu")),
        ("manifest", "an unknown section (allowed)", setp("notes", {"free": [1, "text"]})),
        # manifest: text no JSON reader should accept as it is
        ("manifest", "nested 50k deep", raw_manifest(DEEP_TEXT)),
        ("manifest", "nested 100 deep in a free key", setp("notes", json.loads(
            "[" * 100 + "]" * 100))),
        ("manifest", "integer of 5000 digits", raw_manifest('{"format_version": ' + "9" * 5000 + "}")),
        ("manifest", "float overflow", raw_manifest('{"format_version": 1e999}')),
        ("manifest", "lone surrogate in the title", edit(lambda m: m.update(title="\ud800"))),
        ("manifest", "byte-order mark (allowed)", lambda d: _rewrite(
            d / "manifest.json", b"\xef\xbb\xbf" + (d / "manifest.json").read_bytes())),
        ("manifest", "truncated JSON", lambda d: _rewrite(
            d / "manifest.json", (d / "manifest.json").read_bytes()[:500])),
        ("manifest", "a JSON list", raw_manifest("[]")),
        ("manifest", "random bytes", raw_manifest(random.Random(1).randbytes(3000))),
        ("manifest", "empty", raw_manifest("")),
        # Annoy files
        ("index", "truncated to half", damage("index_low.ann", truncate(0.5))),
        ("index", "3 bytes short", damage("index_mid.ann", chop(3))),
        ("index", "empty", damage("index_high.ann", truncate(0.0))),
        ("index", "random bytes", damage("index_low.ann", random_bytes)),
        ("index", "zeros", damage("index_mid.ann", zeros)),
        ("index", "200 bit flips in the trees", damage("index_high.ann", bit_flips(200, 0.7))),
        ("index", "root child id 2^30", damage("index_low.ann", nodes_edit(
            child_of_last_root(lambda i: 2 ** 30)))),
        ("index", "root child id -1", damage("index_mid.ann", nodes_edit(
            child_of_last_root(lambda i: -1)))),
        ("index", "root child is itself", damage("index_high.ann", nodes_edit(
            child_of_last_root(lambda i: i)))),
        ("index", "inner child past the end", damage("index_low.ann", nodes_edit(
            child_of_inner_split))),
        ("index", "bucket id past the items", damage("index_mid.ann", nodes_edit(
            bucket_id(lambda items: items + 7)))),
        ("index", "bucket id negative", damage("index_high.ann", nodes_edit(
            bucket_id(lambda items: -5)))),
        ("index", "negative descendants", damage("index_low.ann", nodes_edit(
            descendants(lambda a, items: _splits(a, items)[0], lambda items: -9)))),
        ("index", "item not a leaf", damage("index_mid.ann", nodes_edit(
            descendants(lambda a, items: 3, lambda items: 40)))),
        ("index", "items count off by one", damage("index_high.ann", nodes_edit(
            descendants(lambda a, items: len(a) - 1, lambda items: items - 1)))),
        ("index", "another depth's index (valid)", swap_in("index_low.ann",
                                                           lambda d: d / "index_high.ann")),
        ("index", "the other pack's index", swap_in("index_low.ann",
                                                    lambda d: other / "index_low.ann")),
        ("index", "bit flips, hash kept", damage("index_high.ann", bit_flips(50), rehash=False)),
        # galleries
        ("gallery", "truncated to half", damage("gallery.npz", truncate(0.5))),
        ("gallery", "random bytes", damage("gallery.npz", random_bytes)),
        ("gallery", "random span in the data", damage("gallery.npz", span(0.6, 4096))),
        ("gallery", "label past the classes", gallery(arrays(labels=label_at(3, n_classes)))),
        ("gallery", "label negative", gallery(arrays(labels=label_at(0, -1)))),
        ("gallery", "labels float", gallery(arrays(labels=lambda x: x.astype(np.float32)))),
        ("gallery", "no labels", gallery(arrays(labels=None))),
        ("gallery", "source ids short", gallery(arrays(source_ids=lambda x: x[:-1]))),
        ("gallery", "source ids pickled", gallery(arrays(source_ids=lambda x: x.astype(object)))),
        ("gallery", "fewer sketches than the index", lambda d: (
            gallery(first_rows(1000))(d), setp("gallery.size", 1000)(d))),
        ("gallery", "projection of the wrong width", gallery(arrays(
            projection_mean_low=lambda x: x[:10]))),
        ("gallery", "projection not finite", gallery(arrays(projection_mid=lambda x: np.full_like(x, np.inf)))),
        ("gallery", "a pickle member", extra_member),
        ("gallery", "the other pack's gallery", swap_in("gallery.npz",
                                                        lambda d: other / "gallery.npz")),
        ("gallery", "bit flips, hash kept", damage("gallery.npz", bit_flips(20), rehash=False)),
        # ONNX files
        ("onnx", "convnet truncated", damage("convnet.onnx", truncate(0.5))),
        ("onnx", "convnet random bytes", damage("convnet.onnx", random_bytes)),
        ("onnx", "convnet zeros", damage("convnet.onnx", zeros)),
        ("onnx", "convnet 30 bit flips", damage("convnet.onnx", bit_flips(30))),
        ("onnx", "convnet span in the weights", damage("convnet.onnx", span(0.5, 2048))),
        ("onnx", "convnet of the other pack", swap_in("convnet.onnx",
                                                      lambda d: other / "convnet.onnx")),
        ("onnx", "convnet hash kept", damage("convnet.onnx", bit_flips(5), rehash=False)),
    ]
    if pack == "quickdraw":
        c += [
            ("manifest", "rnn max_len 0", setp("models.rnn.preprocess.max_len", 0)),
            ("manifest", "rnn max_len huge", setp("models.rnn.preprocess.max_len", 10 ** 9)),
            ("manifest", "rnn max_len off by one", setp("models.rnn.preprocess.max_len", 87)),
            ("manifest", "rnn scale 0", setp("models.rnn.preprocess.scale", 0)),
            ("manifest", "rnn scale string", setp("models.rnn.preprocess.scale", "36")),
            ("manifest", "rnn lengths float", setp("models.rnn.inputs.lengths.dtype", "float32")),
            ("manifest", "fusion without rnn", dropp("models.rnn")),
            ("manifest", "fusion embedding width", setp("models.fusion.inputs.cnn_embedding.shape",
                                                        ["N", 129])),
            ("gallery", "stroke offsets reversed", gallery(arrays(
                stroke_offsets=lambda x: x[::-1].copy()))),
            ("gallery", "stroke3 NaN", gallery(arrays(stroke3=lambda x: x * np.nan))),
            ("gallery", "stroke3 huge", gallery(arrays(stroke3=lambda x: x * 1e30))),
            ("gallery", "no stroke offsets", gallery(arrays(stroke_offsets=None))),
            ("onnx", "rnn and fusion swapped", lambda d: (
                swap_in("rnn.onnx", lambda _: other.parent / pack / "fusion.onnx")(d),
                swap_in("fusion.onnx", lambda _: other.parent / pack / "rnn.onnx")(d))),
            ("onnx", "rnn truncated", damage("rnn.onnx", truncate(0.3))),
            ("onnx", "fusion 10 bit flips", damage("fusion.onnx", bit_flips(10))),
            ("onnx", "fusion as convnet", swap_in("convnet.onnx", lambda d: d / "fusion.onnx")),
        ]
    else:
        c += [
            ("manifest", "content larger than the canvas", setp(f"{pre}.content", 1000)),
            ("manifest", "content 0", setp(f"{pre}.content", 0)),
            ("gallery", "thumbnails float", gallery(arrays(
                thumbnails=lambda x: x.astype(np.float32)))),
            ("gallery", "thumbnails huge", gallery(arrays(
                thumbnails=lambda x: np.zeros((len(x), 2000, 1), np.uint8)))),
            ("gallery", "thumbnails removed", gallery(arrays(thumbnails=None))),
        ]
    return [Case(pack, kind, name, apply) for kind, name, apply in c]


# --- running -----------------------------------------------------------------------------------
def sample_inputs(tmp: Path) -> tuple[Path, list[Path]]:
    """Three Quick, Draw! drawings (from classes both packs know) and two PNGs."""
    lines = []
    for cls in ("cat", "apple", "eyeglasses"):
        with (DATA / "quickdraw" / "simplified" / f"{cls}.ndjson").open() as f:
            lines.append(f.readline())
    ndjson = tmp / "drawings.ndjson"
    ndjson.write_text("".join(lines))
    png = tmp / "tiny.png"
    img = Image.new("L", (48, 48), 255)
    ImageDraw.Draw(img).ellipse((8, 8, 40, 40), outline=0, width=3)
    img.save(png)
    return ndjson, [png, DATA / "tu-berlin" / "png" / "airplane" / "1.png"]


def run(argv: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-m", "sketchpad", *argv], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=timeout, errors="replace")
    except subprocess.TimeoutExpired:
        return {"rc": None, "out": "", "err": "", "hang": True, "s": timeout}
    return {"rc": p.returncode, "out": p.stdout, "err": p.stderr, "hang": False,
            "s": time.perf_counter() - t0}


def check_case(case: Case, work: Path, pristine: Path, inputs: tuple[Path, list[Path]],
               env: dict[str, str], timeout: float) -> dict[str, Any]:
    packs_dir = work / "packs"
    target = packs_dir / f"broken-{case.pack}"
    shutil.copytree(pristine / case.pack, target, copy_function=os.link)
    shutil.copytree(pristine / SIBLING[case.pack], packs_dir / SIBLING[case.pack],
                    copy_function=os.link)
    case.apply(target)
    ndjson, pngs = inputs
    runs = {
        "packs": run(["packs", "--json", "--packs-dir", str(packs_dir), "--cpu"], env, timeout),
        "classify": run(["classify", str(ndjson), "--pack", str(target), "--cpu"], env, timeout),
        "search": run(["search", str(ndjson), "--pack", str(target), "--k", "5", "--cpu"], env,
                      timeout),
        "self-test": run(["--self-test", "--packs-dir", str(packs_dir)], env, timeout),
    }
    if case.pack == "tu-berlin":
        runs["classify png"] = run(["classify", *map(str, pngs), "--pack", str(target), "--cpu"],
                                   env, timeout)
    verdict, sibling_ok, reason = "?", False, ""
    try:
        listed = {Path(p["path"]).name: p for p in json.loads(runs["packs"]["out"])["packs"]}
        mine = listed.get(target.name)
        verdict = "ok" if mine and mine["valid"] else "broken"
        reason = (mine or {}).get("error") or ""
        sibling_ok = bool(listed.get(SIBLING[case.pack], {}).get("valid"))
    except (ValueError, KeyError, TypeError):
        pass
    lines = runs["self-test"]["out"].splitlines()
    sib_line = [ln for ln in lines if ln.startswith(f"{SIBLING[case.pack]}: ")]
    my_line = [ln for ln in lines if ln not in sib_line and ": " in ln
               and not ln.startswith("self-test")]
    sibling_ok = sibling_ok and bool(sib_line) and ": ok," in sib_line[0]
    problems = []
    for name, r in runs.items():
        if r["hang"]:
            problems.append(("hang", name))
            continue
        if r["rc"] < 0:
            problems.append(("signal", f"{name} {r['rc']}"))
        if "Traceback (most recent call last)" in r["out"] + r["err"] or "Fatal Python" in r["err"]:
            problems.append(("traceback", f"{name}: {(r['err'] or r['out']).strip()[-300:]}"))
    for name in ("classify", "search", "classify png"):
        r = runs.get(name)
        if r and not r["hang"] and r["rc"] != (0 if verdict == "ok" else 4):
            problems.append(("disagreement", f"packs says {verdict}, {name} exits {r['rc']}: "
                                             f"{r['err'].strip()[-200:]}"))
    self_ok = bool(my_line) and ": ok," in my_line[0]
    if not runs["self-test"]["hang"] and self_ok != (verdict == "ok"):
        problems.append(("disagreement", f"packs says {verdict}, self-test: "
                                         f"{my_line[0][:200] if my_line else lines[-1:]}"))
    if not sibling_ok:
        problems.append(("sibling", f"healthy {SIBLING[case.pack]} not ok beside it"))
    shutil.rmtree(work)
    print(f"{case.pack} / {case.name}: {verdict}" + "".join(f"; {k}" for k, _ in problems),
          file=sys.stderr, flush=True)
    return {"case": case, "verdict": verdict, "reason": reason, "problems": problems,
            "seconds": sum(r["s"] for r in runs.values())}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per command")
    ap.add_argument("--only", default="", help="run the cases whose name contains TEXT")
    ap.add_argument("--list", action="store_true", help="list the cases and stop")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sketchpad-corrupt-"))
    try:
        pristine = tmp / "pristine"
        for name in NAMES:
            shutil.copytree(PACKS / name, pristine / name)
        cases = [c for name in NAMES for c in cases_for(name, pristine)
                 if args.only in f"{c.pack} {c.kind} {c.name}"]
        if args.list:
            for c in cases:
                print(f"{c.pack}\t{c.kind}\t{c.name}")
            return 0
        home = tmp / "home"
        env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
               "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache"),
               "SKETCHPAD_WORDS": str(home / "words"), "SKETCHPAD_PACKS": str(tmp / "none"),
               "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
        inputs = sample_inputs(tmp)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(lambda ic: check_case(ic[1], tmp / f"case{ic[0]}", pristine,
                                                          inputs, env, args.timeout),
                                    enumerate(cases)))
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, wall, args)
    return 1 if any(r["problems"] for r in results) else 0


def report(results: list[dict[str, Any]], wall: float, args: argparse.Namespace) -> None:
    kinds = ("signal", "traceback", "hang", "disagreement", "sibling")
    print(f"\n{len(results)} corrupted packs, {args.jobs} at a time, {wall:.0f} s "
          f"(commands: packs, classify, search, --self-test; timeout {args.timeout:.0f} s each)\n")
    print("| pack | damage | cases | packs: ok / broken | signals | tracebacks | hangs "
          "| disagreements | sibling hurt |")
    print("|---|---|---|---|---|---|---|---|---|")
    groups = sorted({(r["case"].pack, r["case"].kind) for r in results}) + [("all", "all")]
    for pack, kind in groups:
        rs = [r for r in results if pack == "all" or (r["case"].pack, r["case"].kind) == (pack, kind)]
        n = Counter(p[0] for r in rs for p in r["problems"])
        ok = sum(r["verdict"] == "ok" for r in rs)
        print(f"| {pack} | {kind} | {len(rs)} | {ok} / {len(rs) - ok} | "
              + " | ".join(str(n[k]) for k in kinds) + " |")
    total = Counter(p[0] for r in results for p in r["problems"])
    print(f"\nsignals / tracebacks / hangs / disagreements: {total['signal']}/{total['traceback']}/"
          f"{total['hang']}/{total['disagreement']} (sibling hurt: {total['sibling']})")
    for r in results:
        for kind, detail in r["problems"]:
            print(f"  {r['case'].pack} / {r['case'].name}: {kind}: {detail}")
    print("\nverdicts:")
    for r in results:
        c = r["case"]
        print(f"  {c.pack:9} {c.kind:8} {c.name:38} {r['verdict']:6} {r['reason'][:110]}")


if __name__ == "__main__":
    sys.exit(main())

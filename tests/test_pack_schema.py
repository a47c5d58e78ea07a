"""The manifest schema and the gallery checks: each kind of defect is a PackError that names it.

Manifest edits leave the files' hashes as they were (the manifest is not hashed), so
``load_pack`` runs with hash checks; gallery edits rewrite ``gallery.npz`` and load without them.
"""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from packcopy import copy_pack
from sketchpad.manifest import MAX_MANIFEST_BYTES
from sketchpad.pack import DEPTHS, PackError, load_gallery, load_pack
from sketchpad.runtime import open_pack


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit that sets the value at a dotted path (``models.convnet.preprocess.size``)."""
    *head, last = path.split(".")

    def edit(m: dict[str, Any]) -> None:
        for key in head:
            m = m[key]
        m[last] = value
    return edit


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    *head, last = path.split(".")

    def edit(m: dict[str, Any]) -> None:
        for key in head:
            m = m[key]
        del m[last]
    return edit


PRE = "models.convnet.preprocess"
LOW = "features.low"
DEEP: Any = 1
for _ in range(80):
    DEEP = [DEEP]

MANIFEST_DEFECTS = [
    # versions and identity
    (_set("format_version", "1"), "format_version must be an integer, got a string"),
    (_set("format_version", True), "format_version must be an integer, got a boolean"),
    (_set("format_version", 2), "format version 2 is not supported"),
    (_set("name", 5), "name must be a string, got an integer"),
    (_set("title", ["x"]), "title must be a string, got a list"),
    (_set("title", "  "), "title must be a non-empty line of text"),
    (_set("title", "red \x1b[31m alert"), "title must be a non-empty line of text"),
    (_set("title", "t" * 1000), "title is 1000 characters long"),
    # classes
    (_set("classes", "apple"), "classes must be a list, got a string"),
    (_set("classes", [1, 2, 3]), r"classes\[0\] must be a string"),
    (_set("classes", ["apple", "apple", "star"]), "'classes' must be distinct"),
    (_set("classes", ["apple", "candle", "star", "cat"]),
     "models.convnet.outputs.logits has 3 columns, the pack has 4 classes"),
    (_set("classes", [f"c{i}" for i in range(20000)]), "classes must have 1 to 10000 items"),
    (_set("classes", ["a" * 500, "b", "c"]), r"classes\[0\] is 500 characters long"),
    # models
    (_set("models", []), "models must be an object, got a list"),
    (_set("models.cnn", {}), "unknown model.*'cnn'"),
    (_set("models.convnet.file", "other.onnx"), "models.convnet.file: other.onnx is not listed"),
    (_set("models.convnet.inputs", []), "models.convnet.inputs must be an object"),
    (_set("models.convnet.inputs.image.dtype", "float16"), "image.dtype must be one of"),
    (_set("models.convnet.inputs.image.shape", ["N", 1, -32, 32]), r"shape\[2\] must lie in"),
    (_set("models.convnet.inputs.image.shape", ["N", 1, 2.5, 32]),
     r"shape\[2\] must be an integer, got a number"),
    (_set("models.convnet.inputs.image.shape", ["N", 1, 10 ** 30, 32]), r"shape\[2\] must lie in"),
    (_set("models.convnet.inputs.image.shape", [4, 1, 32, 32]), "batch axis"),
    (_set("models.convnet.inputs.image.shape", "N132"), "image.shape must be a list"),
    (_set("models.convnet.outputs.logits", {"dtype": "float32"}), "logits has no 'shape'"),
    (_set("models.convnet.outputs.logits.shape", ["N", "C"]), r"must have shape \[batch, n\]"),
    (_drop("models.convnet.outputs.logits"), "models.convnet has no output 'logits'"),
    # preprocessing: sizes zero, negative, huge, strings, floats; unknown keys; wrong kind
    (_set(f"{PRE}.size", 0), r"preprocess.size must lie in \[8, 1024\], got 0"),
    (_set(f"{PRE}.size", -32), r"preprocess.size must lie in \[8, 1024\], got -32"),
    (_set(f"{PRE}.size", 10 ** 9), r"preprocess.size must lie in \[8, 1024\]"),
    (_set(f"{PRE}.size", "32"), "preprocess.size must be an integer, got a string"),
    (_set(f"{PRE}.size", 32.0), "preprocess.size must be an integer, got a number"),
    (_set(f"{PRE}.size", 64), r"image must be float32 \[batch, 1, 64, 64\]"),
    (_set(f"{PRE}.line_width", 0), r"line_width must lie in \(0, 32\]"),
    (_set(f"{PRE}.line_width", 1e300), r"line_width must lie in \(0, 32\]"),
    (_set(f"{PRE}.mean", -0.5), r"mean must lie in \[0, 1\]"),
    (_set(f"{PRE}.zoom", 2), "unknown order_raster parameter.*zoom"),
    (_set(f"{PRE}.kind", ["order_raster"]), "unknown preprocessing kind"),
    (_set(PRE, None), "convnet.preprocess must be a convnet_raster or an order_raster"),
    (_set(PRE, {"kind": "convnet_raster", "size": 32, "content": 64}),
     "content 64 does not fit the 32 px canvas"),
    (_set(PRE, {"kind": "convnet_raster", "size": 32, "content": 16, "scale": 0}),
     r"preprocess.scale must lie in \(0, 4\]"),
    (_set(PRE, {"kind": "convnet_raster", "size": 32, "content": 16, "scale": 3}),
     "content 16 at scale 3.0 does not fit the 32 px canvas"),
    (_set("models.rnn.preprocess.max_len", 49), r"strokes must be float32 \[batch, 49, 3\]"),
    (_set("models.rnn.preprocess.scale", -1), r"scale must lie in \(0, 1000000.0\]"),
    (_set("models.rnn.preprocess", {"kind": "order_raster"}), "rnn.preprocess must be a stroke3"),
    (_set("models.rnn.inputs.lengths.dtype", "float32"), r"lengths must be int64 \[batch\]"),
    (_set("models.fusion.inputs.cnn_embedding.shape", ["N", 17]),
     r"cnn_embedding must be float32 \[batch, 16\]"),
    (_drop("models.rnn"), "a 'fusion' model needs an 'rnn' model"),
    # features
    (_set("features", []), "features must be an object"),
    (_set("features", {}), "at least one search depth"),
    (_set(f"{LOW}.dim", "128"), "features.low.dim must be an integer"),
    (_set(f"{LOW}.dim", 0), r"features.low.dim must lie in \[1, 4096\]"),
    (_set(f"{LOW}.dim", 64), "features.low.dim is 64, the convnet's feat_low has 128 values"),
    (_set(f"{LOW}.metric", "cosine"), "features.low.metric must be one of angular, euclidean"),
    (_set(f"{LOW}.metric", None), "features.low.metric must be one of"),
    (_set(f"{LOW}.output", "logits"), r"must have shape|dim is 128, the convnet's logits"),
    (_set(f"{LOW}.annoy", [1000]), "features.low.annoy must be an object"),
    (_set(f"{LOW}.annoy.search_k", "1000"), "search_k must be an integer, got a string"),
    (_set(f"{LOW}.annoy.search_k", 1.5), "search_k must be an integer, got a number"),
    (_set(f"{LOW}.annoy.search_k", 0), "search_k must be -1"),
    (_set(f"{LOW}.annoy.search_k", 10 ** 12), r"search_k must lie in \[-1, 10000000\]"),
    (_set(f"{LOW}.index", "index_x.ann"), "features.low.index: index_x.ann is not listed"),
    (_set(f"{LOW}.layer", 3), "features.low.layer must be a string"),
    # gallery and files
    (_set("gallery", ["gallery.npz"]), "gallery must be an object"),
    (_drop("gallery.file"), "gallery has no 'file'"),
    (_set("gallery.size", "120"), "gallery.size must be an integer"),
    (_set("gallery.attribution", 5), "gallery.attribution must be a string"),
    (_set("gallery.has_strokes", "yes"), "gallery.has_strokes must be true or false"),
    (_set("files", []), "files must be an object"),
    (_set("files", {}), "files lists no file"),
    (lambda m: m["files"].update({"../outside.bin": "0" * 64}), "relative paths inside the pack"),
    (lambda m: m["files"].update({"/etc/passwd": "0" * 64}), "relative paths inside the pack"),
    (lambda m: m["files"].update({"gallery.npz": "abc"}), "must be a sha256 digest"),
    # what the window reads of the informational sections
    (_set("metrics", [1]), "metrics must be an object"),
    (_set("metrics.train_accuracy_fusion.protocol", 7), "protocol must be a string"),
    (_set("metrics.x", "high"), "metrics.x must be a number or"),
    (_set("dataset", ["qd"]), "dataset must be an object"),
    (_set("training", "cpu"), "training must be an object"),
    (_set("confusion_matrix", [[1, 2], [3, 4]]), "confusion_matrix must have 3 to 3 items"),
    (_set("confusion_matrix", {"value": [[1, 0, 0], [0, -1, 0], [0, 0, 1]]}),
     r"confusion_matrix\[1\]\[1\] must lie in"),
    (_set("per_class_accuracy", [0.5, 2, 0.5]), r"per_class_accuracy\[1\] must lie in \[0, 1\]"),
    (_set("accuracy_vs_fraction", {"half": 0.5}), "'half' is not a fraction"),
    # nesting anywhere, even in a key nothing reads
    (_set("notes", DEEP), "nested deeper than 64 levels"),
]


@pytest.mark.parametrize("edit, reason", MANIFEST_DEFECTS)
def test_manifest_defect_is_named(tiny_pack_dir: Path, tmp_path: Path, edit, reason: str) -> None:
    path = copy_pack(tiny_pack_dir, tmp_path / "p", edit)
    with pytest.raises(PackError, match=reason):
        load_pack(path)


@pytest.mark.parametrize("text, reason", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply|not valid JSON"),
    ('{"format_version": ' + "1" * 5000 + "}", "not valid JSON"),
    ('{"format_version": 1e999}', "too large for a float"),
    ('{"format_version": NaN}', "NaN is not a number JSON allows"),
    ('{"format_version": -Infinity}', "-Infinity is not a number JSON allows"),
    ('{"format_version": 1, "title": "\\ud800"}', "lone surrogate"),
    ('{"format_version": 1, "\\udc80": 2}', "lone surrogate"),
])
def test_unreadable_manifest_text_is_named(tiny_pack_dir: Path, tmp_path: Path, text: str,
                                           reason: str) -> None:
    path = copy_pack(tiny_pack_dir, tmp_path / "p")
    (path / "manifest.json").write_text(text)
    with pytest.raises(PackError, match=f"manifest.json is unreadable .*({reason})"):
        load_pack(path)


def test_manifest_size_is_capped_and_bytes_must_be_utf8(tiny_pack_dir: Path, tmp_path: Path):
    path = copy_pack(tiny_pack_dir, tmp_path / "p")
    (path / "manifest.json").write_bytes(b" " * (MAX_MANIFEST_BYTES + 1))
    with pytest.raises(PackError, match="larger than 8 MiB"):
        load_pack(path)
    (path / "manifest.json").write_bytes(b'{"title": "\xff"}')
    with pytest.raises(PackError, match="not valid JSON"):
        load_pack(path)


def test_a_bom_and_unknown_sections_are_accepted(tiny_pack_dir: Path, tmp_path: Path) -> None:
    def extend(m: dict[str, Any]) -> None:
        m.update(calibration={"temperature": {}}, probes={"anything": [1, {"x": None}]})
    path = copy_pack(tiny_pack_dir, tmp_path / "p", extend)
    text = (path / "manifest.json").read_text()
    (path / "manifest.json").write_text("\ufeff" + text, encoding="utf-8")
    assert load_pack(path).manifest["probes"]["anything"][0] == 1


def test_listed_files_must_be_regular_files(tiny_pack_dir: Path, tmp_path: Path) -> None:
    path = copy_pack(tiny_pack_dir, tmp_path / "p")
    (path / "ATTRIBUTION.txt").unlink()
    os.mkfifo(path / "ATTRIBUTION.txt")          # a FIFO would block the sha256 pass forever
    with pytest.raises(PackError, match="ATTRIBUTION.txt is not a regular file"):
        load_pack(path)
    (path / "ATTRIBUTION.txt").unlink()
    (path / "ATTRIBUTION.txt").mkdir()
    with pytest.raises(PackError, match="ATTRIBUTION.txt is not a regular file"):
        load_pack(path, verify_hashes=False)


def test_manifest_that_is_a_folder_is_no_manifest(tiny_pack_dir: Path, tmp_path: Path) -> None:
    path = copy_pack(tiny_pack_dir, tmp_path / "p")
    (path / "manifest.json").unlink()
    (path / "manifest.json").mkdir()
    with pytest.raises(PackError, match="no manifest.json"):
        load_pack(path)


# --- the gallery -------------------------------------------------------------------------------
def _gallery(tiny_pack_dir: Path) -> dict[str, np.ndarray]:
    with np.load(tiny_pack_dir / "gallery.npz") as data:
        return {k: data[k] for k in data.files}


def _subset(a: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """The first ``n`` sketches of a stroke gallery, consistently (a smaller, valid gallery)."""
    off = a["stroke_offsets"][: n + 1]
    out = dict(a, labels=a["labels"][:n], source_ids=a["source_ids"][:n], stroke_offsets=off,
               stroke3=a["stroke3"][: off[-1]])
    out.update({f"projection_{d}": a[f"projection_{d}"][:n] for d in DEPTHS})
    return out


def _with(**changes: Any) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    def edit(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        a = dict(a)
        for k, v in changes.items():
            if v is None:
                a.pop(k)
            else:
                a[k] = v(a[k]) if callable(v) else v
        return a
    return edit


def _labels_plus(k: int) -> Callable[[np.ndarray], np.ndarray]:
    def f(labels: np.ndarray) -> np.ndarray:
        out = labels.copy()
        out[5] += k
        return out
    return f


GALLERY_DEFECTS = [
    (_with(labels=_labels_plus(3)), "labels run from 0 to 3, the pack has 3 classes"),
    (_with(labels=_labels_plus(-10)), "labels run from -"),
    (_with(labels=lambda x: x.astype(np.float32)), "labels is float32"),
    (_with(labels=None), "has no 'labels' array"),
    (_with(source_ids=lambda x: x[:-1]), r"source_ids is .*\(119,\), expected"),
    (lambda a: _subset(a, 100), "holds 100 sketches, the manifest says 120"),
    (_with(stroke_offsets=lambda x: x[::-1].copy()), "stroke_offsets must rise from 0"),
    (_with(stroke3=lambda x: np.where(np.arange(len(x))[:, None] == 3, np.nan, x)),
     "stroke3 holds values that are not finite"),
    (_with(stroke3=lambda x: x * 1e9), "stroke3 holds values that are not finite offsets"),
    (_with(stroke_offsets=None), "stroke3 and stroke_offsets go together"),
    (_with(projection_mean_low=lambda x: x[:64]), r"projection_mean_low is float32 \(64,\)"),
    (_with(projection_basis_mid=None), "the mid projection needs"),
    (_with(projection_low=lambda x: x * np.inf), "projection_low holds values that are not finite"),
    (_with(thumbnails=np.zeros((120, 8, 8), np.uint8)), "says it has no thumbnails"),
    (_with(source_ids=lambda x: x.astype(object)), "holds object values"),
]


@pytest.mark.parametrize("edit, reason", GALLERY_DEFECTS)
def test_gallery_defect_is_named(tiny_pack_dir: Path, tmp_path: Path, edit, reason: str) -> None:
    path = copy_pack(tiny_pack_dir, tmp_path / "p")
    np.savez_compressed(path / "gallery.npz", **edit(_gallery(tiny_pack_dir)), allow_pickle=True)
    with pytest.raises(PackError, match=reason):
        load_gallery(load_pack(path, verify_hashes=False))


def test_gallery_shorter_than_its_index_is_refused(tiny_pack_dir: Path, tmp_path: Path) -> None:
    """Consistent with itself and the manifest, but not with the index: the searcher says so."""
    path = copy_pack(tiny_pack_dir, tmp_path / "p", _drop("gallery.size"))
    np.savez_compressed(path / "gallery.npz", **_subset(_gallery(tiny_pack_dir), 100))
    with pytest.raises(PackError, match="index_low.ann is damaged: it holds 120 items, the "
                                        "gallery 100"):
        open_pack(load_pack(path, verify_hashes=False), prefer_gpu=False)


@pytest.mark.parametrize("damage, reason", [
    (lambda b: b[: len(b) // 2], "unreadable"),
    (lambda b: b"PK\x03\x04" + bytes(200), "unreadable"),
    (lambda b: bytes(len(b)), "unreadable"),
])
def test_damaged_gallery_archive_is_unreadable(tiny_pack_dir: Path, tmp_path: Path, damage,
                                               reason: str) -> None:
    path = copy_pack(tiny_pack_dir, tmp_path / "p")
    (path / "gallery.npz").write_bytes(damage((path / "gallery.npz").read_bytes()))
    with pytest.raises(PackError, match=reason):
        load_gallery(load_pack(path, verify_hashes=False))


def test_gallery_member_that_is_no_array_or_lies_about_its_size(tiny_pack_dir: Path,
                                                                tmp_path: Path) -> None:
    path = copy_pack(tiny_pack_dir, tmp_path / "p")
    with zipfile.ZipFile(path / "gallery.npz", "a") as z:
        z.writestr("run_me.py", "print('hello')")
    with pytest.raises(PackError, match="member 'run_me.py' is not a plain or deflated .npy"):
        load_gallery(load_pack(path, verify_hashes=False))

    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.zeros(10, np.int32))
    header_only = buf.getvalue()[:-8]   # says 10 labels, holds 8
    arrays = _gallery(tiny_pack_dir)
    np.savez(path / "gallery.npz", **{k: v for k, v in arrays.items() if k != "labels"})
    with zipfile.ZipFile(path / "gallery.npz", "a") as z:
        z.writestr("labels.npy", header_only)
    with pytest.raises(PackError, match="labels.npy is truncated or padded"):
        load_gallery(load_pack(path, verify_hashes=False))


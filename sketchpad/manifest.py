"""The schema of a pack's ``manifest.json``: read whole, checked whole, before anything uses it.

:func:`read_manifest` reads the file with a size cap, parses it strictly (no ``NaN``/``Infinity``,
no float that overflows, no integer over Python's digit limit, no nesting over
:data:`MAX_NESTING`, no lone surrogate in any string) and :func:`parse_manifest` turns it into
frozen dataclasses (:class:`Manifest`, :class:`ModelSpec`, :class:`FeatureSpec`,
:class:`GallerySpec`, and the preprocessing specs of :mod:`sketchpad.preprocess`), checking
every type and range on the way, then every cross-reference: files listed in ``files``, the
logits width against the classes, feature outputs and dims against the convnet outputs, the
preprocessing sizes against the input shapes, the fusion inputs against the branches' embeddings.
Anything wrong raises :class:`ManifestError` naming the JSON path; :func:`sketchpad.pack.load_pack`
adds the pack's name and raises :class:`~sketchpad.pack.PackError`.

Why dataclasses with explicit checks and not ``jsonschema``: the dataclasses are what the engine,
the searcher and the window read, so building them *is* the validation, one declaration rather
than a JSON Schema plus the code that turns it into objects; half of the rules are
cross-references JSON Schema cannot state; its ``integer`` accepts ``1.0`` and its range keywords
let ``NaN`` through unless customised; and the app (and its PyInstaller bundle) gains no
dependency (jsonschema brings attrs, referencing and the compiled rpds-py, and 40 ms of import).
The issue-18 sections (``calibration``, ``open_set``, :mod:`sketchpad.trust`) follow the same style.

Informational sections (``metrics``, ``dataset``, ``training``, ``quantization``, …) may hold
anything JSON, but what the app reads of them has its type checked; unknown top-level keys are
allowed, so other modules can add sections they validate themselves.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from .preprocess import ConvNetRaster, OrderRaster, Stroke3Spec

FORMAT_VERSION = 1
DEPTHS = ("low", "mid", "high")
#: Annoy 1.17.3's metrics (``AnnoyIndex(f, metric)``); :mod:`sketchpad.search` knows each layout.
METRICS = ("angular", "euclidean", "manhattan", "hamming", "dot")
DTYPES = ("float32", "int64")
MODELS = ("convnet", "rnn", "fusion")

MAX_MANIFEST_BYTES = 8 << 20   # the TU-Berlin manifest, with its 250 × 250 matrix, is 0.7 MB
MAX_NESTING = 64
MAX_CLASSES = 10_000
MAX_TEXT = 256                 # names, titles, class names, tensor names
MAX_LONG_TEXT = 1 << 16        # protocols, attributions
MAX_FILES = 256
MAX_TENSORS = 16
MAX_RANK = 8
MAX_EXTENT = 1 << 24           # one tensor dimension
MAX_SIDE = 1024                # raster sides
MAX_SEQUENCE = 4096            # RNN steps
MAX_DIM = 4096                 # search vector length
MAX_SEARCH_K = 10_000_000
MAX_GALLERY = 10_000_000

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ManifestError(ValueError):
    """A manifest that breaks the schema; the message starts with the JSON path."""


# --- the declared shapes ---------------------------------------------------------------------
@dataclass(frozen=True)
class TensorSpec:
    """One named input or output: dtype and shape (ints, or names for symbolic axes)."""

    dtype: str
    shape: tuple[int | str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class ModelSpec:
    """One ONNX model of a pack: its file, tensor names with dtype and shape, and preprocessing.

    ``inputs``/``outputs`` map each name to ``{"dtype": ..., "shape": [...]}`` (checked), the form
    :func:`sketchpad.engine._check_io` compares with the ONNX graph."""

    name: str
    file: Path
    inputs: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    preprocess: ConvNetRaster | OrderRaster | Stroke3Spec | None


@dataclass(frozen=True)
class FeatureSpec:
    """One depth's search index: which convnet output feeds it, its size and metric."""

    depth: str
    output: str
    dim: int
    metric: str
    index: Path
    layer: str = ""
    #: Every other key of ``features.<depth>`` (``annoy``, measured precision, …).
    info: dict[str, Any] = field(default_factory=dict)
    #: ``annoy.search_k`` as recorded at export (-1: Annoy's default, n × trees).
    search_k: int = -1


@dataclass(frozen=True)
class GallerySpec:
    file: Path
    size: int | None
    attribution: str
    has_strokes: bool | None
    has_thumbnails: bool | None


@dataclass(frozen=True)
class Manifest:
    """A checked manifest; ``raw`` is the parsed document (informational keys included)."""

    name: str
    title: str
    classes: list[str]
    models: dict[str, ModelSpec]
    features: dict[str, FeatureSpec]
    gallery: GallerySpec
    #: Relative path → sha256 (lower case).
    files: dict[str, str]
    raw: dict[str, Any]


# --- reading ---------------------------------------------------------------------------------
def _reject_constant(name: str) -> float:
    raise ManifestError(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ManifestError(f"the number {text[:40]} is too large for a float")
    return value


def _check_tree(doc: Any) -> None:
    """Nesting depth and strings of the whole document, iteratively (no recursion to exhaust)."""
    stack = [(doc, 1, "")]
    while stack:
        v, depth, where = stack.pop()
        if depth > MAX_NESTING:
            raise ManifestError(f"{where or 'the document'}: nested deeper than {MAX_NESTING} "
                                "levels")
        if isinstance(v, dict):
            for k, x in v.items():
                if _SURROGATE.search(k):
                    raise ManifestError(f"{where}: a key holds a lone surrogate (not text)")
                stack.append((x, depth + 1, _at(where, _key(k))))
        elif isinstance(v, list):
            stack.extend((x, depth + 1, f"{where}[{i}]") for i, x in enumerate(v))
        elif isinstance(v, str) and _SURROGATE.search(v):
            raise ManifestError(f"{where}: the string holds a lone surrogate (not text)")


def read_manifest(path: Path) -> dict[str, Any]:
    """The parsed document, at most :data:`MAX_MANIFEST_BYTES`; raises ManifestError or OSError."""
    with path.open("rb") as f:
        data = f.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"larger than {MAX_MANIFEST_BYTES >> 20} MiB")
    try:
        doc = json.loads(data.decode("utf-8-sig"), parse_constant=_reject_constant,
                         parse_float=_finite_float)
    except RecursionError:
        raise ManifestError("nested too deeply to read") from None
    except ManifestError:
        raise
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, the int digit limit
        raise ManifestError(f"not valid JSON ({str(exc)[:200]})") from None
    _check_tree(doc)
    return doc


# --- typed values ----------------------------------------------------------------------------
def _obj(v: Any, where: str, max_items: int = 1 << 16) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise ManifestError(f"{where} must be an object, got {_kind(v)}")
    if len(v) > max_items:
        raise ManifestError(f"{where} has {len(v)} entries, at most {max_items} are allowed")
    return v


def _list(v: Any, where: str, lo: int, hi: int) -> list[Any]:
    if not isinstance(v, list):
        raise ManifestError(f"{where} must be a list, got {_kind(v)}")
    if not lo <= len(v) <= hi:
        raise ManifestError(f"{where} must have {lo} to {hi} items, it has {len(v)}")
    return v


def _str(v: Any, where: str, max_len: int = MAX_TEXT, plain: bool = True) -> str:
    """A string; ``plain`` ones (names, titles) are non-empty and hold no control characters."""
    if not isinstance(v, str):
        raise ManifestError(f"{where} must be a string, got {_kind(v)}")
    if len(v) > max_len:
        raise ManifestError(f"{where} is {len(v)} characters long, at most {max_len} are allowed")
    if plain and (not v.strip() or _CONTROL.search(v)):
        raise ManifestError(f"{where} must be a non-empty line of text, got {v[:40]!r}")
    return v


def _text(v: Any, where: str) -> str:
    """Free text (a protocol, an attribution, a layer's description)."""
    return _str(v, where, MAX_LONG_TEXT, plain=False)


def _int(v: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ManifestError(f"{where} must be an integer, got {_kind(v)}")
    if not lo <= v <= hi:
        raise ManifestError(f"{where} must lie in [{lo}, {hi}], got {_short(v)}")
    return v


def _num(v: Any, where: str, lo: float, hi: float, open_lo: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ManifestError(f"{where} must be a number, got {_kind(v)}")
    if not (lo < v if open_lo else lo <= v) or not v <= hi:
        raise ManifestError(f"{where} must lie in {'(' if open_lo else '['}{lo}, {hi}], "
                            f"got {_short(v)}")
    return float(v)


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise ManifestError(f"{where} must be true or false, got {_kind(v)}")
    return v


def _at(where: str, key: str) -> str:
    """The JSON path of ``key`` inside ``where`` ('' is the top level)."""
    return f"{where}.{key}" if where else key


def _key(k: str) -> str:
    """A key as it can go into a message (quoted when it holds control characters)."""
    return k if k.isprintable() else repr(k)


def _optional(d: dict[str, Any], key: str, where: str, check: Callable[[Any, str], Any],
              default: Any = None) -> Any:
    """``check(d[key])`` when the key is there (``null`` is a wrong type, not an absence)."""
    return check(d[key], _at(where, key)) if key in d else default


def _required(d: dict[str, Any], key: str, where: str) -> Any:
    if key not in d:
        raise ManifestError(f"{where or 'manifest'} has no {key!r}")
    return d[key]


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(v), type(v).__name__)


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else f"{text[:20]}…({len(text)} characters)"


# --- sections --------------------------------------------------------------------------------
def _files(v: Any, where: str) -> dict[str, str]:
    out = {}
    for rel, digest in _obj(v, where, MAX_FILES).items():
        at = f"{where}[{rel!r}]"
        parts = PurePosixPath(rel).parts
        if (not parts or len(rel) > MAX_TEXT or rel.startswith("/") or ".." in parts
                or "\\" in rel or ":" in rel or _CONTROL.search(rel)):
            raise ManifestError(f"{at}: file names must be relative paths inside the pack")
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise ManifestError(f"{at} must be a sha256 digest (64 hex digits)")
        out[rel] = digest.lower()
    if not out:
        raise ManifestError(f"{where} lists no file")
    return out


def _listed(rel: Any, where: str, files: dict[str, str]) -> str:
    rel = _str(rel, where)
    if rel not in files:
        raise ManifestError(f"{where}: {rel} is not listed in 'files'")
    return rel


def _tensor(v: Any, where: str) -> TensorSpec:
    d = _obj(v, where)
    dtype = _required(d, "dtype", where)
    if dtype not in DTYPES:
        raise ManifestError(f"{where}.dtype must be one of {', '.join(DTYPES)}, "
                            f"got {_short(dtype)}")
    shape = []
    for i, a in enumerate(_list(_required(d, "shape", where), f"{where}.shape", 1, MAX_RANK)):
        at = f"{where}.shape[{i}]"
        shape.append(_str(a, at, 32) if isinstance(a, str) else _int(a, at, 1, MAX_EXTENT))
    if isinstance(shape[0], int) and shape[0] != 1:
        raise ManifestError(f"{where}.shape[0] is the batch axis: a name or 1, got {shape[0]}")
    return TensorSpec(dtype, tuple(shape))


def _tensors(v: Any, where: str) -> dict[str, TensorSpec]:
    d = _obj(v, where, MAX_TENSORS)
    if not d:
        raise ManifestError(f"{where} names no tensor")
    return {_str(k, f"{where} name"): _tensor(t, f"{where}.{k}") for k, t in d.items()}


_PREPROCESS: dict[str, tuple[type, dict[str, Callable[[Any, str], Any]]]] = {
    "convnet_raster": (ConvNetRaster, {
        "size": lambda v, w: _int(v, w, 8, MAX_SIDE),
        "content": lambda v, w: _int(v, w, 8, MAX_SIDE),
        "line_width": lambda v, w: _num(v, w, 0, 32, open_lo=True),
        "mean": lambda v, w: _num(v, w, 0, 1),
        "scale": lambda v, w: _num(v, w, 0, 4, open_lo=True)}),
    "order_raster": (OrderRaster, {
        "size": lambda v, w: _int(v, w, 8, MAX_SIDE),
        "line_width": lambda v, w: _num(v, w, 0, 32, open_lo=True),
        "mean": lambda v, w: _num(v, w, 0, 1)}),
    "stroke3": (Stroke3Spec, {
        "scale": lambda v, w: _num(v, w, 0, 1e6, open_lo=True),
        "max_len": lambda v, w: _int(v, w, 1, MAX_SEQUENCE)}),
}


def _preprocess(v: Any, where: str) -> ConvNetRaster | OrderRaster | Stroke3Spec | None:
    if v is None:
        return None
    d = _obj(v, where)
    kind = _required(d, "kind", where)
    if not isinstance(kind, str) or kind not in _PREPROCESS:
        raise ManifestError(f"{where}: unknown preprocessing kind {_short(kind)} "
                            f"(known: {', '.join(_PREPROCESS)})")
    cls, params = _PREPROCESS[kind]
    unknown = sorted(set(d) - set(params) - {"kind"})
    if unknown:
        raise ManifestError(f"{where}: unknown {kind} parameter(s) {', '.join(unknown)}")
    spec = cls(**{k: check(d[k], f"{where}.{k}") for k, check in params.items() if k in d})
    if isinstance(spec, ConvNetRaster) and spec.content > spec.size:
        raise ManifestError(f"{where}: content {spec.content} does not fit the {spec.size} px "
                            "canvas")
    if isinstance(spec, ConvNetRaster) and spec.content * spec.scale > spec.size:
        raise ManifestError(f"{where}: content {spec.content} at scale {spec.scale} does not fit "
                            f"the {spec.size} px canvas")
    return spec


def _model(name: str, v: Any, where: str, root: Path, files: dict[str, str]) -> ModelSpec:
    d = _obj(v, where)
    rel = _listed(_required(d, "file", where), f"{where}.file", files)
    inputs = _tensors(_required(d, "inputs", where), f"{where}.inputs")
    outputs = _tensors(_required(d, "outputs", where), f"{where}.outputs")
    pre = _preprocess(d.get("preprocess"), f"{where}.preprocess")
    return ModelSpec(name, root / rel, {k: t.as_dict() for k, t in inputs.items()},
                     {k: t.as_dict() for k, t in outputs.items()}, pre)


def _width(spec: ModelSpec, output: str, where: str) -> int:
    """The last axis of a ``[batch, width]`` output, which must be declared as an integer."""
    if output not in spec.outputs:
        raise ManifestError(f"{where} has no output {output!r}")
    shape = spec.outputs[output]["shape"]
    if len(shape) != 2 or not isinstance(shape[1], int):
        raise ManifestError(f"{where}.outputs.{output} must have shape [batch, n], got {shape}")
    return shape[1]


def _expect(spec: ModelSpec, kind: str, name: str, dtype: str, shape: list[int | None],
            where: str) -> None:
    """A tensor of this dtype and shape (``None``: any batch axis) is declared."""
    got = (spec.inputs if kind == "inputs" else spec.outputs).get(name)
    if got is None:
        raise ManifestError(f"{where}.{kind} has no {name!r}")
    if got["dtype"] != dtype or len(got["shape"]) != len(shape) or any(
            want is not None and a != want for a, want in zip(got["shape"], shape)):
        want = "[" + ", ".join("batch" if s is None else str(s) for s in shape) + "]"
        raise ManifestError(f"{where}.{kind}.{name} must be {dtype} {want}, got "
                            f"{got['dtype']} {got['shape']}")


def _check_models(models: dict[str, ModelSpec], n_classes: int, where: str) -> None:
    """What :class:`sketchpad.engine.Engine` relies on: names, preprocessing, widths."""
    for name, spec in models.items():
        at = f"{where}.{name}"
        if _width(spec, "logits", at) != n_classes:
            raise ManifestError(f"{at}.outputs.logits has {_width(spec, 'logits', at)} columns, "
                                f"the pack has {n_classes} classes")
    conv = models["convnet"]
    at = f"{where}.convnet"
    if not isinstance(conv.preprocess, (ConvNetRaster, OrderRaster)):
        raise ManifestError(f"{at}.preprocess must be a convnet_raster or an order_raster")
    if len(conv.inputs) != 1:
        raise ManifestError(f"{at}.inputs must name exactly one image input")
    (image,) = conv.inputs
    size = conv.preprocess.size
    _expect(conv, "inputs", image, "float32", [None, 1, size, size], at)
    if "rnn" in models:
        rnn, at = models["rnn"], f"{where}.rnn"
        if not isinstance(rnn.preprocess, Stroke3Spec):
            raise ManifestError(f"{at}.preprocess must be a stroke3 specification")
        if set(rnn.inputs) != {"strokes", "lengths"}:
            raise ManifestError(f"{at}.inputs must be exactly 'strokes' and 'lengths'")
        _expect(rnn, "inputs", "strokes", "float32", [None, rnn.preprocess.max_len, 3], at)
        _expect(rnn, "inputs", "lengths", "int64", [None], at)
    if "fusion" in models:
        fusion, at = models["fusion"], f"{where}.fusion"
        if "rnn" not in models:
            raise ManifestError(f"{where}: a 'fusion' model needs an 'rnn' model")
        if set(fusion.inputs) != {"cnn_embedding", "rnn_embedding"}:
            raise ManifestError(f"{at}.inputs must be exactly 'cnn_embedding' and 'rnn_embedding'")
        for branch, inp in (("convnet", "cnn_embedding"), ("rnn", "rnn_embedding")):
            width = _width(models[branch], "embedding", f"{where}.{branch}")
            _expect(fusion, "inputs", inp, "float32", [None, width], at)


def _feature(depth: str, v: Any, where: str, root: Path, files: dict[str, str],
             convnet: ModelSpec) -> FeatureSpec:
    d = _obj(v, where)
    output = _str(_required(d, "output", where), f"{where}.output")
    if output not in convnet.outputs:
        raise ManifestError(f"feature {depth} reads {output!r}, which the convnet lacks")
    dim = _int(_required(d, "dim", where), f"{where}.dim", 1, MAX_DIM)
    width = _width(convnet, output, "models.convnet")
    if width != dim:
        raise ManifestError(f"{where}.dim is {dim}, the convnet's {output} has {width} values")
    metric = d.get("metric", "angular")
    if metric not in METRICS:
        raise ManifestError(f"{where}.metric must be one of {', '.join(METRICS)}, "
                            f"got {_short(metric)}")
    index = _listed(_required(d, "index", where), f"{where}.index", files)
    layer = _optional(d, "layer", where, _text, "")
    annoy = _optional(d, "annoy", where, _obj, {})
    search_k = _optional(annoy, "search_k", f"{where}.annoy",
                         lambda x, w: _int(x, w, -1, MAX_SEARCH_K), -1)
    if search_k == 0:
        raise ManifestError(f"{where}.annoy.search_k must be -1 (Annoy's default) or positive")
    info = {k: x for k, x in d.items() if k not in ("output", "dim", "metric", "index", "layer")}
    return FeatureSpec(depth, output, dim, metric, root / index, layer, info, search_k)


def _gallery(v: Any, where: str, root: Path, files: dict[str, str]) -> GallerySpec:
    d = _obj(v, where)
    rel = _listed(_required(d, "file", where), f"{where}.file", files)
    size = _optional(d, "size", where, lambda x, w: _int(x, w, 1, MAX_GALLERY))
    return GallerySpec(root / rel, size, _optional(d, "attribution", where, _text, ""),
                       _optional(d, "has_strokes", where, _bool),
                       _optional(d, "has_thumbnails", where, _bool))


def _unwrap(v: Any) -> Any:
    """A report figure may be wrapped as ``{"value": ..., "protocol": ...}``."""
    return v["value"] if isinstance(v, dict) and "value" in v else v


def _check_figures(doc: dict[str, Any], n_classes: int) -> None:
    """The tables the window's pack report draws (``sketchpad.app.teaching.report``), at the
    top level or inside ``metrics``: C × C counts, C accuracies, fraction → accuracy."""
    metrics = doc.get("metrics", {})
    for key in ("confusion_matrix", "per_class_accuracy", "accuracy_vs_fraction"):
        for where, holder in ((key, doc), (f"metrics.{key}", metrics)):
            if key not in holder:
                continue
            v = _unwrap(holder[key])
            if key == "confusion_matrix":
                for i, row in enumerate(_list(v, where, n_classes, n_classes)):
                    for j, c in enumerate(_list(row, f"{where}[{i}]", n_classes, n_classes)):
                        _int(c, f"{where}[{i}][{j}]", 0, 1 << 53)
            elif key == "per_class_accuracy":
                items = (_obj(v, where).items() if isinstance(v, dict)
                         else enumerate(_list(v, where, n_classes, n_classes)))
                for c, a in items:
                    _num(a, f"{where}[{c!r}]", 0, 1)
            else:
                items = (_obj(v, where).items() if isinstance(v, dict) else
                         (tuple(_list(p, f"{where}[{i}]", 2, 2)) for i, p in enumerate(
                             _list(v, where, 0, 1 << 16))))
                for f, a in items:
                    try:
                        fraction = float(f)
                    except (TypeError, ValueError, OverflowError):
                        raise ManifestError(f"{where}: {_short(f)} is not a fraction") from None
                    _num(fraction, f"{where} fraction", 0, 1)
                    _num(a, f"{where}[{f!r}]", 0, 1)


def _check_informational(doc: dict[str, Any]) -> None:
    for key in ("dataset", "training", "quantization"):
        if key in doc:
            _obj(doc[key], key)
    for name, m in _obj(doc.get("metrics", {}), "metrics").items():
        if isinstance(m, dict):
            _optional(m, "protocol", f"metrics.{_key(name)}", _text)
        elif m is not None and not isinstance(m, (int, float, list)):
            raise ManifestError(f"metrics.{_key(name)} must be a number or "
                                "{'value': ..., 'protocol': ...}")


def parse_manifest(doc: Any, root: Path, default_name: str) -> Manifest:
    """Check ``doc`` against the schema and build the typed manifest of the pack in ``root``."""
    d = _obj(doc, "the manifest")
    version = _required(d, "format_version", "")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ManifestError(f"format_version must be an integer, got {_kind(version)}")
    if version != FORMAT_VERSION:
        raise ManifestError(f"format version {_short(version)} is not supported "
                            f"(this Sketchpad reads version {FORMAT_VERSION})")
    name = _optional(d, "name", "", lambda x, w: _str(x, w, 128), default_name)
    title = _optional(d, "title", "", _str, name)
    classes = [_str(c, f"classes[{i}]", 128)
               for i, c in enumerate(_list(_required(d, "classes", ""), "classes", 1, MAX_CLASSES))]
    if len(set(classes)) != len(classes):
        raise ManifestError("'classes' must be distinct names")
    files = _files(_required(d, "files", ""), "files")

    models_doc = _obj(_required(d, "models", ""), "models")
    unknown = sorted(set(models_doc) - set(MODELS))
    if unknown:
        raise ManifestError(f"models: unknown model(s) {', '.join(map(repr, unknown))} "
                            f"(known: {', '.join(MODELS)})")
    if "convnet" not in models_doc:
        raise ManifestError("a pack needs a 'convnet' model")
    models = {n: _model(n, m, f"models.{n}", root, files) for n, m in models_doc.items()}
    _check_models(models, len(classes), "models")

    features_doc = _obj(_required(d, "features", ""), "features")
    for depth in features_doc:
        if depth not in DEPTHS:
            raise ManifestError(f"unknown feature depth {depth!r} (known: {', '.join(DEPTHS)})")
    if not features_doc:
        raise ManifestError("features: a pack needs at least one search depth")
    features = {depth: _feature(depth, features_doc[depth], f"features.{depth}", root, files,
                                models["convnet"]) for depth in DEPTHS if depth in features_doc}
    gallery = _gallery(_required(d, "gallery", ""), "gallery", root, files)
    _check_informational(d)
    _check_figures(d, len(classes))
    return Manifest(name, title, classes, models, features, gallery, files, d)

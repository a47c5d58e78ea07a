"""Model packs: the self-describing folders under ``resources/packs/<pack>/`` (DESIGN.md, "Model packs").

:func:`load_pack` reads and checks a manifest and its files (presence, sha256, required fields)
and returns a :class:`Pack`, or raises :class:`PackError` with one sentence saying what is wrong,
so the app can list a broken pack with its reason while the others keep working.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .preprocess import ConvNetRaster, OrderRaster, Stroke3Spec, spec_from_dict

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DEPTHS = ("low", "mid", "high")
#: The environment variable and folder where a user keeps extra packs.
USER_PACKS_ENV = "SKETCHPAD_PACKS"


class PackError(RuntimeError):
    """A pack that cannot be used; the message names the pack and the reason."""


def builtin_packs_dir() -> Path:
    """``resources/packs`` beside the package (also inside a PyInstaller bundle)."""
    return Path(__file__).resolve().parent.parent / "resources" / "packs"


def user_packs_dir() -> Path:
    """The user's own pack folder: ``$SKETCHPAD_PACKS`` or ``~/.local/share/sketchpad/packs``."""
    env = os.environ.get(USER_PACKS_ENV)
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "sketchpad" / "packs"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class ModelSpec:
    """One ONNX model of a pack: its file, tensor names with shapes, and preprocessing."""

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
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pack:
    """A validated pack. ``gallery_file`` holds the indexed sketches (see :mod:`sketchpad.gallery`)."""

    path: Path
    name: str
    manifest: dict[str, Any]
    classes: list[str]
    models: dict[str, ModelSpec]
    features: dict[str, FeatureSpec]
    gallery_file: Path

    @property
    def title(self) -> str:
        return self.manifest.get("title", self.name)

    @property
    def metrics(self) -> dict[str, Any]:
        return self.manifest.get("metrics", {})


def _require(d: dict[str, Any], key: str, where: str) -> Any:
    if key not in d:
        raise PackError(f"{where}: manifest has no {key!r}")
    return d[key]


def load_pack(path: str | Path, verify_hashes: bool = True) -> Pack:
    """Read and validate one pack folder; raises :class:`PackError` with the reason."""
    path = Path(path)
    where = f"pack {path.name!r}"
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise PackError(f"{where}: no {MANIFEST} in {path}")
    try:
        m = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackError(f"{where}: {MANIFEST} is unreadable ({exc})") from None
    if not isinstance(m, dict):
        raise PackError(f"{where}: {MANIFEST} is not a JSON object")
    version = _require(m, "format_version", where)
    if version != FORMAT_VERSION:
        raise PackError(f"{where}: format version {version} is not supported "
                        f"(this Sketchpad reads version {FORMAT_VERSION})")
    classes = _require(m, "classes", where)
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise PackError(f"{where}: 'classes' must be a non-empty list of names")

    files = _require(m, "files", where)
    for rel, digest in files.items():
        f = path / rel
        if not f.is_file():
            raise PackError(f"{where}: file {rel} is missing")
        if verify_hashes and sha256_of(f) != digest:
            raise PackError(f"{where}: file {rel} is corrupt (sha256 does not match the manifest)")

    models = {}
    for name, spec in _require(m, "models", where).items():
        rel = _require(spec, "file", f"{where} model {name}")
        if rel not in files:
            raise PackError(f"{where}: model file {rel} is not listed in 'files'")
        try:
            pre = spec_from_dict(spec["preprocess"]) if spec.get("preprocess") else None
        except ValueError as exc:
            raise PackError(f"{where}: model {name}: {exc}") from None
        models[name] = ModelSpec(name, path / rel, _require(spec, "inputs", where),
                                 _require(spec, "outputs", where), pre)
    if "convnet" not in models:
        raise PackError(f"{where}: a pack needs a 'convnet' model")
    if "fusion" in models and "rnn" not in models:
        raise PackError(f"{where}: a 'fusion' model needs an 'rnn' model")

    features = {}
    for depth, spec in _require(m, "features", where).items():
        if depth not in DEPTHS:
            raise PackError(f"{where}: unknown feature depth {depth!r}")
        out = _require(spec, "output", where)
        if out not in models["convnet"].outputs:
            raise PackError(f"{where}: feature {depth} reads {out!r}, which the convnet lacks")
        index = path / _require(spec, "index", where)
        if spec["index"] not in files:
            raise PackError(f"{where}: index {spec['index']} is not listed in 'files'")
        features[depth] = FeatureSpec(depth, out, int(spec["dim"]), spec.get("metric", "angular"),
                                      index, spec.get("layer", ""),
                                      {k: v for k, v in spec.items()
                                       if k not in ("output", "dim", "metric", "index", "layer")})
    gallery = _require(m, "gallery", where)
    gfile = _require(gallery, "file", where)
    if gfile not in files:
        raise PackError(f"{where}: gallery {gfile} is not listed in 'files'")
    return Pack(path, m.get("name", path.name), m, classes, models, features, path / gfile)


@dataclass(frozen=True)
class PackEntry:
    """A pack folder found on disk: the pack, or why it cannot be used."""

    path: Path
    pack: Pack | None
    error: str | None

    @property
    def name(self) -> str:
        return self.pack.name if self.pack else self.path.name


def discover_packs(*dirs: Path, verify_hashes: bool = True) -> Iterator[PackEntry]:
    """Every sub-folder with a manifest in ``dirs`` (default: built-in, then user), in name order."""
    for d in dirs or (builtin_packs_dir(), user_packs_dir()):
        if not d.is_dir():
            continue
        for sub in sorted(p for p in d.iterdir() if (p / MANIFEST).exists()):
            try:
                yield PackEntry(sub, load_pack(sub, verify_hashes), None)
            except PackError as exc:
                yield PackEntry(sub, None, str(exc))


def load_gallery(pack: Pack) -> dict[str, np.ndarray]:
    """The gallery arrays (see :mod:`training.export` for the layout), loaded without pickle."""
    try:
        with np.load(pack.gallery_file, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise PackError(f"pack {pack.name!r}: gallery is unreadable ({exc})") from None

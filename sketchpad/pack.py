"""Model packs: the self-describing folders under ``resources/packs/<pack>/`` (DESIGN.md, "Model packs").

:func:`load_pack` checks a manifest against its schema (:mod:`sketchpad.manifest`) and its files
(regular files inside the pack, bounded in size, sha256 as listed) and returns a :class:`Pack`;
:func:`load_gallery` checks ``gallery.npz`` (member headers first, then values) against the
manifest. Both raise :class:`PackError` and nothing else, with one sentence saying what is wrong,
so a broken pack is listed with its reason while the others keep working. The indexes are checked
by :mod:`sketchpad.search` and the ONNX graphs by :mod:`sketchpad.engine`;
:func:`sketchpad.runtime.open_pack` runs all of it.
"""
from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .manifest import (DEPTHS, FORMAT_VERSION, FeatureSpec, GallerySpec, ManifestError,
                       ModelSpec, parse_manifest, read_manifest)
from .npyheader import NPZ_ERRORS, read_npy_header

__all__ = ["DEPTHS", "FORMAT_VERSION", "MANIFEST", "USER_PACKS_ENV", "FeatureSpec", "ModelSpec",
           "Pack", "PackEntry", "PackError", "builtin_packs_dir", "discover_packs",
           "load_gallery", "load_npz", "load_pack", "sha256_of", "user_data_dir",
           "user_packs_dir"]

MANIFEST = "manifest.json"
#: The environment variable and folder where a user keeps extra packs.
USER_PACKS_ENV = "SKETCHPAD_PACKS"
#: Largest file a pack may list (the shipped ones are under 12 MB): bounds the sha256 pass.
MAX_FILE_BYTES = 2 << 30
#: Largest .npz once decompressed (the TU-Berlin gallery is 58 MB), and most arrays in one.
MAX_NPZ_BYTES = 1 << 30
MAX_NPZ_ARRAYS = 64
#: Gallery strokes are normalised (longer side 255): an offset beyond this is damage.
MAX_STROKE_OFFSET = 1e4


class PackError(RuntimeError):
    """A pack that cannot be used; the message names the pack and the reason."""


def builtin_packs_dir() -> Path:
    """``resources/packs`` beside the package (also inside a PyInstaller bundle)."""
    return Path(__file__).resolve().parent.parent / "resources" / "packs"


def user_data_dir(env: str, leaf: str) -> Path:
    """``$env`` when it is set, else ``leaf`` in Sketchpad's user data folder
    (``$XDG_DATA_HOME/sketchpad``, by default ``~/.local/share/sketchpad``), where the user's
    packs and taught words live side by side."""
    override = os.environ.get(env)
    if override:
        return Path(override)
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "sketchpad" / leaf


def user_packs_dir() -> Path:
    """The user's own pack folder: ``$SKETCHPAD_PACKS`` or ``~/.local/share/sketchpad/packs``."""
    return user_data_dir(USER_PACKS_ENV, "packs")


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _printable(name: str) -> str:
    """A folder name as text that can be printed (undecodable bytes become U+FFFD)."""
    return name.encode("utf-8", "replace").decode("utf-8")


@dataclass(frozen=True)
class Pack:
    """A validated pack. ``gallery_file`` holds the indexed sketches (:mod:`sketchpad.gallery`)."""

    path: Path
    name: str
    manifest: dict[str, Any]
    classes: list[str]
    models: dict[str, ModelSpec]
    features: dict[str, FeatureSpec]
    gallery_file: Path
    gallery: GallerySpec | None = None

    @property
    def title(self) -> str:
        return self.manifest.get("title", self.name)

    @property
    def metrics(self) -> dict[str, Any]:
        return self.manifest.get("metrics", {})


def _check_files(root: Path, files: dict[str, str], verify_hashes: bool, where: str) -> None:
    """Every listed file is a regular file of bounded size (never a FIFO or a device, which
    would block or never end) and, with ``verify_hashes``, has the listed sha256."""
    for rel, digest in files.items():
        f = root / rel
        try:
            st = f.stat()
        except FileNotFoundError:
            raise PackError(f"{where}: file {rel} is missing") from None
        if not stat.S_ISREG(st.st_mode):
            raise PackError(f"{where}: {rel} is not a regular file")
        if st.st_size > MAX_FILE_BYTES:
            raise PackError(f"{where}: {rel} is larger than {MAX_FILE_BYTES >> 30} GiB")
        if verify_hashes and sha256_of(f) != digest:
            raise PackError(f"{where}: file {rel} is corrupt (sha256 does not match the manifest)")


def load_pack(path: str | Path, verify_hashes: bool = True) -> Pack:
    """Read and validate one pack folder; raises :class:`PackError` (only) with the reason."""
    path = Path(path)
    where = f"pack {path.name!r}"
    mpath = path / MANIFEST
    try:
        if not mpath.is_file():
            raise PackError(f"{where}: no {MANIFEST} in {path}")
        try:
            doc = read_manifest(mpath)
        except ManifestError as exc:
            raise PackError(f"{where}: {MANIFEST} is unreadable ({exc})") from None
        m = parse_manifest(doc, path, _printable(path.name))
        _check_files(path, m.files, verify_hashes, where)
    except ManifestError as exc:
        raise PackError(f"{where}: {exc}") from None
    except OSError as exc:
        raise PackError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    return Pack(path, m.name, m.raw, m.classes, m.models, m.features, m.gallery.file, m.gallery)


@dataclass(frozen=True)
class PackEntry:
    """A pack folder found on disk: the pack, or why it cannot be used."""

    path: Path
    pack: Pack | None
    error: str | None

    @property
    def name(self) -> str:
        return self.pack.name if self.pack else _printable(self.path.name)


def _pack_folders(d: Path) -> list[Path]:
    """The sub-folders of ``d`` with a manifest ([] when ``d`` cannot be listed)."""
    try:
        return sorted(p for p in d.iterdir() if os.path.exists(p / MANIFEST))
    except OSError:
        return []


def discover_packs(*dirs: Path, verify_hashes: bool = True) -> Iterator[PackEntry]:
    """Every sub-folder with a manifest in ``dirs`` (default: built-in, then user), in name order.
    A broken pack is an entry with its reason; it never stops the others."""
    for d in dirs or (builtin_packs_dir(), user_packs_dir()):
        for sub in _pack_folders(d):
            try:
                yield PackEntry(sub, load_pack(sub, verify_hashes), None)
            except PackError as exc:
                yield PackEntry(sub, None, str(exc))


# --- the gallery -----------------------------------------------------------------------------


def _check_npz_members(path: Path, where: str) -> None:
    """Each member's ``.npy`` header, read before any data, so that an archive claiming huge or
    pickled arrays, or one whose member is shorter or longer than its header, is refused
    without allocating anything."""
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        if len(infos) > MAX_NPZ_ARRAYS:
            raise PackError(f"{where} has {len(infos)} members, at most {MAX_NPZ_ARRAYS}")
        if sum(i.file_size for i in infos) > MAX_NPZ_BYTES:
            raise PackError(f"{where} is larger than {MAX_NPZ_BYTES >> 20} MiB decompressed")
        for info in infos:
            name = info.filename
            if not name.endswith(".npy") or info.flag_bits & 1 or info.compress_type not in (
                    zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise PackError(f"{where}: member {name!r} is not a plain or deflated .npy array")
            with z.open(info) as f:
                shape, dtype = read_npy_header(f, lambda version: PackError(
                    f"{where}: {name} has .npy version {version}"))
                offset = f.tell()
            if dtype.hasobject or dtype.fields is not None or dtype.kind not in "biufUS":
                raise PackError(f"{where}: {name} holds {dtype} values (only numbers and text)")
            if offset + int(np.prod(shape, dtype=np.float64)) * dtype.itemsize != info.file_size:
                raise PackError(f"{where}: {name} is truncated or padded (its header says "
                                f"{shape} {dtype})")


def load_npz(path: Path, where: str) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file a pack ships, read without pickle once each member's
    header has been checked (numbers or text only, exactly as long as the header says, at most
    :data:`MAX_NPZ_ARRAYS` members and :data:`MAX_NPZ_BYTES` decompressed); raises
    :class:`PackError`, and only that, naming ``where``."""
    try:
        _check_npz_members(path, where)
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except NPZ_ERRORS as exc:
        raise PackError(f"{where} is unreadable ({str(exc)[:200]})") from None


def _check_gallery_shapes(h: dict[str, tuple[tuple[int, ...], np.dtype]], pack: Pack,
                          where: str) -> None:
    """Names, dtypes and shapes against the manifest (layout: :mod:`training.export`)."""
    def want(name: str, kinds: str, shape: tuple[int | None, ...]) -> None:
        if name not in h:
            raise PackError(f"{where} has no {name!r} array")
        got, dtype = h[name]
        if dtype.kind not in kinds or len(got) != len(shape) or any(
                s is not None and g != s for g, s in zip(got, shape)):
            raise PackError(f"{where}: {name} is {dtype} {got}, expected "
                            f"{'/'.join(kinds)} {tuple('any' if s is None else s for s in shape)}")

    want("labels", "iu", (None,))
    n = h["labels"][0][0]
    if n < 1:
        raise PackError(f"{where} holds no sketch")
    spec = pack.gallery
    if spec is not None and spec.size is not None and spec.size != n:
        raise PackError(f"{where} holds {n} sketches, the manifest says {spec.size}")
    want("source_ids", "UiuS", (n,))
    if "thumbnails" in h:
        want("thumbnails", "u", (n, None, None))
        shape, dtype = h["thumbnails"]
        if dtype != np.uint8 or not all(1 <= s <= 1024 for s in shape[1:]):
            raise PackError(f"{where}: thumbnails must be uint8 pictures of 1 to 1024 px")
    if ("stroke3" in h) != ("stroke_offsets" in h):
        raise PackError(f"{where}: stroke3 and stroke_offsets go together")
    if "stroke3" in h:
        want("stroke3", "f", (None, 3))
        want("stroke_offsets", "iu", (n + 1,))
    if spec is not None:
        for flag, key in ((spec.has_strokes, "stroke3"), (spec.has_thumbnails, "thumbnails")):
            if flag is not None and flag != (key in h):
                raise PackError(f"{where}: the manifest says it "
                                f"{'has' if flag else 'has no'} {key}")
    for depth in DEPTHS:
        names = [f"projection_{depth}", f"projection_mean_{depth}", f"projection_basis_{depth}"]
        present = [k in h for k in names]
        if not any(present):
            continue
        if depth not in pack.features or not all(present):
            raise PackError(f"{where}: the {depth} projection needs the {depth} features and "
                            f"all of {', '.join(names)}")
        dim = pack.features[depth].dim
        for name, shape in zip(names, ((n, 2), (dim,), (2, dim))):
            want(name, "f", shape)


def _check_gallery_values(a: dict[str, np.ndarray], pack: Pack, where: str) -> None:
    labels = a["labels"]
    if labels.min() < 0 or labels.max() >= len(pack.classes):
        raise PackError(f"{where}: labels run from {labels.min()} to {labels.max()}, the pack "
                        f"has {len(pack.classes)} classes")
    if "stroke3" in a:
        s3, off = a["stroke3"], a["stroke_offsets"]
        if not np.isfinite(s3).all() or np.abs(s3[:, :2]).max(initial=0) > MAX_STROKE_OFFSET:
            raise PackError(f"{where}: stroke3 holds values that are not finite offsets")
        if off[0] != 0 or off[-1] != len(s3) or (np.diff(off.astype(np.int64)) < 0).any():
            raise PackError(f"{where}: stroke_offsets must rise from 0 to {len(s3)}")
    for name, x in a.items():
        if name.startswith("projection") and not np.isfinite(x).all():
            raise PackError(f"{where}: {name} holds values that are not finite")


def load_gallery(pack: Pack) -> dict[str, np.ndarray]:
    """The gallery arrays (layout: :mod:`training.export`), read by :func:`load_npz` and checked
    against the manifest: names, dtypes and shapes, then labels, offsets and finiteness."""
    where = f"pack {pack.name!r}: gallery {pack.gallery_file.name}"
    arrays = load_npz(pack.gallery_file, where)
    _check_gallery_shapes({k: (a.shape, a.dtype) for k, a in arrays.items()}, pack, where)
    _check_gallery_values(arrays, pack, where)
    return arrays

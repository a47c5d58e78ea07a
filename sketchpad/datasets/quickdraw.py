"""Quick, Draw! in its published formats: ndjson (raw, simplified), sketch-rnn ``.npz``, bitmaps ``.npy``.

ndjson streams line by line (:func:`sketchpad.ink.iter_ndjson`). The ``.npz`` and ``.npy`` files
are read whole, member by member; the per-class files are small enough for that. Nothing read here
is unpickled by ``pickle`` itself (see :func:`iter_sketchrnn_npz`).
"""
from __future__ import annotations

import math
import pickle
import zipfile
from pathlib import Path
from typing import IO, Any, Iterator

import numpy as np

from ..ink import Sketch, SketchError, iter_ndjson, stroke3_to_sketch
from ..npyheader import NPZ_ERRORS, read_npy_header

__all__ = ["class_name", "iter_ndjson", "iter_sketchrnn_npz", "iter_bitmaps_npy"]


def class_name(path: str | Path) -> str:
    """``coffee_cup.ndjson`` → ``coffee cup`` (the files replace spaces by ``_``)."""
    return Path(path).stem.replace("_", " ")


def iter_sketchrnn_npz(path: str | Path, keys: list[str] | None = None,
                       label: str | None = None) -> Iterator[Sketch]:
    """Every stroke-3 drawing in a sketch-rnn ``.npz``, whatever its keys are called.

    The drawings have different lengths, so numpy stores them as an object array, which only
    unpickling can read, and a pickle can run any code. So a member is never handed to
    ``pickle``/``np.load(allow_pickle=True)``: it is unpickled by :class:`_ArrayUnpickler`,
    which builds numpy arrays and dtypes and nothing else (no import, no call of anything else);
    a file that asks for more is refused with :class:`SketchError`, before anything runs.
    Non-object arrays (such as ``pix_count``) are not drawings and are skipped unread.
    """
    path = Path(path)
    label = label or class_name(path)
    for key, arr in _object_members(path, keys):
        for i, seq in enumerate(arr):
            try:
                yield stroke3_to_sketch(seq, label=label, source_id=f"{path.stem}/{key}/{i}")
            except SketchError as exc:
                raise SketchError(f"{path}[{key}][{i}]: {exc}") from None


#: Largest member read (uncompressed, as the archive declares it; reading stops there): the
#: published per-class files are tens of MB, and a zip bomb must not fill the memory.
MAX_MEMBER_BYTES = 2**30


def _object_members(path: Path, keys: list[str] | None) -> Iterator[tuple[str, np.ndarray]]:
    """``(key, object array)`` for each member of the archive that holds one."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise SketchError(f"{path}: no such file") from None
    except NPZ_ERRORS as exc:
        if _starts_with(path, b"\x93NUMPY"):
            raise SketchError(f"{path}: a single .npy array, not an .npz archive of drawings")
        raise SketchError(f"{path}: not a readable .npz ({exc})") from None
    with archive:
        members = {n[:-4]: n for n in archive.namelist() if n.endswith(".npy")}
        for key in keys or list(members):
            if key not in members:
                raise SketchError(f"{path}: no key {key!r} (has {', '.join(members)})")
            arr = _read_member(archive, members[key], f"{path}[{key}]")
            if arr is not None:
                yield key, arr


def _starts_with(path: Path, magic: bytes) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(len(magic)) == magic
    except OSError:
        return False


def _read_member(archive: zipfile.ZipFile, name: str, where: str) -> np.ndarray | None:
    """One ``.npy`` member: its object array, or ``None`` when it holds plain numbers."""
    info = archive.getinfo(name)
    if info.file_size > MAX_MEMBER_BYTES:
        raise SketchError(f"{where}: {info.file_size:,} bytes uncompressed, more than the "
                          f"{MAX_MEMBER_BYTES:,} read")
    try:
        with archive.open(info) as f:
            shape, dtype = read_npy_header(f, lambda version: SketchError(
                f"{where}: .npy format version {version} is not supported"))
            if dtype != object:
                return None
            arr = _ArrayUnpickler(f).load()
    except SketchError:
        raise
    except Exception as exc:  # a hostile pickle makes the allowed constructors raise anything
        raise SketchError(f"{where}: not a readable array ({exc})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype != object or arr.shape != shape:
        raise SketchError(f"{where}: the pickled data is not the object array of shape "
                          f"{shape} its header declares")
    return arr.view(np.ndarray).reshape(-1)


_RECONSTRUCT = np.empty(0).__reduce__()[0]  # numpy's array unpickling hook, whatever its module
#: Stands for ``numpy.ndarray`` in a pickle: the class is only ever an argument of
#: ``_reconstruct``; calling it (``ndarray(shape)``) would allocate any size asked for.
_NDARRAY = object()


class _CheckedArray(np.ndarray):
    """The array a pickle reconstructs: its state (``version, shape, dtype, fortran, data``) is
    checked before numpy allocates the shape, so a few bytes cannot ask for gigabytes."""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("not the state of a numpy array")
        shape, dtype, _, data = state[-4:]
        if (not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape)
                or not isinstance(dtype, np.dtype)):
            raise pickle.UnpicklingError("not the state of a numpy array")
        size = len(data) if isinstance(data, list) and dtype.hasobject else (
            len(data) // max(dtype.itemsize, 1) if isinstance(data, bytes) else -1)
        if size != math.prod(shape):
            raise pickle.UnpicklingError(f"array data of {size} items for shape {shape}")
        super().__setstate__(state)


def _new_array(subtype: Any, shape: Any, typecode: Any) -> np.ndarray:
    """The only array constructor a pickle may call: an empty array whose state is checked."""
    if subtype is not _NDARRAY:
        raise pickle.UnpicklingError("only plain numpy arrays may be unpickled")
    return _RECONSTRUCT(_CheckedArray, (0,), typecode)


def _latin1(text: Any, encoding: str = "latin1") -> bytes:
    """Python 2 pickles (the published sketch-rnn files) spell bytes as ``_codecs.encode(text,
    'latin1')``; only that codec is allowed, no other codec can be looked up."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("only latin-1 text may be encoded")
    return text.encode("latin1")


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and dtypes only: ``find_class`` answers these names and refuses
    every other, so no pickle read here can reach ``os.system`` or any other callable."""

    _ALLOWED = {
        **{(module, "_reconstruct"): _new_array
           for module in ("numpy.core.multiarray", "numpy.core._multiarray_umath",
                          "numpy._core.multiarray", "numpy._core._multiarray_umath")},
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1,
    }

    def __init__(self, file: IO[bytes]):
        super().__init__(file, encoding="latin1")

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[module, name]
        except KeyError:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}: only numpy arrays "
                                         "are read from a drawing file") from None


def iter_bitmaps_npy(path: str | Path) -> Iterator[tuple[np.ndarray, str]]:
    """The 28×28 bitmaps file (``N × 784`` uint8, ink bright): yields ``(image, label)``; the
    images are inverted to dark ink on white so they take the same PNG path as scans."""
    path = Path(path)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SketchError(f"{path}: not a readable .npy ({exc})") from None
    if arr.ndim != 2 or arr.shape[1] != 784 or arr.dtype != np.uint8:
        raise SketchError(f"{path}: expected N×784 uint8 bitmaps, got {arr.dtype} {arr.shape}")
    label = class_name(path)
    for row in arr:
        yield 255 - np.asarray(row).reshape(28, 28), label

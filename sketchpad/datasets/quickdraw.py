"""Quick, Draw! in its published formats: ndjson (raw, simplified), sketch-rnn ``.npz``, bitmaps ``.npy``.

ndjson streams line by line (:func:`sketchpad.ink.iter_ndjson`). The ``.npz`` and ``.npy`` files
are read whole, as numpy reads them; the per-class files are small enough for that.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np

from ..ink import Sketch, SketchError, iter_ndjson, stroke3_to_sketch

__all__ = ["class_name", "iter_ndjson", "iter_sketchrnn_npz", "iter_bitmaps_npy"]


def class_name(path: str | Path) -> str:
    """``coffee_cup.ndjson`` → ``coffee cup`` (the files replace spaces by ``_``)."""
    return Path(path).stem.replace("_", " ")


def iter_sketchrnn_npz(path: str | Path, keys: list[str] | None = None,
                       label: str | None = None, allow_pickle: bool = True) -> Iterator[Sketch]:
    """Every stroke-3 drawing in a sketch-rnn ``.npz``, whatever its keys are called.

    The drawings have different lengths, so numpy stores them as an object array, and reading an
    object array means unpickling it. A pickle can run code, so the archive is opened with
    ``allow_pickle=False`` and only a member that is an object array is re-read with pickling on,
    and only when ``allow_pickle`` is true (the default, for the published sketch-rnn files); pass
    ``allow_pickle=False`` for files you do not trust, and such a member raises
    :class:`SketchError` instead. Non-object arrays (such as ``pix_count``) are not drawings and
    are skipped.
    """
    path = Path(path)
    label = label or class_name(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise SketchError(f"{path}: not a readable .npz ({exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise SketchError(f"{path}: a single .npy array, not an .npz archive of drawings")
    with data:
        for key in keys or data.files:
            if key not in data.files:
                raise SketchError(f"{path}: no key {key!r} (has {', '.join(data.files)})")
            arr = _npz_member(path, data, key, allow_pickle)
            if arr.dtype != object:
                continue
            for i, seq in enumerate(arr):
                try:
                    yield stroke3_to_sketch(seq, label=label, source_id=f"{path.stem}/{key}/{i}")
                except SketchError as exc:
                    raise SketchError(f"{path}[{key}][{i}]: {exc}") from None


def _npz_member(path: Path, data: np.lib.npyio.NpzFile, key: str, allow_pickle: bool) -> np.ndarray:
    """One member of an archive opened without pickling; object arrays are re-read with it."""
    try:
        return data[key]
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise SketchError(f"{path}[{key}]: not a readable array ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise SketchError(f"{path}[{key}]: not a readable array ({exc})") from None
    if not allow_pickle:
        raise SketchError(f"{path}[{key}]: an object array, which only unpickling can read; "
                          "pass allow_pickle=True if you trust this file")
    try:
        with np.load(path, allow_pickle=True, encoding="latin1") as trusted:
            return trusted[key]
    except Exception as exc:  # unpickling raises whatever the pickled objects raise
        raise SketchError(f"{path}[{key}]: not a readable array ({exc})") from None


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

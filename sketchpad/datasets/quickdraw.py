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
                       label: str | None = None) -> Iterator[Sketch]:
    """Every stroke-3 drawing in a sketch-rnn ``.npz``, whatever its keys are called.

    The drawings have different lengths, so numpy stores them as an object array, and reading an
    object array needs ``allow_pickle=True``. Only do this with files you trust: a pickle can run
    code. Non-object arrays (such as ``pix_count``) are not drawings and are skipped.
    """
    path = Path(path)
    label = label or class_name(path)
    try:
        data = np.load(path, allow_pickle=True, encoding="latin1")
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise SketchError(f"{path}: not a readable .npz ({exc})") from None
    with data:
        for key in keys or data.files:
            if key not in data.files:
                raise SketchError(f"{path}: no key {key!r} (has {', '.join(data.files)})")
            arr = data[key]
            if arr.dtype != object:
                continue
            for i, seq in enumerate(arr):
                try:
                    yield stroke3_to_sketch(seq, label=label, source_id=f"{path.stem}/{key}/{i}")
                except SketchError as exc:
                    raise SketchError(f"{path}[{key}][{i}]: {exc}") from None


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

"""The indexed sketches of a pack: labels, sources, and a way to show each one.

Quick, Draw! galleries keep strokes (drawn and replayed by the app); TU-Berlin galleries keep
thumbnails (the originals are raster). :meth:`Gallery.picture` gives a uint8 picture either way.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from .ink import Sketch, stroke3_to_sketch
from .pack import DEPTHS, Pack, load_gallery

#: Thumbnail ink width, in units of the 256-wide normalised drawing.
THUMB_LINE = 4.0
#: Thumbnails are drawn this many times larger, then reduced: anti-aliasing.
THUMB_SUPERSAMPLE = 2


def stroke3_picture(seq: np.ndarray, size: int, line_width: float = THUMB_LINE) -> np.ndarray:
    """A gallery drawing's stroke-3 rows as a ``size × size`` uint8 thumbnail, ink bright on dark,
    fitted and centred, aspect kept.

    For showing, not for a model (a model's input comes from :mod:`sketchpad.preprocess`, which
    normalises and simplifies first): gallery drawings are stored normalised and simplified
    already, so this only sums the offsets and draws — about a tenth of the cost, which is what
    the neighbour thumbnails of every pen-up wait for."""
    xy = np.cumsum(np.asarray(seq[:, :2], dtype=np.float64), axis=0)
    cuts = np.flatnonzero(seq[:-1, 2] > 0.5) + 1
    ss = THUMB_SUPERSAMPLE
    width = max(1.0, line_width * size / 255.0 * ss)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = max(float((hi - lo).max()), 1e-6)
    box = size * ss - 1 - width
    pts = (xy - (lo + hi) / 2) * (box / span) + (size * ss - 1) / 2
    big = Image.new("L", (size * ss, size * ss), 0)
    pen = ImageDraw.Draw(big)
    r = width / 2
    for stroke in np.split(pts, cuts):
        if len(stroke) > 1:
            pen.line(stroke.ravel().tolist(), fill=255, width=int(round(width)), joint="curve")
        for x, y in (stroke[0], stroke[-1]):         # round ends (a one-point stroke is a dot)
            pen.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(big.reduce(ss))


class Gallery:
    """Read-only view of ``gallery.npz`` (layout documented in ``training/export.py``)."""

    def __init__(self, pack: Pack):
        self.pack = pack
        arrays = load_gallery(pack)
        self.labels: np.ndarray = arrays["labels"]
        self.source_ids: np.ndarray = arrays["source_ids"]
        self.thumbnails: np.ndarray | None = arrays.get("thumbnails")
        self._stroke3 = arrays.get("stroke3")
        self._offsets = arrays.get("stroke_offsets")
        self.projections = {d: arrays[f"projection_{d}"] for d in DEPTHS
                            if f"projection_{d}" in arrays}
        #: The stored PCA ``(mean [D], basis [2, D])`` per depth that has one, so a new sketch
        #: can be projected onto the map without reading the file again.
        self.projection_bases = {
            d: (arrays[f"projection_mean_{d}"].astype(np.float32),
                arrays[f"projection_basis_{d}"].astype(np.float32))
            for d in DEPTHS if f"projection_mean_{d}" in arrays and f"projection_basis_{d}" in arrays}
        self.attribution: str = pack.manifest.get("gallery", {}).get("attribution", "")
        self.picture = lru_cache(maxsize=512)(self._picture)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def has_strokes(self) -> bool:
        return self._stroke3 is not None

    def label_name(self, i: int) -> str:
        return self.pack.classes[int(self.labels[i])]

    def sketch(self, i: int) -> Sketch | None:
        """The gallery sketch's strokes (normalised), or None for raster-only galleries."""
        if self._stroke3 is None or self._offsets is None:
            return None
        a, b = int(self._offsets[i]), int(self._offsets[i + 1])
        return stroke3_to_sketch(self._stroke3[a:b], label=self.label_name(i),
                                 source_id=str(self.source_ids[i]))

    def _picture(self, i: int, size: int = 64) -> np.ndarray:
        """uint8 ``size × size``, ink bright on dark."""
        if self._stroke3 is not None and self._offsets is not None:
            seq = self._stroke3[int(self._offsets[i]):int(self._offsets[i + 1])]
            if len(seq):
                return stroke3_picture(seq, size)
        if self.thumbnails is None:
            return np.zeros((size, size), np.uint8)
        thumb = Image.fromarray(self.thumbnails[i])
        resample = Image.Resampling.BOX if size < thumb.height else Image.Resampling.BILINEAR
        return np.asarray(thumb.resize((size, size), resample))

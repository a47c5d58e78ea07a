"""The indexed sketches of a pack: labels, sources, and a way to show each one.

Quick, Draw! galleries keep strokes (drawn and replayed by the app); TU-Berlin galleries keep
thumbnails (the originals are raster). :meth:`Gallery.picture` gives a uint8 picture either way.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

from . import preprocess as pp
from .ink import Sketch, stroke3_to_sketch
from .pack import DEPTHS, Pack, load_gallery


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
        sketch = self.sketch(i)
        if sketch is not None and not sketch.is_empty:
            return pp.render_sketch(sketch, size, line_width=4.0)
        if self.thumbnails is None:
            return np.zeros((size, size), np.uint8)
        thumb = Image.fromarray(self.thumbnails[i])
        resample = Image.Resampling.BOX if size < thumb.height else Image.Resampling.BILINEAR
        return np.asarray(thumb.resize((size, size), resample))

"""Ink model: the :class:`Sketch` value, normalisation, simplification and file formats."""
from .ndjson import (drawing_to_sketch, iter_ndjson, iter_ndjson_numbered, parse_line,
                     sketch_to_drawing, write_ndjson)
from .sketch import (NORMALISED_EXTENT, RDP_EPSILON, Sketch, SketchError, Stroke, normalise,
                     normalise_and_simplify, rdp_masks, simplify)
from .stroke3 import sketch_to_stroke3, stroke3_to_sketch

__all__ = [
    "NORMALISED_EXTENT", "RDP_EPSILON", "Sketch", "SketchError", "Stroke", "drawing_to_sketch",
    "iter_ndjson", "iter_ndjson_numbered", "normalise", "normalise_and_simplify", "parse_line",
    "rdp_masks", "simplify", "sketch_to_drawing", "sketch_to_stroke3", "stroke3_to_sketch",
    "write_ndjson",
]

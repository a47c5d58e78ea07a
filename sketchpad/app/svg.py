"""Sketch → SVG text (plain Python): one ``<polyline>`` per stroke, width from its pressure.

Written by hand rather than through QSvgGenerator so the file keeps strokes as strokes (one
element each, in drawing order) and the function is testable without Qt.
"""
from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

from ..ink import Sketch

BASE_WIDTH = 3.0


def sketch_to_svg(sketch: Sketch, margin: float = 8.0, base_width: float = BASE_WIDTH) -> str:
    if sketch.is_empty:
        x0 = y0 = 0.0
        w = h = 2 * margin
    else:
        bx0, by0, bx1, by1 = sketch.bounds()
        x0, y0 = bx0 - margin, by0 - margin
        w, h = bx1 - bx0 + 2 * margin, by1 - by0 + 2 * margin
    title = f"<title>{escape(sketch.label)}</title>" if sketch.label else ""
    lines = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.1f}" height="{h:.1f}" '
             f'viewBox="{x0:.2f} {y0:.2f} {w:.2f} {h:.2f}">{title}',
             f'<g fill="none" stroke="#14141c" stroke-linecap="round" stroke-linejoin="round">']
    for s in sketch.strokes:
        width = base_width * (0.25 + 0.75 * float(np.clip(s.points[:, 3].mean(), 0, 1)))
        pts = s.points[:, :2] if len(s) > 1 else np.repeat(s.points[:, :2], 2, axis=0)
        coords = " ".join(f"{x:.2f},{y:.2f}" for x, y in pts)
        lines.append(f'<polyline stroke-width="{width:.2f}" points="{coords}"/>')
    lines.append("</g></svg>")
    return "\n".join(lines) + "\n"


def write_svg(sketch: Sketch, path: str | Path) -> None:
    """Atomic like :func:`sketchpad.ink.write_ndjson`: a failed write keeps the old file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(sketch_to_svg(sketch), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise

"""TU-Berlin (Eitz et al. 2012): 250 classes × 80 sketches as PNG, and the original SVGs.

Labels come from the numbering rule of ``../shared/data/tu-berlin/README.md``: file ``N`` belongs
to class ``(N - 1) // 80`` of ``categories.txt``, which is also its folder name. SVGs keep the
drawing order (one ``<path>`` per stroke), so they load as a :class:`Sketch` in the PNG's pixel
frame (SVG user unit × 0.6 on a 480-px page).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from ..ink import Sketch, SketchError, Stroke

PER_CLASS = 80
#: PNG pixels per SVG user unit (800-unit viewBox rendered at 480 px).
SVG_TO_PNG = 480 / 800
#: Points sampled along each cubic Bézier segment.
_BEZIER_STEPS = 8
#: Folder-name aliases found in other copies of the set (README: "crane" = "crane (machine)").
ALIASES = {"crane (machine)": "crane"}


@dataclass(frozen=True)
class TuBerlinItem:
    """One sketch of the set: its PNG, class index and name, and global id ``N``."""

    path: Path
    label: int
    name: str
    sketch_id: int


def class_of_id(sketch_id: int) -> int:
    """The numbering rule: ids ``80k+1 .. 80k+80`` belong to class ``k``."""
    if sketch_id < 1:
        raise ValueError(f"TU-Berlin ids start at 1, got {sketch_id}")
    return (sketch_id - 1) // PER_CLASS


class TuBerlin:
    """The dataset folder: ``categories.txt`` plus ``png/<category>/<N>.png``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        cats = self.root / "categories.txt"
        if not cats.is_file():
            raise SketchError(f"{cats}: missing (is {self.root} the TU-Berlin folder?)")
        self.categories = [ALIASES.get(c, c) for c in cats.read_text().splitlines() if c.strip()]

    def items(self) -> Iterator[TuBerlinItem]:
        """Every PNG in class order then id order; checks each id against its folder."""
        for label, name in enumerate(self.categories):
            folder = self.root / "png" / name
            ids = sorted(int(p.stem) for p in folder.glob("*.png") if p.stem.isdigit())
            for sid in ids:
                if class_of_id(sid) != label:
                    raise SketchError(f"{folder}/{sid}.png: id {sid} belongs to class "
                                      f"{class_of_id(sid)}, not {label} ({name})")
                yield TuBerlinItem(folder / f"{sid}.png", label, name, sid)


def read_png(path: str | Path) -> np.ndarray:
    """A sketch page (PNG or any picture Pillow reads) as 2-D uint8 grey; transparency is laid
    on white, as a page would show it. A missing, truncated or non-image file raises
    :class:`SketchError` naming it."""
    path = Path(path)
    if not path.is_file():
        raise SketchError(f"{path}: no such file")
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                rgba = img.convert("RGBA")
                img = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
            return np.asarray(img.convert("L"))
    except (OSError, ValueError, Image.DecompressionBombError):
        raise SketchError(f"{path}: not a readable image (truncated or corrupt?)") from None


# --- SVG -------------------------------------------------------------------------------------
_TOKEN = re.compile(r"[A-Za-z]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TRANSFORM = re.compile(r"(translate|scale|matrix)\s*\(([^)]*)\)")


def _transform_matrix(text: str | None) -> np.ndarray:
    m = np.eye(3)
    for kind, args in _TRANSFORM.findall(text or ""):
        v = [float(a) for a in re.split(r"[\s,]+", args.strip()) if a]
        if kind == "translate":
            t = np.array([[1, 0, v[0]], [0, 1, v[1] if len(v) > 1 else 0], [0, 0, 1]])
        elif kind == "scale":
            t = np.diag([v[0], v[1] if len(v) > 1 else v[0], 1.0])
        else:
            t = np.array([[v[0], v[2], v[4]], [v[1], v[3], v[5]], [0, 0, 1]])
        m = m @ t
    return m


def _path_points(d: str, where: str) -> np.ndarray:
    """SVG path data (M, L, H, V, C, Z; absolute or relative) → polyline points; any other
    command (arcs, quadratics: TU-Berlin uses none) is refused by name, never skipped."""
    tokens = _TOKEN.findall(d)
    pts: list[np.ndarray] = []
    cur = np.zeros(2)
    start = np.zeros(2)
    cmd = None
    i = 0
    t = np.linspace(0, 1, _BEZIER_STEPS + 1)[1:, None]

    def take(k: int) -> list[float]:
        nonlocal i
        vals = tokens[i:i + k]
        if len(vals) < k or any(v.isalpha() for v in vals):
            raise SketchError(f"{where}: truncated path data near token {i}")
        i += k
        return [float(v) for v in vals]

    while i < len(tokens):
        if tokens[i].isalpha():
            cmd = tokens[i]
            i += 1
            if cmd in "Zz":
                cur = start.copy()
                pts.append(cur.copy())
                continue
        if cmd is None:
            raise SketchError(f"{where}: path data does not start with a command")
        rel = cmd.islower()
        base = cur if rel else np.zeros(2)
        c = cmd.upper()
        if c in "ML":
            cur = base + take(2)
            if c == "M":
                start = cur.copy()
                cmd = "l" if rel else "L"  # implicit lineto after moveto
            pts.append(cur.copy())
        elif c == "H":
            cur = np.array([(cur[0] if rel else 0) + take(1)[0], cur[1]])
            pts.append(cur.copy())
        elif c == "V":
            cur = np.array([cur[0], (cur[1] if rel else 0) + take(1)[0]])
            pts.append(cur.copy())
        elif c == "C":
            p1, p2, p3 = (base + take(2) for _ in range(3))
            curve = ((1 - t) ** 3 * cur + 3 * (1 - t) ** 2 * t * p1
                     + 3 * (1 - t) * t ** 2 * p2 + t ** 3 * p3)
            pts.extend(curve)
            cur = p3
        else:
            raise SketchError(f"{where}: unsupported path command {cmd!r}")
    return np.array(pts).reshape(-1, 2)


def read_svg(path: str | Path, label: str | None = None) -> Sketch:
    """An original TU-Berlin SVG → Sketch in PNG pixels, one stroke per ``<path>`` in order."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise SketchError(f"{path}: not a readable SVG ({exc})") from None
    strokes = []
    page = np.diag([SVG_TO_PNG, SVG_TO_PNG, 1.0])

    def walk(node: ET.Element, m: np.ndarray) -> None:
        m = m @ _transform_matrix(node.get("transform"))
        if node.tag.rsplit("}", 1)[-1] == "path":
            xy = _path_points(node.get("d", ""), f"{path} path {node.get('id', '?')}")
            if len(xy):
                h = np.c_[xy, np.ones(len(xy))] @ m.T
                pts = np.zeros((len(xy), 4))
                pts[:, :2] = h[:, :2]
                pts[:, 3] = 1.0
                strokes.append(Stroke(pts))
        for child in node:
            walk(child, m)

    walk(root, page)
    if not strokes:
        raise SketchError(f"{path}: the SVG has no paths")
    if label is None and path.stem.isdigit():
        label = path.parent.name
    return Sketch(tuple(strokes), label=label, source_id=path.stem)

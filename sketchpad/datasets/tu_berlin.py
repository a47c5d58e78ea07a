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

from ..images import read_picture
from ..ink import Sketch, SketchError, Stroke
from ..ink.sketch import MAX_POINTS

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


#: The pages are PNGs, read as every picture is (format allow-list, pixel bound: see
#: :mod:`sketchpad.images`); the name stays for the training code that reads the set.
read_png = read_picture


# --- SVG -------------------------------------------------------------------------------------
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TOKEN = re.compile(r"[A-Za-z]|" + _NUMBER)
_TRANSFORM = re.compile(r"\s*,?\s*([A-Za-z]+)\s*\(([^)]*)\)")
#: SVG transform functions: how many numbers each takes.
_TRANSFORM_ARGS = {"translate": (1, 2), "scale": (1, 2), "rotate": (1, 3), "skewX": (1,),
                   "skewY": (1,), "matrix": (6,)}
#: Largest SVG read (TU-Berlin's are under 100 KB).
MAX_SVG_BYTES = 64 * 2**20


def _transform_matrix(text: str | None, where: str) -> np.ndarray:
    """An SVG ``transform`` attribute as a 3×3 matrix; a function with the wrong count of
    numbers, an unknown function or anything else in the text is refused, naming it."""
    m = np.eye(3)
    text = (text or "").strip()
    pos = 0
    while pos < len(text):
        found = _TRANSFORM.match(text, pos)
        if not found:
            raise SketchError(f"{where}: cannot read transform {text[pos:pos + 40].strip()!r}")
        kind, args = found.groups()
        pos = found.end()
        if kind not in _TRANSFORM_ARGS:
            raise SketchError(f"{where}: unsupported transform {kind!r}")
        v = [float(a) for a in re.findall(_NUMBER, args)]
        if len(v) not in _TRANSFORM_ARGS[kind] or re.sub(_NUMBER, "", args).strip(" \t\r\n,"):
            counts = " or ".join(map(str, _TRANSFORM_ARGS[kind]))
            raise SketchError(f"{where}: bad transform {found.group().strip()!r} "
                              f"({kind} takes {counts} numbers)")
        m = m @ _transform(kind, v)
    return m


def _transform(kind: str, v: list[float]) -> np.ndarray:
    if kind == "translate":
        return np.array([[1, 0, v[0]], [0, 1, v[1] if len(v) > 1 else 0], [0, 0, 1]])
    if kind == "scale":
        return np.diag([v[0], v[1] if len(v) > 1 else v[0], 1.0])
    if kind == "matrix":
        return np.array([[v[0], v[2], v[4]], [v[1], v[3], v[5]], [0, 0, 1]])
    if kind == "rotate":
        c, s = np.cos(np.radians(v[0])), np.sin(np.radians(v[0]))
        cx, cy = v[1:] if len(v) == 3 else (0.0, 0.0)
        about = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]])
        back = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])
        return about @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ back
    t = np.tan(np.radians(v[0]))
    return np.array([[1, t, 0], [0, 1, 0], [0, 0, 1]] if kind == "skewX"
                    else [[1, 0, 0], [t, 1, 0], [0, 0, 1]])


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

    if len(tokens) > 2 * MAX_POINTS:
        raise SketchError(f"{where}: more than {MAX_POINTS:,} points")

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


def _strokes(path: Path, root: ET.Element) -> list[Stroke]:
    """One stroke per ``<path>``, depth first in document order, without recursion (the nesting
    depth is the file's to choose). Huge numbers overflow to inf without a warning, and the
    stroke refuses them."""
    strokes: list[Stroke] = []
    n_points = 0
    todo = [(root, np.diag([SVG_TO_PNG, SVG_TO_PNG, 1.0]))]
    while todo:
        node, m = todo.pop()
        tag = node.tag.rsplit("}", 1)[-1]
        where = f"{path} {tag} {node.get('id', '?')}"
        m = m @ _transform_matrix(node.get("transform"), where)
        if tag == "path":
            xy = _path_points(node.get("d", ""), where)
            n_points += len(xy)
            if n_points > MAX_POINTS:
                raise SketchError(f"{path}: more than {MAX_POINTS:,} points")
            if len(xy):
                pts = np.zeros((len(xy), 4))
                pts[:, :2] = (np.c_[xy, np.ones(len(xy))] @ m.T)[:, :2]
                pts[:, 3] = 1.0
                try:
                    strokes.append(Stroke(pts))
                except SketchError as exc:
                    raise SketchError(f"{where}: {exc}") from None
        todo.extend((child, m) for child in reversed(node))
    return strokes


def read_svg(path: str | Path, label: str | None = None) -> Sketch:
    """An original TU-Berlin SVG → Sketch in PNG pixels, one stroke per ``<path>`` in order."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_SVG_BYTES:
            raise SketchError(f"{path}: larger than {MAX_SVG_BYTES // 2**20} MiB")
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise SketchError(f"{path}: not a readable SVG ({exc})") from None
    with np.errstate(over="ignore", invalid="ignore"):
        strokes = _strokes(path, root)
    if not strokes:
        raise SketchError(f"{path}: the SVG has no paths")
    if label is None and path.stem.isdigit():
        label = path.parent.name
    return Sketch(tuple(strokes), label=label, source_id=path.stem)

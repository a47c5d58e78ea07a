"""Depth explorer: Figure 4 of DeepSketch (Seddati, Dupont and Mahmoudi, 2015) as a live tool.

For one query — the sketch on the canvas, or any gallery sketch — the k nearest gallery sketches
at each depth side by side, with the share of neighbours of the query's class per depth and the
retrieval precision the export measured for that depth. Low depths tend to return sketches that
share strokes and texture, high depths sketches that share meaning.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette, QPixmap
from PySide6.QtWidgets import (QComboBox, QFrame, QGridLayout, QGroupBox, QHBoxLayout, QLabel,
                               QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from ... import preprocess as pp
from ...engine import Prediction
from ...ink import Sketch
from ...runtime import LoadedPack
from ...search import Neighbour
from ..panels import Thumb
from ..state import AppState
from .common import TeachingView, depth_name, depth_title, depths_of, grey_image
from .glossary import metric_words
from .honest import count_trend, matches_expectation
from .worker import Latest

CURRENT, GALLERY = "Current sketch", "Gallery sketch"


@dataclass(frozen=True)
class DepthResult:
    """Neighbours of one query per depth and the class they are compared with."""

    query: str                          # what was asked, in words
    gallery_id: int | None              # the query's gallery row, when it is a gallery sketch
    reference: int | None               # class index compared with (None: nothing to compare)
    reference_source: str               # "its label" or "top prediction"
    neighbours: dict[str, list[Neighbour]]

    def share(self, depth: str) -> float | None:
        return same_class_share(self.neighbours[depth], self.reference)


def same_class_share(neighbours: list[Neighbour], label: int | None) -> float | None:
    """Fraction of ``neighbours`` whose class is ``label`` (None without neighbours or label)."""
    if label is None or not neighbours:
        return None
    return sum(n.label == label for n in neighbours) / len(neighbours)


def explore_gallery(pack: LoadedPack, i: int, k: int) -> DepthResult:
    """Neighbours of gallery sketch ``i`` by its stored feature vectors (no inference, so
    raster-only galleries work too); the sketch itself is left out of its own neighbours."""
    neighbours = {}
    for depth in depths_of(pack):
        vector = np.asarray(pack.searcher.indexes[depth].get_item_vector(int(i)), np.float32)
        found = pack.searcher.query(depth, vector, k + 1)
        neighbours[depth] = [n for n in found if n.gallery_id != i][:k]
    return DepthResult(f"gallery sketch #{i} ({pack.gallery.label_name(i)})", int(i),
                       int(pack.gallery.labels[i]), "its label", neighbours)


def explore_sketch(pack: LoadedPack, sketch: Sketch, k: int,
                   prediction: Prediction | None = None) -> DepthResult:
    """Neighbours of a drawn sketch; compared with its label when it has a known one, else with
    the pack's top prediction."""
    prediction = prediction or pack.engine.predict(sketch)
    neighbours = pack.searcher.query_all(prediction.features, k)
    if sketch.label in pack.pack.classes:
        reference, source = pack.pack.classes.index(sketch.label), "its label"
    else:
        reference, source = int(np.argmax(prediction.probs)), "top prediction"
    return DepthResult("the current sketch", None, reference, source, neighbours)


def _is_precision(key: str) -> bool:
    k = key.lower()
    return "precision" in k or k == "map" or k.startswith("map_") or "mean_average" in k


def _figure(value: Any) -> tuple[str, str]:
    """A manifest figure (a number, or ``{"value": ..., "protocol": ...}``) as text + protocol;
    a share (0..1) as a percentage."""
    protocol = ""
    if isinstance(value, dict):
        protocol = str(value.get("protocol", ""))
        value = value.get("value")
    if isinstance(value, float):
        return (f"{100 * value:.1f} %" if 0 <= value <= 1 else f"{value:.3f}"), protocol
    return str(value), protocol


def _name(key: str, depth: str) -> str:
    """The figure's name in words, without the depth its column already names."""
    words, _ = metric_words(key)
    return (words.replace(f", {depth} depth", "").replace(f" — {depth} depth", "")
            .replace(f"{depth} depth, ", ""))


def measured_precision(pack: LoadedPack, depth: str) -> list[tuple[str, str, str]]:
    """``(name in words, value, protocol)`` of every retrieval-precision figure the pack stores
    for ``depth``: keys with "precision" or "map" in ``features[depth]`` of the manifest, and
    metrics whose name also names the depth (e.g. ``precision_at_10_low``). A metric that only
    repeats a feature figure (same value) is left out."""
    found, seen = [], set()
    for key, value in pack.pack.features[depth].info.items():
        if _is_precision(key):
            text, protocol = _figure(value)
            found.append((_name(key, depth), text, protocol))
            seen.add(text)
    for key, value in pack.pack.metrics.items():
        if _is_precision(key) and depth in key.lower().split("_"):
            text, protocol = _figure(value)
            if text not in seen:
                found.append((_name(key, depth), text, protocol))
    return found


def depth_trend(result: DepthResult, depths: list[str]) -> str:
    """The same-class counts from low to high and what they do, checked before it is said:
    "same class: 2/9 → 1/9 → 4/9 (falls, then rises)". Only counts that rise at every depth are
    called what DeepSketch's Figure 4 shows (Seddati, Dupont and Mahmoudi, 2015)."""
    if result.reference is None or len(depths) < 2:
        return ""
    counts = [(sum(n.label == result.reference for n in result.neighbours.get(d, [])),
               len(result.neighbours.get(d, []))) for d in depths]
    if any(t == 0 for _, t in counts):
        return ""
    text = "  " + count_trend("Same class, " + " → ".join(depths), counts) + "."
    if matches_expectation([h / t for h, t in counts]):
        text += (" That is what DeepSketch's Figure 4 shows: deeper layers find sketches "
                 "that mean the same thing.")
    return text


class DepthColumn(QGroupBox):
    """One depth: share of same-class neighbours, measured precision, the neighbours."""

    COLUMNS = 3

    def __init__(self, pack: LoadedPack, depth: str, on_pick, parent: QWidget | None = None):
        # The short title keeps three columns side by side; the layer is in the tooltip.
        super().__init__(depth_name(depth), parent)
        self.setToolTip(depth_title(pack, depth))
        self.depth = depth
        self._on_pick = on_pick
        layout = QVBoxLayout(self)
        self.share_label = QLabel()
        font = self.share_label.font()   # a font, not a style sheet: style sheets make the
        font.setPixelSize(15)             # first show re-polish the whole window (~40 ms)
        font.setBold(True)
        self.share_label.setFont(font)
        self.precision_label = QLabel()
        self.precision_label.setWordWrap(True)
        self.grid = QGridLayout()
        self.grid.setSpacing(4)
        layout.addWidget(self.share_label)
        layout.addWidget(self.precision_label)
        layout.addLayout(self.grid)
        layout.addStretch(1)
        self.buttons: list[Thumb] = []

    def show_result(self, pack: LoadedPack, result: DepthResult, pixmaps: list[QPixmap]) -> None:
        share = result.share(self.depth)
        neighbours = result.neighbours[self.depth]
        if share is None:
            self.share_label.setText("same class: —")
        else:
            same = round(share * len(neighbours))
            self.share_label.setText(f"same class: {same}/{len(neighbours)} ({share:.0%})")
        lines = measured_precision(pack, self.depth)
        # Values inline, protocols (often a paragraph) in the tooltip.
        self.precision_label.setText(
            "Measured at export: " + ("; ".join(f"{n}: {v}" for n, v, _ in lines)
                                           if lines else "not measured"))
        self.precision_label.setToolTip("\n".join(f"{n}: {p}" for n, _, p in lines if p))
        # The buttons are made once and reused: building and styling 27 buttons per answer
        # held the GUI thread for tens of milliseconds.
        while len(self.buttons) < len(neighbours):
            thumb = Thumb(self)
            thumb.clicked.connect(lambda _=False, t=thumb: self._on_pick(t.gallery_id))
            j = len(self.buttons)
            self.grid.addWidget(thumb, j // self.COLUMNS, j % self.COLUMNS)
            self.buttons.append(thumb)
        for thumb, n, pm in zip(self.buttons, neighbours, pixmaps):
            thumb.show_neighbour(n.gallery_id, pack.pack.classes[n.label], pm,
                                 n.label == result.reference, n.distance)
        for thumb in self.buttons[len(neighbours):]:
            thumb.clear()

    def shown(self) -> list[Thumb]:
        return [t for t in self.buttons if t.gallery_id >= 0]


class DepthExplorer(TeachingView):
    """Figure 4, live: the neighbours of one sketch at the three depths, side by side."""

    title = "Depth explorer — similar sketches at three depths"

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(state, parent)
        self.work = Latest(self)
        self.work.ready.connect(self._show)
        self.work.failed.connect(lambda msg: self.status.setText(f"could not search: {msg}"))
        self.result: DepthResult | None = None
        self.source = QComboBox()
        self.source.addItems([CURRENT, GALLERY])
        self.index = QSpinBox()
        self.index.setPrefix("#")
        self.k = QSpinBox()
        self.k.setRange(1, 50)
        self.k.setValue(9)
        self.k.setPrefix("k = ")
        self.query_picture = QLabel()
        self.query_picture.setFixedSize(80, 80)
        self.query_picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.query_picture.setFrameShape(QFrame.Shape.Box)
        self.query_picture.setAutoFillBackground(True)
        palette = self.query_picture.palette()
        palette.setColor(QPalette.ColorRole.Window, Qt.GlobalColor.white)
        self.query_picture.setPalette(palette)
        self.status = QLabel()
        self.status.setWordWrap(True)
        top = QHBoxLayout()
        for w in (QLabel("Query:"), self.source, self.index, self.k):
            top.addWidget(w)
        top.addStretch(1)
        head = QHBoxLayout()
        head.addWidget(self.query_picture)
        head.addWidget(self.status, 1)
        self.columns_box = QWidget()
        self.columns_layout = QHBoxLayout(self.columns_box)
        self.columns: dict[str, DepthColumn] = {}
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.columns_box)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(head)
        layout.addWidget(scroll, 1)
        self.source.currentTextChanged.connect(lambda _: self.refresh(False))
        self.index.valueChanged.connect(lambda _: self._on_index())
        self.k.valueChanged.connect(lambda _: self.refresh(False))
        self.resize(900, 640)
        self.refresh(pack_changed=True)

    @property
    def busy(self) -> bool:
        return self.work.busy

    def show_gallery_sketch(self, i: int) -> None:
        """Make gallery sketch ``i`` the query (what clicking a neighbour does)."""
        self.index.setValue(i)
        self.source.setCurrentText(GALLERY)
        self.refresh(False)

    def _on_index(self) -> None:
        if self.source.currentText() == GALLERY:
            self.refresh(False)

    def refresh(self, pack_changed: bool) -> None:
        pack = self.state.pack()
        if pack_changed:
            self._rebuild_columns(pack)
        if pack is None:
            self.work.cancel()
            self.status.setText("No pack is loaded.")
            return
        k = self.k.value()
        if self.source.currentText() == GALLERY:
            i = self.index.value()
            self.work.submit(lambda: self._compute(pack, explore_gallery(pack, i, k), None))
            return
        sketch = self.state.sketch()
        if sketch.is_empty:
            self.work.cancel()
            self.query_picture.clear()
            self.status.setText("Draw a sketch, or choose a gallery sketch as the query.")
            for c in self.columns.values():
                c.show_result(pack, DepthResult("", None, None, "", {d: [] for d in self.columns}),
                              [])
            return
        analysis = self.state.analysis()
        prediction = analysis.prediction if analysis is not None else None
        self.work.submit(lambda: self._compute(pack, explore_sketch(pack, sketch, k, prediction),
                                               sketch))

    @staticmethod
    def _compute(pack: LoadedPack, result: DepthResult, sketch: Sketch | None):
        """Worker side: the result plus every picture it needs, as QImages."""
        if sketch is not None:
            query = grey_image(255 - pp.render_sketch(sketch, 72, line_width=4.0))
        else:
            query = grey_image(255 - pack.gallery.picture(result.gallery_id, 72))
        pictures = {d: [grey_image(255 - pack.gallery.picture(n.gallery_id, 64)) for n in ns]
                    for d, ns in result.neighbours.items()}
        return pack, result, query, pictures

    def _rebuild_columns(self, pack: LoadedPack | None) -> None:
        for c in self.columns.values():
            c.deleteLater()
        self.columns = {}
        if pack is None:
            return
        self.index.setRange(0, max(0, len(pack.gallery) - 1))
        for depth in depths_of(pack):
            column = DepthColumn(pack, depth, self.show_gallery_sketch)
            self.columns[depth] = column
            self.columns_layout.addWidget(column, 1)

    def _show(self, payload) -> None:
        pack, result, query, pictures = payload
        if pack is not self.state.pack():
            return
        self.result = result
        self.query_picture.setPixmap(QPixmap.fromImage(query))
        ref = ("—" if result.reference is None
               else f"{pack.pack.classes[result.reference]} ({result.reference_source})")
        self.status.setText(f"Query: {result.query}. Class compared with: {ref}. "
                            f"Green frame = same class.{depth_trend(result, list(self.columns))}")
        for depth, column in self.columns.items():
            column.show_result(pack, result,
                               [QPixmap.fromImage(im) for im in pictures.get(depth, [])])

"""What the network learned: the first layer's filters (the paper's Figure 2) and the activation
maps the current sketch produces at the first layer and at the three search depths.

Reading weights and inner layers needs the ``onnx`` package (see :mod:`.graph`); without it the
view says so and shows nothing it cannot compute.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout,
                               QWidget)

from ...ink import Sketch
from ...runtime import LoadedPack
from ..state import AppState
from .common import TeachingView, depth_title, depths_of, grey_image
from .graph import (FIRST, ActivationProbe, NeedsOnnx, activation_tiles, filter_tiles,
                    first_layer_filters)
from .worker import Latest

FILTER_PX = 44
TILE_PX = 88
FILTER_COLUMNS = 16


def _tile(image: np.ndarray, px: int, caption: str = "") -> QWidget:
    """A picture enlarged without smoothing (so single weights stay visible), with a caption."""
    w = QWidget()
    box = QVBoxLayout(w)
    box.setContentsMargins(1, 1, 1, 1)
    box.setSpacing(0)
    pic = QLabel()
    pic.setPixmap(QPixmap.fromImage(grey_image(image)).scaled(
        px, px, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))
    box.addWidget(pic)
    if caption:
        cap = QLabel(caption)
        cap.setStyleSheet("font-size: 9px; color: #444;")
        cap.setAlignment(Qt.AlignmentFlag.AlignCenter)
        box.addWidget(cap)
    return w


def _clear(layout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        if item.widget():
            item.widget().deleteLater()
        elif item.layout():
            _clear(item.layout())


class NetworkView(TeachingView):
    """First-layer filters of the pack's convnet, and the current sketch's activations."""

    title = "What the network learned — filters and activations"

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(state, parent)
        self.filters: np.ndarray | None = None
        self.filter_tiles: list[QWidget] = []
        self.probe: ActivationProbe | None = None
        self.activations: dict[str, np.ndarray] = {}
        self.filter_work, self.act_work = Latest(self), Latest(self)
        self.filter_work.ready.connect(self._show_filters)
        self.filter_work.failed.connect(self._filters_failed)
        self.act_work.ready.connect(self._show_activations)
        self.act_work.failed.connect(lambda msg: self.act_note.setText(msg))
        self.filter_note = QLabel()
        self.filter_note.setWordWrap(True)
        self.filter_grid = QGridLayout()
        self.filter_grid.setSpacing(2)
        self.act_note = QLabel()
        self.act_note.setWordWrap(True)
        self.act_rows = QVBoxLayout()
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(QLabel("<h3>First-layer filters</h3>"))
        layout.addWidget(self.filter_note)
        grid_box = QHBoxLayout()
        grid_box.addLayout(self.filter_grid)
        grid_box.addStretch(1)
        layout.addLayout(grid_box)
        layout.addWidget(QLabel("<h3>Activations of the current sketch</h3>"))
        layout.addWidget(self.act_note)
        layout.addLayout(self.act_rows)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.addWidget(scroll)
        self.resize(1000, 760)
        self.refresh(pack_changed=True)

    @property
    def busy(self) -> bool:
        return self.filter_work.busy or self.act_work.busy

    def refresh(self, pack_changed: bool) -> None:
        pack = self.state.pack()
        if pack_changed:
            self.filters, self.probe, self.activations = None, None, {}
            _clear(self.filter_grid)
            self.filter_tiles = []
            if pack is None:
                self.filter_work.cancel()
                self.filter_note.setText("No pack is loaded.")
            else:
                self.filter_note.setText("reading the filters…")
                self.filter_work.submit(lambda: (pack, *self._load(pack)))
                return   # activations follow once the probe exists
        self._activate()

    @staticmethod
    def _load(pack: LoadedPack) -> tuple[np.ndarray | None, ActivationProbe | None, str]:
        """Filters and probe, or the advice to install onnx (a normal outcome, not an error)."""
        path = pack.pack.models["convnet"].file
        outputs = {d: pack.pack.features[d].output for d in depths_of(pack)}
        try:
            return first_layer_filters(path), ActivationProbe.build(path, outputs), ""
        except NeedsOnnx as exc:
            return None, None, str(exc)

    def _filters_failed(self, message: str) -> None:
        self.filter_note.setText(message)
        self.act_note.setText(message)

    def _show_filters(self, payload) -> None:
        pack, filters, probe, message = payload
        if pack is not self.state.pack():
            return
        if filters is None:
            self._filters_failed(message)
            return
        self.filters, self.probe = filters, probe
        out, inp, kh, kw = filters.shape
        self.filter_note.setText(
            f"The {out} filters of the first convolution ({kh}×{kw}"
            f"{f', mean of {inp} input channels' if inp > 1 else ''}); mid-grey is 0, light "
            "weights respond to ink, dark ones to empty paper. Trained on sketches they become "
            "small stroke and edge detectors at several orientations (the paper's Figure 2).")
        for j, tile in enumerate(filter_tiles(filters)):
            w = _tile(tile, FILTER_PX)
            w.setToolTip(f"filter {j}")
            self.filter_grid.addWidget(w, j // FILTER_COLUMNS, j % FILTER_COLUMNS)
            self.filter_tiles.append(w)
        self._activate()

    def _activate(self) -> None:
        pack, sketch, probe = self.state.pack(), self.state.sketch(), self.probe
        if pack is None or probe is None:
            return
        if sketch.is_empty:
            self.act_work.cancel()
            self.activations = {}
            _clear(self.act_rows)
            self.act_note.setText("Draw a sketch to see what each layer makes of it.")
            return
        self.act_note.setText("computing…")
        self.act_work.submit(lambda: (pack, *self._activations(pack, probe, sketch)))

    @staticmethod
    def _activations(pack: LoadedPack, probe: ActivationProbe, sketch: Sketch):
        feed = pack.engine.inputs_for(sketch)["convnet"]
        acts = probe.run(feed)
        (image,) = feed.values()
        return acts, image[0, 0]

    def _show_activations(self, payload) -> None:
        pack, acts, image = payload
        if pack is not self.state.pack():
            return
        self.activations = acts
        _clear(self.act_rows)
        self.act_note.setText("Bright = strongly active. Each row is one layer; the first tile "
                              "is the mean over all channels, then the most active channels.")
        rows = [("Input the network sees", [("input", _to_uint8(image))], f"{image.shape[0]}×"
                 f"{image.shape[1]} raster")]
        for key in [FIRST, *depths_of(pack)]:
            tiles, about = activation_tiles(acts[key])
            name = "First convolution (after ReLU)" if key == FIRST else depth_title(key)
            rows.append((name, tiles, about))
        for name, tiles, about in rows:
            self.act_rows.addWidget(QLabel(f"<b>{name}</b> — {about}"))
            line = QHBoxLayout()
            for caption, tile in tiles:
                line.addWidget(_tile(tile, TILE_PX, caption))
            line.addStretch(1)
            self.act_rows.addLayout(line)


def _to_uint8(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    return ((a - lo) / (hi - lo) * 255).astype(np.uint8) if hi > lo else np.zeros(a.shape, np.uint8)

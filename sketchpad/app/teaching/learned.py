"""What the network learned: the first layer's filters (the paper's Figure 2) and the activation
maps the current sketch produces at the first layer and at the three search depths.

Reading weights and inner layers needs the ``onnx`` package (see :mod:`.graph`); without it the
view says so and shows nothing it cannot compute.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QImage, QPixmap
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


def _enlarged(image: np.ndarray, px: int) -> QImage:
    """A picture enlarged without smoothing (so single weights stay visible). A QImage, so the
    workers make them and the GUI thread only wraps them."""
    return grey_image(image).scaled(px, px, Qt.AspectRatioMode.KeepAspectRatio,
                                    Qt.TransformationMode.FastTransformation)


class _Tile(QWidget):
    """A picture with an optional small caption under it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        box = QVBoxLayout(self)
        box.setContentsMargins(1, 1, 1, 1)
        box.setSpacing(0)
        self.picture = QLabel()
        self.caption = QLabel()
        self.caption.setFont(_caption_font())
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        box.addWidget(self.picture)
        box.addWidget(self.caption)

    def show_image(self, image: QImage, caption: str = "") -> None:
        self.picture.setPixmap(QPixmap.fromImage(image))
        self.caption.setText(caption)
        self.caption.setVisible(bool(caption))


def _caption_font() -> QFont:
    font = QFont()
    font.setPixelSize(9)
    return font


class _TileRow(QWidget):
    """One layer: a heading and a row of tiles; the tiles are reused from one sketch to the
    next (rebuilding ~40 widgets per sketch held the GUI thread for tens of milliseconds)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.heading = QLabel()
        self.line = QHBoxLayout()
        self.line.addStretch(1)
        layout.addWidget(self.heading)
        layout.addLayout(self.line)
        self.tiles: list[_Tile] = []

    def show_tiles(self, heading: str, tiles: list[tuple[str, QImage]]) -> None:
        self.heading.setText(heading)
        while len(self.tiles) < len(tiles):
            self.tiles.append(_Tile())
            self.line.insertWidget(len(self.tiles) - 1, self.tiles[-1])
        for tile, (caption, image) in zip(self.tiles, tiles):
            tile.show_image(image, caption)
            tile.setVisible(True)
        for tile in self.tiles[len(tiles):]:
            tile.setVisible(False)


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
        self.act_row_widgets: list[_TileRow] = []
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
            for tile in self.filter_tiles:
                tile.deleteLater()
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
    def _load(pack: LoadedPack) -> tuple[np.ndarray | None, list[QImage], ActivationProbe | None,
                                         str]:
        """Filters, their pictures and the probe, or the advice to install onnx (a normal
        outcome, not an error)."""
        path = pack.pack.models["convnet"].file
        outputs = {d: pack.pack.features[d].output for d in depths_of(pack)}
        try:
            filters = first_layer_filters(path)
            probe = ActivationProbe.build(path, outputs)
        except NeedsOnnx as exc:
            return None, [], None, str(exc)
        return filters, [_enlarged(t, FILTER_PX) for t in filter_tiles(filters)], probe, ""

    def _filters_failed(self, message: str) -> None:
        self.filter_note.setText(message)
        self.act_note.setText(message)

    def _show_filters(self, payload) -> None:
        pack, filters, images, probe, message = payload
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
        for j, image in enumerate(images):
            w = _Tile()
            w.show_image(image)
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
            for widget in self.act_row_widgets:
                widget.setVisible(False)
            self.act_note.setText("Draw a sketch to see what each layer makes of it.")
            return
        self.act_note.setText("computing…")
        self.act_work.submit(lambda: (pack, *self._activations(pack, probe, sketch)))

    @staticmethod
    def _activations(pack: LoadedPack, probe: ActivationProbe, sketch: Sketch):
        """Worker side: the activations and every row of pictures, ready to show."""
        feed = pack.engine.inputs_for(sketch)["convnet"]
        acts = probe.run(feed)
        (image,) = feed.values()
        image = image[0, 0]
        rows = [(f"<b>Input the network sees</b> — {image.shape[0]}×{image.shape[1]} raster",
                 [("input", _enlarged(_to_uint8(image), TILE_PX))])]
        for key in [FIRST, *depths_of(pack)]:
            tiles, about = activation_tiles(acts[key])
            name = "First convolution (after ReLU)" if key == FIRST else depth_title(key)
            rows.append((f"<b>{name}</b> — {about}",
                         [(caption, _enlarged(t, TILE_PX)) for caption, t in tiles]))
        return acts, rows

    def _show_activations(self, payload) -> None:
        pack, acts, rows = payload
        if pack is not self.state.pack():
            return
        self.activations = acts
        self.act_note.setText("Bright = strongly active. Each row is one layer; the first tile "
                              "is the mean over all channels, then the most active channels.")
        while len(self.act_row_widgets) < len(rows):
            self.act_row_widgets.append(_TileRow())
            self.act_rows.addWidget(self.act_row_widgets[-1])
        for widget, (heading, tiles) in zip(self.act_row_widgets, rows):
            widget.show_tiles(heading, tiles)
            widget.setVisible(True)
        for widget in self.act_row_widgets[len(rows):]:
            widget.setVisible(False)


def _to_uint8(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    return ((a - lo) / (hi - lo) * 255).astype(np.uint8) if hi > lo else np.zeros(a.shape, np.uint8)

"""What the network learned: the first layer's filters (the paper's Figure 2) and the activation
maps the current sketch produces at the first layer and at the three search depths.

The weights and inner layers come from the probe written into the pack at export
(``probe.onnx``, ``first_filters.npy``; see :mod:`.graph`), so the app needs nothing beyond its
own install. A pack without a probe gets one sentence saying how to add it.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from ...ink import Sketch
from ...runtime import LoadedPack
from ..state import AppState
from .common import TeachingView, depth_title, depths_of, grey_image
from ...pack import PackError
from .assets import add_assets_advice, load_filters, probe_spec
from .graph import FIRST, ActivationProbe, activation_tiles, filter_tiles
from .worker import Latest

FILTER_PX = 44
TILE_PX = 88
CAPTION_PX = 9
FILTER_COLUMNS = 16


def _sheet(tiles: list[tuple[str, np.ndarray]], px: int, columns: int) -> QImage:
    """Tiles enlarged without smoothing (so single weights stay visible), ``columns`` to a row,
    each with its caption under it, composed into one picture. Drawn on the workers, so the GUI
    thread shows a whole layer as one label (dozens of widgets per layer held it for ~30 ms)."""
    captioned = any(caption for caption, _ in tiles)
    cap_h, gap = (CAPTION_PX + 3 if captioned else 0), 3
    rows = -(-len(tiles) // columns)
    width = min(len(tiles), columns) * (px + gap)
    sheet = QImage(max(width, 1), max(rows * (px + cap_h + gap), 1), QImage.Format.Format_RGB32)
    sheet.fill(QColor("white"))
    painter = QPainter(sheet)
    font = QFont()
    font.setPixelSize(CAPTION_PX)
    painter.setFont(font)
    painter.setPen(QColor("#444"))
    for j, (caption, tile) in enumerate(tiles):
        x, y = (j % columns) * (px + gap), (j // columns) * (px + cap_h + gap)
        big = grey_image(tile).scaled(px, px, Qt.AspectRatioMode.KeepAspectRatio,
                                      Qt.TransformationMode.FastTransformation)
        painter.drawImage(x + (px - big.width()) // 2, y + (px - big.height()) // 2, big)
        if caption:
            painter.drawText(QRect(x, y + px, px, cap_h), Qt.AlignmentFlag.AlignCenter, caption)
    painter.end()
    return sheet


class NetworkView(TeachingView):
    """First-layer filters of the pack's convnet, and the current sketch's activations."""

    title = "What the network learned — filters and activations"

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(state, parent)
        self.filters: np.ndarray | None = None
        self.filter_tiles: list[np.ndarray] = []   # one picture per filter, as shown
        self.probe: ActivationProbe | None = None
        self.activations: dict[str, np.ndarray] = {}
        self.filter_work, self.act_work = Latest(self), Latest(self)
        self.filter_work.ready.connect(self._show_filters)
        self.filter_work.failed.connect(self._filters_failed)
        self.act_work.ready.connect(self._show_activations)
        self.act_work.failed.connect(lambda msg: self.act_note.setText(msg))
        self.filter_note = QLabel()
        self.filter_note.setWordWrap(True)
        self.filter_sheet = QLabel()
        self.act_note = QLabel()
        self.act_note.setWordWrap(True)
        self.act_rows = QVBoxLayout()
        self.act_row_labels: list[tuple[QLabel, QLabel]] = []   # (heading, sheet) per layer
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(QLabel("<h3>First-layer filters</h3>"))
        layout.addWidget(self.filter_note)
        layout.addWidget(self.filter_sheet)
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
            self.filter_sheet.clear()
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
    def _load(pack: LoadedPack):
        """Filters, their pictures (one each, and the sheet of all) and the probe; or the one
        sentence saying how to add a probe to this pack (a normal outcome, not an error)."""
        try:
            spec = probe_spec(pack.pack)
            if spec is None:
                return None, [], None, None, add_assets_advice(pack.pack, "inner-layer probe")
            filters = load_filters(spec)
            probe = ActivationProbe.open(spec)
        except PackError as exc:
            return None, [], None, None, str(exc)
        tiles = filter_tiles(filters)
        sheet = _sheet([("", t) for t in tiles], FILTER_PX, FILTER_COLUMNS)
        return filters, tiles, sheet, probe, ""

    def _filters_failed(self, message: str) -> None:
        self.filter_note.setText(message)
        self.act_note.setText(message)

    def _show_filters(self, payload) -> None:
        pack, filters, tiles, sheet, probe, message = payload
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
            "small stroke and edge detectors at several orientations (Figure 2 of DeepSketch, "
            "Seddati, Dupont and Mahmoudi, 2015).")
        self.filter_tiles = tiles
        self.filter_sheet.setPixmap(QPixmap.fromImage(sheet))
        self._activate()

    def _activate(self) -> None:
        pack, sketch, probe = self.state.pack(), self.state.sketch(), self.probe
        if pack is None or probe is None:
            return
        if sketch.is_empty:
            self.act_work.cancel()
            self.activations = {}
            for heading, sheet in self.act_row_labels:
                heading.hide()
                sheet.hide()
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
                 _sheet([("input", _to_uint8(image))], TILE_PX, 1))]
        for key in [k for k in (FIRST, *depths_of(pack)) if k in acts]:
            tiles, about = activation_tiles(acts[key])
            name = "First convolution (after ReLU)" if key == FIRST else depth_title(pack, key)
            rows.append((f"<b>{name}</b> — {about}", _sheet(tiles, TILE_PX, len(tiles))))
        return acts, rows

    def _show_activations(self, payload) -> None:
        pack, acts, rows = payload
        if pack is not self.state.pack():
            return
        self.activations = acts
        self.act_note.setText("Bright = strongly active. Each row is one layer; the first tile "
                              "is the mean over all channels, then the most active channels.")
        while len(self.act_row_labels) < len(rows):
            labels = (QLabel(), QLabel())
            for label in labels:
                self.act_rows.addWidget(label)
            self.act_row_labels.append(labels)
        for (heading, sheet), (text, image) in zip(self.act_row_labels, rows):
            heading.setText(text)
            sheet.setPixmap(QPixmap.fromImage(image))
            heading.show()
            sheet.show()
        for heading, sheet in self.act_row_labels[len(rows):]:
            heading.hide()
            sheet.hide()


def _to_uint8(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    return ((a - lo) / (hi - lo) * 255).astype(np.uint8) if hi > lo else np.zeros(a.shape, np.uint8)

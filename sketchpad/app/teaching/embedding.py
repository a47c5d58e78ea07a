"""Embedding map: the gallery laid out in 2-D per depth, coloured by class, with the current sketch
placed on it live.

Two maps per depth, chosen in the window:

* **t-SNE** (the default when the pack has it): computed at export by
  ``python -m training.teaching_assets`` and stored in ``projection.npz``. It keeps each sketch
  near its nearest neighbours in the depth's feature space, so the classes a depth separates
  come apart on the map. A new sketch goes where openTSNE's ``transform`` starts a new point: at
  the median position of its ``k`` nearest gallery sketches in the depth's search index (the
  manifest records ``k`` and what skipping openTSNE's refinement costs);
* **PCA**: the two directions of widest spread (``projection_<depth>`` in ``gallery.npz``).
  The sketch is projected with the stored PCA (``projection_mean_<depth>``,
  ``projection_basis_<depth>``), so a sketch with the same features as a gallery sketch lands
  exactly on it. Packs without the basis use the mean position of its nearest neighbours.

The legend gives the share of each gallery point's 10 nearest map neighbours that share its
class, per depth, as measured at export, and says what that share does from low to high.
Points are rasterised with numpy on a worker thread, so 20,000 of them cost the GUI one image
blit per repaint.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...ink import Sketch
from ...pack import PackError
from ...runtime import LoadedPack
from ..state import AppState
from .assets import StoredMaps, add_assets_advice, load_maps
from .common import (TeachingView, class_colours, depth_title, depths_of, grey_image, qcolour,
                     rgb_image)
from .honest import value_trend
from .worker import Latest

#: Neighbours averaged when a PCA map has no stored basis.
PLACE_K = 10
MARGIN = 12
BACKGROUND = 250
TSNE, PCA = "tsne", "pca"
METHOD_NAMES = {TSNE: "t-SNE: keeps each sketch near its nearest neighbours",
                PCA: "PCA: the two directions of widest spread"}
#: How a placement was found, in the legend's words.
HOW = {"projected": "projected with the PCA the pack stores, so it sits exactly where a "
                    "gallery sketch with the same features sits",
       "median": "put at the median position of its {k} nearest gallery sketches at that depth "
                 "(where openTSNE's transform starts a new point)",
       "mean": "put at the mean position of its {k} nearest gallery sketches at that depth "
               "(this pack stores no PCA basis)",
       "snapped": "put on the gallery sketch it is identical to"}


@dataclass(frozen=True)
class Placement:
    """Where a sketch sits on one depth's map and how that was decided."""

    xy: np.ndarray          # [2] in map coordinates
    rule: str               # a key of HOW
    neighbours: list[int]   # gallery ids nearest to the sketch at this depth

    @property
    def exact(self) -> bool:
        """Projected with the map's own formula (PCA), or onto an identical gallery sketch."""
        return self.rule in ("projected", "snapped")


def projection_bases(pack: LoadedPack) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The stored PCA ``(mean [D], basis [2, D])`` per depth, for the depths that have one
    (kept by the pack's :class:`~sketchpad.gallery.Gallery`, which read them at load)."""
    bases = pack.gallery.projection_bases
    return {d: bases[d] for d in depths_of(pack) if d in bases}


def place(feature: np.ndarray, neighbours: list[tuple[int, float]], positions: np.ndarray,
          basis: tuple[np.ndarray, np.ndarray] | None, rule: str = "mean") -> Placement:
    """Position of a sketch with ``feature`` on a map whose gallery sits at ``positions``.

    ``neighbours`` are ``(gallery id, distance)`` nearest first. With a PCA ``basis`` the answer
    is the projection itself. Otherwise a sketch at distance zero from a gallery sketch (the same
    sketch) goes onto it, and any other goes to the ``rule`` ("median" or "mean") of its
    neighbours' positions.
    """
    ids = [i for i, _ in neighbours]
    if basis is not None:
        mean, axes = basis
        return Placement(((np.asarray(feature, np.float32) - mean) @ axes.T).astype(np.float32),
                         "projected", ids)
    if not ids:
        raise ValueError("no neighbours to place the sketch by")
    if neighbours[0][1] <= 1e-6:
        return Placement(positions[ids[0]].astype(np.float32), "snapped", ids)
    centre = np.median if rule == "median" else np.mean
    return Placement(centre(positions[ids], axis=0).astype(np.float32), rule, ids)


class MapFrame:
    """Map coordinates ↔ pixels for a view window ``lo .. lo + span`` on a widget of a given size
    (axes scaled independently: PCA axes differ a lot in spread and the map should fill the
    panel)."""

    def __init__(self, lo: np.ndarray, span: np.ndarray, width: int, height: int):
        self.lo, self.span = np.asarray(lo, np.float64), np.asarray(span, np.float64)
        self.width, self.height = width, height

    @classmethod
    def fit(cls, positions: np.ndarray, width: int, height: int) -> "MapFrame":
        """The whole map (0.5–99.5 percentiles, so one outlier does not squash the rest; by
        partition: ``np.percentile``'s first call in a process costs ~13 ms of set-up)."""
        pos = np.asarray(positions, np.float64)
        k = [int(0.005 * (len(pos) - 1)), int(np.ceil(0.995 * (len(pos) - 1)))]
        lo, hi = np.partition(pos, k, axis=0)[k]
        span = np.where(hi - lo > 1e-9, hi - lo, 1.0)
        return cls(lo - 0.04 * span, span * 1.08, width, height)

    def to_pixels(self, xy: np.ndarray) -> np.ndarray:
        """``[..., 2]`` map coordinates → pixel ``(x, y)``, y up on screen."""
        u = (np.asarray(xy, np.float64) - self.lo) / self.span
        px = MARGIN + u[..., 0] * (self.width - 2 * MARGIN)
        py = self.height - MARGIN - u[..., 1] * (self.height - 2 * MARGIN)
        return np.stack([px, py], -1)

    def to_map(self, px: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_pixels`."""
        px = np.asarray(px, np.float64)
        u = np.stack([(px[..., 0] - MARGIN) / (self.width - 2 * MARGIN),
                      (self.height - MARGIN - px[..., 1]) / (self.height - 2 * MARGIN)], -1)
        return self.lo + u * self.span

    def zoomed(self, factor: float, at_px: np.ndarray) -> "MapFrame":
        """The frame scaled by ``factor`` (< 1 zooms in) keeping the point under ``at_px``."""
        anchor = self.to_map(at_px)
        span = self.span * factor
        return MapFrame(anchor - (anchor - self.lo) * factor, span, self.width, self.height)

    def panned(self, d_px: np.ndarray) -> "MapFrame":
        shift = self.to_map(np.zeros(2)) - self.to_map(np.asarray(d_px, np.float64))
        return MapFrame(self.lo + shift, self.span, self.width, self.height)

    def resized(self, width: int, height: int) -> "MapFrame":
        return MapFrame(self.lo, self.span, width, height)


def dot_radius(n: int) -> int:
    """Bigger dots for small galleries, small ones so 20,000 points do not become one blot."""
    return 3 if n < 2000 else 2 if n < 50000 else 1


def rasterise(positions: np.ndarray, colours: np.ndarray, frame: MapFrame) -> QImage:
    """All points as small discs on a light background (numpy splatting; no Qt painting, so it
    runs on a worker). Draw order is shuffled with a fixed seed so no class hides the others."""
    width, height = frame.width, frame.height
    px = np.rint(frame.to_pixels(positions)).astype(np.int64)
    order = np.random.default_rng(0).permutation(len(px))
    px, col = px[order], colours[order]
    img = np.full((height, width, 3), BACKGROUND, np.uint8)
    r = dot_radius(len(px))
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dx * dx + dy * dy > r * r + 1:
                continue
            x, y = px[:, 0] + dx, px[:, 1] + dy
            ok = (x >= 0) & (x < width) & (y >= 0) & (y < height)
            img[y[ok], x[ok]] = col[ok]
    return rgb_image(img)


class MapPanel(QWidget):
    """One depth's map: a cached raster of the gallery, the current sketch, a hover preview.
    The wheel zooms about the pointer, dragging pans, a double click shows the whole map again."""

    def __init__(self, depth: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.depth = depth
        self.setMinimumSize(260, 260)
        self.setMouseTracking(True)
        self.pack: LoadedPack | None = None
        self.positions: np.ndarray | None = None
        self.colours: np.ndarray | None = None
        self.view: MapFrame | None = None          # None: the whole map
        self._whole: MapFrame | None = None        # the whole map's frame (see set_data)
        self.image: QImage | None = None
        self.image_frame: MapFrame | None = None   # the frame self.image was drawn for
        self.placement: Placement | None = None
        self.hovered: int | None = None
        self._drag: np.ndarray | None = None
        self.render_work = Latest(self)
        self.render_work.ready.connect(self._rendered)

    @property
    def busy(self) -> bool:
        return self.render_work.busy

    def set_data(self, pack: LoadedPack | None, positions: np.ndarray | None,
                 colours: np.ndarray | None) -> None:
        self.pack, self.positions, self.colours = pack, positions, colours
        # The whole-map frame depends only on the data: fit it (two percentiles over the
        # gallery) once here, not on every paint, hover and resize.
        self._whole = (MapFrame.fit(positions, self.width(), self.height())
                       if positions is not None and len(positions) else None)
        self.view, self.image, self.image_frame = None, None, None
        self.placement, self.hovered = None, None
        self._render()
        self.update()

    def set_placement(self, placement: Placement | None) -> None:
        self.placement = placement
        self.update()

    def frame(self) -> MapFrame | None:
        """The current map ↔ pixel mapping (None without a map)."""
        frame = self._whole if self.view is None else self.view
        return None if frame is None else frame.resized(self.width(), self.height())

    def _set_view(self, frame: MapFrame | None) -> None:
        self.view = frame
        self._render()
        self.update()

    def _render(self) -> None:
        frame = self.frame()
        if frame is None:
            self.render_work.cancel()
            return
        pos, col = self.positions, self.colours
        self.render_work.submit(lambda: (frame, rasterise(pos, col, frame)))

    def _rendered(self, payload) -> None:
        self.image_frame, self.image = payload
        self.update()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._render()

    def wheelEvent(self, event) -> None:  # noqa: N802
        frame = self.frame()
        if frame is not None:
            at = np.array([event.position().x(), event.position().y()])
            self._set_view(frame.zoomed(0.8 ** (event.angleDelta().y() / 120), at))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag = np.array([event.position().x(), event.position().y()])

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag = None

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._set_view(None)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        frame = self.frame()
        if frame is None:
            return
        p = np.array([event.position().x(), event.position().y()])
        if self._drag is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self._set_view(frame.panned(p - self._drag))
            self._drag = p
            return
        d = ((frame.to_pixels(self.positions) - p) ** 2).sum(1)
        i = int(np.argmin(d))
        hovered = i if d[i] <= 64 else None
        if hovered != self.hovered:
            self.hovered = hovered
            self.update()

    def leaveEvent(self, event) -> None:  # noqa: N802
        self.hovered = None
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(BACKGROUND, BACKGROUND, BACKGROUND))
        frame = self.frame()
        if self.image is not None and frame is not None:
            # The last raster, moved to where its corners are now, until the new one arrives.
            corners = self.image_frame.to_map(np.array([[0, 0], [self.image.width(),
                                                                 self.image.height()]]))
            (x0, y0), (x1, y1) = frame.to_pixels(corners)
            p.drawImage(QRectF(x0, y0, x1 - x0, y1 - y0), self.image)
        else:
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                       "no map in this pack" if self.positions is None else "drawing the map…")
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if frame is not None and self.placement is not None:
            x, y = np.clip(frame.to_pixels(self.placement.xy), 4, [self.width() - 4,
                                                                    self.height() - 4])
            for colour, width in ((QColor(255, 255, 255), 5), (QColor(0, 0, 0), 2.5)):
                p.setPen(QPen(colour, width))
                p.drawEllipse(QPointF(x, y), 9, 9)
                for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                    p.drawLine(QPointF(x + 5 * dx, y + 5 * dy), QPointF(x + 15 * dx, y + 15 * dy))
        if frame is not None and self.hovered is not None and self.pack is not None:
            self._paint_hover(p, frame)
        p.setPen(QColor(120, 120, 120))
        p.setFont(QFont(self.font().family(), 7))
        p.drawText(QRectF(0, self.height() - 14, self.width() - 4, 14),
                   Qt.AlignmentFlag.AlignRight, "wheel: zoom · drag: pan · double-click: all")
        p.end()

    def _paint_hover(self, p: QPainter, frame: MapFrame) -> None:
        """The hovered gallery sketch as a thumbnail beside the pointer (a tooltip that shows
        pictures, drawn in place so it follows the pointer without a popup window)."""
        i = self.hovered
        x, y = frame.to_pixels(self.positions[i])
        p.setPen(QPen(QColor(0, 0, 0), 2))
        p.drawEllipse(QPointF(x, y), 5, 5)
        size = 96
        pm = QPixmap.fromImage(grey_image(255 - self.pack.gallery.picture(i, size)))
        bx = x + 12 if x + 12 + size + 8 < self.width() else x - 12 - size - 8
        by = min(max(4, y - size / 2), self.height() - size - 26)
        box = QRectF(bx, by, size + 8, size + 26)
        p.setPen(QPen(qcolour(self.colours[i]), 2))
        p.setBrush(QColor(255, 255, 255, 240))
        p.drawRoundedRect(box, 4, 4)
        p.drawPixmap(int(bx + 4), int(by + 4), pm)
        p.setPen(QColor(20, 20, 20))
        p.setFont(QFont(self.font().family(), 8))
        p.drawText(QRectF(bx, by + size + 6, size + 8, 18), Qt.AlignmentFlag.AlignCenter,
                   f"{self.pack.gallery.label_name(i)} #{i}")


class EmbeddingMap(TeachingView):
    """The gallery per depth in 2-D, the current sketch marked, updated as the sketch changes."""

    title = "Embedding map — the gallery as each depth sees it"

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(state, parent)
        self.bases: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.maps: StoredMaps | None = None
        self.maps_note = ""
        self.loaded = False
        self.panels: dict[str, MapPanel] = {}
        self.titles: dict[str, QLabel] = {}
        self.placements: dict[str, Placement] = {}
        self.load_work, self.place_work = Latest(self), Latest(self)
        self.load_work.ready.connect(self._loaded)
        self.place_work.ready.connect(self._placed)
        for w in (self.load_work, self.place_work):
            w.failed.connect(lambda msg: self.legend.setText(f"could not place the sketch: {msg}"))
        self.method = QComboBox()
        self.method.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.method.setToolTip("How the gallery's features are laid out in two dimensions")
        self.method.currentIndexChanged.connect(lambda _: self._apply_method())
        self.share_label = QLabel()
        self.share_label.setWordWrap(True)
        self.row = QHBoxLayout()
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        top = QHBoxLayout()
        top.addWidget(QLabel("Map:"))
        top.addWidget(self.method)
        top.addWidget(self.share_label, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(self.row, 1)
        layout.addWidget(self.legend)
        self.resize(1200, 560)
        self.refresh(pack_changed=True)

    @property
    def busy(self) -> bool:
        return (self.load_work.busy or self.place_work.busy
                or any(p.busy for p in self.panels.values()))

    def current_method(self) -> str:
        return self.method.currentData() or PCA

    def positions(self, depth: str) -> np.ndarray | None:
        """The gallery's positions on ``depth``'s map for the chosen method."""
        pack = self.state.pack()
        if pack is None:
            return None
        if self.current_method() == TSNE and self.maps is not None:
            return self.maps.positions.get(depth)
        return pack.gallery.projections.get(depth)

    def position(self, depth: str) -> np.ndarray | None:
        """Where the current sketch is shown on ``depth``'s map (map coordinates)."""
        placement = self.placements.get(depth)
        return None if placement is None else placement.xy

    def refresh(self, pack_changed: bool) -> None:
        pack = self.state.pack()
        if pack_changed:
            self._rebuild(pack)
            if pack is not None:
                self.load_work.submit(lambda: (pack, *self._load(pack)))
            return
        self._place()

    @staticmethod
    def _load(pack: LoadedPack):
        """Worker side: the PCA bases and the stored t-SNE maps (or why there are none)."""
        bases = projection_bases(pack)
        try:
            maps = load_maps(pack.pack, len(pack.gallery))
            note = "" if maps is not None else add_assets_advice(pack.pack, "t-SNE map")
        except PackError as exc:
            maps, note = None, f"The t-SNE map cannot be shown: {exc}"
        return bases, maps, note

    def _rebuild(self, pack: LoadedPack | None) -> None:
        while self.row.count():
            item = self.row.takeAt(0)
            if item.layout():
                while item.layout().count():
                    sub = item.layout().takeAt(0)
                    if sub.widget():
                        sub.widget().deleteLater()
        self.panels, self.titles, self.placements, self.bases = {}, {}, {}, {}
        self.maps, self.maps_note, self.loaded = None, "", False
        self.method.blockSignals(True)
        self.method.clear()
        self.method.blockSignals(False)
        self.share_label.clear()
        if pack is None:
            self.legend.setText("No pack is loaded.")
            return
        for depth in depths_of(pack):
            box = QVBoxLayout()
            title = QLabel(f"<b>{depth_title(pack, depth)}</b>")
            panel = MapPanel(depth)
            box.addWidget(title)
            box.addWidget(panel, 1)
            self.row.addLayout(box, 1)
            self.panels[depth], self.titles[depth] = panel, title
        self.legend.setText("reading the maps…")

    def _loaded(self, payload) -> None:
        pack, bases, maps, note = payload
        if pack is not self.state.pack():
            return
        self.bases, self.maps, self.maps_note, self.loaded = bases, maps, note, True
        self.method.blockSignals(True)
        if maps is not None:
            self.method.addItem(METHOD_NAMES[TSNE], TSNE)
        if pack.gallery.projections:
            self.method.addItem(METHOD_NAMES[PCA], PCA)
        self.method.setCurrentIndex(0)
        self.method.blockSignals(False)
        self._apply_method()

    def _apply_method(self) -> None:
        """Show the chosen method's maps and place the sketch on them."""
        pack = self.state.pack()
        if pack is None or not self.loaded:
            return
        colours = class_colours(len(pack.pack.classes))[pack.gallery.labels]
        for depth, panel in self.panels.items():
            panel.set_data(pack, self.positions(depth), colours)
        self.share_label.setText(self._share_text())
        self.placements = {}
        self._place()

    def _share_text(self) -> str:
        """The measured same-class share of the shown maps, low → high, with what it does."""
        method = self.current_method()
        stored = self.maps.share.get(method, {}) if self.maps is not None else {}
        depths = [d for d in self.panels if d in stored]
        if not depths:
            return ""
        return (value_trend("Same class among each sketch's 10 nearest points on this map, "
                            + " → ".join(depths), [stored[d] for d in depths])
                + " — measured at export.")

    def _place(self) -> None:
        pack, sketch = self.state.pack(), self.state.sketch()
        if pack is None or sketch.is_empty or not self.loaded:
            if pack is None or sketch.is_empty:
                self.place_work.cancel()
            self.placements = {}
            for panel in self.panels.values():
                panel.set_placement(None)
            if self.loaded:
                self._legend()
            return
        analysis = self.state.analysis()
        prediction = analysis.prediction if analysis is not None else None
        method = self.current_method()
        positions = {d: self.positions(d) for d in self.panels}
        bases = dict(self.bases) if method == PCA else {}
        k = self.maps.k if method == TSNE and self.maps is not None else PLACE_K
        rule = "median" if method == TSNE else "mean"
        self.place_work.submit(lambda: (pack, method, self._compute(
            pack, sketch, prediction, positions, bases, k, rule)))

    @staticmethod
    def _compute(pack: LoadedPack, sketch: Sketch, prediction, positions, bases, k: int,
                 rule: str) -> dict[str, Placement]:
        prediction = prediction or pack.engine.predict(sketch)
        out = {}
        for depth, xy in positions.items():
            if xy is None:
                continue
            found = pack.searcher.query(depth, prediction.features[depth], k)
            out[depth] = place(prediction.features[depth],
                               [(n.gallery_id, n.distance) for n in found], xy,
                               bases.get(depth), rule)
        return out

    def _placed(self, payload) -> None:
        pack, method, placements = payload
        if pack is not self.state.pack() or method != self.current_method():
            return
        self.placements = placements
        for depth, panel in self.panels.items():
            panel.set_placement(placements.get(depth))
        self._legend()

    def _legend(self) -> None:
        pack = self.state.pack()
        if pack is None:
            return
        colours = class_colours(len(pack.pack.classes))
        if self.placements:
            ids = {i for p in self.placements.values() for i in p.neighbours}
            shown = sorted({int(pack.gallery.labels[i]) for i in ids})[:16]
        else:
            shown = list(range(min(len(pack.pack.classes), 12)))
        swatches = " ".join(
            f"<span style='color: rgb({c[0]},{c[1]},{c[2]}); font-size: 16px'>●</span>"
            f"&nbsp;{pack.pack.classes[k]}" for k in shown for c in [colours[k]])
        k = self.maps.k if self.current_method() == TSNE and self.maps is not None else PLACE_K
        rules = sorted({p.rule for p in self.placements.values()})
        how = "; ".join(HOW[r].format(k=k) for r in rules) if rules else (
            "draw a sketch to see where it lands")
        n = len(pack.gallery)
        note = f"<br><i>{self.maps_note}</i>" if self.maps_note else ""
        self.legend.setText(
            f"{n:,} gallery sketches, coloured by class ({len(pack.pack.classes)} classes; "
            f"{'classes near the current sketch' if self.placements else 'first classes'}: "
            f"{swatches}).<br>⊕ the current sketch: {how}. Hover a point to see its sketch."
            f"{note}")

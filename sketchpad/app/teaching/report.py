"""Pack report: what the manifest says the pack's models achieve, as a table and as figures a
teacher can show and save.

The manifest keys read (all optional; a missing one shows "not in this pack"):

* ``metrics`` — ``{name: {"value": v, "protocol": "..."}}`` (or a bare number);
* ``confusion_matrix`` — ``[C][C]`` integer counts, row = true class, column = predicted;
* ``per_class_accuracy`` — ``{class: accuracy}`` or a list in class order;
* ``accuracy_vs_fraction`` — ``{fraction of strokes drawn: accuracy}``.

Each may sit at the top level of the manifest or inside ``metrics`` and may be wrapped as
``{"value": ..., "protocol": ...}``. Figures are drawn with matplotlib's Agg canvas on a worker,
so a 250 × 250 matrix never stalls the window.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QScrollArea, QTableWidget, QTableWidgetItem, QTabWidget,
                               QVBoxLayout, QWidget)

from ...runtime import LoadedPack
from ..state import AppState
from .common import TeachingView
from .worker import Latest

MISSING = "not in this pack"


def _entry(pack: LoadedPack, key: str) -> tuple[Any, str]:
    """A report entry and its protocol, from the manifest's top level or its metrics."""
    value = pack.pack.manifest.get(key, pack.pack.metrics.get(key))
    protocol = ""
    if isinstance(value, dict) and "value" in value:
        protocol, value = str(value.get("protocol", "")), value["value"]
    return value, protocol


def metric_rows(pack: LoadedPack) -> list[tuple[str, str, str]]:
    """``(metric, value, protocol)`` for each scalar metric, plus the retrieval figures stored per
    depth; the big tables (matrix, per class, curve) have their own tabs."""
    rows = []
    for name, value in pack.pack.metrics.items():
        if name in FIGURES:
            continue
        protocol = ""
        if isinstance(value, dict):
            protocol = str(value.get("protocol", ""))
            value = value.get("value", {k: v for k, v in value.items() if k != "protocol"})
        rows.append((name, _fmt(value), protocol))
    for depth, spec in pack.pack.features.items():
        for key, value in spec.info.items():
            if isinstance(value, (int, float)):
                rows.append((f"{depth}: {key}", _fmt(value), "measured at export"))
        for key, value in spec.info.get("annoy", {}).items():
            if key.startswith("recall_at"):
                rows.append((f"{depth}: index {key}", _fmt(value),
                             "Annoy vs exact search on gallery items"))
    return rows


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def confusion(pack: LoadedPack) -> tuple[np.ndarray | None, str]:
    value, protocol = _entry(pack, "confusion_matrix")
    if value is None:
        return None, protocol
    cm = np.asarray(value, np.int64)
    n = len(pack.pack.classes)
    if cm.shape != (n, n):
        raise ValueError(f"confusion_matrix is {cm.shape}, the pack has {n} classes")
    return cm, protocol


def hardest_confusions(cm: np.ndarray, classes: list[str], n: int = 12
                       ) -> list[tuple[str, str, int, float]]:
    """The ``n`` largest off-diagonal cells: ``(true, predicted, count, share of true class)``."""
    off = cm.astype(np.float64).copy()
    np.fill_diagonal(off, -1)
    flat = np.argsort(-off, axis=None, kind="stable")[:n]
    rows = cm.sum(1)
    out = []
    for f in flat:
        t, p = np.unravel_index(f, cm.shape)
        if cm[t, p] <= 0:
            break
        out.append((classes[t], classes[p], int(cm[t, p]), float(cm[t, p] / max(rows[t], 1))))
    return out


def per_class(pack: LoadedPack) -> tuple[np.ndarray | None, str]:
    """Accuracy per class in class order (from the matrix's diagonal when only that is stored)."""
    value, protocol = _entry(pack, "per_class_accuracy")
    classes = pack.pack.classes
    if isinstance(value, dict):
        return np.array([float(value.get(c, np.nan)) for c in classes]), protocol
    if isinstance(value, list):
        return np.asarray(value, np.float64), protocol
    cm, protocol = confusion(pack)
    if cm is not None:
        return np.diag(cm) / np.maximum(cm.sum(1), 1), protocol + " (from the confusion matrix)"
    return None, ""


def fraction_curve(pack: LoadedPack) -> tuple[np.ndarray | None, str]:
    """``[n, 2]`` (fraction of strokes, accuracy) sorted by fraction."""
    value, protocol = _entry(pack, "accuracy_vs_fraction")
    if not value:
        return None, protocol
    pairs = value.items() if isinstance(value, dict) else value
    curve = np.array(sorted((float(f), float(a)) for f, a in pairs))
    return curve, protocol


# --- figures (worker side: matplotlib's Agg canvas, no pyplot state, thread-safe per figure) ----

def _png(draw: Callable[[Any], None], size: tuple[float, float]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=size, dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    draw(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def confusion_png(cm: np.ndarray, classes: list[str], title: str) -> bytes:
    rates = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    n = len(classes)
    side = 7.5 if n > 40 else max(4.5, 0.28 * n + 2.5)

    def draw(fig):
        ax = fig.add_subplot()
        im = ax.imshow(rates, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        fig.colorbar(im, ax=ax, shrink=0.8, label="share of the true class")
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(title)
        if n <= 40:
            ax.set_xticks(range(n), classes, rotation=90, fontsize=8)
            ax.set_yticks(range(n), classes, fontsize=8)
        if n <= 12:
            for (t, p), c in np.ndenumerate(cm):
                ax.text(p, t, str(c), ha="center", va="center", fontsize=8,
                        color="white" if rates[t, p] < 0.6 else "black")
    return _png(draw, (side + 1.2, side))


def per_class_png(acc: np.ndarray, classes: list[str], title: str) -> bytes:
    order = np.argsort(acc, kind="stable")
    order = order[~np.isnan(acc[order])]
    mean = float(np.nanmean(acc))
    # Too many bars to read: the 20 hardest and the 20 easiest, side by side.
    groups = ([("hardest 20", order[:20]), ("easiest 20", order[-20:][::-1])]
              if len(order) > 40 else [("", order)])

    def draw(fig):
        axes = fig.subplots(1, len(groups), squeeze=False)[0]
        for ax, (name, idx) in zip(axes, groups):
            ax.barh(range(len(idx)), acc[idx], color="#4878a8")
            ax.set_yticks(range(len(idx)), [classes[i] for i in idx], fontsize=8)
            ax.invert_yaxis()
            ax.set_xlim(0, 1)
            ax.set_xlabel("accuracy")
            ax.axvline(mean, color="#c44", ls="--", label=f"mean over classes {mean:.2f}")
            if name:
                ax.set_title(name, fontsize=10)
        axes[-1].legend(loc="lower right", fontsize=8)
        fig.suptitle(title)
    rows = max(len(idx) for _, idx in groups)
    return _png(draw, (9 if len(groups) > 1 else 7, max(3.0, 0.22 * rows + 1.4)))


def confusions_png(pairs: list[tuple[str, str, int, float]], title: str) -> bytes:
    def draw(fig):
        ax = fig.add_subplot()
        labels = [f"{t} → {p}" for t, p, _, _ in pairs][::-1]
        ax.barh(range(len(pairs)), [r for *_, r in pairs][::-1], color="#c4703a")
        ax.set_yticks(range(len(pairs)), labels, fontsize=9)
        for y, (_, _, c, r) in enumerate(pairs[::-1]):
            ax.text(r, y, f" {c}", va="center", fontsize=8)
        ax.set_xlabel("share of the true class drawn that was predicted as the other")
        ax.set_title(title)
    return _png(draw, (7, max(2.5, 0.32 * len(pairs) + 1.2)))


def curve_png(curve: np.ndarray, title: str) -> bytes:
    def draw(fig):
        ax = fig.add_subplot()
        ax.plot(curve[:, 0] * 100, curve[:, 1] * 100, "o-", color="#2a7a3a")
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.set_xlabel("strokes drawn (% of the sketch)")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
        ax.set_title(title)
    return _png(draw, (6, 4))


@dataclass(frozen=True)
class ReportFigure:
    """One report figure: PNG bytes and the sentence under it; ``png`` None means missing."""

    key: str
    title: str
    png: bytes | None
    note: str


FIGURES = ("confusion_matrix", "per_class_accuracy", "accuracy_vs_fraction")
TABS = {"confusion_matrix": "Confusion matrix", "per_class_accuracy": "Per-class accuracy",
        "hardest_confusions": "Hardest confusions",
        "accuracy_vs_fraction": "Accuracy while drawing"}


def build_figures(pack: LoadedPack) -> dict[str, ReportFigure]:
    """Every report figure of ``pack`` (worker side)."""
    classes = pack.pack.classes
    out = {}
    cm, protocol = confusion(pack)
    if cm is None:
        out["confusion_matrix"] = ReportFigure("confusion_matrix", TABS["confusion_matrix"],
                                               None, MISSING)
        out["hardest_confusions"] = ReportFigure("hardest_confusions",
                                                 TABS["hardest_confusions"], None,
                                                 MISSING + " (needs a confusion matrix)")
    else:
        out["confusion_matrix"] = ReportFigure(
            "confusion_matrix", TABS["confusion_matrix"],
            confusion_png(cm, classes, f"Confusion matrix ({int(cm.sum())} test sketches)"),
            protocol)
        pairs = hardest_confusions(cm, classes)
        out["hardest_confusions"] = ReportFigure(
            "hardest_confusions", TABS["hardest_confusions"],
            confusions_png(pairs, "Most frequent mistakes") if pairs else None,
            protocol if pairs else "no mistakes in the confusion matrix")
    acc, protocol = per_class(pack)
    out["per_class_accuracy"] = ReportFigure(
        "per_class_accuracy", TABS["per_class_accuracy"],
        None if acc is None else per_class_png(acc, classes, "Accuracy per class"),
        MISSING if acc is None else protocol)
    curve, protocol = fraction_curve(pack)
    out["accuracy_vs_fraction"] = ReportFigure(
        "accuracy_vs_fraction", TABS["accuracy_vs_fraction"],
        None if curve is None else curve_png(curve, "Accuracy versus strokes drawn"),
        MISSING if curve is None else protocol)
    return out


class FigureTab(QWidget):
    """A rendered figure, fitted to the tab, with a Save button; or why it is missing."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.figure: ReportFigure | None = None
        self._full: QPixmap | None = None
        self.picture = QLabel("drawing…")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.picture)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.save = QPushButton("Save PNG…")
        self.save.clicked.connect(self._ask_save)
        bar = QHBoxLayout()
        bar.addWidget(self.note, 1)
        bar.addWidget(self.save)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addLayout(bar)

    def show_figure(self, figure: ReportFigure, image: QImage | None = None) -> None:
        """Show ``figure``; ``image`` is its PNG decoded on the worker (None when it has none)."""
        self.figure = figure
        self.save.setEnabled(figure.png is not None)
        if figure.png is None:
            self._full = None
            self.picture.setPixmap(QPixmap())
            self.picture.setText(figure.note)
            self.note.setText("")
            return
        self._full = QPixmap.fromImage(image)
        self._fit()
        self.note.setText(f"Protocol: {figure.note}" if figure.note else "")

    def _fit(self) -> None:
        """Show the whole figure, shrunk to the tab (never enlarged); Save writes it full size.
        Hidden tabs wait until shown: smooth scaling of a large figure is not free."""
        if self._full is None or self._full.isNull() or not self.isVisible():
            return
        room = self.scroll.viewport().size()
        pm = self._full
        if pm.width() > room.width() or pm.height() > room.height():
            pm = pm.scaled(room, Qt.AspectRatioMode.KeepAspectRatio,
                           Qt.TransformationMode.SmoothTransformation)
        self.picture.setPixmap(pm)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._fit()

    def showEvent(self, event) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        self._fit()

    def save_to(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_bytes(self.figure.png)
        return path

    def _ask_save(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save figure", f"{self.figure.key}.png",
                                              "PNG image (*.png)")
        if name:
            self.save_to(name)


class PackReport(TeachingView):
    """The pack's measured metrics with their protocol, and the figures behind them."""

    title = "Pack report — what this pack's models achieve"

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(state, parent)
        self.work = Latest(self)
        self.work.ready.connect(self._show)
        self.work.failed.connect(lambda msg: self.heading.setText(f"could not draw: {msg}"))
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["metric", "value", "protocol"])
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Metrics")
        self.figure_tabs: dict[str, FigureTab] = {}
        for key, name in TABS.items():
            self.figure_tabs[key] = FigureTab()
            self.tabs.addTab(self.figure_tabs[key], name)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.tabs, 1)
        self.resize(900, 720)
        self.refresh(pack_changed=True)

    @property
    def busy(self) -> bool:
        return self.work.busy

    def refresh(self, pack_changed: bool) -> None:
        if not pack_changed:
            return   # the report is about the pack, not the sketch
        pack = self.state.pack()
        self.table.setRowCount(0)
        if pack is None:
            self.work.cancel()
            self.heading.setText("No pack is loaded.")
            return
        training = pack.pack.manifest.get("training", {})
        dataset = pack.pack.manifest.get("dataset", {})
        self.heading.setText(
            f"<b>{pack.pack.title}</b> — {len(pack.pack.classes)} classes, "
            f"dataset {dataset.get('name', '?')}, gallery of {len(pack.gallery):,} sketches.<br>"
            f"Trained with <code>{training.get('command', '?')}</code> on "
            f"{training.get('hardware', '?')}.")
        rows = metric_rows(pack)
        self.table.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)   # long protocols are elided in the cell
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        for tab in self.figure_tabs.values():
            tab.show_figure(ReportFigure("", "", None, "drawing…"))
        self.work.submit(lambda: (pack, _decoded(build_figures(pack))))

    def _show(self, payload) -> None:
        pack, figures = payload
        if pack is not self.state.pack():
            return
        for key, (figure, image) in figures.items():
            self.figure_tabs[key].show_figure(figure, image)


def _decoded(figures: dict[str, ReportFigure]) -> dict[str, tuple[ReportFigure, QImage | None]]:
    """Each figure with its PNG decoded, on the worker: the GUI thread only wraps the pixels."""
    return {k: (f, None if f.png is None else QImage.fromData(f.png, "PNG"))
            for k, f in figures.items()}

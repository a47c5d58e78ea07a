"""Pack report: what the pack's models achieve, in plain words, beside the papers' own tables.

It opens on **Results beside the papers**: the tables of DeepSketch (Seddati, Dupont and
Mahmoudi, 2015) for the TU-Berlin pack and of the DSN for the Quick, Draw! pack, each with the
paper's figure, ours and the difference (:mod:`.papers`). Metric names are in words with a
one-line explanation as the tooltip (:mod:`.glossary`); the protocol of a table is one click
away ("How was this measured?"). The figures follow as tabs. Each is drawn with matplotlib's Agg
canvas on a worker when its tab is first shown, and comes back as pixels (a PNG is encoded only
when one is saved), so opening the report runs no matplotlib and a 250-class matrix never
stalls the window.

The manifest keys read (all optional; a missing one shows "not in this pack"):

* ``metrics`` — ``{name: {"value": v, "protocol": "..."}}`` (or a bare number);
* ``confusion_matrix`` — ``[C][C]`` integer counts, row = true class, column = predicted; with
  more than :data:`CONFUSION_ALL` classes the figure shows the :data:`CONFUSION_TOP` classes
  most involved in mistakes, named;
* ``per_class_accuracy`` — ``{class: accuracy}`` or a list in class order;
* ``accuracy_vs_fraction`` — ``{fraction of strokes drawn: accuracy}``; ``"drawings"`` names the
  data set when it is not the pack's own (the TU-Berlin pack's curve is measured on Quick, Draw!
  drawings by ``training.teaching_assets``);
* ``calibration`` — a reliability diagram, shown when the section names a PNG file of the pack.

Each may sit at the top level of the manifest or inside ``metrics`` and may be wrapped as
``{"value": ..., "protocol": ...}``.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QScrollArea, QTableWidget, QTableWidgetItem, QTabWidget,
                               QVBoxLayout, QWidget)

from ...runtime import LoadedPack
from ..state import AppState
from .common import TeachingView
from .glossary import measure_words, metric_words
from .papers import PaperTable, difference, figure, tables_for, trend_sentence
from .worker import Latest

MISSING = "not in this pack"


def _entry(pack: LoadedPack, key: str) -> tuple[Any, str]:
    """A report entry and its protocol, from the manifest's top level or its metrics."""
    value = pack.pack.manifest.get(key, pack.pack.metrics.get(key))
    protocol = ""
    if isinstance(value, dict) and "value" in value:
        protocol, value = str(value.get("protocol", "")), value["value"]
    return value, protocol


def metric_rows(pack: LoadedPack) -> list[tuple[str, str, str, str]]:
    """``(name in words, value, explanation, protocol)`` for each scalar metric, plus the
    retrieval figures stored per depth; the big tables (matrix, per class, curve) have their own
    tabs. The manifest key is kept in the explanation (for whoever needs to find it)."""
    rows = []
    for name, value in pack.pack.metrics.items():
        if name in FIGURES:
            continue
        protocol = ""
        if isinstance(value, dict):
            protocol = str(value.get("protocol", ""))
            value = value.get("value", {k: v for k, v in value.items() if k != "protocol"})
        words, about = metric_words(name)
        rows.append((words, _fmt(value), f"{about} (manifest: {name})".strip(), protocol))
    for depth, spec in pack.pack.features.items():
        for key, value in spec.info.items():
            if isinstance(value, (int, float)):
                words, about = metric_words(key)
                rows.append((f"{words} — {depth} depth index", _fmt(value),
                             f"{about} (manifest: features.{depth}.{key})".strip(),
                             "measured at export"))
        for key, value in spec.info.get("annoy", {}).items():
            if key.startswith("recall_at"):
                words, about = metric_words(key)
                rows.append((f"{words} — {depth} depth", _fmt(value), about,
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


def fraction_curve(pack: LoadedPack) -> tuple[np.ndarray | None, str, str]:
    """``[n, 2]`` (fraction of strokes, accuracy) sorted by fraction, its protocol, and the data
    set it was measured on when that is not the pack's own ("" when it is)."""
    raw = pack.pack.manifest.get("accuracy_vs_fraction",
                                 pack.pack.metrics.get("accuracy_vs_fraction"))
    drawings = str(raw.get("drawings", "")) if isinstance(raw, dict) else ""
    value, protocol = _entry(pack, "accuracy_vs_fraction")
    if not value:
        return None, protocol, drawings
    pairs = value.items() if isinstance(value, dict) else value
    curve = np.array(sorted((float(f), float(a)) for f, a in pairs))
    return curve, protocol, drawings


# --- figures (worker side: matplotlib's Agg canvas, no pyplot state, thread-safe per figure) ----

def _render(draw: Callable[[Any], None], size: tuple[float, float]) -> np.ndarray:
    """The figure ``draw`` makes, as RGBA pixels ``[h, w, 4]``. No PNG on the way: encoding one
    (zlib, inside ``savefig``) held the interpreter for up to 65 ms at a time, and the GUI thread
    waited; a PNG is encoded only when one is saved (:func:`png_bytes`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=size, dpi=110, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    draw(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def png_bytes(rgba: np.ndarray) -> bytes:
    """RGBA pixels as a PNG file's bytes."""
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    return buf.getvalue()


#: Up to this many classes the whole matrix is drawn with names; beyond, the most confused.
CONFUSION_ALL = 40
CONFUSION_TOP = 30


def most_confused(cm: np.ndarray, n: int = CONFUSION_TOP) -> np.ndarray:
    """The ``n`` classes most involved in mistakes (drawings of them called something else, plus
    drawings of others called them), in class order."""
    off = cm.astype(np.float64).copy()
    np.fill_diagonal(off, 0)
    involvement = off.sum(0) + off.sum(1)
    return np.sort(np.argsort(-involvement, kind="stable")[:n])


def confusion_figure(cm: np.ndarray, classes: list[str], title: str) -> np.ndarray:
    """Rates per true class. A large matrix is cut to the classes most often confused, each named
    (rates still per row of the full matrix, so a row's missing share went to classes not shown)."""
    rates = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    n = len(classes)
    keep = np.arange(n) if n <= CONFUSION_ALL else most_confused(cm)
    sub, names = rates[np.ix_(keep, keep)], [classes[i] for i in keep]
    m = len(keep)
    side = max(4.5, 0.28 * m + 2.5)
    if n > CONFUSION_ALL:
        title = f"{title}: the {m} of {n} classes most often confused"

    def draw(fig):
        ax = fig.add_subplot()
        im = ax.imshow(sub, cmap="viridis", vmin=0, vmax=1 if n <= CONFUSION_ALL else
                       max(float(sub.max()), 0.05), interpolation="nearest")
        fig.colorbar(im, ax=ax, shrink=0.8, label="share of the true class")
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(m), names, rotation=90, fontsize=8)
        ax.set_yticks(range(m), names, fontsize=8)
        if m <= 12:
            for (t, p), c in np.ndenumerate(cm[np.ix_(keep, keep)]):
                ax.text(p, t, str(c), ha="center", va="center", fontsize=8,
                        color="white" if sub[t, p] < 0.6 else "black")
    return _render(draw, (side + 1.2, side))


def per_class_figure(acc: np.ndarray, classes: list[str], title: str) -> np.ndarray:
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
    return _render(draw, (9 if len(groups) > 1 else 7, max(3.0, 0.22 * rows + 1.4)))


def confusions_figure(pairs: list[tuple[str, str, int, float]], title: str) -> np.ndarray:
    def draw(fig):
        ax = fig.add_subplot()
        labels = [f"{t} → {p}" for t, p, _, _ in pairs][::-1]
        ax.barh(range(len(pairs)), [r for *_, r in pairs][::-1], color="#c4703a")
        ax.set_yticks(range(len(pairs)), labels, fontsize=9)
        for y, (_, _, c, r) in enumerate(pairs[::-1]):
            ax.text(r, y, f" {c}", va="center", fontsize=8)
        ax.set_xlabel("share of the true class drawn that was predicted as the other")
        ax.set_title(title)
    return _render(draw, (7, max(2.5, 0.32 * len(pairs) + 1.2)))


def curve_figure(curve: np.ndarray, title: str, subtitle: str = "") -> np.ndarray:
    def draw(fig):
        ax = fig.add_subplot()
        ax.plot(curve[:, 0] * 100, curve[:, 1] * 100, "o-", color="#2a7a3a")
        for f, acc in curve:
            ax.annotate(f"{acc:.0%}", (f * 100, acc * 100), textcoords="offset points",
                        xytext=(0, 7), ha="center", fontsize=8)
        ax.set_xlim(0, 105)
        ax.set_ylim(0, 100)
        ax.set_xlabel("strokes drawn (% of the sketch)")
        ax.set_ylabel("first guess right (%)")
        ax.grid(alpha=0.3)
        ax.set_title(title + (f"\n{subtitle}" if subtitle else ""), fontsize=10)
    return _render(draw, (6.5, 4.2))


def calibration_picture(pack: LoadedPack) -> tuple[Path | None, str]:
    """The reliability diagram the ``calibration`` section names (a PNG listed in the pack's
    files) and the section's protocol or description."""
    section = pack.pack.manifest.get("calibration")
    if not isinstance(section, dict):
        return None, ""
    files = pack.pack.manifest.get("files", {})

    def pngs(value: Any):
        if isinstance(value, str) and value.lower().endswith(".png") and value in files:
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from pngs(v)
        elif isinstance(value, list):
            for v in value:
                yield from pngs(v)
    found = next(pngs(section), None)
    about = next((str(section[k]) for k in ("protocol", "description", "method")
                  if isinstance(section.get(k), str)), "")
    return (pack.pack.path / found if found else None), about


@dataclass(frozen=True)
class ReportFigure:
    """One report figure: its pixels (or, for a picture the pack carries, the PNG file's bytes)
    and the sentence under it; neither means missing."""

    key: str
    title: str
    rgba: np.ndarray | None
    note: str
    file_png: bytes | None = None

    @property
    def available(self) -> bool:
        return self.rgba is not None or self.file_png is not None

    @property
    def png(self) -> bytes | None:
        """The figure as a PNG file (encoded now for a drawn figure)."""
        if self.file_png is not None:
            return self.file_png
        return None if self.rgba is None else png_bytes(self.rgba)


FIGURES = ("confusion_matrix", "per_class_accuracy", "accuracy_vs_fraction")
TABS = {"confusion_matrix": "Confusion matrix", "per_class_accuracy": "Per class",
        "hardest_confusions": "Hardest confusions",
        "accuracy_vs_fraction": "While drawing",
        "calibration": "How sure, how right"}


def build_figure(pack: LoadedPack, key: str) -> ReportFigure:
    """One report figure of ``pack`` (worker side), by its key in :data:`TABS`."""
    classes, title = pack.pack.classes, TABS[key]
    if key in ("confusion_matrix", "hardest_confusions"):
        cm, protocol = confusion(pack)
        if cm is None:
            return ReportFigure(key, title, None, MISSING if key == "confusion_matrix"
                                else MISSING + " (needs a confusion matrix)")
        if key == "confusion_matrix":
            return ReportFigure(key, title, confusion_figure(
                cm, classes, f"Confusion matrix ({int(cm.sum())} test sketches)"), protocol)
        pairs = hardest_confusions(cm, classes)
        return ReportFigure(key, title,
                            confusions_figure(pairs, "Most frequent mistakes") if pairs else None,
                            protocol if pairs else "no mistakes in the confusion matrix")
    if key == "per_class_accuracy":
        acc, protocol = per_class(pack)
        return ReportFigure(key, title, None if acc is None else
                            per_class_figure(acc, classes, "Accuracy per class"),
                            MISSING if acc is None else protocol)
    if key == "accuracy_vs_fraction":
        curve, protocol, drawings = fraction_curve(pack)
        subtitle = (f"measured on {drawings} drawings, not on this pack's own data set"
                    if drawings and drawings.lower() not in
                    str(pack.pack.manifest.get("dataset", {}).get("name", "")).lower() else "")
        return ReportFigure(key, title, None if curve is None else
                            curve_figure(curve, "Accuracy while drawing", subtitle),
                            MISSING if curve is None else protocol)
    if key == "calibration":
        picture, about = calibration_picture(pack)
        return ReportFigure(key, title, None,
                            MISSING + " (no calibration section with a reliability diagram)"
                            if picture is None else about,
                            None if picture is None else picture.read_bytes())
    raise KeyError(key)


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
        self.save.setEnabled(figure.available)
        if not figure.available:
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


def _table(headers: list[str], tips: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    for c, (text, tip) in enumerate(zip(headers, tips)):
        item = QTableWidgetItem(text)
        item.setToolTip(tip)
        table.setHorizontalHeaderItem(c, item)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    return table


def _fit_height(table: QTableWidget) -> None:
    """A table as tall as its rows, so the page scrolls instead of each table. Columns get the
    width of their longest text by font metrics (``resizeColumnsToContents`` asks every cell's
    delegate and held the GUI thread for ~13 ms a table)."""
    metrics = table.fontMetrics()
    header = table.horizontalHeader()
    for c in range(1, table.columnCount()):
        texts = [table.horizontalHeaderItem(c).text()] + [
            table.item(r, c).text() for r in range(table.rowCount()) if table.item(r, c)]
        table.setColumnWidth(c, max(metrics.horizontalAdvance(t) for t in texts) + 18)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    rows = table.rowCount() * table.verticalHeader().defaultSectionSize()
    table.setFixedHeight(header.sizeHint().height() + rows + 2 * table.frameWidth())


def _pct(v: float | None) -> str:
    return "not measured" if v is None else f"{v:.2f} %"


class PaperTableBox(QWidget):
    """One of a paper's tables: paper figure, ours, difference; the protocol one click away."""

    def __init__(self, table: PaperTable, metrics: dict[str, Any],
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.spec = table
        words, about = measure_words(table.measure)
        self.table = _table(["", f"paper: {words}", f"ours: {words}", "difference"],
                            ["", about, about, "ours minus the paper's, in percentage points"])
        protocols: dict[str, list[str]] = {}
        self.table.setRowCount(len(table.rows))
        for r, row in enumerate(table.rows):
            ours, protocol = figure(metrics, row.metric)
            if protocol:
                protocols.setdefault(protocol, []).append(row.label)
            label = QTableWidgetItem(row.label)
            label.setToolTip(row.note or (metric_words(row.metric)[0] if row.metric else ""))
            over = row.ours_over(metrics)
            ours_text = _pct(ours) if row.metric else row.note or "not measured"
            if over and ours is not None:
                ours_text += f" (split{'s' if len(over) > 1 else ''} {', '.join(over)})"
            paper = "—" if row.paper is None else _pct(row.paper)  # a row the paper has not
            splits = [r for r in table.rows if row.over and r.metric and r.metric.startswith(row.over)]
            partial = bool(over) and len(over) < len(splits)  # a mean over fewer splits than the paper's
            cells = [label, QTableWidgetItem(paper), QTableWidgetItem(ours_text),
                     QTableWidgetItem("— (fewer splits)" if partial else difference(row.paper, ours))]
            for c, item in enumerate(cells):
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        _fit_height(self.table)
        self.title = QLabel(f"<b>{table.title}</b>")
        self.caveat = QLabel(" ".join(x for x in (table.caveat, trend_sentence(table, metrics))
                                      if x))
        self.caveat.setWordWrap(True)
        self.protocol = QLabel("<br><br>".join(
            f"<b>{', '.join(rows)}</b>: {text}" for text, rows in protocols.items())
            or "No protocol is recorded for these figures.")
        self.protocol.setWordWrap(True)
        self.protocol.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.protocol.hide()
        self.how = QPushButton("How was this measured?")
        self.how.setCheckable(True)
        self.how.setFlat(True)
        self.how.setToolTip("Show the protocol of our figures")
        self.how.toggled.connect(self.protocol.setVisible)
        bar = QHBoxLayout()
        bar.addWidget(self.caveat, 1)
        bar.addWidget(self.how, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.table)
        layout.addLayout(bar)
        layout.addWidget(self.protocol)

    def cells(self) -> list[list[str]]:
        """The table's text, row by row (tests read what a teacher reads)."""
        return [[self.table.item(r, c).text() for c in range(self.table.columnCount())]
                for r in range(self.table.rowCount())]


class ResultsPage(QScrollArea):
    """The papers' tables with our figures beside them, for the tables this pack has."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.boxes: list[PaperTableBox] = []
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self._body()

    def _body(self) -> None:
        body = QWidget()
        self.layout_ = QVBoxLayout(body)
        self.layout_.addWidget(self.intro)
        self.layout_.addStretch(1)
        self.setWidget(body)

    def show_pack(self, pack: LoadedPack | None) -> None:
        self.boxes = []
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self._body()
        if pack is None:
            self.intro.setText("No pack is loaded.")
            return
        metrics = pack.pack.metrics
        tables = tables_for(metrics)
        if not tables:
            self.intro.setText(
                "This pack has none of the figures the two papers report (DeepSketch's accuracy "
                "per split and Table 3; the DSN's Table 1 and image sizes). Its own measurements "
                "are under “All measurements”.")
            return
        self.intro.setText("Each table is one of the paper's, with our figure for the same row "
                           "beside it. Hover a column or a row for what it means.")
        paper = None
        for i, table in enumerate(tables):
            at = self.layout_.count() - 1       # before the stretch
            if table.paper is not paper:
                paper = table.paper
                head = QLabel(f"<h3>{paper.title}</h3><i>{paper.authors}"
                              f"{', ' + paper.where if paper.where else ''}</i>")
                head.setWordWrap(True)
                self.layout_.insertWidget(at, head)
                at += 1
            box = PaperTableBox(table, metrics)
            self.layout_.insertWidget(at, box)
            self.boxes.append(box)


class PackReport(TeachingView):
    """The pack's results beside the papers', its figures, and every measurement in words."""

    title = "Pack report — what this pack's models achieve"

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(state, parent)
        # one stream per figure: a figure asked for is never dropped for another one
        self.work = {key: Latest(self) for key in TABS}
        for w in self.work.values():
            w.ready.connect(self._show)
            w.failed.connect(lambda msg: self.heading.setText(f"could not draw: {msg}"))
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.results = ResultsPage()
        self.table = _table(["measurement", "value"],
                            ["hover a row for what it means", "as a share (1 = 100 %)"])
        self.table.currentCellChanged.connect(lambda r, *_: self._show_protocol(r))
        self.protocol = QLabel("Click a row to see how it was measured.")
        self.protocol.setWordWrap(True)
        self.protocol.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._protocols: list[str] = []
        self.all_tab = all_tab = QWidget()
        self._table_for: LoadedPack | None = None
        all_layout = QVBoxLayout(all_tab)
        all_layout.addWidget(self.table, 1)
        all_layout.addWidget(self.protocol)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.results, "Beside the papers")
        self.figure_tabs: dict[str, FigureTab] = {}
        for key, name in TABS.items():
            self.figure_tabs[key] = FigureTab()
            self.tabs.addTab(self.figure_tabs[key], name)
        self.tabs.addTab(all_tab, "All measurements")
        self.tabs.currentChanged.connect(self._tab_shown)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.tabs, 1)
        self.resize(1040, 760)
        self.refresh(pack_changed=True)

    @property
    def busy(self) -> bool:
        return any(w.busy for w in self.work.values()) or self._results_pending

    def refresh(self, pack_changed: bool) -> None:
        """The heading now; the results page on the event loop's next turn, after the window's
        first paint; each figure (on a worker) and the table of all measurements when its tab
        is first shown."""
        if not pack_changed:
            return   # the report is about the pack, not the sketch
        pack = self.state.pack()
        self.table.setRowCount(0)
        self._table_for = None
        self._results_pending = False
        if pack is None:
            for w in self.work.values():
                w.cancel()
            self.results.show_pack(None)
            self.heading.setText("No pack is loaded.")
            return
        dataset = pack.pack.manifest.get("dataset", {})
        self.heading.setText(
            f"<b>{pack.pack.title}</b> — {len(pack.pack.classes)} classes, data set "
            f"{dataset.get('name', '?')}, gallery of {len(pack.gallery):,} sketches.")
        self.heading.setToolTip("Trained with: "
                                + str(pack.pack.manifest.get("training", {}).get("command", "?")))
        for tab in self.figure_tabs.values():
            tab.show_figure(ReportFigure("", "", None, "drawing…"))
        self._drawn = set()
        # a reliability diagram is there only when the pack was calibrated (manifest only)
        self.tabs.setTabVisible(self.tabs.indexOf(self.figure_tabs["calibration"]),
                                calibration_picture(pack)[0] is not None)
        self._results_pending = True
        QTimer.singleShot(0, lambda: self._fill_results(pack))
        self._tab_shown(self.tabs.currentIndex())

    def _fill_results(self, pack: LoadedPack) -> None:
        if pack is self.state.pack():
            self.results.show_pack(pack)
            self._results_pending = False

    def _tab_shown(self, index: int) -> None:
        """Draw a figure, or fill the table of all measurements, the first time its tab is
        looked at: opening the report runs no matplotlib at all (drawing all figures at once
        on a worker held the interpreter, and so the window, for up to 80 ms at a time)."""
        pack = self.state.pack()
        if pack is None:
            return
        widget = self.tabs.widget(index)
        key = next((k for k, tab in self.figure_tabs.items() if tab is widget), None)
        if key is not None and key not in self._drawn:
            self._drawn.add(key)
            self.work[key].submit(lambda: (pack, key, _qimage_of(build_figure(pack, key))))
            return
        if widget is not self.all_tab or self._table_for is pack:
            return
        self._table_for = pack
        rows = metric_rows(pack)
        self.table.setRowCount(len(rows))
        self._protocols = [protocol for *_, protocol in rows]
        for r, (words, value, about, _) in enumerate(rows):
            name = QTableWidgetItem(words)
            name.setToolTip(about)
            number = QTableWidgetItem(value)
            number.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(r, 0, name)
            self.table.setItem(r, 1, number)

    def _show_protocol(self, row: int) -> None:
        if 0 <= row < len(self._protocols):
            self.protocol.setText(f"<b>How it was measured:</b> "
                                  f"{self._protocols[row] or 'not recorded'}")

    def _show(self, payload) -> None:
        pack, key, (figure_, image) = payload
        if pack is self.state.pack():
            self.figure_tabs[key].show_figure(figure_, image)


def _qimage(figure: ReportFigure) -> QImage | None:
    """The figure's pixels as a QImage that owns them (made on the worker)."""
    if figure.file_png is not None:
        return QImage.fromData(figure.file_png, "PNG")
    if figure.rgba is None:
        return None
    h, w, _ = figure.rgba.shape
    return QImage(figure.rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()


def _qimage_of(figure: ReportFigure) -> tuple[ReportFigure, QImage | None]:
    """A figure with its QImage, made on the worker: the GUI thread only wraps the pixels."""
    return figure, _qimage(figure)

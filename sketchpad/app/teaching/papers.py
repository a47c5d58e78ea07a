"""The two papers Sketchpad follows, and their result tables with our figures beside them.

The papers' figures are the ones restated in ``shared/papers.md``. Each table row names the
manifest metric that holds our figure for it. A pack shows the tables it has figures for, so the
TU-Berlin pack shows DeepSketch's tables and the Quick, Draw! pack the DSN's. No Qt.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .honest import movement


@dataclass(frozen=True)
class Paper:
    title: str
    authors: str
    where: str


DEEPSKETCH = Paper("DeepSketch: Deep convolutional neural networks for sketch recognition and "
                   "similarity search", "Omar Seddati, Stéphane Dupont and Saïd Mahmoudi",
                   "CBMI 2015")
#: shared/papers.md gives this paper's content but not its authors or venue; they are left
#: unnamed rather than guessed.
DSN = Paper("Deep Sketch Network (DSN): CNN + RNN with attention fusion and center loss on "
            "Quick, Draw!", "authors not recorded in the team's notes (shared/papers.md)", "")


@dataclass(frozen=True)
class Row:
    """One line of a paper's table: what it is, the paper's figure (percent), our metric.
    ``over`` names the metrics a mean is taken over (a key prefix + a number), so the row can
    say which ones ours had."""

    label: str
    paper: float | None
    metric: str | None
    note: str = ""
    over: str = ""

    def ours_over(self, metrics: dict[str, Any]) -> list[str]:
        """The numbers of the metrics ``over`` names that the pack has (e.g. splits 1, 2)."""
        if not self.over:
            return []
        return sorted(k[len(self.over):] for k in metrics
                      if k.startswith(self.over) and k[len(self.over):].isdigit())


@dataclass(frozen=True)
class PaperTable:
    paper: Paper
    title: str
    measure: str          # glossary key of the figure the table reports
    rows: tuple[Row, ...]
    caveat: str = ""
    #: the rows whose trend is worth a sentence (e.g. image sizes in increasing order)
    trend_rows: tuple[int, ...] = ()

    def metrics(self) -> list[str]:
        return [r.metric for r in self.rows if r.metric]


_SPLIT_NOTE = ("The paper: three random splits, 2/3 train and 1/3 test, one network per split, "
               "the full 15-layer network. Ours: the same protocol, a narrower network trained on "
               "a CPU in two cosine cycles, whose two ends answer together, each view drawn at "
               "the size and smoothness of a typical training view (see the protocol).")
_QD_NOTE = ("The paper: 40 hard Quick, Draw! classes, all their drawings. Ours: the classes in "
            "this pack and the drawings we have (at most 3,000 per class for training), so the "
            "difference is not a like-for-like comparison.")

TABLES: tuple[PaperTable, ...] = (
    PaperTable(DEEPSKETCH, "Recognition accuracy per split (ten views per sketch)", "ten_view",
               (Row("split 1", 77.25, "ten_view_accuracy_split1"),
                Row("split 2", 74.19, "ten_view_accuracy_split2"),
                Row("split 3", 74.80, "ten_view_accuracy_split3"),
                Row("mean over the splits", 75.42, "mean_ten_view_accuracy",
                    over="ten_view_accuracy_split"),
                Row("the pack as shipped (int8), TU-Berlin sketches it never saw", None,
                    "shipped_ten_view_accuracy_heldout",
                    "not the protocol: the shipped network also learnt from Quick, Draw!"),
                Row("the pack as shipped, quick Quick, Draw! drawings (top-1)", None,
                    "quickdraw_heldout_top1", "drawings of the classes both sets share")),
               _SPLIT_NOTE),
    PaperTable(DEEPSKETCH, "Table 3: similarity search at three depths (split 1)", "table3",
               tuple(Row(f"{method}, layer {layer}", paper, f"table3_{key}_{depth}",
                         "the paper's PCA figures for layers 6 and 11 look like a defect"
                         if key == "pca_knn_vote" and depth != "high" else "")
                     for method, key, figures in (
                         ("bottleneck + nearest-neighbour vote", "bottleneck_knn_vote",
                          (57.78, 70.4, 73.18)),
                         ("bottleneck + classification", "bottleneck_classification",
                          (62.7, 73.88, 75.18)),
                         ("PCA + nearest-neighbour vote", "pca_knn_vote", (2.37, 5.53, 70.41)))
                     for (depth, layer), paper in zip((("low", 6), ("mid", 11), ("high", 13)),
                                                      figures)),
               "Ours reduce each layer to 64 numbers, the paper to 1,024. The paper's PCA "
               "figures for layers 6 and 11 (2.37 %, 5.53 %) look like a defect in the paper."),
    PaperTable(DSN, "Table 1: MAP@3 of each model", "map3",
               (Row("baseline CNN", 86.12, "map3_cnn"),
                Row("RNN", 86.08, "map3_rnn"),
                Row("ResNet-50 (1 channel, 96×96)", 87.37, None,
                    "not trained here: too big for a CPU"),
                Row("DSN (CNN + RNN + attention)", 91.47, "map3_dsn"),
                Row("DSN+ (with center loss)", 91.76, "map3_dsnplus"),
                Row("DSN+ as shipped (int8, as this app runs it)", 91.76,
                    "shipped_map3_fusion")),
               _QD_NOTE),
    PaperTable(DSN, "Image size: MAP@3 at 28, 64 and 96 pixels", "map3",
               (Row("28 × 28", 77.80, "map3_cnn_28px"),
                Row("64 × 64", 89.39, "map3_cnn_64px"),
                Row("96 × 96", 91.76, "map3_cnn_96px")),
               "The paper's rows are DSN+; ours are the baseline CNN trained and tested at each "
               "size.", trend_rows=(0, 1, 2)),
)


def figure(metrics: dict[str, Any], key: str | None) -> tuple[float | None, str]:
    """Our figure for ``key`` in percent, and its protocol (None when not measured)."""
    if key is None or key not in metrics:
        return None, ""
    value = metrics[key]
    protocol = ""
    if isinstance(value, dict):
        protocol, value = str(value.get("protocol", "")), value.get("value")
    if not isinstance(value, (int, float)):
        return None, protocol
    return 100 * float(value), protocol


def tables_for(metrics: dict[str, Any]) -> list[PaperTable]:
    """The tables of which the pack has at least one figure."""
    return [t for t in TABLES if any(m in metrics for m in t.metrics())]


def difference(paper: float | None, ours: float | None) -> str:
    if paper is None or ours is None:
        return "—"
    d = ours - paper
    return f"{d:+.1f} points" if abs(d) >= 0.05 else "the same"


def trend_sentence(table: PaperTable, metrics: dict[str, Any]) -> str:
    """For a table whose rows go in an order (image sizes): what the paper's and our figures do,
    with the figures, only when every one is there."""
    if not table.trend_rows:
        return ""
    rows = [table.rows[i] for i in table.trend_rows]
    ours = [figure(metrics, r.metric)[0] for r in rows]
    papers = [r.paper for r in rows]
    if any(v is None for v in ours) or any(v is None for v in papers):
        return ""
    fmt = " → ".join
    return (f"From {rows[0].label} to {rows[-1].label}, the paper's figure "
            f"{movement(papers, 0.05)} ({fmt(f'{v:.1f}' for v in papers)}); ours "
            f"{movement(ours, 0.05)} ({fmt(f'{v:.1f}' for v in ours)}).")

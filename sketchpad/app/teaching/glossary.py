"""Metric names in words, each with the one-line explanation shown as its tooltip.

The manifest keys are written for programs (``retrieval_precision_at_10_bottleneck_low``,
``map3_dsnplus_cnn_branch``); :func:`metric_words` turns one into "Same class among the 10 most
similar — bottleneck features, low depth" and says what the measure means. No Qt.
"""
from __future__ import annotations

import re

#: measure → (words, what it means)
MEASURES = {
    "map3": ("MAP@3",
             "Mean average precision of the top 3 guesses: a drawing scores 1 when the right "
             "class is the first guess, 1/2 when second, 1/3 when third, else 0; averaged."),
    "top1": ("Accuracy", "The share of drawings whose first guess is the right class."),
    "accuracy": ("Accuracy", "The share of drawings whose first guess is the right class."),
    "ten_view": ("Accuracy over ten views",
                 "Each sketch is shown ten times (centred, the four corners, each mirrored), the "
                 "ten answers' probabilities are multiplied and the most likely class wins."),
    "single_view": ("Accuracy, one view", "Each sketch is shown once, centred."),
    "table3": ("Accuracy of the similarity search",
               "A test sketch gets the class found by the layer's features: by the vote of its "
               "10 most similar training sketches, or by a small classifier on those features."),
    "knn_vote": ("Nearest-neighbour vote",
                 "The 10 most similar training sketches at this layer vote; the class with the "
                 "most votes wins."),
    "bottleneck_classification": ("Bottleneck classifier",
                                  "A linear layer trained on the frozen network's features at "
                                  "this layer classifies the sketch."),
    "precision_at_10": ("Same class among the 10 most similar",
                        "The share of the 10 most similar gallery sketches that have the "
                        "query's class."),
    "mAP": ("Mean average precision of the ranking",
            "How early in the ranking of all gallery sketches the ones of the query's class "
            "come (1 = all of them first); averaged over the queries."),
    "recall_at_10": ("Fast search finds the exact 10 nearest",
                     "The share of the true 10 nearest gallery sketches that the fast "
                     "(approximate) index returns too."),
}
MODELS = {"cnn": "baseline CNN", "rnn": "RNN", "dsn": "DSN", "dsnplus": "DSN+",
          "fusion": "the fused answer", "convnet": "the CNN"}
DEPTHS = {"low": "low depth", "mid": "mid depth", "high": "high depth"}


def _measure(key: str) -> tuple[str, str, str]:
    """``(words, explanation, rest of the key)`` for the measure the key starts with."""
    k = key.lower()
    for prefix, measure in (("ten_view_accuracy", "ten_view"), ("single_view_accuracy",
                                                                 "single_view"),
                            ("mean_ten_view_accuracy", "ten_view"),
                            ("mean_single_view_accuracy", "single_view"),
                            ("table3_bottleneck_knn_vote", "knn_vote"),
                            ("table3_pca_knn_vote", "knn_vote"),
                            ("table3_bottleneck_classification", "bottleneck_classification"),
                            ("retrieval_precision_at_10", "precision_at_10"),
                            ("precision_at_10", "precision_at_10"),
                            ("retrieval_map", "mAP"), ("map3", "map3"), ("top1", "top1"),
                            ("recall_at_10", "recall_at_10"), ("map", "mAP")):
        if k.startswith(prefix):
            words, about = MEASURES[measure]
            rest = k[len(prefix):].strip("_")
            if "pca" in prefix:
                rest = "pca_" + rest
            elif "bottleneck" in prefix and "classification" not in prefix:
                rest = "bottleneck_" + rest
            if prefix.startswith("mean_"):
                rest = ("mean_" + rest).strip("_")
            return words, about, rest
    if "accuracy" in k:
        words, about = MEASURES["accuracy"]
        return words, about, k.replace("accuracy", "").strip("_")
    return key.replace("_", " "), "", ""


def metric_words(key: str) -> tuple[str, str]:
    """``(name in words, one-line explanation)`` for a manifest metric key."""
    shipped = key.lower().startswith("shipped_")
    words, about, rest = _measure(key[len("shipped_"):] if shipped else key)
    parts = []
    tokens = [t for t in rest.split("_") if t]
    i = 0
    while i < len(tokens):
        t = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if nxt == "branch" and t in ("cnn", "rnn"):
            parts.append(f"its {t.upper()} branch alone")
            i += 2
            continue
        if t in MODELS:
            parts.append(MODELS[t])
        elif t in DEPTHS:
            parts.append(DEPTHS[t])
        elif t in ("pca", "bottleneck"):
            parts.append(f"{'PCA' if t == 'pca' else 'bottleneck'} features")
        elif re.fullmatch(r"split\d+", t):
            parts.append(f"split {t[5:]}")
        elif re.fullmatch(r"\d+px", t):
            parts.append(f"at {t[:-2]}×{t[:-2]} pixels")
        elif t == "mean":
            parts.append("mean over the splits")
        elif t in ("train", "gallery"):
            parts.append(f"on the {'training set' if t == 'train' else 'gallery'}")
        else:
            parts.append(t)
        i += 1
    if shipped:
        parts.append("the pack as shipped")
    return (words + (" — " + ", ".join(parts) if parts else "")), about


def measure_words(measure: str) -> tuple[str, str]:
    """The words and explanation of a measure key (see :data:`MEASURES`)."""
    return MEASURES.get(measure, (measure, ""))

"""A map per depth that keeps neighbourhoods: t-SNE of the gallery's search vectors (openTSNE).

PCA keeps the two directions of largest spread. With 250 classes those directions separate almost
nothing, and every depth looks like one rainbow blob (issue 15). t-SNE keeps each sketch near
the sketches nearest to it in the depth's own feature space, so classes that the depth separates
come apart on the map, and classes it mixes stay mixed.

**Placing a new sketch without openTSNE.** openTSNE's ``transform`` starts each new point at the
median map position of its ``k`` = 25 nearest reference points (``initialization="median"``),
then nudges it for 250 iterations with the reference points held still. The app keeps only the
first step. It finds the 25 nearest gallery sketches in its Annoy index for that depth (same
vectors, same angular metric as here) and takes the median of their stored positions. So it
needs no openTSNE, scikit-learn or SciPy (tens of MB in the bundle). :func:`placement_check`
measures what skipping the nudge costs, on gallery sketches left out of their own placement.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import openTSNE
from scipy.spatial import cKDTree

from training.export import exact_neighbours

#: openTSNE's own defaults for ``transform``'s starting point.
PLACE_K = 25
NEIGHBOURHOOD_K = 10
PERPLEXITY = 30
SEED = 0


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1: euclidean order on them equals the indexes' angular order."""
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def fit_tsne(features: np.ndarray, n_jobs: int = 1) -> openTSNE.TSNEEmbedding:
    """The t-SNE embedding of one depth's gallery vectors (openTSNE defaults otherwise:
    PCA initialisation, 250 early-exaggeration + 500 iterations, FFT gradients)."""
    # openTSNE needs at least 3 × perplexity neighbours per point (small test packs)
    perplexity = min(PERPLEXITY, (len(features) - 1) / 3)
    return openTSNE.TSNE(perplexity=perplexity, metric="euclidean", neighbors="annoy",
                         negative_gradient_method="fft", n_jobs=n_jobs,
                         random_state=SEED).fit(unit_rows(features))


def tsne_description() -> str:
    return (f"t-SNE (openTSNE {openTSNE.__version__}): perplexity {PERPLEXITY}, cosine distance "
            f"(L2-normalised vectors, euclidean), PCA start, 250 + 500 iterations, seed {SEED}")


def neighbourhood_share(xy: np.ndarray, labels: np.ndarray, k: int = NEIGHBOURHOOD_K) -> float:
    """Mean over gallery points of the share of their ``k`` nearest 2-D neighbours (itself left
    out) that have its class: how well the map keeps classes together."""
    _, nn = cKDTree(xy).query(xy, k + 1)
    own = np.arange(len(xy))[:, None]
    # the point itself is normally first; a duplicate position may push it further, so drop
    # it wherever it is and keep the k nearest others
    others = np.array([row[row != i][:k] for row, i in zip(nn, own[:, 0])])
    return float((labels[others] == labels[:, None]).mean())


def median_place(features: np.ndarray, positions: np.ndarray, queries: np.ndarray,
                 exclude: np.ndarray | None = None, k: int = PLACE_K) -> np.ndarray:
    """The app's rule: the median map position of each query's ``k`` nearest gallery vectors
    (angular). ``exclude[i]`` is a gallery row left out of query ``i``'s neighbours."""
    nn = exact_neighbours(features, queries, "angular", k + (exclude is not None))
    if exclude is not None:
        nn = np.array([row[row != e][:k] for row, e in zip(nn, exclude)])
    return np.median(positions[nn], axis=1)


def reference(features: np.ndarray, positions: np.ndarray, n_jobs: int = 1
              ) -> openTSNE.TSNEEmbedding:
    """A stored map as an openTSNE embedding that ``transform`` can add points to: the positions
    with the gallery's affinities recomputed (a fitted embedding carries the same ones)."""
    x = unit_rows(features)
    affinities = openTSNE.affinity.PerplexityBasedNN(
        x, perplexity=min(PERPLEXITY, (len(x) - 1) / 3), metric="euclidean", method="annoy",
        n_jobs=n_jobs, random_state=SEED)
    return openTSNE.TSNEEmbedding(np.asarray(positions, np.float64).copy(), affinities)


def placement_check(features: np.ndarray, positions: np.ndarray, labels: np.ndarray,
                    new_features: np.ndarray, new_labels: np.ndarray,
                    queries: int = 300) -> dict[str, Any]:
    """What the app's placement costs against openTSNE's full ``transform``.

    * ``app_vs_fitted``: ``queries`` gallery sketches, each placed by the app's rule against the
      rest of the gallery, against where t-SNE itself put them;
    * ``app_vs_transform``: new drawings (``new_features``, not in the gallery) placed by the
      app's rule and by ``transform``;

    as the median distance over a share of the map's width; and for the new drawings, the share
    of the 10 gallery points nearest each placed point that have its class, for both rules."""
    xy = np.asarray(positions, np.float64)
    width = float(np.subtract(*np.percentile(xy[:, 0], [99.5, 0.5])))
    rng = np.random.default_rng(SEED)
    q = np.sort(rng.choice(len(xy), size=min(queries, len(xy)), replace=False))
    loo = median_place(features, xy, features[q], exclude=q)
    ours = median_place(features, xy, new_features)
    # transform() first moves the reference map (in place) so that its box is centred on 0;
    # its answer is in those moved coordinates, so it is moved back by the same shift
    shift = (xy.max(0) + xy.min(0)) / 2
    full = np.asarray(reference(features, xy).transform(unit_rows(new_features))) + shift

    def med(a: np.ndarray, b: np.ndarray) -> float:
        return round(float(np.median(np.linalg.norm(a - b, axis=1))) / width, 4)

    tree = cKDTree(xy)

    def share(points: np.ndarray) -> float:
        _, nn = tree.query(points, NEIGHBOURHOOD_K)
        return round(float((labels[nn] == new_labels[:, None]).mean()), 4)

    return {"k": PLACE_K, "unit": "median distance / map width (0.5-99.5 percentile)",
            "gallery_queries": int(len(q)), "app_vs_fitted": med(loo, xy[q]),
            "new_drawings": int(len(new_features)), "app_vs_transform": med(ours, full),
            "same_class_near_app": share(ours), "same_class_near_transform": share(full)}

"""The numbers behind :mod:`training.calibrate`: temperature fit, ECE/NLL, AUROC, a logistic fit.

Plain numpy, small and exact (the sets hold a few thousand drawings): the temperature is a 1-D
golden-section search on the validation NLL, which is convex in ``1 / T``; the known score is a
class-balanced, lightly L2-regularised logistic regression fitted by Newton's method.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sketchpad.trust import logsumexp

GOLDEN = (math.sqrt(5) - 1) / 2


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits / T)``."""
    z = np.asarray(logits, np.float64) / temperature
    return float(np.mean(logsumexp(z) - z[np.arange(len(labels)), labels]))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, lo: float = 0.05, hi: float = 20.0,
                    tol: float = 1e-4) -> float:
    """The ``T`` in ``[lo, hi]`` minimising :func:`nll`; golden section on ``log T`` (the NLL is
    convex in ``1 / T``, so unimodal in ``log T``)."""
    a, b = math.log(lo), math.log(hi)
    c, d = b - GOLDEN * (b - a), a + GOLDEN * (b - a)
    fc, fd = nll(logits, labels, math.exp(c)), nll(logits, labels, math.exp(d))
    while b - a > tol:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - GOLDEN * (b - a)
            fc = nll(logits, labels, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + GOLDEN * (b - a)
            fd = nll(logits, labels, math.exp(d))
    return math.exp((a + b) / 2)


@dataclass(frozen=True)
class Reliability:
    """Per confidence bin: mean confidence, accuracy and count (empty bins have count 0)."""

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray

    @property
    def ece(self) -> float:
        """Expected calibration error: ``sum_b n_b / n * |acc_b - conf_b|``."""
        n = self.count.sum()
        return float((self.count / n * np.abs(self.accuracy - self.confidence)).sum())


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> Reliability:
    """Equal-width bins of the top-1 confidence (Guo et al. 2017's ECE with 15 bins)."""
    conf = probs.max(axis=1)
    right = (probs.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    count = np.bincount(which, minlength=bins).astype(np.float64)
    safe = np.maximum(count, 1)
    return Reliability(edges, np.bincount(which, conf, bins) / safe,
                       np.bincount(which, right, bins) / safe, count)


def auroc(known: np.ndarray, unknown: np.ndarray) -> float:
    """P(score of a known drawing > score of an unknown one), ties counting one half."""
    s = np.concatenate([known, unknown])
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_s = s[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    n1, n0 = len(known), len(unknown)
    return float((ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def fpr_at_tpr(known: np.ndarray, unknown: np.ndarray, tpr: float = 0.95) -> float:
    """Share of unknown drawings accepted at the highest threshold that accepts at least ``tpr``
    of the known ones."""
    t = np.sort(known)[int(np.floor((1.0 - tpr) * len(known) + 1e-9))]
    return float((unknown >= t).mean())


@dataclass(frozen=True)
class Logistic:
    """``sigmoid(bias + weights · (x - mean) / scale)``."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.bias + ((x - self.mean) / self.scale) @ self.weights)))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 50) -> Logistic:
    """Newton's method on the class-balanced log loss (each class weighs half), L2 on the
    weights (not the bias), inputs standardised first."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    w_row = np.where(y == 1, 0.5 / max(1, (y == 1).sum()), 0.5 / max(1, (y == 0).sum()))
    reg = np.full(z.shape[1], l2)
    reg[0] = 0.0
    beta = np.zeros(z.shape[1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-z @ beta))
        grad = z.T @ (w_row * (p - y)) + reg * beta
        hess = (z * (w_row * p * (1 - p))[:, None]).T @ z + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return Logistic(mean, scale, beta[1:], float(beta[0]))

"""Fit how taught words are compared and scored for one pack; store it in the pack.

    python -m training.fit_words resources/packs/quickdraw        # fit, then the few-shot figures
    python -m training.fit_words resources/packs/quickdraw --no-fewshot

What is fitted is a :class:`sketchpad.words.WordModel`: a word space (a metric on the pack's
search features and calibrated logits) and the weights of a word's logit. Everything is fitted on
*simulated words made of Quick, Draw! classes the pack does not know*, so the pack's outputs for
a word's drawings are what they really are for an unknown thing:

* unknown classes: every Quick, Draw! class outside the pack with at least 25 drawings, split
  once with a fixed seed into :data:`N_EVAL` classes kept for :mod:`training.fewshot` (never
  seen here) and a *pool*; the pool's classes are split again in halves A and B, and the pack's
  validation split (never the test split; re-read with :func:`training.dsn.data.collect` and the
  protocol in the manifest) in halves A and B of each class;
* metric (half A): regularised within-class whitening then LDA (Fisher 1936) of the
  concatenated, normalised ``inputs`` over A's unknown and known classes, so that drawings of one
  class, *any* class, come together; the pack classes' prototypes in that space (from val A);
* logit (half B, other drawings than the metric saw): ``cos``, ``class_cos`` and ``energy``
  weights and a bias by the cross-entropy of the joint softmax (pack's calibrated logits + the
  words) over episodes of :data:`N_WORDS` words with 1, 3, 5 or 10 examples, word queries and
  pack queries weighted half and half (:func:`sketchpad.words.fit_word_logits`);
* choice of inputs and metric size: the same loss on other B episodes (seed + 1);
* operating point: that balanced fit assumes a drawing is as likely a word as a pack class. The
  bias is then lowered (a smaller prior for words) until the pack's MAP@3 on val B, with
  :data:`N_WORDS` simulated 5-example words, drops by at most ``--max-map-drop`` (1 point):
  teaching words must not break what the pack knew.

Embeddings are cached in ``cache/words/`` (keyed by the pack's files) so a re-run takes seconds.
Re-run after any re-export or recalibration: the section records the models and temperatures it
was fitted with, and the app derives a plainer model at load when they no longer match.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sketchpad.engine import Engine, stack_inputs
from sketchpad.ink import Sketch, iter_ndjson
from sketchpad.pack import MANIFEST, Pack, load_pack
from sketchpad.trust import unit_rows
from sketchpad.words import TERMS, WordModel, fit_word_logits, fitted_with, models_fingerprint, \
    prototypes
from sketchpad.words_store import clash_key
from training.dsn.data import DEFAULT_ROOT, DataConfig, collect, vector_sources
from training.dsn.metrics import map_at_k
from training.export import write_manifest
from training.trust_sets import is_tu_berlin, quickdraw_files, read_name_map, tu_berlin_matches

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / "cache" / "words"
METRIC_FILE = "words.npz"
MIN_DRAWINGS = 25
N_EVAL = 20
N_WORDS = 20
SHOTS = (1, 3, 5, 10)
SPLIT_SEED = 0
INPUT_CHOICES = (("low", "mid", "high", "logits"), ("low", "mid", "high"))
SHRINK_CHOICES = (0.1, 0.3)
DIM_CHOICES = (32, 64, 128)
COMMAND = "python -m training.fit_words {pack}"


# --- drawings and their embeddings ---------------------------------------------------------------
@dataclass
class Embedded:
    """Drawings as the pack sees them: calibrated best-model logits, features, labels."""

    logits: np.ndarray
    features: dict[str, np.ndarray]
    labels: np.ndarray
    names: list[str]

    def subset(self, rows: np.ndarray) -> "Embedded":
        return Embedded(self.logits[rows], {d: f[rows] for d, f in self.features.items()},
                        self.labels[rows], self.names)

    def __len__(self) -> int:
        return len(self.labels)


def data_config(pack: Pack) -> DataConfig:
    """The split protocol the pack was trained with (its manifest's ``dataset.split``)."""
    split = pack.manifest.get("dataset", {}).get("split", {})
    names = {f.name for f in fields(DataConfig)}
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in split.items() if k in names}
    return DataConfig(**kw)


def unknown_classes(root: Path, pack: Pack) -> tuple[list[str], list[str]]:
    """(evaluation classes, pool): Quick, Draw! classes outside the pack with at least
    :data:`MIN_DRAWINGS` simplified drawings, split once with :data:`SPLIT_SEED`. For a
    TU-Berlin pack, "outside" follows the reviewed name map (``bear`` is ``bear (animal)``), and
    its ambiguous classes are left out of both roles.

    The pool leaves out the classes the pack's network trained on as its outlier-exposure
    background (:func:`trained_background`): a word simulated for the fit must be as new to the
    network as one a person teaches, or the fit expects tighter words than people get."""
    evaluation, pool = unknown_classes_of(root, list(pack.classes), is_tu_berlin(pack))
    seen = trained_background(pack)
    return evaluation, [c for c in pool if c not in seen]


def trained_background(pack: Pack) -> set[str]:
    """The Quick, Draw! classes the pack's network saw in training as background, as its manifest
    records them (``training.config.outlier_exposure.background_classes``)."""
    cfg = pack.manifest.get("training", {}).get("config", {})
    return set(cfg.get("outlier_exposure", {}).get("background_classes", []))


def unknown_classes_of(root: Path, classes: list[str], tu_berlin: bool = False
                       ) -> tuple[list[str], list[str]]:
    """:func:`unknown_classes` from a class list, for a trainer that has no pack yet and must keep
    the evaluation classes out of its training (:mod:`training.dsn.outlier_exposure`)."""
    known = {clash_key(c) for c in classes}
    if tu_berlin:
        shared, left_out = tu_berlin_matches(list(quickdraw_files(root)), classes, read_name_map())
        known |= {clash_key(q) for q in [*shared, *left_out]}
    candidates = sorted(name for name, (path, n) in vector_sources(root).items()
                        if path.suffix == ".ndjson" and n >= MIN_DRAWINGS
                        and clash_key(name) not in known)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(candidates))
    chosen = [candidates[i] for i in order]
    return sorted(chosen[:N_EVAL]), sorted(chosen[N_EVAL:])


def best_model(engine: Engine) -> str:
    return "fusion" if "fusion" in engine.sessions else "convnet"


def embed_all(engine: Engine, sketches: Sequence[Sketch], batch: int = 128) -> tuple[np.ndarray, dict]:
    """Raw best-model logits and search features of many drawings, in batches."""
    logits, feats = [], []
    depth_out = {d: f.output for d, f in engine.pack.features.items()}
    for start in range(0, len(sketches), batch):
        out = engine.run_all(stack_inputs([engine.inputs_for(s) for s in sketches[start:start + batch]]))
        logits.append(out[best_model(engine)]["logits"])
        feats.append({d: out["convnet"][o] for d, o in depth_out.items()})
    return np.concatenate(logits), {d: np.concatenate([f[d] for f in feats]) for d in depth_out}


def embedded(engine: Engine, what: str, make: Any) -> Embedded:
    """``make() -> (sketches, labels, names)`` embedded, cached by the pack's files and ``what``;
    the logits are cached raw and calibrated here, with the pack's current temperature."""
    path = CACHE / f"{engine.pack.name}-{models_fingerprint(engine.pack)}-{what}.npz"
    if not path.is_file():
        t0 = time.time()
        sketches, labels, names = make()
        logits, feats = embed_all(engine, sketches)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, raw_logits=logits, labels=np.asarray(labels, np.int64),
                 names=np.array(names), **{f"feat_{d}": f for d, f in feats.items()})
        log.info("embedded %d %s drawings in %.0f s -> %s", len(sketches), what, time.time() - t0,
                 path)
    with np.load(path, allow_pickle=False) as d:
        return Embedded(engine.trust.calibration.scale(best_model(engine), d["raw_logits"]),
                        {k[5:]: d[k] for k in d.files if k.startswith("feat_")},
                        d["labels"], [str(n) for n in d["names"]])


def pack_split(engine: Engine, root: Path, split: str) -> Embedded:
    """The pack's own ``val`` or ``test`` split, re-read from the data with its protocol. A
    TU-Berlin pack's are drawn the way words are taught, as strokes: the held-out Quick, Draw!
    drawings of its shared classes, each class's first half ``val`` and the rest ``test``."""
    if is_tu_berlin(engine.pack):
        return embedded(engine, split, lambda: held_out_half(engine.pack, root, split))

    def make():
        classes, splits, _ = collect(root, data_config(engine.pack))
        if classes != list(engine.pack.classes):
            raise SystemExit(f"the data's classes are not the pack's: {classes}")
        return splits[split].sketches, splits[split].labels, classes
    return embedded(engine, split, make)


def split_words(pack: Pack, split: str) -> str:
    """What :func:`pack_split` reads as ``split``, for protocol sentences."""
    if is_tu_berlin(pack):
        return (f"{'first' if split == 'val' else 'second'} half of the held-out Quick, Draw! "
                "drawings of each shared class")
    return "validation split" if split == "val" else "test split"


def held_out_half(pack: Pack, root: Path, split: str) -> tuple[list[Sketch], list[int], list[str]]:
    """``val`` or ``test`` half of :func:`training.deepsketch.mixed.held_out_quickdraw`."""
    from training.deepsketch.mixed import HELD_OUT, SharedClasses, held_out_quickdraw

    classes = list(pack.classes)
    held, _ = held_out_quickdraw(SharedClasses.read(classes, root), classes)
    first = (np.arange(len(held)) % HELD_OUT) < HELD_OUT // 2  # HELD_OUT drawings per class, in order
    rows = np.flatnonzero(first if split == "val" else ~first)
    return [held.items[i] for i in rows], [held.labels[i] for i in rows], classes


def unknown_drawings(engine: Engine, root: Path, classes: list[str], what: str) -> Embedded:
    def make():
        sketches, labels = [], []
        for ci, name in enumerate(classes):
            path = root / "simplified" / f"{name.replace(' ', '_')}.ndjson"
            got = [s for s in iter_ndjson(path) if not s.is_empty]
            sketches += got
            labels += [ci] * len(got)
        return sketches, labels, classes
    # the cache is keyed by the class list too: the pool changes with the pack's training background
    key = hashlib.sha256("\n".join(classes).encode()).hexdigest()[:10]
    return embedded(engine, f"{what}-{key}", make)


# --- the metric ----------------------------------------------------------------------------------
def fit_metric(model: WordModel, sets: Sequence[Embedded], shrink: float, dim: int) -> WordModel:
    """``model`` with a regularised-whitening + LDA metric fitted on the classes of ``sets``
    (each set's labels are its own classes)."""
    xs = [np.concatenate([unit_rows(s.logits if i == "logits" else s.features[i])
                          for i in model.inputs], axis=1).astype(np.float64) for s in sets]
    x = np.concatenate(xs)
    y = np.concatenate([s.labels + 100_000 * k for k, s in enumerate(sets)])
    classes, yi = np.unique(y, return_inverse=True)
    means = np.zeros((len(classes), x.shape[1]))
    np.add.at(means, yi, x)
    means /= np.bincount(yi)[:, None]
    resid = x - means[yi]
    within = resid.T @ resid / len(x)
    within = (1 - shrink) * within + shrink * np.trace(within) / len(within) * np.eye(len(within))
    evals, evecs = np.linalg.eigh(within)
    whiten = evecs / np.sqrt(evals)
    centre = x.mean(0)
    between = (means - centre) @ whiten
    _, vecs = np.linalg.eigh(between.T @ between / len(between))
    projection = whiten @ vecs[:, ::-1][:, :dim]
    return replace(model, mean=centre, projection=projection)


def with_class_prototypes(model: WordModel, known: Embedded, n_classes: int) -> WordModel:
    q = model.embed(known.features, known.logits)
    return replace(model, class_prototypes=prototypes(q, known.labels, n_classes))


# --- episodes ------------------------------------------------------------------------------------
@dataclass
class Episode:
    """Some pool classes taught as words: the terms of every query for every word."""

    pack_logits: np.ndarray   # calibrated logits of the queries
    terms: np.ndarray         # [queries, words, len(TERMS)]
    labels: np.ndarray        # index into pack classes + words
    is_word: np.ndarray       # the query is a drawing of a word
    others: np.ndarray        # terms of drawings of other unknown classes, not taught


def split_shots(rng: np.random.Generator, data: Embedded, classes: Sequence[int] | np.ndarray,
                shots: int) -> tuple[Embedded, Embedded, np.ndarray]:
    """Each of ``classes`` in turn taught as a word: ``shots`` of its drawings, picked at random,
    are the word's examples and the rest its queries. Returns (examples, queries, the word, i.e.
    the position in ``classes``, of each query); the examples come ``shots`` per word, in order."""
    ex_rows, q_rows, q_word = [], [], []
    for wi, c in enumerate(classes):
        rows = rng.permutation(np.flatnonzero(data.labels == c))
        ex_rows.append(rows[:shots])
        q_rows.append(rows[shots:])
        q_word += [wi] * (len(rows) - shots)
    return data.subset(np.concatenate(ex_rows)), data.subset(np.concatenate(q_rows)), \
        np.asarray(q_word)


def draw_episode(rng: np.random.Generator, model: WordModel, pool: Embedded, known: Embedded,
                 shots: int, n_words: int = N_WORDS, n_others: int = 500) -> Episode:
    """``n_words`` pool classes with ``shots`` random examples each; the queries are their other
    drawings and every ``known`` drawing; ``n_others`` drawings of the pool's other classes stand
    for unknown things nobody taught."""
    n_pack = known.logits.shape[1]
    chosen = rng.choice(np.unique(pool.labels), n_words, replace=False)
    ex, q, q_word = split_shots(rng, pool, chosen, shots)
    protos = prototypes(model.embed(ex.features, ex.logits), np.repeat(np.arange(n_words), shots),
                        n_words)
    logits = np.concatenate([q.logits, known.logits])
    vectors = np.concatenate([model.embed(q.features, q.logits),
                              model.embed(known.features, known.logits)])
    rest = np.flatnonzero(~np.isin(pool.labels, chosen))
    o = pool.subset(rng.choice(rest, min(n_others, len(rest)), replace=False))
    return Episode(logits, model.terms(vectors, protos, logits),
                   np.concatenate([n_pack + q_word, known.labels]),
                   np.concatenate([np.ones(len(q_word), bool), np.zeros(len(known), bool)]),
                   model.terms(model.embed(o.features, o.logits), protos, o.logits))


def episodes(seed: int, model: WordModel, pool: Embedded, known: Embedded, rounds: int,
             shots: Sequence[int] = SHOTS) -> list[Episode]:
    rng = np.random.default_rng(seed)
    return [draw_episode(rng, model, pool, known, shots[r % len(shots)]) for r in range(rounds)]


def stacked(eps: list[Episode]) -> tuple[np.ndarray, ...]:
    """Episodes as one fit (each has :data:`N_WORDS` words, so the columns line up: word ``i``
    of two episodes are separate problems sharing one set of weights); word queries and pack
    queries weigh half each in every episode."""
    w = np.concatenate([np.where(e.is_word, 0.5 / e.is_word.sum(), 0.5 / (~e.is_word).sum())
                        for e in eps])
    return (np.concatenate([e.pack_logits for e in eps]), np.concatenate([e.terms for e in eps]),
            np.concatenate([e.labels for e in eps]), w)


def joint_logits(e: Episode, weights: np.ndarray, bias: float) -> np.ndarray:
    return np.concatenate([e.pack_logits, e.terms @ weights + bias], axis=1)


def nll(eps: list[Episode], weights: np.ndarray, bias: float) -> float:
    total = 0.0
    for e in eps:
        z = joint_logits(e, weights, bias).astype(np.float64)
        m = z.max(1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(z - m).sum(1))
        w = np.where(e.is_word, 0.5 / e.is_word.sum(), 0.5 / (~e.is_word).sum())
        total += float((w * (lse - z[np.arange(len(z)), e.labels])).sum())
    return total / len(eps)


def map_drop(eps: list[Episode], weights: np.ndarray, bias: float) -> float:
    """How much the pack's MAP@3 on its own queries falls with the episode's words present."""
    drops = []
    for e in eps:
        known = ~e.is_word
        before = map_at_k(e.pack_logits[known], e.labels[known])
        drops.append(before - map_at_k(joint_logits(e, weights, bias)[known], e.labels[known]))
    return float(np.mean(drops))


def word_top1(eps: list[Episode], weights: np.ndarray, bias: float) -> float:
    return float(np.mean([(joint_logits(e, weights, bias)[e.is_word].argmax(1)
                           == e.labels[e.is_word]).mean() for e in eps]))


def best_terms(terms: np.ndarray) -> np.ndarray:
    """``[N, 1, T]``: each drawing's terms for its best-matching word (highest cosine)."""
    return terms[np.arange(len(terms)), terms[..., 0].argmax(axis=1)][:, None]


def fit_match(eps: list[Episode]) -> tuple[np.ndarray, float]:
    """Logistic regression (as a two-column softmax: "none" at 0, the best word) of "this drawing
    is its best-matching taught word" against drawings of untaught unknown classes."""
    pos = np.concatenate([best_terms(e.terms[e.is_word]) for e in eps])
    neg = np.concatenate([best_terms(e.others) for e in eps])
    y = np.concatenate([np.ones(len(pos), int), np.zeros(len(neg), int)])
    w = np.where(y == 1, 0.5 / len(pos), 0.5 / len(neg))
    return fit_word_logits(np.zeros((len(y), 1)), np.concatenate([pos, neg]), y, w)


def match_rates(eps: list[Episode], weights: np.ndarray, bias: float) -> dict[str, float]:
    """Share of word queries and of untaught unknown drawings whose match is at least 1/2."""
    def rate(t: np.ndarray) -> float:
        return float(((best_terms(t)[:, 0] @ weights + bias) >= 0).mean())
    return {"word_queries": round(float(np.mean([rate(e.terms[e.is_word]) for e in eps])), 4),
            "untaught_unknown": round(float(np.mean([rate(e.others) for e in eps])), 4)}


def operating_bias(eps: list[Episode], weights: np.ndarray, bias: float, max_drop: float) -> float:
    """The highest bias (≤ the balanced one) at which the pack's MAP@3 drops ≤ ``max_drop``."""
    if map_drop(eps, weights, bias) <= max_drop:
        return bias
    lo, hi = bias - 20.0, bias
    for _ in range(30):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if map_drop(eps, weights, mid) <= max_drop else (lo, mid)
    return lo


# --- the fit -------------------------------------------------------------------------------------
def halves(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of each class split in two alternating halves after a seeded shuffle."""
    rng = np.random.default_rng(seed)
    a, b = [], []
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        a.append(rows[::2])
        b.append(rows[1::2])
    return np.sort(np.concatenate(a)), np.sort(np.concatenate(b))


def fit(pack_dir: Path, root: Path = DEFAULT_ROOT, rounds: int = 16, seed: int = 0,
        max_drop: float = 0.01) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The manifest's ``words`` section and the metric arrays."""
    pack = load_pack(pack_dir)
    engine = Engine(pack, prefer_gpu=False)
    n_classes = len(pack.classes)
    _eval, pool_classes = unknown_classes(root, pack)
    pool = unknown_drawings(engine, root, pool_classes, "pool")
    val = pack_split(engine, root, "val")
    order = np.random.default_rng(seed).permutation(len(pool_classes))
    in_a = np.isin(pool.labels, order[: len(order) // 2])
    pool_a, pool_b = pool.subset(np.flatnonzero(in_a)), pool.subset(np.flatnonzero(~in_a))
    rows_a, rows_b = halves(val.labels, seed)
    val_a, val_b = val.subset(rows_a), val.subset(rows_b)

    candidates: dict[str, dict[str, Any]] = {}
    best: tuple[float, WordModel, np.ndarray, float] | None = None
    choices = [(i, s, d) for i in INPUT_CHOICES for s in SHRINK_CHOICES for d in DIM_CHOICES]
    choices.append((("mid", "high"), None, None))  # no metric: plain cosine, for the record
    for inputs, shrink, dim in choices:
        model = WordModel(tuple(inputs))
        if shrink is not None:
            model = fit_metric(model, [pool_a, val_a], shrink, dim)
        model = with_class_prototypes(model, val_a, n_classes)
        train = episodes(seed, model, pool_b, val_b, rounds)
        weights, bias = fit_word_logits(*stacked(train))
        check = episodes(seed + 1, model, pool_b, val_b, rounds)
        loss = nll(check, weights, bias)
        key = "+".join(inputs) + ("" if shrink is None else f" shrink {shrink} dim {dim}")
        candidates[key] = {"held_out_nll": round(loss, 5),
                           "word_top1_balanced": round(word_top1(check, weights, bias), 4)}
        log.info("%s: %s", key, candidates[key])
        if shrink is not None and (best is None or loss < best[0]):
            best = (loss, model, weights, bias)
    assert best is not None
    _loss, model, weights, balanced = best
    check5 = episodes(seed + 2, model, pool_b, val_b, rounds // 2, shots=(5,))
    shipped = operating_bias(check5, weights, balanced, max_drop)
    match_w, match_b = fit_match(episodes(seed, model, pool_b, val_b, rounds))
    section = {
        "inputs": list(model.inputs), "metric": METRIC_FILE,
        "weights": {t: round(float(w), 5) for t, w in zip(TERMS, weights)},
        "bias": round(shipped, 5), "fitted_words": N_WORDS,
        "match": {"weights": {t: round(float(w), 5) for t, w in zip(TERMS, match_w)},
                  "bias": round(match_b, 5),
                  "protocol": ("logistic regression of 'the drawing is its best-matching word' "
                               "on the same terms, word queries against drawings of untaught "
                               "pool B classes, both weighing half; at least 1/2 on "
                               "5-example episodes (seed + 2):"),
                  "rates_at_half": match_rates(check5, match_w, match_b)},
        "fitted_with": fitted_with(pack, engine),
        "operating_point": {
            "bias_balanced": round(balanced, 5), "max_map_drop": max_drop,
            "protocol": (f"bias lowered from the balanced fit until the pack's MAP@3 on half its "
                         f"{split_words(pack, 'val')} ({len(val_b)} drawings) drops by at most {max_drop} "
                         f"with {N_WORDS} simulated words of 5 examples ({rounds // 2} episodes)"),
            "balanced": {"map_drop": round(map_drop(check5, weights, balanced), 4),
                         "word_top1": round(word_top1(check5, weights, balanced), 4)},
            "shipped": {"map_drop": round(map_drop(check5, weights, shipped), 4),
                        "word_top1": round(word_top1(check5, weights, shipped), 4)}},
        "fit": {"protocol": (
            f"{len(pool_classes)} Quick, Draw! classes the pack lacks (not the {N_EVAL} few-shot "
            f"evaluation classes), split in halves A ({len(np.unique(pool_a.labels))} classes) and "
            f"B; the pack's {split_words(pack, 'val')} in halves A and B per class; metric (within-class "
            f"whitening, shrinkage, then LDA) and class prototypes on A; logit weights by "
            f"cross-entropy of the joint softmax on {rounds} episodes of {N_WORDS} B classes "
            f"taught with {'/'.join(map(str, SHOTS))} examples, queries = their other drawings + "
            f"validation B ({len(val_b)} drawings), weighted half and half; inputs, shrinkage and "
            f"dimension chosen by the loss on {rounds} other B episodes"),
            "candidates": candidates, "command": COMMAND.format(pack=pack_dir)},
    }
    arrays = {"mean": model.mean, "projection": model.projection,
              "class_prototypes": model.class_prototypes}
    return section, {k: np.asarray(v, np.float32) for k, v in arrays.items()}


def write_section(pack_dir: Path, section: dict[str, Any], merge: bool = True,
                  arrays: dict[str, np.ndarray] | None = None) -> None:
    """Store ``section`` as (or into) the manifest's ``words`` and the metric arrays as
    :data:`METRIC_FILE`; every file's hash is recomputed, the models are untouched."""
    if arrays is not None:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        (pack_dir / METRIC_FILE).write_bytes(buf.getvalue())
    manifest = json.loads((pack_dir / MANIFEST).read_text(encoding="utf-8"))
    manifest["words"] = {**manifest.get("words", {}), **section} if merge else section
    write_manifest(pack_dir, manifest)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pack", type=Path, nargs="?", default=REPO / "resources" / "packs" / "quickdraw")
    ap.add_argument("--data", type=Path, default=DEFAULT_ROOT, help="Quick, Draw! folder")
    ap.add_argument("--rounds", type=int, default=16, help="episodes per fit")
    ap.add_argument("--max-map-drop", type=float, default=0.01,
                    help="most the pack's validation MAP@3 may fall with 20 words (default 0.01)")
    ap.add_argument("--no-fewshot", action="store_true", help="skip training.fewshot afterwards")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    section, arrays = fit(args.pack, args.data, args.rounds, max_drop=args.max_map_drop)
    write_section(args.pack, section, merge=False, arrays=arrays)
    log.info("words: %s", json.dumps({k: section[k] for k in ("inputs", "weights", "bias",
                                                              "operating_point")}))
    if not args.no_fewshot:
        from training import fewshot
        fewshot.main([str(args.pack), "--data", str(args.data)])


if __name__ == "__main__":
    main()

"""Words a person teaches a pack: learnt from the pack's own outputs, no training run.

A word is a handful of example drawings. Each drawing is placed in a *word space* made of what
the pack already computes for every prediction (its search features and calibrated logits), and
the word's *prototype* is its examples' normalised mean there — weight imprinting (Qi, Brown and
Lowe 2018: a new class's weights are its examples' normalised mean embedding), so a word behaves
as one more output unit of the network, and its logit joins the pack's calibrated logits in one
softmax (:class:`WordModel` gives the formula).

``python -m training.fit_words PACK`` fits the space and the logit per pack, on *simulated words
made of Quick, Draw! classes the pack does not know* against the pack's own validation drawings,
by the joint softmax's cross-entropy on both, so neither swamps the other. It stores the logit's
weights in the manifest's ``words`` section and the metric in ``words.npz``::

    "words": {"inputs": ["low", "mid", "high", "logits"], "metric": "words.npz",
              "weights": {"cos": 11.0, "class_cos": -9.7, "energy": 0.8}, "bias": -1.2,
              "fitted_with": {"models_sha256": {...}, "temperature": {...}}, "fit": {...}}

Without the section (or when the pack's models or calibration changed since the fit) a plainer
model is derived at load from the pack's own gallery, leaving each class out in turn
(:func:`derive_word_model`).

Threads: :meth:`Words.extend` and :meth:`Words.neighbours` read one immutable snapshot, so the
app's worker thread can classify while the GUI thread teaches; changes are serialised by a lock.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from . import preprocess as pp
from .engine import Engine, Prediction, stack_inputs
from .ink import Sketch, SketchError, iter_ndjson
from .pack import Pack, PackError, load_npz
from .search import Neighbour
from .trust import logsumexp, softmax, unit_rows
from .words_store import (StoredWord, WordProblem, WordStore, WordsError, atomic_write, check_name,
                          clash_key,
                          default_words_dir, encode_examples, renamed_lines, stem_name,
                          write_cache)

__all__ = ["WORD_ID_BASE", "WordInfo", "WordModel", "Words", "WordsError", "WordProblem",
           "default_words_dir", "derive_word_model", "fit_word_logits", "read_word_model"]

log = logging.getLogger(__name__)

#: Neighbour ids at or above this are examples of taught words, not gallery rows:
#: ``WORD_ID_BASE + row`` over all words' examples in :attr:`Words.names` order.
WORD_ID_BASE = 1 << 40
#: Most bytes of model input embedded in one batch: the activations, not the inputs, dominate
#: memory (a 400-drawing batch of the DSN+ takes ~600 MB), so batches stay small.
BATCH_BYTES = 2 << 20
#: Gallery drawings run through the pack to derive the fallback model (bounded load time).
FALLBACK_SAMPLE = 384
FALLBACK_SHOTS = 5
FALLBACK_WORDS = 24


# --- scoring -------------------------------------------------------------------------------------
#: The terms of a word's logit, each weighted, plus a bias (see :class:`WordModel`).
TERMS = ("cos", "class_cos", "energy")


def prototypes(vectors: np.ndarray, owner: np.ndarray, n_words: int) -> np.ndarray:
    """``[W, D]`` unit prototypes: the normalised mean of each word's unit example vectors."""
    sums = np.zeros((n_words, vectors.shape[1]), np.float64)
    np.add.at(sums, owner, unit_rows(vectors))
    return unit_rows(sums)


@dataclass(frozen=True, eq=False)
class WordModel:
    """How a drawing is compared with a word, and how that becomes a logit beside the pack's.

    *Space*: the ``inputs`` blocks (search depths and/or ``"logits"``, the pack's calibrated
    logits), each normalised, concatenated; with a metric, centred by ``mean`` and projected by
    ``projection`` (regularised within-class whitening then LDA, fitted on classes the pack does
    not know); normalised again. A word's prototype is its examples' normalised mean there.

    *Logit* of word ``w`` for a drawing ``q``::

        cos · cos(q, proto_w) + class_cos · max_c cos(q, class_proto_c) + energy · logsumexp(z) + bias

    where ``class_proto_c`` are the pack classes' prototypes in the same space and ``z`` the pack's
    calibrated logits: a drawing that looks like a pack class, or that the pack is sure of, needs
    a closer match to beat the class (the fitted ``class_cos`` weight is negative). The bias was
    fitted with ``fitted_words`` words taught at once; with ``W`` words each gets
    ``bias + log(fitted_words / W)``: the prior that a drawing is *some* taught word stays the
    same, shared among them, so teaching many words cannot crowd out the pack's classes.

    *Match*: ``sigmoid(match_weights · terms(best word) + match_bias)``, how likely the drawing is
    the best-matching word rather than something else unknown; it raises ``known``."""

    inputs: tuple[str, ...] = ("high",)
    weights: tuple[float, ...] = (10.0, 0.0, 0.0)
    bias: float = 0.0
    mean: np.ndarray | None = None
    projection: np.ndarray | None = None
    class_prototypes: np.ndarray | None = None
    fitted_words: int = 1
    match_weights: tuple[float, ...] | None = None
    match_bias: float = 0.0
    source: str = "manifest"     # or "derived at load" (see :func:`derive_word_model`)

    def embed(self, features: Mapping[str, np.ndarray], logits: np.ndarray) -> np.ndarray:
        """``[N, D]`` unit vectors of drawings in the words' space."""
        blocks = [unit_rows(np.atleast_2d(logits if name == "logits" else features[name]))
                  for name in self.inputs]
        x = np.concatenate(blocks, axis=-1).astype(np.float64)
        if self.projection is not None:
            x = (x - self.mean) @ self.projection
        return unit_rows(x)

    def terms(self, q: np.ndarray, word_protos: np.ndarray, pack_logits: np.ndarray) -> np.ndarray:
        """``[N, W, len(TERMS)]``: the values the weights multiply."""
        q = np.atleast_2d(q)
        cos = q @ word_protos.T
        n, w = cos.shape
        class_cos = ((q @ self.class_prototypes.T).max(axis=1) if self.class_prototypes is not None
                     else np.zeros(n))
        energy = logsumexp(np.atleast_2d(np.asarray(pack_logits, np.float64)))
        return np.stack([cos, np.broadcast_to(class_cos[:, None], (n, w)),
                         np.broadcast_to(energy[:, None], (n, w))], axis=-1)

    def logits(self, q: np.ndarray, word_protos: np.ndarray, pack_logits: np.ndarray) -> np.ndarray:
        """``[N, W]`` float32 logits of the words, beside ``pack_logits [N, C]``."""
        t = self.terms(q, word_protos, pack_logits)
        bias = self.bias + np.log(self.fitted_words / max(1, len(word_protos)))
        return (t @ np.asarray(self.weights, np.float64) + bias).astype(np.float32)

    def match(self, q: np.ndarray, word_protos: np.ndarray, pack_logits: np.ndarray
              ) -> np.ndarray | None:
        """``[N]`` probability that each drawing is its best-matching word (None: no match model)."""
        if self.match_weights is None or not len(word_protos):
            return None
        t = self.terms(q, word_protos, pack_logits)
        best = t[np.arange(len(t)), t[..., 0].argmax(axis=1)]
        z = best @ np.asarray(self.match_weights, np.float64) + self.match_bias
        return 1.0 / (1.0 + np.exp(-z))


def fit_word_logits(pack_logits: np.ndarray, terms: np.ndarray, labels: np.ndarray,
                    weights: np.ndarray | None = None, iters: int = 100
                    ) -> tuple[np.ndarray, float]:
    """``(term weights, bias)`` minimising the weighted cross-entropy of ``softmax([pack_logits,
    terms · weights + bias])`` for ``labels`` (indices into the ``C + W`` columns).

    The word logits are linear in the parameters, so the objective is convex: damped Newton
    steps converge in a few iterations (no optimiser library needed at load)."""
    z0 = np.asarray(pack_logits, np.float64)
    n, n_pack = z0.shape
    phi = np.concatenate([np.asarray(terms, np.float64), np.ones((*terms.shape[:2], 1))], axis=-1)
    q = phi.shape[-1]
    w = np.ones(n) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    y = np.zeros((n, n_pack + phi.shape[1]))
    y[np.arange(n), labels] = 1.0
    y = y[:, n_pack:]

    def loss_and_probs(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = np.concatenate([z0, phi @ theta], axis=1)
        lse = logsumexp(z)
        return float((w * (lse - z[np.arange(n), labels])).sum()), np.exp(z[:, n_pack:] - lse[:, None])

    theta = np.zeros(q)
    theta[0], theta[-1] = 10.0, -5.0
    loss, p = loss_and_probs(theta)
    for _ in range(iters):
        grad = np.einsum("n,nwq->q", w, (p - y)[..., None] * phi)
        m = np.einsum("nw,nwq->nq", p, phi)
        hess = (np.einsum("nw,nwq,nwr->qr", w[:, None] * p, phi, phi)
                - np.einsum("n,nq,nr->qr", w, m, m))
        step = np.linalg.lstsq(hess + 1e-9 * np.eye(q), grad, rcond=None)[0]
        t = 1.0
        while t > 1e-4:
            cand = theta - t * step
            cand_loss, cand_p = loss_and_probs(cand)
            if cand_loss <= loss:
                break
            t /= 2
        else:
            break
        converged = loss - cand_loss < 1e-10
        theta, loss, p = cand, cand_loss, cand_p
        if converged:
            break
    return theta[:-1], float(theta[-1])


# --- the pack's parameters -----------------------------------------------------------------------
def known_with_words(engine: Engine, model: WordModel, q: np.ndarray, word_protos: np.ndarray,
                     pack_logits: np.ndarray, joint_logits: np.ndarray,
                     features: Mapping[str, np.ndarray], depth_protos: Mapping[str, np.ndarray],
                     known: np.ndarray) -> np.ndarray:
    """``known`` of ``N`` drawings raised by the taught words where a word is the top answer: the
    word model's match when it has one, else the pack's own known score with the words' logits
    and prototypes added. Never lowered: teaching a word cannot make a pack class less known."""
    match = model.match(q, word_protos, pack_logits)
    if match is None:
        match = engine.trust.known.batch(joint_logits, features, depth_protos)
    word_on_top = np.atleast_2d(joint_logits).argmax(axis=1) >= np.atleast_2d(pack_logits).shape[1]
    return np.where(word_on_top, np.maximum(known, match), known)


def _model_files(pack: Pack) -> dict[str, str]:
    return {name: pack.manifest["files"].get(spec.file.relative_to(pack.path).as_posix(), "")
            for name, spec in sorted(pack.models.items())}


def models_fingerprint(pack: Pack) -> str:
    """What the examples' cached features and logits depend on: every model file, the
    preprocessing, and which outputs are the search features."""
    what = {"models": _model_files(pack),
            "preprocess": {m: s.get("preprocess") for m, s in pack.manifest["models"].items()},
            "features": {d: f.output for d, f in pack.features.items()}}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


def fitted_with(pack: Pack, engine: Engine) -> dict[str, Any]:
    """What a fitted model depends on, recorded with it and compared at load."""
    return {"models_sha256": _model_files(pack),
            "temperature": {m: float(t) for m, t in
                            sorted(engine.trust.calibration.temperature.items())}}


def read_word_model(pack: Pack, engine: Engine) -> WordModel | None:
    """The manifest's ``words`` model, or None when absent or fitted for other models or another
    calibration (then :func:`derive_word_model` runs). A malformed section is a PackError."""
    sec = pack.manifest.get("words")
    if not isinstance(sec, dict) or "weights" not in sec:
        return None
    where = f"pack {pack.name!r}: words"
    inputs = sec.get("inputs")
    if (not isinstance(inputs, list) or not inputs
            or any(i != "logits" and i not in pack.features for i in inputs)):
        raise PackError(f"{where}.inputs must list 'logits' and/or depths the pack has")
    try:
        weights = tuple(float(sec["weights"][t]) for t in TERMS)
        bias = float(sec["bias"])
        fitted_words = int(sec.get("fitted_words", 1))
        match = sec.get("match")
        match_weights = None if match is None else tuple(float(match["weights"][t]) for t in TERMS)
        match_bias = 0.0 if match is None else float(match["bias"])
    except (KeyError, TypeError, ValueError):
        raise PackError(f"{where}: 'weights' and 'match.weights' ({', '.join(TERMS)}), 'bias' "
                        f"and 'match.bias' must be numbers, 'fitted_words' an integer") from None
    if (not all(np.isfinite([*weights, bias, *(match_weights or ()), match_bias]))
            or weights[0] <= 0 or fitted_words < 1):
        raise PackError(f"{where}: the weights must be finite, 'cos' positive, "
                        f"'fitted_words' at least 1")
    if sec.get("fitted_with") != fitted_with(pack, engine):
        log.warning("%s was fitted for other models or another calibration; deriving one at "
                    "load (run python -m training.fit_words %s)", where, pack.path)
        return None
    arrays = _metric_arrays(pack, sec, where)
    d_in = sum(len(pack.classes) if i == "logits" else pack.features[i].dim for i in inputs)
    mean, proj, protos = (arrays.get(k) for k in ("mean", "projection", "class_prototypes"))
    if proj is not None and (mean is None or mean.shape != (d_in,) or proj.ndim != 2
                             or proj.shape[0] != d_in):
        raise PackError(f"{where}: the metric must hold mean [{d_in}] and projection [{d_in}, k]")
    k = proj.shape[1] if proj is not None else d_in
    if protos is not None and protos.shape != (len(pack.classes), k):
        raise PackError(f"{where}: class_prototypes must be [{len(pack.classes)}, {k}]")
    return WordModel(tuple(inputs), weights, bias, mean, proj,
                     None if protos is None else unit_rows(protos), fitted_words, match_weights,
                     match_bias)


def _metric_arrays(pack: Pack, sec: dict[str, Any], where: str) -> dict[str, np.ndarray]:
    rel = sec.get("metric")
    if rel is None:
        return {}
    if not isinstance(rel, str) or rel not in pack.manifest.get("files", {}):
        raise PackError(f"{where}.metric must name a file listed in 'files'")
    arrays = load_npz(pack.path / rel, f"{where}: {rel}")
    if not all(a.dtype.kind in "biuf" and np.isfinite(a).all() for a in arrays.values()):
        raise PackError(f"{where}: {rel} holds values that are not finite numbers")
    return {k: a.astype(np.float64) for k, a in arrays.items()}


def _gallery_inputs(gallery: Any, rows: np.ndarray) -> list[Sketch | np.ndarray]:
    """Gallery rows as engine inputs: their strokes, else their thumbnails as grey pages."""
    if gallery.has_strokes:
        return [gallery.sketch(int(i)) for i in rows]
    return [255 - gallery.thumbnails[int(i)] for i in rows]


def fallback_inputs(pack: Pack) -> tuple[str, ...]:
    return ("high",) if "high" in pack.features else (next(iter(pack.features)),)


def derive_word_model(pack: Pack, engine: Engine, gallery: Any, seed: int = 0) -> WordModel:
    """The fallback: plain cosine on the deepest search features, ``cos`` and ``bias`` fitted
    with pack classes in turn playing a taught word (leave-class-out).

    At most :data:`FALLBACK_WORDS` classes play a word; for class ``c`` its column is dropped
    from the calibrated logits (the pack "does not know" it), its prototype is made from
    :data:`FALLBACK_SHOTS` gallery drawings of ``c``, and at most :data:`FALLBACK_SAMPLE` other
    gallery drawings (a few of ``c`` among them) are scored: drawings of ``c`` should pick the
    word, the others their own class. Gallery drawings are mostly training drawings, on which the
    pack is overconfident, so the manifest's fit on genuinely unknown classes is preferred."""
    rng = np.random.default_rng(seed)
    model = WordModel(fallback_inputs(pack), source="derived at load")
    labels = np.asarray(gallery.labels)
    players = rng.permutation(np.unique(labels))[:FALLBACK_WORDS]
    proto_rows, query_rows = [], []
    for c in players:
        rows = rng.permutation(np.flatnonzero(labels == c))
        proto_rows.append(rows[:FALLBACK_SHOTS])
        query_rows.append(rows[FALLBACK_SHOTS:FALLBACK_SHOTS + 4])
    taken = np.concatenate(proto_rows)
    others = np.setdiff1d(np.arange(len(labels)), np.concatenate([taken, *query_rows]))
    query_rows.append(rng.permutation(others)[:max(0, FALLBACK_SAMPLE - sum(map(len, query_rows)))])
    q = np.concatenate(query_rows)
    logits_q, feats_q = embed(engine, _gallery_inputs(gallery, q))
    logits_p, feats_p = embed(engine, _gallery_inputs(gallery, taken))
    owner = np.repeat(np.arange(len(players)), [len(r) for r in proto_rows])
    protos = prototypes(model.embed(feats_p, logits_p), owner, len(players))
    cos = model.embed(feats_q, logits_q) @ protos.T
    zs, cs, ys = [], [], []
    for wi, c in enumerate(players):
        keep = np.flatnonzero(np.arange(logits_q.shape[1]) != c)
        zs.append(logits_q[:, keep])
        cs.append(cos[:, wi:wi + 1, None])
        ys.append(np.where(labels[q] == c, len(keep), np.searchsorted(keep, labels[q])))
    (scale,), bias = fit_word_logits(np.concatenate(zs), np.concatenate(cs), np.concatenate(ys))
    log.info("pack %s: word model derived at load: %.3f cos %+.3f", pack.name, scale, bias)
    return replace(model, weights=(max(float(scale), 1e-3), 0.0, 0.0), bias=bias)


def _batches(n: int, item_bytes: int) -> Iterable[slice]:
    size = max(1, BATCH_BYTES // max(1, item_bytes))
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def embed(engine: Engine, sources: Sequence[Sketch | np.ndarray]
          ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Calibrated best-model logits ``[N, C]`` and search features per depth ``[N, dim]`` of
    many drawings, in batches of at most :data:`BATCH_BYTES` of model input (10,000 examples
    in bounded memory). A drawing the pack cannot read raises WordsError with its number."""
    pack = engine.pack
    n_classes = len(pack.classes)
    logits = [np.zeros((0, n_classes), np.float32)]
    feats = {d: [np.zeros((0, f.dim), np.float32)] for d, f in pack.features.items()}

    def feed(i: int) -> Any:
        source = sources[i]
        if isinstance(source, Sketch):  # a fresh value: its normalised ink is not kept after
            source = Sketch(source.strokes)
        try:
            return engine.inputs_for(source)
        except (SketchError, PackError) as exc:
            raise WordsError(f"example {i + 1} cannot be read by the pack: {exc}") from None
    if len(sources):
        first = feed(0)
        item = sum(a.nbytes for m in first.values() for a in m.values())
        for part in _batches(len(sources), item):  # inputs made per batch: memory stays bounded
            feeds = [first if i == 0 else feed(i) for i in range(part.start, part.stop)]
            preds = engine.predictions(engine.run_all(stack_inputs(feeds)))
            logits.append(np.stack([p.logits for p in preds]).astype(np.float32))
            for d in feats:
                feats[d].append(np.stack([p.features[d] for p in preds]).astype(np.float32))
    return np.concatenate(logits), {d: np.concatenate(v) for d, v in feats.items()}


# --- the words of one pack -----------------------------------------------------------------------
@dataclass(frozen=True)
class WordInfo:
    """One taught word as the window and ``sketchpad words list`` show it."""

    name: str
    examples: int
    path: Path


@dataclass(frozen=True)
class _Snapshot:
    """Everything :meth:`Words.extend` and :meth:`Words.neighbours` read, replaced whole."""

    words: tuple[StoredWord, ...] = ()
    owner: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))   # example → word
    start: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))   # word → first row
    features: dict[str, np.ndarray] = field(default_factory=dict)              # depth → [N, dim]
    unit: dict[str, np.ndarray] = field(default_factory=dict)                  # normalised rows
    protos: dict[str, np.ndarray] = field(default_factory=dict)                # depth → [W, dim]
    model: WordModel | None = None                  # the model word_protos were made for
    word_protos: np.ndarray = field(default_factory=lambda: np.zeros((0, 1)))  # [W, D] word space

    @property
    def names(self) -> list[str]:
        return [w.name for w in self.words]


class Words:
    """The taught words of one pack: stored as ink under ``root/<pack>/``, embedded by the pack.

    Construction never fails on a bad words file: it is listed in :attr:`problems` and skipped.
    Every change (``add``, ``rename``, ``remove``...) is written to disk before it returns."""

    def __init__(self, pack: Pack, engine: Engine, root: Path | None = None, gallery: Any = None):
        self.pack, self.engine, self.gallery = pack, engine, gallery
        self.root = Path(root) if root is not None else default_words_dir()
        self.store = WordStore(self.root, pack.name, pack.classes)
        self.fingerprint = models_fingerprint(pack)
        self._lock = threading.RLock()
        self._model: WordModel | None = read_word_model(pack, engine)
        self._snap = _Snapshot()
        self.problems: list[WordProblem] = []
        self.picture = lru_cache(maxsize=256)(self._picture)
        self.reload()

    # --- reading ---------------------------------------------------------------------------------
    @property
    def folder(self) -> Path:
        return self.store.folder

    @property
    def names(self) -> list[str]:
        return self._snap.names

    def __len__(self) -> int:
        return len(self._snap.words)

    def list(self) -> list[WordInfo]:
        return [WordInfo(w.name, w.n_examples, w.path) for w in self._snap.words]

    def find(self, name: str) -> StoredWord | None:
        key = clash_key(name)
        return next((w for w in self._snap.words if w.key == key), None)

    def examples(self, name: str) -> list[Sketch]:
        return list(self._require(name).sketches())

    def reload(self) -> None:
        """Read the folder again (another process may have changed it)."""
        with self._lock:
            words, problems = self.store.scan(self.fingerprint)
            ready = []
            for w in words:
                feats = w.features
                if feats is None or not {*self.pack.features, "logits"} <= set(feats):
                    try:
                        feats = self._embed_and_cache(w)
                    except (WordsError, SketchError) as exc:
                        problems.append(WordProblem(w.path, str(exc)))
                        continue
                ready.append(replace(w, features=feats))
            self.problems = problems
            self._publish(ready)

    @property
    def model(self) -> WordModel:
        """The manifest's model, or one derived from the gallery (computed once, when first
        needed: a pack with no words never pays for it)."""
        with self._lock:
            if self._model is None:
                if self.gallery is None:
                    raise WordsError(f"pack {self.pack.name!r} has no fitted word model and no "
                                     f"gallery to derive one from")
                self._model = derive_word_model(self.pack, self.engine, self.gallery)
            return self._model

    # --- what the words do -----------------------------------------------------------------------
    def extend(self, prediction: Prediction) -> Prediction:
        """``prediction`` with every word appended to ``classes``, ``logits`` and ``probs`` (one
        softmax over pack classes and words) and ``known`` raised when the drawing looks like a
        word: a drawing of a taught word is as "known" as one of a pack class."""
        snap = self._snap
        if not snap.words:
            return prediction
        model = self.model
        if snap.model is not model:  # the model was derived after the snapshot was made
            snap = self._publish(list(snap.words))
        q = model.embed(prediction.features, prediction.logits)
        logits = np.concatenate([prediction.logits,
                                 model.logits(q, snap.word_protos, prediction.logits[None])[0]])
        known = known_with_words(self.engine, model, q, snap.word_protos, prediction.logits[None],
                                 logits[None], prediction.features, snap.protos,
                                 np.array([prediction.known]))
        return replace(prediction, probs=softmax(logits.astype(np.float64)).astype(np.float32),
                       logits=logits, classes=[*prediction.classes, *snap.names],
                       known=float(known[0]))

    def neighbours(self, depth: str, vector: np.ndarray, k: int = 8) -> list[Neighbour]:
        """The ``k`` examples nearest to ``vector`` at ``depth`` (brute force), as neighbours
        with ids from :data:`WORD_ID_BASE` and labels after the pack's classes. Distances are
        the pack's index metric, so they sort together with the gallery's."""
        snap = self._snap
        feats = snap.features.get(depth)
        if feats is None or not len(feats):
            return []
        metric = self.pack.features[depth].metric
        v = np.asarray(vector, np.float32)
        if metric == "angular":
            cos = snap.unit[depth] @ unit_rows(v[None])[0]
            dist = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * cos))
        elif metric == "euclidean":
            dist = np.linalg.norm(feats - v, axis=1)
        else:
            raise PackError(f"pack {self.pack.name!r}: word search has no {metric!r} metric")
        k = min(k, len(dist))
        rows = np.argpartition(dist, k - 1)[:k]
        rows = rows[np.argsort(dist[rows], kind="stable")]
        n = len(self.pack.classes)
        return [Neighbour(WORD_ID_BASE + int(r), n + int(snap.owner[r]), float(dist[r]))
                for r in rows]

    def merge_neighbours(self, found: dict[str, list[Neighbour]], features: Mapping[str, np.ndarray],
                         k: int = 8) -> dict[str, list[Neighbour]]:
        """The gallery's neighbours per depth merged with the nearest word examples."""
        if not self._snap.words:
            return found
        return {d: sorted([*hits, *self.neighbours(d, features[d], k)],
                          key=lambda n: n.distance)[:k] for d, hits in found.items()}

    @staticmethod
    def is_word_id(neighbour_id: int) -> bool:
        return neighbour_id >= WORD_ID_BASE

    def example_at(self, neighbour_id: int) -> tuple[str, int, Sketch] | None:
        """(word, example number from 0, drawing) of a word neighbour id; None when the words
        changed since and the id no longer names an example."""
        snap, row = self._snap, neighbour_id - WORD_ID_BASE
        if not 0 <= row < len(snap.owner):
            return None
        w = int(snap.owner[row])
        word = snap.words[w]
        i = row - int(snap.start[w])
        return word.name, i, word.sketch(i)

    def _picture(self, neighbour_id: int, size: int = 64) -> np.ndarray:
        """uint8 ``size × size`` of a word example, drawn as the gallery draws its sketches."""
        found = self.example_at(neighbour_id)
        if found is None:
            return np.zeros((size, size), np.uint8)
        return pp.render_sketch(found[2], size, line_width=4.0)

    # --- changes ---------------------------------------------------------------------------------
    def add(self, name: str, sketches: Iterable[Sketch], new: bool = False) -> WordInfo:
        """Add examples to ``name``, teaching it first if it is new (``new=True``: it must be).
        Raises :class:`WordsError`: no examples, an empty drawing, a name that is a pack class
        (or, with ``new``, already a word), or the word's file is damaged."""
        sketches = list(sketches)
        with self._lock:
            existing = self.find(name)
            if existing is not None and new:
                raise WordsError(f"{check_name(name)!r} is already a word "
                                 f"({existing.name!r})")
            if existing is None:
                shown = self.store.check_new_name(name, self._snap.words)
                self._refuse_damaged(shown)
                old_lines: tuple[bytes, ...] = ()
                old_feats = None
            else:
                shown, old_lines, old_feats = existing.name, existing.lines, existing.features
            if not sketches:
                raise WordsError(f"no examples given for {shown!r}: draw or import at least one")
            lines = encode_examples(shown, sketches, first=len(old_lines) + 1)
            feats = self._embed(sketches)
            if old_feats is not None:
                feats = {d: np.concatenate([old_feats[d], f]) for d, f in feats.items()}
            self._save(shown, [*old_lines, *lines], feats, existing)
            return WordInfo(shown, len(old_lines) + len(lines), self.store.path_for(shown))

    def import_file(self, path: str | Path, name: str | None = None, new: bool = False) -> WordInfo:
        """Every drawing of a Quick, Draw! ndjson file as an example of ``name`` (default: the
        file's own ``"word"``, which must then be one word)."""
        path = Path(path)
        sketches = list(iter_ndjson(path))  # a bad line raises SketchError with FILE:LINE
        if not sketches:
            raise WordsError(f"{path} holds no drawings")
        for i, s in enumerate(sketches, 1):
            if s.is_empty:
                raise WordsError(f"{path}:{i}: an empty drawing")
        if name is None:
            labels = {s.label for s in sketches}
            if len(labels) != 1 or None in labels:
                raise WordsError(f"{path} holds drawings of {len(labels)} words; name the word")
            name = labels.pop()
        return self.add(name, sketches, new=new)

    def export(self, name: str, dest: str | Path) -> Path:
        """The word's examples as a Quick, Draw! ndjson file (written atomically)."""
        word = self._require(name)
        dest = Path(dest)
        if dest.is_dir():
            dest = dest / word.path.name
        atomic_write(dest, b"".join(word.lines))
        return dest

    def rename(self, old: str, new: str) -> WordInfo:
        with self._lock:
            word = self._require(old)
            shown = self.store.check_new_name(new, self._snap.words, allow=word.name)
            self._save(shown, renamed_lines(word.lines, shown), word.features or {}, word)
            return WordInfo(shown, word.n_examples, self.store.path_for(shown))

    def remove_example(self, name: str, index: int) -> WordInfo | None:
        """Forget one example (from 0); the word goes when its last example does (→ None)."""
        with self._lock:
            word = self._require(name)
            if not 0 <= index < word.n_examples:
                raise WordsError(f"{word.name!r} has no example {index + 1} "
                                 f"(it has {word.n_examples})")
            if word.n_examples == 1:
                self.remove(word.name)
                return None
            keep = [i for i in range(word.n_examples) if i != index]
            feats = {d: f[keep] for d, f in (word.features or {}).items()}
            self._save(word.name, [word.lines[i] for i in keep], feats, word)
            return WordInfo(word.name, len(keep), word.path)

    def remove(self, name: str) -> str:
        """Forget a word (its files too); a damaged file of that name is removed as well."""
        with self._lock:
            word = self.find(name)
            damaged = [p for p in self.problems if clash_key(stem_name(p.path)) == clash_key(name)]
            if word is None and not damaged:
                raise WordsError(self._unknown(name))
            for path in ([word.path] if word else []) + [p.path for p in damaged]:
                self.store.delete(path)
            self.problems = [p for p in self.problems if p not in damaged]
            self._publish([w for w in self._snap.words if w is not word])
            return word.name if word else stem_name(damaged[0].path)

    # --- internals -------------------------------------------------------------------------------
    def _require(self, name: str) -> StoredWord:
        word = self.find(name)
        if word is None:
            raise WordsError(self._unknown(name))
        return word

    def _unknown(self, name: str) -> str:
        known = ", ".join(self.names) or "none yet"
        return f"pack {self.pack.name!r} has no word {name!r} (its words: {known})"

    def _refuse_damaged(self, name: str) -> None:
        for p in self.problems:
            if clash_key(stem_name(p.path)) == clash_key(name):
                raise WordsError(f"the file of {name!r} is damaged ({p}); remove it first "
                                 f"(sketchpad words remove {name!r}) or repair it")

    def _embed(self, sketches: Sequence[Sketch]) -> dict[str, np.ndarray]:
        """Search features per depth and the calibrated ``"logits"`` of example drawings."""
        logits, feats = embed(self.engine, sketches)
        return {**feats, "logits": logits}

    def _embed_and_cache(self, word: StoredWord) -> dict[str, np.ndarray]:
        feats = self._embed(list(word.sketches()))
        write_cache(word, self.fingerprint, feats)
        return feats

    def _save(self, name: str, lines: list[bytes], feats: dict[str, np.ndarray],
              old: StoredWord | None) -> None:
        """Write the word's ndjson and features, drop the old files if the name moved, publish."""
        stored = self.store.write(name, lines)
        if not feats:
            feats = self._embed(list(stored.sketches()))
        write_cache(stored, self.fingerprint, feats)
        if old is not None and old.path != stored.path:
            self.store.delete(old.path)
        words = [w for w in self._snap.words if w is not old]
        self._publish(sorted([*words, replace(stored, features=feats)], key=lambda w: w.key))

    def _publish(self, words: list[StoredWord]) -> _Snapshot:
        """Build and swap in the snapshot the readers see."""
        depths = list(self.pack.features)
        n_classes = len(self.pack.classes)
        counts = np.array([w.n_examples for w in words], np.int64)
        owner = np.repeat(np.arange(len(words)), counts)
        start = np.concatenate([[0], np.cumsum(counts)])
        if words:
            feats = {d: np.concatenate([w.features[d] for w in words]) for d in [*depths, "logits"]}
        else:
            feats = {d: np.zeros((0, self.pack.features[d].dim), np.float32) for d in depths}
            feats["logits"] = np.zeros((0, n_classes), np.float32)
        protos = {d: prototypes(feats[d], owner, len(words)) for d in depths}
        model = self._model
        word_protos = (prototypes(model.embed(feats, feats["logits"]), owner, len(words))
                       if model is not None and words else np.zeros((0, 1)))
        unit = {d: unit_rows(feats[d]) for d in depths}
        snap = _Snapshot(tuple(words), owner, start, feats, unit, protos, model, word_protos)
        self._snap = snap
        self.picture.cache_clear()
        return snap


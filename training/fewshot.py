"""Few-shot benchmark of taught words: can a pack learn 20 new things from a few drawings each?

    python -m training.fewshot [resources/packs/quickdraw] [--draws 5] [--no-record]

Protocol (issue 18): the :data:`training.fit_words.N_EVAL` Quick, Draw! classes the pack does not
know that :func:`training.fit_words.unknown_classes` sets aside (never used to fit the word scale),
each with at least 25 drawings. For 1, 3, 5 and 10 examples and each of ``--draws`` random draws,
every class is taught as a word from that many random drawings, exactly as
:meth:`sketchpad.words.Words.extend` scores it (the manifest's ``words`` scale), and its other
drawings are the queries:

* **new words top-1**: the query's top class among the pack's classes *and* the 20 words is its word;
* words-only top-1: the same among the 20 words alone (the pure few-shot problem);
* **pack MAP@3 before / after**: the pack's own test split (re-read with
  :func:`training.dsn.data.collect`; for a TU-Berlin pack the second half of the held-out Quick,
  Draw! drawings of its classes, :func:`training.fit_words.pack_split`), scored over its classes
  alone, then over classes + words;
* known: share of word queries with ``known`` at or above the pack's threshold before and after
  teaching, and the same for drawings of 40 *other* unknown classes (not taught): teaching must
  raise the first, not the second.

The figures go to the manifest (``words.few_shot``), to the pack's plot (:func:`plot_path`) and to
the pack's table between its markers in ``docs/words.md``.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sketchpad.engine import Engine
from sketchpad.gallery import Gallery
from sketchpad.pack import Pack, load_pack
from sketchpad.words import WordModel, derive_word_model, known_with_words, prototypes, \
    read_word_model
from training.dsn.data import DEFAULT_ROOT
from training.dsn.metrics import map_at_k, top1
from training.fit_words import SHOTS, Embedded, pack_split, split_words, split_shots, unknown_classes, \
    unknown_drawings, write_section

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "words.md"
OTHER_UNKNOWN = 40


def plot_path(pack: str) -> Path:
    """Where a pack's few-shot plot goes (the quickdraw pack's name came first)."""
    return REPO / "docs" / ("words_fewshot.png" if pack == "quickdraw" else f"words_fewshot_{pack}.png")


def markers(pack: str) -> tuple[str, str]:
    """The comments around a pack's generated block in ``docs/words.md``."""
    tag = "fewshot" if pack == "quickdraw" else f"fewshot:{pack}"
    return f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"


def one_draw(rng: np.random.Generator, shots: int, words: Embedded, test: Embedded,
             other: Embedded, engine: Engine, model: WordModel) -> dict[str, float]:
    """Teach every evaluation class from ``shots`` random drawings, as
    :meth:`sketchpad.words.Words.extend` would; score the queries, the test split, the others."""
    n_pack = test.logits.shape[1]
    n_words = len(words.names)
    ex, q, _ = split_shots(rng, words, range(n_words), shots)
    owner = np.repeat(np.arange(n_words), shots)
    protos = prototypes(model.embed(ex.features, ex.logits), owner, n_words)
    extra = {d: prototypes(f, owner, n_words) for d, f in ex.features.items()}
    known = engine.trust.known
    out: dict[str, float] = {}
    for name, s in (("queries", q), ("test", test), ("other", other)):
        vectors = model.embed(s.features, s.logits)
        joint = np.concatenate([s.logits, model.logits(vectors, protos, s.logits)], axis=1)
        before = known.batch(s.logits, s.features)
        after = known_with_words(engine, model, vectors, protos, s.logits, joint, s.features,
                                 extra, before)
        if name == "queries":
            out["top1_new_words"] = top1(joint, n_pack + s.labels)
            out["top1_words_only"] = top1(joint[:, n_pack:], s.labels)
            out["queries_known_before"] = float((before >= known.threshold).mean())
            out["queries_known_after"] = float((after >= known.threshold).mean())
        elif name == "test":
            out["map3_after"] = map_at_k(joint, s.labels)
            out["top1_after"] = top1(joint, s.labels)
            out["test_taken_by_a_word"] = float((joint.argmax(1) >= n_pack).mean())
        else:
            out["other_known_before"] = float((before >= known.threshold).mean())
            out["other_known_after"] = float((after >= known.threshold).mean())
    return out


def at_once(words: Embedded, test: Embedded, other: Embedded, engine: Engine, model: WordModel,
            group: int, shots: int = 5, draws: int = 5) -> dict[str, float]:
    """The evaluation classes taught ``group`` at a time (each group on its own): top-1 of the
    new words among the pack's classes + that group, and the pack's test MAP@3 with it."""
    n_pack = test.logits.shape[1]
    tops, maps, raised = [], [], []
    for d in range(draws):
        rng = np.random.default_rng([d, shots, group])
        order = rng.permutation(len(words.names))
        for g in range(0, len(order), group):
            classes = order[g:g + group]
            ex, q, q_word = split_shots(rng, words, classes, shots)
            protos = prototypes(model.embed(ex.features, ex.logits),
                                np.repeat(np.arange(len(classes)), shots), len(classes))
            for s, labels, out in ((q, n_pack + q_word, tops), (test, test.labels, maps),
                                   (other, None, raised)):
                vectors = model.embed(s.features, s.logits)
                joint = np.concatenate([s.logits, model.logits(vectors, protos, s.logits)], axis=1)
                if out is raised:
                    before = engine.trust.known.batch(s.logits, s.features)
                    after = known_with_words(engine, model, vectors, protos, s.logits, joint,
                                             s.features, {}, before)
                    out.append(float((after >= engine.trust.known.threshold).mean()))
                else:
                    out.append(top1(joint, labels) if out is tops else map_at_k(joint, labels))
    return {"top1_new_words": round(float(np.mean(tops)), 4),
            "map3_after": round(float(np.mean(maps)), 4),
            "untaught_unknown_known": round(float(np.mean(raised)), 4)}


def tradeoff(words: Embedded, test: Embedded, other: Embedded, engine: Engine, model: WordModel,
             offsets: Sequence[float],
             shots: int = 5, draws: int = 5) -> list[dict[str, float]]:
    """Top-1 of 20 new words and the pack's MAP@3 as the bias moves (the operating points)."""
    out = []
    for off in offsets:
        m = replace(model, bias=model.bias + off)
        r = at_once(words, test, other, engine, m, len(words.names), shots, draws)
        out.append({"bias": round(float(m.bias), 3), **r})
    return out


def benchmark(pack_dir: Path, root: Path = DEFAULT_ROOT, draws: int = 5,
              shots: Sequence[int] = SHOTS) -> dict[str, Any]:
    pack = load_pack(pack_dir)
    engine = Engine(pack, prefer_gpu=False)
    eval_classes, pool_classes = unknown_classes(root, pack)
    words = unknown_drawings(engine, root, eval_classes, "eval")
    other_classes = pool_classes[:OTHER_UNKNOWN]
    pool = unknown_drawings(engine, root, pool_classes, "pool")
    other = pool.subset(np.flatnonzero(pool.labels < OTHER_UNKNOWN))
    test = pack_split(engine, root, "test")
    shipped = read_word_model(pack, engine)
    if shipped is None:
        raise SystemExit(f"{pack_dir}: no valid words section; run python -m training.fit_words")
    balanced = replace(shipped, bias=pack.manifest["words"]["operating_point"]["bias_balanced"])
    models = {"shipped": shipped, "balanced": balanced,
              "derived at load": derive_word_model(pack, engine, Gallery(pack))}
    results: dict[str, Any] = {}
    for label, model in models.items():
        per_shot = {}
        for n in shots:
            runs = [one_draw(np.random.default_rng([d, n]), n, words, test, other, engine, model)
                    for d in range(draws)]
            per_shot[str(n)] = {k: {"mean": round(float(np.mean([r[k] for r in runs])), 4),
                                    "std": round(float(np.std([r[k] for r in runs])), 4)}
                                for k in runs[0]}
        results[label] = {"model": {"inputs": list(model.inputs),
                                    "weights": [round(float(w), 4) for w in model.weights],
                                    "bias": round(float(model.bias), 4),
                                    "metric": model.projection is not None},
                          "shots": per_shot}
    results["shipped"]["taught_at_once_5_examples"] = {
        str(g): at_once(words, test, other, engine, shipped, g, 5, draws) for g in (1, 5, 20)}
    balanced_bias = balanced.bias
    curve = tradeoff(words, test, other, engine, shipped, [balanced_bias - shipped.bias + o
                                           for o in (-6, -4, -3, -2, -1, 0, 1, 2)], 5, draws)
    counts = np.bincount(words.labels)
    return {
        "tradeoff_5_examples_20_words": curve,
        "protocol": (
            f"{len(eval_classes)} Quick, Draw! classes the pack lacks (never used in fitting), "
            f"{int(counts.min())}-{int(counts.max())} drawings each; for each number of examples "
            f"and each of {draws} random draws, that many random drawings of each class are "
            f"taught as a word and the others are the queries ({int(counts.sum())} drawings in "
            f"all); top-1 among the pack's {len(pack.classes)} classes + the "
            f"{len(eval_classes)} words; pack MAP@3 on its own {split_words(pack, 'test')} ({len(test)} drawings) "
            f"over classes + words; 'known' at the pack's threshold "
            f"{engine.trust.known.threshold:.3f}; 'other' = {len(other)} drawings of "
            f"{len(other_classes)} untaught unknown classes; mean and std over the draws; "
            f"'shipped' = the manifest's model, 'balanced' = its bias before the operating point "
            f"was chosen, 'derived at load' = the fallback for packs without a fit"),
        "classes": eval_classes,
        "pack_before": {"map3": round(map_at_k(test.logits, test.labels), 4),
                        "top1": round(top1(test.logits, test.labels), 4)},
        "results": results,
        "command": f"python -m training.fewshot {pack_dir}",
    }


def plot(res: dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(15, 4.2))
    for label, style in (("shipped", "-"), ("balanced", "--"), ("derived at load", ":")):
        shots = res["results"][label]["shots"]
        xs = [int(n) for n in shots]
        keys = [("top1_new_words", "new words, among classes + words")]
        if label != "balanced":  # the bias does not change the ranking among words alone
            keys.append(("top1_words_only", "new words, among words only"))
        for key, name in keys:
            m = np.array([shots[n][key]["mean"] for n in shots])
            s = np.array([shots[n][key]["std"] for n in shots])
            a.errorbar(xs, m, yerr=s, linestyle=style, marker="o", capsize=3,
                       label=f"{name} ({label})")
        m = [shots[n]["map3_after"]["mean"] for n in shots]
        b.plot(xs, m, style, marker="o", label=f"after teaching 20 words ({label})")
    b.axhline(res["pack_before"]["map3"], color="k", linewidth=1, label="before")
    a.axhline(0.70, color="grey", linewidth=0.8, linestyle="--")
    a.set(xscale="log", xticks=xs, xticklabels=xs, xlabel="examples per word", ylabel="top-1",
          title="20 taught Quick, Draw! words", ylim=(0, 1.15))
    b.set(xscale="log", xticks=xs, xticklabels=xs, xlabel="examples per word",
          ylabel="MAP@3 on the pack's test split", title="the pack's own classes")
    curve = res["tradeoff_5_examples_20_words"]
    drop = [100 * (res["pack_before"]["map3"] - p["map3_after"]) for p in curve]
    c.plot(drop, [p["top1_new_words"] for p in curve], "o-")
    for p, x in zip(curve, drop):
        c.annotate(f"{p['bias']:+.1f}", (x, p["top1_new_words"]), fontsize=7,
                   textcoords="offset points", xytext=(4, -10))
    shipped = res["results"]["shipped"]["shots"]["5"]
    c.plot([100 * (res["pack_before"]["map3"] - shipped["map3_after"]["mean"])],
           [shipped["top1_new_words"]["mean"]], "r*", markersize=12, label="shipped")
    c.axvline(1.0, color="grey", linewidth=0.8, linestyle="--")
    c.axhline(0.70, color="grey", linewidth=0.8, linestyle="--")
    c.set(xlabel="pack MAP@3 drop (points)", ylabel="new words top-1",
          title="5 examples, 20 words: the bias trades one for the other")
    for ax, loc in ((a, "upper left"), (b, "center right"), (c, "lower right")):
        ax.legend(fontsize=6.5, loc=loc)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def table(res: dict[str, Any]) -> str:
    before = res["pack_before"]["map3"]
    rows = ["| model | examples | new words top-1 (classes + words) | words-only top-1 | pack "
            "MAP@3 after (before %.4f) | test drawings taken by a word | word queries known "
            "before → after | untaught unknown known before → after |" % before,
            "|---|---|---|---|---|---|---|---|"]
    for label, r in res["results"].items():
        for n, v in r["shots"].items():
            f = lambda k: f"{v[k]['mean']:.3f} ± {v[k]['std']:.3f}"  # noqa: E731
            rows.append(f"| {label} | {n} | {f('top1_new_words')} | {f('top1_words_only')} | "
                        f"{f('map3_after')} | {v['test_taken_by_a_word']['mean']:.3f} | "
                        f"{v['queries_known_before']['mean']:.3f} → "
                        f"{v['queries_known_after']['mean']:.3f} | "
                        f"{v['other_known_before']['mean']:.3f} → "
                        f"{v['other_known_after']['mean']:.3f} |")
    once = res["results"]["shipped"]["taught_at_once_5_examples"]
    rows += ["", "Shipped model, 5 examples, the 20 classes taught a group at a time:", "",
             "| words taught at once | new words top-1 (classes + the group) | pack MAP@3 after | "
             "untaught unknown known after |", "|---|---|---|---|"]
    rows += [f"| {g} | {v['top1_new_words']:.3f} | {v['map3_after']:.4f} | "
             f"{v['untaught_unknown_known']:.3f} |" for g, v in once.items()]
    rows += ["", "Operating points (5 examples, 20 words; the bias is the fitted one plus an "
             "offset):", "", "| bias | new words top-1 | pack MAP@3 after | drop (points) |",
             "|---|---|---|---|"]
    rows += [f"| {p['bias']:+.2f} | {p['top1_new_words']:.3f} | {p['map3_after']:.4f} | "
             f"{100 * (before - p['map3_after']):.1f} |" for p in res["tradeoff_5_examples_20_words"]]
    return "\n".join(rows)


def write_doc(res: dict[str, Any], doc: Path, pack: str = "quickdraw") -> None:
    """Replace the pack's generated block of ``docs/words.md`` (the prose around it is
    hand-written); a pack without one gets its block at the end."""
    begin, end = markers(pack)
    block = (f"{begin}\n_Generated by `{res['command']}`._ {res['protocol']}.\n\n"
             f"Classes: {', '.join(res['classes'])}.\n\n{table(res)}\n{end}")
    text = doc.read_text(encoding="utf-8") if doc.is_file() else f"# Taught words\n\n{begin}\n{end}\n"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    doc.write_text(pattern.sub(lambda _: block, text) if pattern.search(text)
                   else text + "\n" + block + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pack", type=Path, nargs="?", default=REPO / "resources" / "packs" / "quickdraw")
    ap.add_argument("--data", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--no-record", action="store_true",
                    help="print only (no manifest, docs or plot)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    res = benchmark(args.pack, args.data, args.draws)
    print(table(res))
    print(json.dumps(res["pack_before"]))
    if not args.no_record:
        write_section(args.pack, {"few_shot": res})
        name = load_pack(args.pack).name
        plot(res, plot_path(name))
        write_doc(res, DOC, name)


if __name__ == "__main__":
    main()

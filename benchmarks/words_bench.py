"""A taught word with 10,000 examples: time and memory to teach, reload, classify and search.

    python benchmarks/words_bench.py [--examples 10000] [--pack resources/packs/quickdraw]

Real Quick, Draw! drawings (the largest simplified files, in file order) become one word's
examples; 20 small words of 5 examples sit beside it. Figures: wall time and the growth of the
process's peak RSS per phase (``ru_maxrss``; the models and the gallery are loaded before the
first figure), file sizes, and per-prediction latency of :meth:`Words.extend` and of the word
neighbour search at every depth.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

from common import DATA, ROOT

from sketchpad.ink import iter_ndjson
from sketchpad.runtime import LoadedPack
from sketchpad.words import Words

BIG = ("apple", "eyeglasses", "star", "candle", "fork")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase(label: str, fn, rows: list) -> object:
    before, t0 = peak_mib(), time.perf_counter()
    out = fn()
    rows.append((label, time.perf_counter() - t0, peak_mib() - before))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--examples", type=int, default=10_000)
    ap.add_argument("--pack", type=Path, default=ROOT / "resources" / "packs" / "quickdraw")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="words-bench-"))
    pack = LoadedPack.open(args.pack, prefer_gpu=False, words_dir=root)
    qd = DATA / "quickdraw" / "simplified"
    small = sorted(qd.glob("*.ndjson"))[:40:2]
    rows: list[tuple[str, float, float]] = []
    big = phase(f"read {args.examples} drawings (ndjson)", lambda: list(islice(
        (s for name in BIG for s in iter_ndjson(qd / f"{name}.ndjson")), args.examples)), rows)
    words = pack.words
    phase(f"teach 1 word x {len(big)} examples (embed + write)",
          lambda: words.add("many things", big), rows)
    del big
    phase("teach 20 words x 5 examples", lambda: [
        words.add(f"small {i}", list(islice(iter_ndjson(p), 5))) for i, p in enumerate(small)], rows)
    phase("add 3 examples to the big word", lambda: words.add(
        "many things", list(islice(iter_ndjson(qd / "cat.ndjson"), 3))), rows)
    phase("restart: load all words (cached features)",
          lambda: Words(pack.pack, pack.engine, root, pack.gallery), rows)
    for cache in words.folder.glob("*.features.npz"):
        cache.unlink()
    again = phase("restart: load all words (no cache: embed again)",
                  lambda: Words(pack.pack, pack.engine, root, pack.gallery), rows)
    probe = list(islice(iter_ndjson(qd / "house.ndjson"), 200))
    preds = [pack.engine.predict(s) for s in probe]
    again.extend(preds[0])  # the model is ready (derived at load when the pack has none)
    ext, nb = [], []
    for p in preds:
        t0 = time.perf_counter()
        again.extend(p)
        ext.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for depth in pack.pack.features:
            again.neighbours(depth, p.features[depth], 8)
        nb.append(time.perf_counter() - t0)
    files = {p.name: p.stat().st_size for p in words.folder.glob("many*")}

    print(f"pack {pack.name}, {len(again)} words, {sum(w.examples for w in again.list())} examples, "
          f"python {sys.version.split()[0]}\n")
    print("| phase | wall s | peak RSS growth MiB |\n|---|---|---|")
    for label, wall, mem in rows:
        print(f"| {label} | {wall:.2f} | {mem:.0f} |")
    q = lambda xs, f: sorted(xs)[int(f * (len(xs) - 1))] * 1e3  # noqa: E731
    print("\n| per prediction | median ms | p95 ms |\n|---|---|---|")
    print(f"| Words.extend (21 words, {sum(w.examples for w in again.list())} examples) | "
          f"{statistics.median(ext) * 1e3:.2f} | {q(ext, 0.95):.2f} |")
    print(f"| word neighbours, 3 depths, brute force | {statistics.median(nb) * 1e3:.2f} | "
          f"{q(nb, 0.95):.2f} |")
    print("\n" + "\n".join(f"{name}: {size / 1e6:.1f} MB" for name, size in sorted(files.items())))
    print(f"process peak RSS {peak_mib():.0f} MiB")


if __name__ == "__main__":
    main()

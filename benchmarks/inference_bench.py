"""Inference speed: each ONNX model, and the whole pen-up → result path (``LoadedPack.analyse``:
preprocess, every model, search at three depths), against the same network run eagerly in PyTorch
on the same input tensors (the two called alternately, see :func:`interleaved`). Targets: pen-up →
result p95 < 50 ms; onnxruntime ≥ 5× faster than eager.

    python benchmarks/inference_bench.py [--repeat 200] [--threads 1]

The PyTorch side rebuilds each pack's architecture from its manifest (``training.model_config``,
written by training/deepsketch and training/dsn) with random weights — speed does not depend on
the weight values — so no checkpoint is needed; packs without a known architecture are skipped.
"""
from __future__ import annotations

import argparse
import itertools
from typing import Callable

import numpy as np

from common import ROOT, bench_packs, machine, median_p95, print_table, time_ms
from sketchpad.engine import Feeds
from sketchpad.ink import Sketch, iter_ndjson
from sketchpad.pack import Pack
from sketchpad.runtime import LoadedPack


def sample_sketches(loaded: LoadedPack, n: int = 20) -> list[Sketch]:
    """The bundled sample drawings, plus gallery sketches when the gallery keeps strokes."""
    own = list(iter_ndjson(ROOT / "resources" / "samples" / "selftest.ndjson"))
    gallery = [loaded.gallery.sketch(int(i)) for i in
               np.linspace(0, len(loaded.gallery) - 1, n).astype(int)] if loaded.gallery.has_strokes else []
    return own + [s for s in gallery if s is not None and not s.is_empty]


def eager_runner(pack: Pack) -> tuple[str, Callable[[Feeds], object]] | None:
    """The pack's networks as PyTorch modules, called on the engine's own input tensors."""
    import torch
    cfg = pack.manifest.get("training", {}).get("model_config")
    n = len(pack.classes)
    t = torch.from_numpy
    if pack.name == "tiny":
        from training.tiny_pack import TinyConvNet, TinyFusion, TinyRNN
        conv, rnn, fusion = TinyConvNet(n).eval(), TinyRNN(n).eval(), TinyFusion(n).eval()

        def run_tiny(f: Feeds) -> object:
            *_, emb_c = conv(t(f["convnet"]["image"]))
            _, emb_r = rnn(t(f["rnn"]["strokes"]), t(f["rnn"]["lengths"]))
            return fusion(emb_c, emb_r)
        return "training.tiny_pack modules", run_tiny
    if cfg and "kind" in cfg:
        from training.dsn.model import DSN, DSNConfig
        dsn = DSN(DSNConfig.from_dict(cfg)).eval()
        return (f"training.dsn.model.DSN ({cfg['kind']})",
                lambda f: dsn(t(f["convnet"]["image"]), t(f["rnn"]["strokes"]), t(f["rnn"]["lengths"])))
    if cfg and "widths" in cfg:
        from training.deepsketch.export_pack import MIRROR_VIEWS, PackConvNet
        from training.deepsketch.model import DeepSketch, DeepSketchConfig
        from training.deepsketch.similarity import Reduction
        net = DeepSketch(DeepSketchConfig.from_dict(cfg))
        reductions = {d: Reduction("timing", np.zeros((s.dim, int(s.info.get("raw_dim", s.dim))),
                                                      np.float32), np.zeros(s.dim, np.float32))
                      for d, s in pack.features.items()}
        mirror = pack.manifest["models"]["convnet"].get("views") == MIRROR_VIEWS
        module = PackConvNet(net, reductions, mirror)  # the graph that was exported
        return ("training.deepsketch PackConvNet (DeepSketch + reductions)",
                lambda f: module(t(f["convnet"]["image"])))
    return None


def ort_models(loaded: LoadedPack, feeds: Feeds) -> dict[str, Callable[[], object]]:
    """One timed call per ONNX model of the pack on the given feeds (the fusion on their output)."""
    engine = loaded.engine
    out = engine.run_all(feeds)
    inputs = {m: feeds[m] for m in ("convnet", "rnn") if m in feeds}
    if "fusion" in out:
        inputs["fusion"] = {"cnn_embedding": out["convnet"]["embedding"],
                            "rnn_embedding": out["rnn"]["embedding"]}
    return {m: (lambda m=m: engine.run(m, inputs[m])) for m in inputs}


def bench(pack: Pack, repeat: int, threads: int) -> list[list[object]]:
    import torch
    torch.set_num_threads(threads)
    loaded = LoadedPack(pack, prefer_gpu=False, threads=threads)
    sketches = sample_sketches(loaded)
    cycle = itertools.cycle(sketches)
    rows: list[list[object]] = []

    def row(stage: str, ms: np.ndarray) -> tuple[float, float]:
        med, p95 = median_p95(ms)
        rows.append([pack.name, stage, med, p95])
        return med, p95

    row("preprocess (all inputs)", time_ms(lambda: loaded.engine.inputs_for(next(cycle)), repeat))
    feeds = loaded.engine.inputs_for(sketches[0])
    for name, call in ort_models(loaded, feeds).items():
        row(f"onnxruntime {name}.onnx", time_ms(call, repeat))
    row("pen-up → result (analyse, k=8, 3 depths)",
        time_ms(lambda: loaded.analyse(next(cycle), k=8), repeat))
    eager = eager_runner(pack)
    if eager is None:
        rows.append([pack.name, "PyTorch eager", "skipped: no known architecture", ""])
        return rows
    what, run = eager
    with torch.inference_mode():
        pt, ox = interleaved(lambda: run(feeds), lambda: loaded.engine.run_all(feeds), repeat)
    row(f"PyTorch eager, {what}", pt)
    row("onnxruntime, all models (Engine.run_all)", ox)
    rows.append([pack.name, "eager / onnxruntime (all models, medians)",
                 f"{np.median(pt) / np.median(ox):.1f}x", ""])
    return rows


def interleaved(a: Callable[[], object], b: Callable[[], object], repeat: int,
                block: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Times of ``a`` and ``b`` in alternating blocks of ``block`` calls, so both see the same
    machine (a shared 2-core VM drifts by ±20 % over a minute, more than a ratio of two runs
    taken minutes apart can bear), while each block runs with its own weights in cache, as the
    app's worker does (calls alternating one by one evict each other's and cost both ~30 %)."""
    ta: list[np.ndarray] = []
    tb: list[np.ndarray] = []
    for _ in range(max(repeat // block, 1)):
        ta.append(time_ms(a, block))
        tb.append(time_ms(b, block))
    return np.concatenate(ta), np.concatenate(tb)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1, help="for onnxruntime and torch alike")
    args = ap.parse_args()
    print(f"machine: {machine()}; {args.threads} thread(s); provider CPU\n")
    rows = [r for pack in bench_packs() for r in bench(pack, args.repeat, args.threads)]
    print_table(["pack", "stage", "median ms", "p95 ms"], rows)


if __name__ == "__main__":
    main()

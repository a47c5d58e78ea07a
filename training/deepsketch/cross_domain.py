"""How a tu-berlin pack does on drawings made the Quick, Draw! way, the way people draw in the app.

The drawings are the held-out ones of :func:`.mixed.held_out_quickdraw`: per Quick, Draw! class that
TU-Berlin shares (the reviewed name map), its first :data:`.mixed.HELD_OUT` non-empty drawings,
which the mixed training never sees. The pack runs as shipped, through the app's :class:`Engine`
(strokes rendered by the app's preprocessing, int8 where the pack is). A drawing counts as right
when the class is any TU-Berlin class its Quick, Draw! class maps to (bird: flying or standing).

    python -m training.deepsketch.cross_domain [resources/packs/tu-berlin] [--record]
"""
from __future__ import annotations

import argparse
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from sketchpad.engine import Engine, stack_inputs
from sketchpad.pack import load_pack
from training.export import record_metrics, shipped_models

from ..trust_sets import DATA
from .mixed import HELD_OUT, SharedClasses, held_out_quickdraw, training_quickdraw

log = logging.getLogger("deepsketch.cross_domain")
REPO = Path(__file__).resolve().parents[2]


def ranks_of_right(scores: np.ndarray, right: list[list[int]]) -> np.ndarray:
    """1-based rank of the best-placed right class of each row (``len + 1`` never happens)."""
    order = np.argsort(-scores, axis=1)
    out = np.empty(len(scores), np.int64)
    for i, targets in enumerate(right):
        out[i] = int(np.flatnonzero(np.isin(order[i], targets))[0]) + 1
    return out


#: Upper edges of the class groups of :func:`by_training_size` (the last group is open).
SIZE_EDGES = (0, 20, 60)


def by_training_size(rank: np.ndarray, names: Sequence[str], trained: Mapping[str, int],
                     edges: Sequence[int] = SIZE_EDGES) -> dict[str, dict[str, float]]:
    """Top-1 of the held-out drawings grouped by how many drawings of their Quick, Draw! class
    the mixed training saw (``trained``; a missing class saw none): where the accuracy on quick
    drawings comes from, and so what more of which data would buy."""
    names = np.asarray(names)
    counts = np.array([trained.get(q, 0) for q in names])
    out = {}
    for lo, hi in zip((0, *(e + 1 for e in edges)), (*edges, None)):
        hit = (counts >= lo) & (counts <= (np.inf if hi is None else hi))
        if hit.any():
            label = str(lo) if lo == hi else f"{lo}+" if hi is None else f"{lo}-{hi}"
            out[label] = {"classes": len(set(names[hit])), "drawings": int(hit.sum()),
                          "top1": float((rank[hit] == 1).mean())}
    return out


def cross_domain(pack_dir: Path, root: Path = DATA / "quickdraw", batch: int = 64,
                 threads: int = 0) -> dict[str, Any]:
    """Top-1 and MAP@3 of the pack on the held-out Quick, Draw! drawings of the shared classes."""
    pack = load_pack(pack_dir)
    engine = Engine(pack, prefer_gpu=False, threads=threads)
    classes = SharedClasses.read(list(pack.classes), root)
    drawings, right = held_out_quickdraw(classes, list(pack.classes))
    scores = []
    for i in tqdm(range(0, len(drawings), batch), desc=f"{pack.name} on Quick, Draw!", mininterval=5):
        feeds = stack_inputs([engine.inputs_for(s) for s in drawings.items[i:i + batch]])
        scores.append(np.stack([p.probs for p in engine.predictions(engine.run_all(feeds))]))
    rank = ranks_of_right(np.concatenate(scores), right)
    return {"pack": pack.name, "drawings": len(drawings), "classes": len(set(drawings.names)),
            "top1": float((rank == 1).mean()),
            "map3": float(np.where(rank <= 3, 1.0 / rank, 0.0).mean()),
            "top1_by_training_drawings": by_training_size(
                rank, drawings.names, Counter(training_quickdraw(classes, list(pack.classes))[0].names))}


def record(pack_dir: Path, result: dict[str, Any]) -> None:
    kind = shipped_models(load_pack(pack_dir).manifest)
    protocol = (f"the pack as shipped ({kind}) through the app's Engine on {result['drawings']} "
                f"held-out Quick, Draw! drawings of the {result['classes']} classes TU-Berlin shares "
                f"(the first {HELD_OUT} non-empty drawings of each class's simplified ndjson, never "
                "trained on; name map training/quickdraw_tu_berlin.json; right = any mapped class)")
    record_metrics(pack_dir, {
        "quickdraw_heldout_top1": {"value": result["top1"], "protocol": "top-1 of " + protocol},
        "quickdraw_heldout_map3": {"value": result["map3"], "protocol": "MAP@3 of " + protocol}},
        "python -m training.deepsketch.cross_domain --record")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pack", nargs="?", type=Path, default=REPO / "resources" / "packs" / "tu-berlin")
    ap.add_argument("--root", type=Path, default=DATA / "quickdraw")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--record", action="store_true", help="write the figures into the manifest")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    result = cross_domain(args.pack, args.root, threads=args.threads)
    print(json.dumps(result, indent=2))
    if args.record:
        record(args.pack, result)


if __name__ == "__main__":
    main()

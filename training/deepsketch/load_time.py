"""Time to make a pack usable in the app: load_pack (with sha256 checks) + Engine + gallery +
Searcher, and one query; prints the figures (the issue asks for under 1 s on load)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from sketchpad.engine import Engine
from sketchpad.pack import load_gallery, load_pack
from sketchpad.search import Searcher


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("pack", type=Path, nargs="?", default=Path("resources/packs/tu-berlin"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        pack = load_pack(args.pack)
        t1 = time.perf_counter()
        engine = Engine(pack, prefer_gpu=False)
        t2 = time.perf_counter()
        gallery = load_gallery(pack)
        searcher = Searcher(pack, gallery["labels"])
        t3 = time.perf_counter()
        pred = engine.predict(np.where(gallery["thumbnails"][0] > 0, 0, 255).astype(np.uint8))
        searcher.query_all(pred.features, k=10)
        t4 = time.perf_counter()
        print(f"load_pack {t1 - t0:.3f} s, Engine {t2 - t1:.3f} s, gallery+Searcher {t3 - t2:.3f} s, "
              f"total load {t3 - t0:.3f} s; first predict+search {t4 - t3:.3f} s")


if __name__ == "__main__":
    main()

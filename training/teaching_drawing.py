"""Quick, Draw! drawings a pack has not seen, for measuring it as a live app meets sketches.

Two uses in :mod:`training.teaching_assets`:

* "accuracy while drawing" for a pack that was not trained on Quick, Draw! (TU-Berlin): the
  TU-Berlin pictures have no stroke order, so the curve is measured on Quick, Draw! drawings of
  the classes both datasets share, stroke by stroke, and labelled as such;
* new drawings to check the map's placement of a sketch that is not in the gallery.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from sketchpad.engine import Engine, stack_inputs
from sketchpad.ink import Sketch, iter_ndjson

#: TU-Berlin names whose Quick, Draw! word differs by more than case, hyphens, spaces or a
#: parenthesis (checked by eye against the two class lists; no guessing beyond these).
ALIASES = {"tv": "television", "computer-mouse": "mouse", "ice-cream-cone": "ice cream"}
FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def _key(name: str) -> str:
    """``bear (animal)`` / ``head-phones`` → ``bear`` / ``headphones``."""
    return re.sub(r"[^a-z]", "", re.sub(r"\s*\(.*\)", "", name.lower()))


def shared_classes(pack_classes: Sequence[str], quickdraw_dir: Path) -> dict[str, Path]:
    """Pack class → its Quick, Draw! simplified ndjson file, for the classes both have."""
    files = {_key(p.stem.replace("_", " ")): p for p in sorted(quickdraw_dir.glob("*.ndjson"))}
    out = {}
    for name in pack_classes:
        f = files.get(_key(ALIASES.get(name, name)))
        if f is not None:
            out[name] = f
    return out


def drawings(files: dict[str, Path], per_class: int, skip: Iterable[str] = ()
             ) -> tuple[list[Sketch], list[str]]:
    """Up to ``per_class`` drawings of each class in file order (the game's recognised and
    unrecognised ones alike), leaving out the key ids in ``skip`` (a gallery's own)."""
    skip = set(skip)
    sketches, names = [], []
    for name, path in files.items():
        n = 0
        for s in iter_ndjson(path):
            if n >= per_class:
                break
            if s.is_empty or s.source_id in skip:
                continue
            sketches.append(s)
            names.append(name)
            n += 1
    return sketches, names


def run_batched(engine: Engine, sketches: Sequence[Sketch], batch: int = 64
                ) -> dict[str, dict[str, np.ndarray]]:
    """Every model's outputs for many sketches, through the app's own engine (preprocessing
    and all)."""
    parts: dict[str, dict[str, list[np.ndarray]]] = {}
    for a in range(0, len(sketches), batch):
        out = engine.run_all(stack_inputs([engine.inputs_for(s) for s in sketches[a:a + batch]]))
        for model, outputs in out.items():
            for name, value in outputs.items():
                parts.setdefault(model, {}).setdefault(name, []).append(value)
    return {m: {n: np.concatenate(v) for n, v in o.items()} for m, o in parts.items()}


def answer(outputs: dict[str, dict[str, np.ndarray]]) -> np.ndarray:
    """The pack's answer (fusion when it has one, else the convnet) as class indices."""
    return outputs["fusion" if "fusion" in outputs else "convnet"]["logits"].argmax(1)


def accuracy_while_drawing(engine: Engine, sketches: Sequence[Sketch], names: Sequence[str],
                           fractions: Sequence[float] = FRACTIONS) -> dict[str, float]:
    """Top-1 accuracy of the pack's answer when only the first ``fraction`` of each drawing's
    strokes is there (:meth:`Sketch.prefix`, at least one stroke)."""
    classes = engine.pack.classes
    truth = np.array([classes.index(n) for n in names])
    out = {}
    for f in fractions:
        got = answer(run_batched(engine, [s.prefix(f) for s in sketches]))
        out[str(f)] = float((got == truth).mean())
    return out

"""The labelled drawings of issue 18's calibration and open-set protocol, per pack.

Every pack gets four sets (plus a fifth for TU-Berlin), each a list of drawings with a pack
class index (``-1`` = not one of the pack's classes):

* ``fit`` — held-out known drawings to fit on (temperature, known score), never the test split:
  the DSN validation split (quickdraw pack); the calibration half of the trained split's test set
  (tu-berlin pack, whose only held-out sketches are that test set);
* ``test`` — the pack's own test split (tu-berlin: the other half), for every reported figure;
* ``unknown_a`` / ``unknown_b`` — Quick, Draw! classes the pack lacks, split *by class* with
  :data:`SEED`: half A may be used as a background for fitting, half B only for evaluation;
* ``shared_a`` / ``shared_b`` (tu-berlin) — Quick, Draw! drawings of the classes TU-Berlin shares
  (by the reviewed name map :data:`NAME_MAP`), labelled with the TU-Berlin class and split by
  class like the unknowns: known classes drawn as the app draws them (strokes rendered), not as
  TU-Berlin's scans. Half A joins the known drawings for fitting, so the known score cannot learn
  "rendered strokes = unknown" (the style every drawing made in the app has); half B is reported.

Unknown classes take at most :data:`PER_CLASS` drawings each (the first ones of each
``simplified/*.ndjson``, empty drawings skipped), so the few big classes do not dominate; shared
classes their first :data:`training.deepsketch.mixed.HELD_OUT`, which the mixed training of the
shipped tu-berlin network keeps out.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from sketchpad.datasets.quickdraw import class_name, iter_ndjson
from sketchpad.datasets.tu_berlin import TuBerlin, read_png
from sketchpad.engine import Engine, stack_inputs
from sketchpad.ink import Sketch
from sketchpad.pack import Pack
from sketchpad.preprocess import ConvNetRaster, OrderRaster

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
NAME_MAP = Path(__file__).with_name("quickdraw_tu_berlin.json")
#: Seed of the by-class A/B split of the unknown classes and of the TU-Berlin test halves.
SEED = 18
PER_CLASS = 25


def fold(name: str) -> str:
    """Case, spaces, underscores and hyphens folded (as the CLI compares class names)."""
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


@dataclass
class Drawings:
    """Drawings (a :class:`Sketch`, or the PNG path of a scanned page) and pack class indices;
    ``names`` is the source class name of each (the Quick, Draw! word for unknowns)."""

    items: list[Sketch | Path] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def add(self, item: Sketch | Path, label: int, name: str) -> None:
        self.items.append(item)
        self.labels.append(label)
        self.names.append(name)

    def __len__(self) -> int:
        return len(self.items)

    def source_ids(self) -> set[str]:
        """Dataset ids (Quick, Draw! key_id, TU-Berlin file number), as the gallery stores them."""
        return {x.stem if isinstance(x, Path) else str(x.source_id) for x in self.items}

    def split_by_class(self) -> tuple["Drawings", "Drawings"]:
        """Half A and half B of these drawings, by :func:`split_by_class` of their class names."""
        a_names, _ = split_by_class(sorted(set(self.names)))
        a, b = Drawings(), Drawings()
        for item, label, name in zip(self.items, self.labels, self.names):
            (a if name in a_names else b).add(item, label, name)
        return a, b


@dataclass
class Protocol:
    """The sets of one pack and the sentences that describe how they were drawn."""

    sets: dict[str, Drawings]
    describe: dict[str, str]
    unknown_classes: dict[str, list[str]]


@dataclass
class Outputs:
    """Raw (uncalibrated) logits per model and search features per depth, in set order."""

    logits: dict[str, np.ndarray]
    features: dict[str, np.ndarray]
    labels: np.ndarray

    def take(self, mask: np.ndarray) -> "Outputs":
        return Outputs({m: v[mask] for m, v in self.logits.items()},
                       {d: v[mask] for d, v in self.features.items()}, self.labels[mask])


def quickdraw_files(root: Path) -> dict[str, Path]:
    """Quick, Draw! class name → its simplified ndjson, in name order."""
    return {class_name(p): p for p in sorted((root / "simplified").glob("*.ndjson"))}


def non_empty(path: Path) -> Iterator[Sketch]:
    """The drawings of a ``simplified/*.ndjson`` in file order, empty ones skipped."""
    return (s for s in iter_ndjson(path) if not s.is_empty)


def first_drawings(path: Path, n: int = PER_CLASS) -> Iterator[Sketch]:
    return islice(non_empty(path), n)


def split_by_class(names: list[str], seed: int = SEED) -> tuple[list[str], list[str]]:
    """Half A (background) and half B (evaluation only) of ``names``, by a seeded permutation."""
    order = np.random.default_rng(seed).permutation(len(names))
    half = len(names) // 2
    return sorted(names[i] for i in order[:half]), sorted(names[i] for i in order[half:])


def read_name_map(path: Path = NAME_MAP) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def tu_berlin_matches(qd_names: list[str], tu_classes: list[str], name_map: dict[str, Any]
                      ) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Quick, Draw! class → the TU-Berlin classes it is (folded equality, then the reviewed
    synonyms), and the ambiguous Quick, Draw! classes left out of both roles with the reason."""
    by_fold = {fold(c): c for c in tu_classes}
    synonyms = {fold(k): v for k, v in name_map["synonyms"].items()}
    excluded = {fold(k): v for k, v in name_map["excluded"].items()}
    shared, left_out = {}, {}
    for q in qd_names:
        f = fold(q)
        if f in synonyms:
            missing = [t for t in synonyms[f] if t not in tu_classes]
            if missing:
                raise ValueError(f"{NAME_MAP.name}: {q} maps to {missing}, not TU-Berlin classes")
            shared[q] = list(synonyms[f])
        elif f in by_fold:
            shared[q] = [by_fold[f]]
        elif f in excluded:
            left_out[q] = excluded[f]
    return shared, left_out


def unknown_halves(known_classes: list[str], root: Path = DATA / "quickdraw") -> tuple[list[str], list[str]]:
    """Half A (background) and half B (evaluation only) of the Quick, Draw! classes a Quick,
    Draw! pack lacks. A trainer adding an outlier-exposure background must draw it from half A
    only, so that half B stays unseen in every role."""
    known = {fold(c) for c in known_classes}
    return split_by_class([n for n in quickdraw_files(root) if fold(n) not in known])


def unknown_drawings(files: dict[str, Path], names: list[str], per_class: int = PER_CLASS) -> Drawings:
    d = Drawings()
    for n in names:
        for s in first_drawings(files[n], per_class):
            d.add(s, -1, n)
    return d


def quickdraw_protocol(pack: Pack, root: Path) -> Protocol:
    """The DSN pack: its own validation and test splits, read again with the pack's recorded
    data protocol (``dataset.split``), and the Quick, Draw! classes it lacks."""
    from training.dsn.data import collect
    from training.dsn.evaluate import data_config

    split = pack.manifest["dataset"]["split"]
    cfg = data_config({"data": split})
    recorded = Path(split.get("root") or root)
    classes, splits, _ = collect(recorded if recorded.is_dir() else root, cfg)
    if classes != pack.classes:
        raise ValueError(f"{pack.name}: the recorded data protocol gives classes {classes}, "
                         f"the pack has {pack.classes}")
    counts = pack.manifest["dataset"].get("split_counts", {})
    for k in ("val", "test"):
        got = np.bincount(splits[k].labels, minlength=len(classes)).tolist()
        if counts.get(k) and got != counts[k]:
            raise ValueError(f"{pack.name}: the {k} split read again has {got} drawings per "
                             f"class, the manifest recorded {counts[k]}")
    sets = {k: Drawings(list(splits[s].sketches), list(splits[s].labels),
                        [classes[y] for y in splits[s].labels])
            for k, s in (("fit", "val"), ("test", "test"))}
    files = quickdraw_files(root)
    a, b = unknown_halves(pack.classes, root)
    sets["unknown_a"], sets["unknown_b"] = unknown_drawings(files, a), unknown_drawings(files, b)
    describe = {
        "fit": f"validation split of the pack's data protocol ({len(sets['fit'])} drawings: "
               f"10 % of each class, capped at {cfg.val_cap}, seed {cfg.seed}; never trained on)",
        "test": f"the pack's test split ({len(sets['test'])} drawings, disjoint from training "
                f"and validation)",
    }
    return Protocol(sets, describe, {"a": a, "b": b})


def tu_berlin_protocol(pack: Pack, root: Path) -> Protocol:
    """The DeepSketch pack: the trained split's test set cut in two halves per class with
    :data:`SEED` (calibration half = ``fit``, report half = ``test``); unknown = Quick, Draw!
    classes TU-Berlin lacks; ``shared`` = Quick, Draw! drawings of the classes it shares."""
    from training.deepsketch.data import split_indices
    from training.deepsketch.mixed import HELD_OUT, SharedClasses, held_out_quickdraw

    train = pack.manifest["training"]
    split = int(train.get("split", 1))
    per_class = int(train.get("config", {}).get("train_per_class", 53))
    ds = TuBerlin(root / "tu-berlin")
    if ds.categories != pack.classes:
        raise ValueError(f"{pack.name}: its classes are not TU-Berlin's in categories.txt order")
    items = list(ds.items())
    labels = np.array([it.label for it in items])
    _, test_idx = split_indices(labels, split, per_class)
    rng = np.random.default_rng(SEED)
    sets = {"fit": Drawings(), "test": Drawings()}
    for c in range(len(pack.classes)):
        idx = rng.permutation(test_idx[labels[test_idx] == c])
        half = len(idx) // 2
        for role, part in (("fit", idx[:half]), ("test", idx[half:])):
            for i in sorted(part):
                sets[role].add(items[i].path, c, items[i].name)
    files = quickdraw_files(root / "quickdraw")
    shared, left_out = tu_berlin_matches(list(files), pack.classes, read_name_map())
    # the drawings the shipped (mixed) network never trained on, for every tu-berlin pack alike
    both, _ = held_out_quickdraw(SharedClasses(files, shared, []), list(pack.classes))
    sets["shared_a"], sets["shared_b"] = both.split_by_class()
    a, b = split_by_class([n for n in files if n not in shared and n not in left_out])
    sets["unknown_a"], sets["unknown_b"] = unknown_drawings(files, a), unknown_drawings(files, b)
    n_test = len(test_idx)
    describe = {
        "fit": f"calibration half of the TU-Berlin split {split} test set ({len(sets['fit'])} of "
               f"{n_test} sketches: per class a permutation with seed {SEED}, the first half; "
               f"the split's other {per_class} per class trained the network)",
        "test": f"report half of the same test set ({len(sets['test'])} sketches, the other half "
                f"of each class)",
        "shared": f"Quick, Draw! drawings of the {len(shared)} classes TU-Berlin shares "
                  f"({len(both)} drawings, the first {HELD_OUT} of each class, held out of the "
                  f"mixed training of training.deepsketch.mixed; name map "
                  f"{NAME_MAP.relative_to(REPO)}: folded-name equality plus reviewed synonyms; "
                  f"{len(left_out)} ambiguous classes left out of every role), split by class "
                  f"with seed {SEED}: half A ({len(sets['shared_a'])}) joins the known drawings "
                  f"for fitting, half B ({len(sets['shared_b'])}) is reported",
    }
    return Protocol(sets, describe, {"a": a, "b": b, "left_out": sorted(left_out)})


def is_tu_berlin(pack: Pack) -> bool:
    """A pack trained on TU-Berlin (by its manifest): its protocol, its unknown classes and its
    held-out Quick, Draw! drawings are the reviewed name map's and :mod:`training.deepsketch.mixed`'s."""
    return pack.manifest.get("dataset", {}).get("name") == "tu-berlin"


def protocol_for(pack: Pack, data_root: Path = DATA) -> Protocol:
    """The DSN protocol for stroke-order packs, the TU-Berlin one for raster packs."""
    pre = pack.models["convnet"].preprocess
    if isinstance(pre, OrderRaster):
        return quickdraw_protocol(pack, data_root / "quickdraw")
    if isinstance(pre, ConvNetRaster) and is_tu_berlin(pack):
        return tu_berlin_protocol(pack, data_root)
    raise ValueError(f"{pack.name}: no calibration protocol for this kind of pack")


def run_engine(engine: Engine, drawings: Drawings, batch: int = 128) -> Outputs:
    """The shipped models on every drawing, batched through :meth:`Engine.run_all`; raw logits."""
    logits: dict[str, list[np.ndarray]] = {}
    feats: dict[str, list[np.ndarray]] = {d: [] for d in engine.pack.features}
    for i in range(0, len(drawings), batch):
        chunk = drawings.items[i:i + batch]
        feeds = [engine.inputs_for(read_png(x) if isinstance(x, Path) else x) for x in chunk]
        out = engine.run_all(stack_inputs(feeds))
        for m, o in out.items():
            logits.setdefault(m, []).append(o["logits"])
        for d, spec in engine.pack.features.items():
            feats[d].append(out["convnet"][spec.output])
    return Outputs({m: np.concatenate(v) for m, v in logits.items()},
                   {d: np.concatenate(v) for d, v in feats.items()},
                   np.asarray(drawings.labels, np.int64))

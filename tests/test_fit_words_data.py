"""Which drawings fit and test a TU-Berlin pack's taught words: the reviewed name map decides what
is unknown, and its known drawings are held-out Quick, Draw! ones, drawn as words are taught."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from sketchpad.datasets.tu_berlin import TuBerlin
from sketchpad.words_store import clash_key
from training.deepsketch.mixed import HELD_OUT, SharedClasses, training_quickdraw
from training.fit_words import held_out_half, is_tu_berlin, unknown_classes, unknown_classes_of


@pytest.fixture(scope="module")
def tu_pack(data_root: Path) -> SimpleNamespace:
    return SimpleNamespace(classes=TuBerlin(data_root / "tu-berlin").categories,
                           manifest={"dataset": {"name": "tu-berlin"}})


def test_unknown_classes_of_a_tu_berlin_pack_follow_the_name_map(tu_pack, data_root: Path):
    assert is_tu_berlin(tu_pack)
    evaluation, pool = unknown_classes(data_root / "quickdraw", tu_pack)
    names = {clash_key(n) for n in evaluation + pool}
    assert len(evaluation) == 20 and not set(evaluation) & set(pool)
    assert "bear" not in names and "airplane" not in names  # synonym / same name: TU-Berlin knows them
    shared = SharedClasses.read(list(tu_pack.classes), data_root / "quickdraw").shared
    assert not names & {clash_key(q) for q in shared}


def test_val_and_test_halves_are_held_out_drawings(tu_pack, data_root: Path):
    root = data_root / "quickdraw"
    val, test = (held_out_half(tu_pack, root, s) for s in ("val", "test"))
    assert len(val[0]) == len(test[0]) > 0 and len(val[0]) % (HELD_OUT // 2) == 0
    key = lambda s: s.source_id  # the Quick, Draw! key_id
    assert not {key(s) for s in val[0]} & {key(s) for s in test[0]}
    known, _ = training_quickdraw(SharedClasses.read(list(tu_pack.classes), root), list(tu_pack.classes))
    assert not {key(s) for s in val[0] + test[0]} & {key(s) for s in known.items}


def test_the_pool_leaves_out_what_the_network_trained_on_and_the_evaluation_stays(data_root: Path):
    root = data_root / "quickdraw"
    classes = ["airplane", "bicycle", "calculator"]
    evaluation, pool = unknown_classes_of(root, classes)
    seen = pool[::3] + evaluation[:1]  # an evaluation class in a background is not the pool's to drop
    pack = SimpleNamespace(classes=classes, manifest={"training": {"config": {
        "outlier_exposure": {"background_classes": seen}}}})
    evaluation_after, pool_after = unknown_classes(root, pack)
    assert evaluation_after == evaluation
    assert pool_after == [c for c in pool if c not in set(seen)]
    assert len(pool_after) == len(pool) - len(pool[::3])

"""Taught words: names, storage that survives a kill, isolation of bad files, and recognition by
a real pack after a restart (a new :class:`Words` reading the folder)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sketchpad.engine import Engine
from sketchpad.ink import Sketch, Stroke, iter_ndjson, write_ndjson
from sketchpad.pack import PackError, load_pack
from sketchpad.runtime import LoadedPack
from sketchpad.words import (WORD_ID_BASE, Words, WordsError, fit_word_logits, read_word_model)
from sketchpad.words_store import (WordStore, atomic_write, check_name, clash_key, default_words_dir,
                                   encode_examples, read_word_file)

ROOT = Path(__file__).resolve().parents[1]
QUICKDRAW = ROOT / "resources" / "packs" / "quickdraw"


def drawings(data_root: Path, name: str, n: int, skip: int = 0) -> list[Sketch]:
    found = iter_ndjson(data_root / "quickdraw" / "simplified" / f"{name}.ndjson")
    return [s for i, s in zip(range(skip + n), found) if i >= skip]


@pytest.fixture(scope="module")
def tiny(tiny_pack_dir: Path) -> LoadedPack:
    return LoadedPack.open(tiny_pack_dir, prefer_gpu=False)


@pytest.fixture(scope="module")
def quickdraw() -> LoadedPack:
    return LoadedPack.open(QUICKDRAW, prefer_gpu=False)


def words_of(pack: LoadedPack, root: Path) -> Words:
    return Words(pack.pack, pack.engine, root, pack.gallery)


# --- names ---------------------------------------------------------------------------------------
def test_names_fold_case_spaces_underscores_and_hyphens() -> None:
    assert clash_key("Snow man") == clash_key("snow_man") == clash_key("SNOW-MAN") \
        == clash_key("snowman")
    assert check_name("  ice   cream ") == "ice cream"


@pytest.mark.parametrize("bad", ["", "   ", "x" * 65, "bell\x07", "---", "_ _"])
def test_bad_names_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(WordsError):
        check_name(bad)


def test_default_folder_follows_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SKETCHPAD_WORDS", str(tmp_path / "w"))
    assert default_words_dir() == tmp_path / "w"


# --- files ---------------------------------------------------------------------------------------
def test_bad_words_files_are_isolated_and_reported(data_root: Path, tmp_path: Path) -> None:
    store = WordStore(tmp_path, "tiny", ["apple", "candle", "star"])
    good = store.write("House", encode_examples("House", drawings(data_root, "house", 2)))
    folder = store.folder
    (folder / "garbage.ndjson").write_bytes(b'{"word": "garbage", "drawing": [[[1, 2]')
    (folder / "empty.ndjson").write_bytes(b"")
    (folder / "mixed.ndjson").write_text(
        '{"word":"mixed","drawing":[[[0,9],[0,9]]]}\n{"word":"other","drawing":[[[0,9],[0,9]]]}\n')
    (folder / "blank.ndjson").write_text('{"word":"blank","drawing":[]}\n')
    (folder / "Foreign.ndjson").write_text('{"word":"Foreign","drawing":[[[0,9],[0,9]]]}\n')
    (folder / "star.ndjson").write_text('{"word":"Star","drawing":[[[0,9],[0,9]]]}\n')
    (folder / ".house.ndjson.x1.tmp").write_bytes(b"half a line")
    words, problems = store.scan()
    assert [w.name for w in words] == ["House"] and words[0].digest == good.digest
    reasons = {p.path.name: p.reason for p in problems}
    assert set(reasons) == {"garbage.ndjson", "empty.ndjson", "mixed.ndjson", "blank.ndjson",
                            "Foreign.ndjson", "star.ndjson"}
    assert "not valid JSON" in reasons["garbage.ndjson"]
    assert "no examples" in reasons["empty.ndjson"]
    assert "one word" in reasons["mixed.ndjson"]
    assert "empty drawing" in reasons["blank.ndjson"]
    assert "foreign.ndjson" in reasons["Foreign.ndjson"]
    assert "class" in reasons["star.ndjson"]


def test_empty_drawings_and_no_examples_are_refused(tmp_path: Path) -> None:
    with pytest.raises(WordsError, match="example 2 .* empty drawing"):
        encode_examples("x", [Sketch((Stroke.from_xy([0, 5], [0, 5]),)), Sketch()])
    with pytest.raises(WordsError, match="at least one example"):
        WordStore(tmp_path, "p").write("x", [])


_WRITER = """
import sys
from pathlib import Path
from sketchpad.words_store import atomic_write
path, a, b = Path(sys.argv[1]), Path(sys.argv[2]).read_bytes(), Path(sys.argv[3]).read_bytes()
print("ready", flush=True)
while True:
    atomic_write(path, a)
    atomic_write(path, b)
"""


def test_a_words_file_survives_a_kill_during_a_write(data_root: Path, tmp_path: Path) -> None:
    """A child process rewrites one words file over and over (two versions of a few MB) and is
    killed while a temporary file exists, i.e. mid-write: the file is whole, one version or
    the other, and reads back as a word."""
    store = WordStore(tmp_path / "words", "p")
    sketches = drawings(data_root, "cat", 1500)
    a = b"".join(encode_examples("cat-ish", sketches[:1000]))
    b = b"".join(encode_examples("cat-ish", sketches[500:]))
    (tmp_path / "a").write_bytes(a)
    (tmp_path / "b").write_bytes(b)
    target = store.path_for("cat-ish")
    atomic_write(target, a)
    for attempt in range(5):
        child = subprocess.Popen([sys.executable, "-c", _WRITER, str(target), str(tmp_path / "a"),
                                  str(tmp_path / "b")], stdout=subprocess.PIPE, cwd=ROOT)
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + 30
        while not list(target.parent.glob(".*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.001)
        child.send_signal(signal.SIGKILL)
        child.wait()
        leftovers = list(target.parent.glob(".*.tmp"))
        if leftovers:  # killed with a write in flight
            break
    assert leftovers, "the writer was never caught mid-write"
    assert target.read_bytes() in (a, b)
    word = read_word_file(target)
    assert word.name == "cat-ish" and word.n_examples == 1000
    words, problems = store.scan()
    assert [w.name for w in words] == ["cat-ish"] and not problems


# --- words on a real pack ------------------------------------------------------------------------
def test_a_taught_word_is_recognised_after_a_restart(quickdraw: LoadedPack, data_root: Path,
                                                     tmp_path: Path) -> None:
    """Teach "house" (the quickdraw pack does not know it) from 5 drawings; a new Words object
    reading the folder recognises the examples and most other houses, among the pack's classes."""
    examples = drawings(data_root, "house", 5)
    held_out = drawings(data_root, "house", 10, skip=5)
    before = [quickdraw.engine.predict(s) for s in held_out]
    words_of(quickdraw, tmp_path).add("House", examples)

    again = words_of(quickdraw, tmp_path)  # the restart: nothing but the folder is shared
    assert again.names == ["House"] and not again.problems
    for s in examples:
        assert again.extend(quickdraw.engine.predict(s)).top(1)[0][0] == "House"
    after = [again.extend(p) for p in before]
    assert sum(p.top(1)[0][0] == "House" for p in after) >= 6
    assert sum("House" in dict(p.top(3)) for p in after) >= 8
    assert all(a.known >= b.known for a, b in zip(after, before))
    for p, b in zip(after, before):
        assert p.classes == [*quickdraw.pack.classes, "House"]
        assert p.probs.shape == p.logits.shape == (len(p.classes),)
        assert np.isclose(p.probs.sum(), 1.0, atol=1e-5)
        assert p.per_model.keys() == b.per_model.keys()


def test_a_taught_word_takes_few_drawings_from_the_pack(quickdraw: LoadedPack, data_root: Path,
                                                       tmp_path: Path) -> None:
    words = words_of(quickdraw, tmp_path)
    words.add("house", drawings(data_root, "house", 5))
    cats = drawings(data_root, "cat", 40)
    assert sum(words.extend(quickdraw.engine.predict(s)).top(1)[0][0] == "house" for s in cats) <= 2


def test_the_shipped_model_matches_its_pack() -> None:
    pack = load_pack(QUICKDRAW)
    engine = Engine(pack, prefer_gpu=False)
    model = read_word_model(pack, engine)
    if model is None:
        pytest.skip("the quickdraw pack's words section is stale (re-run training.fit_words)")
    assert model.projection is not None and model.weights[0] > 0
    bad = replace(pack, manifest={**pack.manifest, "words": {**pack.manifest["words"],
                                                             "inputs": ["deep"]}})
    with pytest.raises(PackError, match="inputs"):
        read_word_model(bad, engine)
    stale = replace(pack, manifest={**pack.manifest, "words": {**pack.manifest["words"],
                                                               "fitted_with": {}}})
    assert read_word_model(stale, engine) is None


# --- words on the tiny pack (fallback model, API) ------------------------------------------------
def test_changes_are_on_disk_and_in_memory_at_once(tiny: LoadedPack, data_root: Path,
                                                   tmp_path: Path) -> None:
    words = words_of(tiny, tmp_path)
    house = drawings(data_root, "house", 6)
    info = words.add("House", house[:3])
    assert (info.name, info.examples) == ("House", 3) and info.path.is_file()
    assert words.add("house", house[3:]).examples == 6          # folded: the same word
    with pytest.raises(WordsError, match="already a word"):
        words.add("HOUSE", house[:1], new=True)
    with pytest.raises(WordsError, match="already a class"):
        words.add(" Star ", house[:1])
    with pytest.raises(WordsError, match="no examples"):
        words.add("tree", [])
    with pytest.raises(WordsError, match="empty drawing"):
        words.add("tree", [house[0], Sketch()])
    assert words.names == ["House"] and not (words.folder / "tree.ndjson").exists()

    words.add("hut", house[:2])
    with pytest.raises(WordsError, match="already a word"):
        words.rename("hut", "House")
    renamed = words.rename("hut", "Little hut")
    assert renamed.path.name == "littlehut.ndjson" and not (words.folder / "hut.ndjson").exists()
    assert [s.label for s in words.examples("little-hut")] == ["Little hut"] * 2
    assert words.remove_example("Little hut", 0).examples == 1
    assert words.remove_example("Little hut", 0) is None
    assert words.names == ["House"]

    exported = words.export("house", tmp_path / "out.ndjson")
    assert [s.strokes for s in iter_ndjson(exported)] == [s.strokes for s in house]
    assert words.remove("HOUSE") == "House" and words.names == []
    assert not list(words.folder.glob("*.ndjson")) and not list(words.folder.glob("*.npz"))
    with pytest.raises(WordsError, match="no word"):
        words.remove("house")


def test_import_takes_the_files_own_word_or_refuses_a_mixed_file(tiny: LoadedPack,
                                                                 data_root: Path,
                                                                 tmp_path: Path) -> None:
    words = words_of(tiny, tmp_path / "words")
    one = tmp_path / "houses.ndjson"
    write_ndjson(drawings(data_root, "house", 3), one)
    assert words.import_file(one).name == "house"
    mixed = tmp_path / "mixed.ndjson"
    write_ndjson(drawings(data_root, "house", 2) + drawings(data_root, "axe", 2), mixed)
    with pytest.raises(WordsError, match="2 words"):
        words.import_file(mixed)
    assert words.import_file(mixed, "things").examples == 4


def test_a_damaged_file_blocks_only_its_own_word(tiny: LoadedPack, data_root: Path,
                                                 tmp_path: Path) -> None:
    words = words_of(tiny, tmp_path)
    words.add("house", drawings(data_root, "house", 3))
    (words.folder / "axe.ndjson").write_text('{"word": "axe", "drawing": 12}\n')
    again = words_of(tiny, tmp_path)
    assert again.names == ["house"] and [p.path.name for p in again.problems] == ["axe.ndjson"]
    assert "house" in again.extend(tiny.engine.predict(drawings(data_root, "house", 1)[0])).classes
    with pytest.raises(WordsError, match="damaged"):
        again.add("Axe", drawings(data_root, "axe", 1))
    assert again.remove("axe") == "axe" and not again.problems
    assert again.add("Axe", drawings(data_root, "axe", 1)).examples == 1


def test_features_are_cached_by_content_and_recomputed_when_stale(tiny: LoadedPack,
                                                                  data_root: Path, tmp_path: Path,
                                                                  monkeypatch) -> None:
    words = words_of(tiny, tmp_path)
    words.add("house", drawings(data_root, "house", 3))
    cache = words.folder / "house.features.npz"
    assert cache.is_file()
    import sketchpad.words as module

    def no_embedding(*_a, **_k):
        raise AssertionError("the cache should have been used")
    with monkeypatch.context() as m:
        m.setattr(module, "embed", no_embedding)
        assert words_of(tiny, tmp_path).names == ["house"]
    cache.write_bytes(b"not an npz")
    assert words_of(tiny, tmp_path).names == ["house"]     # embedded again
    with np.load(cache) as data:
        assert set(data.files) >= {"digest", "fingerprint", "feature_high", "feature_logits"}


def test_word_examples_are_neighbours_beside_the_gallery(tiny: LoadedPack, data_root: Path,
                                                          tmp_path: Path) -> None:
    pack = LoadedPack(tiny.pack, prefer_gpu=False, words_dir=tmp_path)
    house = drawings(data_root, "house", 4)
    pack.words.add("house", house)
    analysis = pack.analyse(house[0], k=5)
    n = len(pack.pack.classes)
    for depth, found in analysis.neighbours.items():
        assert len(found) == 5
        assert [f.distance for f in found] == sorted(f.distance for f in found)
        assert found[0].gallery_id >= WORD_ID_BASE and found[0].label == n
        assert found[0].distance == pytest.approx(0.0, abs=1e-3)    # the drawing itself
    ids = {f.gallery_id for found in analysis.neighbours.values() for f in found}
    assert ids <= analysis.pictures.keys()
    word_id = analysis.neighbours["high"][0].gallery_id
    assert pack.label_name(word_id) == "house" and pack.source_id(word_id).startswith("word:house#")
    assert analysis.pictures[word_id].shape == (64, 64) and analysis.pictures[word_id].max() > 0
    assert pack.words.example_at(word_id)[2].strokes == house[pack.words.example_at(word_id)[1]].strokes
    assert "house" in analysis.prediction.classes


def test_the_fallback_model_is_derived_once_when_words_exist(tiny: LoadedPack, data_root: Path,
                                                             tmp_path: Path) -> None:
    words = words_of(tiny, tmp_path)
    assert words._model is None                 # the tiny pack has no fitted model...
    words.add("house", drawings(data_root, "house", 3))
    words.extend(tiny.engine.predict(drawings(data_root, "house", 1)[0]))
    model = words.model                         # ...so one is derived at first use
    assert model.source == "derived at load" and model.weights[0] > 0
    assert words.model is model


def test_the_joint_logit_fit_recovers_known_parameters() -> None:
    rng = np.random.default_rng(0)
    n, c, w = 4000, 5, 3
    z = rng.normal(size=(n, c)) * 2
    terms = rng.uniform(size=(n, w, 2))
    truth, bias = np.array([6.0, -3.0]), 0.5
    logits = np.concatenate([z, terms @ truth + bias], axis=1)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    labels = np.array([rng.choice(c + w, p=row) for row in p])
    got, got_bias = fit_word_logits(z, terms, labels)
    assert np.allclose(got, truth, atol=0.6) and abs(got_bias - bias) < 0.4


def test_the_window_gets_its_words_from_the_environment(tiny_pack_dir: Path, data_root: Path,
                                                        tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SKETCHPAD_WORDS", str(tmp_path))
    first = LoadedPack.open(tiny_pack_dir, prefer_gpu=False)
    first.words.add("house", drawings(data_root, "house", 2))
    assert LoadedPack.open(tiny_pack_dir, prefer_gpu=False).words.names == ["house"]
    assert (tmp_path / first.pack.name / "house.ndjson").is_file()
    lines = (tmp_path / first.pack.name / "house.ndjson").read_text().splitlines()
    assert all(set(json.loads(l)) >= {"word", "drawing"} and len(json.loads(l)["drawing"][0]) == 3
               for l in lines)
    assert os.environ["SKETCHPAD_WORDS"] == str(tmp_path)

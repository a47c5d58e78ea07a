"""Pack validation: each broken pack is rejected with its reason, the good ones still load."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from packcopy import copy_pack
from sketchpad.pack import PackError, discover_packs, load_pack


def test_tiny_pack_loads(tiny_pack_dir: Path) -> None:
    pack = load_pack(tiny_pack_dir)
    assert pack.name == "tiny" and pack.classes == ["apple", "candle", "star"]
    assert set(pack.models) == {"convnet", "rnn", "fusion"}
    assert set(pack.features) == {"low", "mid", "high"}
    assert pack.metrics["train_accuracy_fusion"]["protocol"]


@pytest.mark.parametrize("edit, reason", [
    (lambda m: m.update(format_version=2), "format version 2 is not supported"),
    (lambda m: m.update(classes=[]), "classes must have 1 to 10000 items, it has 0"),
    (lambda m: m.pop("features"), "manifest has no 'features'"),
    (lambda m: m["models"].pop("convnet"), "needs a 'convnet' model"),
    (lambda m: m["models"].pop("rnn"), "'fusion' model needs an 'rnn'"),
    (lambda m: m["features"]["mid"].update(output="feat_x"), "feature mid reads 'feat_x'"),
    (lambda m: m["features"].update(deep=m["features"]["low"]), "unknown feature depth 'deep'"),
    (lambda m: m["files"].update({"extra.bin": "0" * 64}), "file extra.bin is missing"),
    (lambda m: m["models"]["rnn"]["preprocess"].update(kind="wavelet"),
     "unknown preprocessing kind 'wavelet'"),
])
def test_broken_manifest_names_the_reason(tiny_pack_dir: Path, tmp_path: Path, edit,
                                          reason: str) -> None:
    path = copy_pack(tiny_pack_dir, tmp_path / "p", edit)
    with pytest.raises(PackError, match=reason):
        load_pack(path)


def test_unreadable_manifest(tiny_pack_dir: Path, tmp_path: Path) -> None:
    path = copy_pack(tiny_pack_dir, tmp_path / "p")
    (path / "manifest.json").write_text("{ nope")
    with pytest.raises(PackError, match="manifest.json is unreadable"):
        load_pack(path)


def test_discover_keeps_good_packs_beside_broken(tiny_pack_dir: Path, tmp_path: Path) -> None:
    copy_pack(tiny_pack_dir, tmp_path / "a-good")
    copy_pack(tiny_pack_dir, tmp_path / "b-bad", lambda m: m.update(format_version=0))
    (tmp_path / "not-a-pack").mkdir()
    entries = list(discover_packs(tmp_path))
    assert [e.path.name for e in entries] == ["a-good", "b-bad"]
    assert entries[0].pack is not None and entries[0].error is None
    assert entries[1].pack is None and "format version 0" in entries[1].error
    assert json.loads((tmp_path / "b-bad" / "manifest.json").read_text())["name"] == "tiny"

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


@pytest.mark.parametrize("location", ["../../../../etc/hostname", "/etc/hostname", "escape.bin"])
def test_onnx_external_data_outside_the_pack_is_refused(tiny_pack_dir: Path, tmp_path: Path,
                                                        location: str) -> None:
    """A model may keep weights in a file beside it; a hostile one names a file outside the
    pack (a path, or a symlink in the pack) to make the app read it. onnxruntime >= 1.32 (the
    floor in pyproject) refuses both; the pack is reported and nothing is read."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, numpy_helper

    from sketchpad.engine import Engine
    from sketchpad.pack import sha256_of

    dst = copy_pack(tiny_pack_dir, tmp_path / "pack")
    (dst / "escape.bin").symlink_to("/etc/hostname")
    model = onnx.load(dst / "convnet.onnx")
    init = model.graph.initializer[0]
    external = numpy_helper.from_array(numpy_helper.to_array(init), init.name)
    external.ClearField("raw_data")
    external.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "4")):
        entry = external.external_data.add()
        entry.key, entry.value = key, value
    model.graph.initializer[0].CopyFrom(external)
    onnx.save(model, dst / "convnet.onnx")
    manifest = json.loads((dst / "manifest.json").read_text())
    manifest["files"]["convnet.onnx"] = sha256_of(dst / "convnet.onnx")
    (dst / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackError, match="convnet.onnx does not load.*[Ee]xternal data"):
        Engine(load_pack(dst), prefer_gpu=False)

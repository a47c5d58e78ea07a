"""``sketchpad packs`` says what classify / search / --self-test meet: one way to open a pack
(:func:`sketchpad.runtime.open_pack`) for all of them, and a broken pack never hurts its sibling.
Counts on the command line are bounded with a usage error."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from packcopy import copy_pack
from sketchpad.__main__ import main
from sketchpad.pack import PackError, discover_packs
from sketchpad.runtime import LoadedPack, open_pack
from sketchpad.selftest import SAMPLE


def _labels_out_of_range(tiny_pack_dir: Path, dst: Path) -> Path:
    """A pack whose manifest and hashes are right but whose gallery names a fourth class: only
    a full open finds it."""
    path = copy_pack(tiny_pack_dir, dst)
    with np.load(path / "gallery.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["labels"] = arrays["labels"].copy()
    arrays["labels"][7] = 3
    np.savez_compressed(path / "gallery.npz", **arrays)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"]["gallery.npz"] = hashlib.sha256((path / "gallery.npz").read_bytes()).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))
    return path


def test_every_command_agrees_with_packs(capsys, tiny_pack_dir: Path, tmp_path: Path) -> None:
    copy_pack(tiny_pack_dir, tmp_path / "good")
    bad = _labels_out_of_range(tiny_pack_dir, tmp_path / "bad")
    reason = "gallery gallery.npz: labels run from 0 to 3, the pack has 3 classes"

    assert main(["packs", "--json", "--packs-dir", str(tmp_path), "--cpu"]) == 0
    listed = {Path(p["path"]).name: p for p in json.loads(capsys.readouterr().out)["packs"]}
    assert listed["good"]["valid"] and not listed["bad"]["valid"]
    assert reason in listed["bad"]["error"]

    for command in (["classify", str(SAMPLE)], ["search", str(SAMPLE), "--k", "3"]):
        assert main([*command, "--pack", str(bad), "--cpu"]) == 4
        assert reason in capsys.readouterr().err
        assert main([*command, "--pack", str(tmp_path / "good"), "--cpu"]) == 0
        capsys.readouterr()

    assert main(["--self-test", "--packs-dir", str(tmp_path)]) == 4
    out = capsys.readouterr().out
    assert "tiny: ok" in out and f"tiny: FAILED: pack 'tiny': {reason}" in out


def test_open_pack_takes_a_folder_a_pack_or_an_entry(tiny_pack_dir: Path, tmp_path: Path) -> None:
    copy_pack(tiny_pack_dir, tmp_path / "a", lambda m: m.update(format_version=3))
    _labels_out_of_range(tiny_pack_dir, tmp_path / "b")
    entries = {e.path.name: e for e in discover_packs(tmp_path)}
    with pytest.raises(PackError, match="format version 3 is not supported"):
        open_pack(entries["a"], prefer_gpu=False)
    with pytest.raises(PackError, match="labels run from 0 to 3"):
        open_pack(entries["b"], prefer_gpu=False)
    loaded = open_pack(tiny_pack_dir, prefer_gpu=False)
    assert isinstance(loaded, LoadedPack) and loaded.pack.classes == ["apple", "candle", "star"]
    assert LoadedPack.open(tiny_pack_dir, prefer_gpu=False).pack.path == loaded.pack.path


@pytest.mark.parametrize("argv, message", [
    (["search", "x.ndjson", "--k", "99999999999"], "--k: must be from 1 to 1000, got 99999999999"),
    (["search", "x.ndjson", "--k", "0"], "--k: must be from 1 to 1000, got 0"),
    (["search", "x.ndjson", "--k", "1e3"], "--k: must be a whole number, got '1e3'"),
    (["search", "x.ndjson", "--k", "9" * 5000], "--k: must be a whole number"),
    (["classify", "x.ndjson", "--top", "1001"], "--top: must be from 1 to 1000"),
])
def test_counts_are_bounded_with_a_usage_error(capsys, argv: list[str], message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err

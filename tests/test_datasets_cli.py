"""``python -m training.datasets``: its counting functions against MANIFEST.tsv and the TU-Berlin
rule on subsets of the real data, its mismatch report, and the command on a small dataset."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from training import datasets as ds

ROOT = Path(__file__).resolve().parents[1]
SOME = ["cat", "The Eiffel Tower", "zigzag", "alarm clock", "monkey"]


def test_manifest_totals_are_those_the_data_readme_states(data_root: Path):
    m = ds.read_manifest(data_root / "quickdraw" / "MANIFEST.tsv")
    assert (len(m["quickdraw/simplified"]), sum(m["quickdraw/simplified"].values())) == (345, 49020)
    assert (len(m["quickdraw/raw"]), sum(m["quickdraw/raw"].values())) == (345, 7940)
    assert m["quickdraw/sketchrnn"] == {c: 2500 for c in ("alarm clock", "face", "pig", "radio")}


@pytest.mark.parametrize("kind", ["simplified", "raw"])
def test_ndjson_counts_match_the_manifest_on_a_subset(data_root: Path, kind: str):
    expected = ds.read_manifest(data_root / "quickdraw" / "MANIFEST.tsv")[f"quickdraw/{kind}"]
    got = ds.count_ndjson(data_root / "quickdraw" / kind, SOME)
    assert got == {c: expected[c] for c in SOME}


def test_sketchrnn_counts_match_the_manifest(data_root: Path):
    got = ds.count_sketchrnn(data_root / "quickdraw" / "sketchrnn", ["pig"])
    assert got == {"pig": 2500}


def test_tu_berlin_counts_match_the_numbering_rule(data_root: Path):
    root = data_root / "tu-berlin"
    got = ds.count_tu_berlin(root)
    assert len(got) == 250 and sum(got.values()) == 20_000
    assert ds.mismatches("tu-berlin", ds.tu_berlin_expected(root), got) == []


def test_mismatches_name_dataset_class_and_both_counts():
    report = ds.mismatches("quickdraw/raw", {"cat": 3, "dog": 2, "ant": 1},
                           {"cat": 2, "ant": 1, "emu": 4})
    assert report == ["quickdraw/raw: 'cat' expected 3, loaded 2",
                      "quickdraw/raw: 'dog' expected 2, no file",
                      "quickdraw/raw: 'emu' loaded 4, not in the expected list"]


def _mini_quickdraw(data_root: Path, dest: Path, names: tuple[str, ...], manifest_edit=None) -> Path:
    """A data folder with real sketch-rnn files and the manifest rows that describe them."""
    qd = dest / "quickdraw"
    (qd / "sketchrnn").mkdir(parents=True)
    for name in names:
        (qd / "sketchrnn" / f"{name}.npz").symlink_to(data_root / "quickdraw" / "sketchrnn" /
                                                      f"{name}.npz")
    lines = (data_root / "quickdraw" / "MANIFEST.tsv").read_text().splitlines()
    rows = [lines[0]] + [ln for ln in lines[1:] if ln.split("\t")[0] in names]
    text = "\n".join(rows) + "\n"
    (qd / "MANIFEST.tsv").write_text(manifest_edit(text) if manifest_edit else text)
    return dest


def test_the_command_prints_counts_and_exits_0_when_they_match(data_root: Path, tmp_path: Path):
    data = _mini_quickdraw(data_root, tmp_path, ("face", "radio"))
    run = subprocess.run([sys.executable, "-m", "training.datasets", "--data", str(data),
                          "--only", "quickdraw/sketchrnn"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "== quickdraw/sketchrnn: 5,000 sketches in 2 classes" in run.stdout
    assert "    2500  face" in run.stdout and "all counts match" in run.stdout


def test_the_command_reports_mismatches_and_exits_1(data_root: Path, tmp_path: Path, capsys):
    data = _mini_quickdraw(data_root, tmp_path, ("radio",),
                           lambda t: t.replace("sketchrnn/radio.npz\t2500", "sketchrnn/radio.npz\t2499"))
    assert ds.main(["--data", str(data), "--only", "quickdraw/sketchrnn"]) == 1
    out = capsys.readouterr().out
    assert "== 1 mismatches" in out and "'radio' expected 2499, loaded 2500" in out

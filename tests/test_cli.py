"""``sketchpad classify | search | packs`` end to end on the tiny pack, through ``main(argv)``."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from packcopy import copy_pack
from sketchpad.__main__ import main
from sketchpad.cli import (EXIT_INPUT, EXIT_OK, EXIT_PACK, EXIT_USAGE, _progress, fold,
                           read_drawings)
from sketchpad.ink import iter_ndjson, write_ndjson
from sketchpad.runtime import LoadedPack

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    """Raw and simplified drawings of the pack's classes, plus two of a class it lacks."""
    out = tmp_path_factory.mktemp("cli") / "mixed.ndjson"
    qd = data_root / "quickdraw"
    sketches = []
    for folder, name, n in (("simplified", "apple", 6), ("raw", "star", 4),
                            ("simplified", "candle", 5), ("simplified", "axe", 2)):
        sketches += [s for _, s in zip(range(n), iter_ndjson(qd / folder / f"{name}.ndjson"))]
    write_ndjson(sketches, out)
    return out


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_fold_matches_names_across_spellings() -> None:
    assert fold("The_Eiffel_Tower") == fold("the eiffel  tower") == fold("The-Eiffel-Tower")


def test_classify_prints_top_k_per_drawing(capsys, tiny_pack_dir: Path, labelled: Path) -> None:
    code, out, _ = run(capsys, "classify", labelled, "--pack", tiny_pack_dir, "--top", "2")
    assert code == EXIT_OK
    rows = [line.split("\t") for line in out.splitlines() if "\t" in line]
    assert len(rows) == 17
    assert rows[0][0] == f"{labelled}#1" and rows[0][1] == "apple"
    assert all(len(r[2].split("  ")) == 2 for r in rows)
    assert "top-1 accuracy" in out and "axe x2" in out


def test_classify_scores_match_a_direct_computation(capsys, tiny_pack_dir: Path,
                                                    labelled: Path) -> None:
    code, out, _ = run(capsys, "classify", labelled, "--pack", tiny_pack_dir, "--json")
    assert code == EXIT_OK
    summary = json.loads(out)["files"][0]["summary"]

    pack = LoadedPack.open(tiny_pack_dir, prefer_gpu=False)
    hits, ap = [], []
    for s in iter_ndjson(labelled):
        if s.label not in pack.pack.classes:
            continue
        ranked = list(np.argsort(-pack.engine.predict(s).probs))
        rank = ranked.index(pack.pack.classes.index(s.label)) + 1
        hits.append(rank == 1)
        ap.append(1 / rank if rank <= 3 else 0.0)
    assert summary["drawings"] == 17 and summary["scored"] == 15 == len(hits)
    assert summary["top1_accuracy"] == pytest.approx(np.mean(hits))
    assert summary["map_at_3"] == pytest.approx(np.mean(ap))
    assert summary["unknown_labels"] == {"axe": 2}


def test_search_returns_k_neighbours_at_the_depth(capsys, tiny_pack_dir: Path,
                                                  labelled: Path) -> None:
    code, out, _ = run(capsys, "search", labelled, "--pack", tiny_pack_dir, "--depth", "mid",
                       "--k", "5", "--json")
    assert code == EXIT_OK
    result = json.loads(out)
    assert len(result) == 17
    for entry in result:
        assert list(entry["neighbours"]) == ["mid"]
        hits = entry["neighbours"]["mid"]
        assert len(hits) == 5
        assert [h["distance"] for h in hits] == sorted(h["distance"] for h in hits)
        assert all(h["class"] in ("apple", "candle", "star") and h["source_id"] for h in hits)


def test_search_text_covers_every_depth(capsys, tiny_pack_dir: Path) -> None:
    sample = ROOT / "resources" / "samples" / "selftest.ndjson"
    code, out, _ = run(capsys, "search", sample, "--pack", tiny_pack_dir, "--k", "3")
    assert code == EXIT_OK
    rows = [line.split("\t") for line in out.splitlines()]
    assert len(rows) == 2 * 3 * 3
    assert {r[1] for r in rows} == {"low", "mid", "high"}


def test_packs_lists_valid_and_broken_with_reason(capsys, tiny_pack_dir: Path,
                                                  tmp_path: Path) -> None:
    copy_pack(tiny_pack_dir, tmp_path / "good")
    copy_pack(tiny_pack_dir, tmp_path / "broken")
    (tmp_path / "broken" / "index_mid.ann").write_bytes(b"not an index")
    code, out, _ = run(capsys, "packs", "--packs-dir", tmp_path, "--json")
    assert code == EXIT_OK
    packs = {Path(p["path"]).name: p for p in json.loads(out)["packs"]}
    assert packs["good"]["valid"] and packs["good"]["provider"] == "CPUExecutionProvider"
    assert packs["good"]["reason"]
    assert packs["good"]["metrics"]["train_accuracy_fusion"]["protocol"]
    assert not packs["broken"]["valid"]
    assert "index_mid.ann is corrupt" in packs["broken"]["error"]

    code, out, _ = run(capsys, "packs", "--packs-dir", tmp_path)
    assert code == EXIT_OK and "BROKEN" in out and "provider: CPUExecutionProvider" in out


def test_packs_without_any_valid_pack_exits_4(capsys, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "packs", "--packs-dir", tmp_path)
    assert code == EXIT_PACK and "no packs" in out


def test_default_pack_is_the_first_valid_one(capsys, tiny_pack_dir: Path) -> None:
    sample = ROOT / "resources" / "samples" / "selftest.ndjson"
    code, out, _ = run(capsys, "classify", sample, "--packs-dir", tiny_pack_dir.parent, "--json")
    assert code == EXIT_OK and json.loads(out)["files"][0]["pack"] == "tiny"


def test_unknown_pack_name_exits_4(capsys, tiny_pack_dir: Path) -> None:
    sample = ROOT / "resources" / "samples" / "selftest.ndjson"
    code, _, err = run(capsys, "classify", sample, "--packs-dir", tiny_pack_dir.parent,
                       "--pack", "nope")
    assert code == EXIT_PACK and err == "sketchpad: no pack named 'nope' (installed: tiny)\n"


def test_png_on_a_stroke_pack_is_refused_clearly(capsys, tiny_pack_dir: Path,
                                                 data_root: Path) -> None:
    png = next((data_root / "tu-berlin" / "png").glob("*/*.png"))
    code, out, err = run(capsys, "classify", png, "--pack", tiny_pack_dir)
    assert code == EXIT_PACK and out == ""
    assert err.count("\n") == 1 and "needs strokes" in err and str(png) in err


@pytest.mark.parametrize("content, reason", [
    (b"", "not a readable image (empty file)"),
    (b"\x89PNG\r\n\x1a\n truncated", "not a readable image (truncated or corrupt?)"),
    (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n{ } loop\n",
     "not a readable image (PostScript, which Sketchpad does not run: save it as PNG)"),
])
def test_unreadable_png_exits_3(capsys, tiny_pack_dir: Path, tmp_path: Path, content: bytes,
                                reason: str) -> None:
    bad = tmp_path / "page.png"
    bad.write_bytes(content)
    code, _, err = run(capsys, "classify", bad, "--pack", tiny_pack_dir)
    assert code == EXIT_INPUT and err == f"sketchpad: {bad}: {reason}\n"


@pytest.mark.parametrize("text, where", [
    ('{"word": "star", "drawing": [[[1, 2], [3, 4]]]}\n{"drawing": 3}\n', ":2: "),
    ('{"word": "star", "drawing": [[[1, 2], [3, 4]]]}\nnot json\n', ":2: not valid JSON"),
    ("", ":1: no drawings"),
    ('\n{"word": "star", "drawing": []}\n', ":2: the sketch is empty"),
])
def test_bad_ndjson_exits_3_with_one_line(capsys, tiny_pack_dir: Path, tmp_path: Path,
                                          text: str, where: str) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_text(text)
    code, _, err = run(capsys, "classify", bad, "--pack", tiny_pack_dir)
    assert code == EXIT_INPUT
    assert err.startswith(f"sketchpad: {bad}{where}") and err.count("\n") == 1


def test_classify_json_streams_one_entry_per_file_with_its_summary(capsys, tiny_pack_dir: Path,
                                                                   labelled: Path) -> None:
    sample = ROOT / "resources" / "samples" / "selftest.ndjson"
    code, out, _ = run(capsys, "classify", labelled, sample, "--pack", tiny_pack_dir, "--json")
    assert code == EXIT_OK
    files = json.loads(out)["files"]
    assert [f["file"] for f in files] == [str(labelled), str(sample)]
    assert len(files[0]["drawings"]) == 17
    assert all(len(f["drawings"]) == f["summary"]["drawings"] for f in files)
    assert list(files[0]) == ["file", "pack", "provider", "drawings", "summary"]
    assert set(files[0]["drawings"][0]) >= {"where", "label", "top"}


@pytest.mark.parametrize("command", ["classify", "search"])
def test_json_cut_short_by_a_bad_line_still_parses(capsys, tiny_pack_dir: Path, tmp_path: Path,
                                                   command: str) -> None:
    bad = tmp_path / "half.ndjson"
    bad.write_text('{"word": "star", "drawing": [[[1, 2], [3, 4]]]}\nnot json\n')
    code, out, err = run(capsys, command, bad, "--pack", tiny_pack_dir, "--json")
    assert code == EXIT_INPUT and err.startswith(f"sketchpad: {bad}:2: not valid JSON")
    doc = json.loads(out)  # closed, not cut off: the first drawing's record is there
    if command == "classify":
        assert len(doc["files"][0]["drawings"]) == 1 and "summary" not in doc["files"][0]
        assert doc["stopped"].startswith(f"{bad}:2: not valid JSON")
    else:
        assert [e["where"] for e in doc] == [f"{bad}#1"]


def test_ctrl_c_closes_the_json_and_exits_130(capsys, monkeypatch, tiny_pack_dir: Path,
                                              labelled: Path) -> None:
    import sketchpad.cli as cli

    def interrupted(items):
        yield next(iter(items))
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_progress", interrupted)
    code, out, err = run(capsys, "classify", labelled, "--pack", tiny_pack_dir, "--json")
    assert code == cli.EXIT_INTERRUPTED and err == "sketchpad: interrupted\n"
    doc = json.loads(out)
    assert len(doc["files"][0]["drawings"]) == 1 and doc["stopped"] == "interrupted"


def test_a_fifo_is_read_whole_without_peeking(tmp_path: Path) -> None:
    """The input kind of a FIFO comes from its name: peeking would block, or eat its first bytes."""
    fifo = tmp_path / "live.ndjson"
    os.mkfifo(fifo)
    line = '{"word": "star", "drawing": [[[1, 2], [3, 4]]]}\n'
    writer = threading.Thread(target=lambda: fifo.write_text(line * 2))
    writer.start()
    drawings = list(read_drawings(fifo))
    writer.join()
    assert [d.origin for d in drawings] == [f"{fifo}:1", f"{fifo}:2"]


def test_progress_bar_only_for_a_terminal_stderr_and_redirected_stdout(monkeypatch) -> None:
    items = iter(range(3))
    assert _progress(items) is items  # pytest captures both streams
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert list(_progress(iter(range(3)))) == [0, 1, 2]
    assert _progress(items) is not items


def test_missing_file_exits_3(capsys, tiny_pack_dir: Path, tmp_path: Path) -> None:
    code, _, err = run(capsys, "search", tmp_path / "none.ndjson", "--pack", tiny_pack_dir)
    assert code == EXIT_INPUT and "cannot open" in err


@pytest.mark.parametrize("argv", [["frob"], ["classify"], ["classify", "x", "--top", "0"],
                                  ["search", "x", "--depth", "deep"], ["--gui"]])
def test_usage_errors_exit_2(capsys, argv: list[str]) -> None:
    code, _, err = run(capsys, *argv)
    assert code == EXIT_USAGE and "error:" in err


def test_help_lists_exit_codes(capsys) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == EXIT_OK and "exit codes:" in out and "4  no usable pack" in out


def test_cli_imports_no_qt_and_prints_no_traceback(tiny_pack_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_text("{\n")
    code = ("import sys; from sketchpad.__main__ import main; "
            f"c = main(['classify', {str(bad)!r}, '--pack', {str(tiny_pack_dir)!r}]); "
            "assert 'PySide6' not in sys.modules, 'Qt imported'; sys.exit(c)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == EXIT_INPUT, proc.stderr
    assert proc.stderr.startswith(f"sketchpad: {bad}:1: not valid JSON (")
    assert proc.stderr.count("\n") == 1


def test_no_arguments_starts_the_app(monkeypatch) -> None:
    app_main = pytest.importorskip("sketchpad.app.main")
    calls = []
    monkeypatch.setattr(app_main, "run_app", lambda argv: calls.append(argv) or 0)
    assert main([]) == 0 and calls == [[]]

"""``sketchpad words ...`` and ``--words-dir`` end to end on the tiny pack, through ``main(argv)``."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from sketchpad.__main__ import is_app_invocation, main
from sketchpad.cli import EXIT_INPUT, EXIT_OK, EXIT_USAGE
from sketchpad.ink import iter_ndjson, write_ndjson
from sketchpad.words import WORD_ID_BASE


@pytest.fixture(scope="module")
def houses(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    out = tmp_path_factory.mktemp("cli_words") / "houses.ndjson"
    found = iter_ndjson(data_root / "quickdraw" / "simplified" / "house.ndjson")
    write_ndjson([s for _, s in zip(range(4), found)], out)
    return out


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_list_remove_round_trip(capsys, tiny_pack_dir: Path, houses: Path,
                                    tmp_path: Path) -> None:
    wd = ("--words-dir", tmp_path, "--pack", tiny_pack_dir)
    code, out, _ = run(capsys, "words", "add", "Little House", houses, *wd)
    assert code == EXIT_OK and "taught 'Little House': 4 example(s)" in out
    code, out, _ = run(capsys, "words", "add", "little_house", houses, *wd)
    assert code == EXIT_OK and "8 in all" in out
    code, out, _ = run(capsys, "words", "list", "--json", *wd)
    doc = json.loads(out)
    assert code == EXIT_OK and doc["problems"] == []
    assert [(w["name"], w["examples"]) for w in doc["words"]] == [("Little House", 8)]
    assert Path(doc["words"][0]["file"]).parent == tmp_path / doc["pack"]
    code, out, _ = run(capsys, "words", "remove", "LITTLE-HOUSE", *wd)
    assert code == EXIT_OK and "removed 'Little House'" in out
    code, out, _ = run(capsys, "words", "list", *wd)
    assert code == EXIT_OK and "0 word(s)" in out


def test_rename_export_import(capsys, tiny_pack_dir: Path, houses: Path, tmp_path: Path) -> None:
    wd = ("--words-dir", tmp_path / "w", "--pack", tiny_pack_dir)
    assert run(capsys, "words", "import", houses, *wd)[0] == EXIT_OK      # its own "word": house
    code, out, _ = run(capsys, "words", "rename", "house", "hut", *wd)
    assert code == EXIT_OK and "'hut'" in out
    code, out, _ = run(capsys, "words", "export", "hut", tmp_path / "hut.ndjson", *wd)
    assert code == EXIT_OK
    assert {s.label for s in iter_ndjson(tmp_path / "hut.ndjson")} == {"hut"}
    assert [s.strokes for s in iter_ndjson(tmp_path / "hut.ndjson")] == \
        [s.strokes for s in iter_ndjson(houses)]


@pytest.mark.parametrize("argv, message", [
    (["words", "add", "STAR", "{houses}"], "already a class"),
    (["words", "add", "x", "{empty}"], "no drawings"),
    (["words", "remove", "nothing"], "no word 'nothing'"),
    (["words", "rename", "nothing", "else"], "no word"),
])
def test_requests_that_cannot_be_met_exit_3_in_one_line(capsys, tiny_pack_dir: Path,
                                                        houses: Path, tmp_path: Path,
                                                        argv: list[str], message: str) -> None:
    (tmp_path / "empty.ndjson").write_text("\n")
    argv = [a.format(houses=houses, empty=tmp_path / "empty.ndjson") for a in argv]
    code, _, err = run(capsys, *argv, "--words-dir", tmp_path / "w", "--pack", tiny_pack_dir)
    assert code == EXIT_INPUT and message in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_words_needs_a_command(capsys) -> None:
    assert run(capsys, "words")[0] == EXIT_USAGE


def test_a_damaged_file_is_listed_and_the_rest_keep_working(capsys, tiny_pack_dir: Path,
                                                            houses: Path, tmp_path: Path) -> None:
    wd = ("--words-dir", tmp_path, "--pack", tiny_pack_dir)
    run(capsys, "words", "add", "house", houses, *wd)
    folder = next(p for p in tmp_path.iterdir() if p.is_dir())
    (folder / "axe.ndjson").write_bytes(b"\xff\xfe not text\n")
    code, out, _ = run(capsys, "words", "list", *wd)
    assert code == EXIT_OK and "house\t4 example(s)" in out
    assert "DAMAGED (skipped):" in out and "axe.ndjson" in out and "UTF-8" in out
    code, out, _ = run(capsys, "classify", houses, "--json", "--top", "4", *wd)
    assert code == EXIT_OK


def test_classify_and_search_use_the_words_of_their_pack(capsys, tiny_pack_dir: Path,
                                                         houses: Path, tmp_path: Path) -> None:
    run(capsys, "words", "add", "house", houses, "--words-dir", tmp_path, "--pack", tiny_pack_dir)
    # --words-dir may come before the command too
    code, out, _ = run(capsys, "--words-dir", tmp_path, "classify", houses, "--json",
                       "--top", "4", "--pack", tiny_pack_dir)
    assert code == EXIT_OK
    drawings = json.loads(out)["files"][0]["drawings"]
    for d in drawings:  # 3 pack classes + the word: the word is in "top" like a class
        assert sorted(t["class"] for t in d["top"]) == ["apple", "candle", "house", "star"]
        assert all(set(t) == {"class", "p"} for t in d["top"])
    summary = json.loads(out)["files"][0]["summary"]
    assert summary["scored"] == 4 and summary["unknown_labels"] == {}   # "house" is now known

    code, out, _ = run(capsys, "search", houses, "--json", "--depth", "high", "--k", "3",
                       "--pack", tiny_pack_dir, "--words-dir", tmp_path)
    assert code == EXIT_OK
    first = json.loads(out)[0]["neighbours"]["high"][0]
    assert first["gallery_id"] >= WORD_ID_BASE and first["class"] == "house"
    assert first["source_id"] == "word:house#1"

    code, out, _ = run(capsys, "classify", houses, "--json", "--pack", tiny_pack_dir,
                       "--words-dir", tmp_path / "elsewhere")
    assert "house" not in {t["class"] for d in json.loads(out)["files"][0]["drawings"]
                           for t in d["top"]}


def test_the_app_takes_words_dir_alone() -> None:
    assert is_app_invocation(["--words-dir", "x"]) and is_app_invocation(["--words-dir=x"])
    assert not is_app_invocation(["--words-dir", "x", "classify", "f"])
    assert not is_app_invocation([])

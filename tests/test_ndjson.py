"""Quick, Draw! ndjson: real raw and simplified files round-trip exactly; bad lines say where."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sketchpad.ink import (Sketch, SketchError, Stroke, iter_ndjson, iter_ndjson_numbered,
                           parse_line, sketch_to_drawing, write_ndjson)
from sketchpad.ink import ndjson

#: A few real files of each kind: a large one, names with spaces/capitals, a typical small one.
REAL = [("simplified", "cat"), ("simplified", "The_Eiffel_Tower"), ("simplified", "alarm_clock"),
        ("raw", "cat"), ("raw", "The_Eiffel_Tower"), ("raw", "coffee_cup")]


@pytest.mark.parametrize("kind,name", REAL)
def test_real_files_round_trip_exactly(data_root: Path, kind: str, name: str):
    """parse → write → parse gives equal sketches; the written JSON equals each original line's
    JSON, and (Google's key order and number formatting kept) even the bytes are the same."""
    path = data_root / "quickdraw" / kind / f"{name}.ndjson"
    original = path.read_text(encoding="utf-8")
    sketches = list(iter_ndjson(path))
    buf = io.StringIO()
    assert write_ndjson(sketches, buf) == len(sketches) == len(original.splitlines())
    written = buf.getvalue()
    for mine, theirs in zip(written.splitlines(), original.splitlines()):
        assert json.loads(mine) == json.loads(theirs)
    assert written == original
    assert [parse_line(line) for line in written.splitlines()] == sketches
    first = sketches[0]
    assert first.meta["has_time"] is (kind == "raw")
    assert first.label == json.loads(original.splitlines()[0])["word"]
    if kind == "raw":
        assert first.strokes[0].points[-1, 2] > 0  # t in ms survives


def test_write_to_a_path_is_atomic_and_reads_back(tmp_path: Path):
    sk = Sketch((Stroke.from_xy([0, 1.5], [2, 3], [0, 16], [0.25, 1.0]),), label="cat",
                source_id="42", meta={"recognized": True, "has_time": True})
    out = tmp_path / "mine.ndjson"
    assert write_ndjson([sk, sk], out) == 2
    assert not (tmp_path / "mine.ndjson.tmp").exists()
    assert list(iter_ndjson(out)) == [sk, sk]
    obj = json.loads(out.read_text().splitlines()[0])
    assert obj["drawing"] == [[[0, 1.5], [2, 3], [0, 16]]]
    assert obj["pressure"] == [[0.25, 1.0]]
    with pytest.raises(OSError):
        write_ndjson([sk], tmp_path / "missing-folder" / "x.ndjson")
    assert out.read_text().count("\n") == 2  # an earlier file is untouched by failures


def test_simplified_writes_no_time_and_mouse_ink_no_pressure():
    sk = Sketch((Stroke.from_xy([0, 10], [0, 5], [0, 30]),), label="cat")
    obj = sketch_to_drawing(sk, with_time=False)
    assert obj == {"word": "cat", "drawing": [[[0, 10], [0, 5]]]}
    assert sketch_to_drawing(sk)["drawing"] == [[[0, 10], [0, 5], [0, 30]]]
    assert "pressure" in sketch_to_drawing(sk, with_pressure=True)


def bad_lines_of(path: Path, first_bad: int, message: str) -> list[str]:
    """Reading ``path`` fails at line ``first_bad`` with ``message``; skipping instead keeps its
    two good drawings and returns what it recorded of the bad lines."""
    with pytest.raises(SketchError, match=f"{path}:{first_bad}: {message}"):
        list(iter_ndjson(path))
    bad: list[str] = []
    assert len(list(iter_ndjson(path, errors="skip", bad_lines=bad))) == 2
    return bad


@pytest.mark.parametrize("line,message", [
    ('{"word": "cat", "drawing": [[[0, 1], [0, 1]]]', "not valid JSON"),
    ('[1, 2]', 'expected an object with a "drawing" field'),
    ('{"drawing": 5}', '"drawing" must be a list'),
    ('{"drawing": [[[0, 1]]]}', r"stroke 0: expected \[xs, ys\]"),
    ('{"drawing": [[[0, 1], [0]]]}', "stroke 0: .*differ in length"),
    ('{"drawing": [[[0, "a"], [0, 1]]]}', "stroke 0:"),
    ('{"drawing": [[[], []]]}', "stroke 0: .*at least one point"),
    ('{"drawing": [[[0, NaN], [0, 1]]]}', r"not valid JSON \(NaN is not a JSON number\)"),
    ('{"drawing": [[[0, 1e999], [0, 1]]]}', "stroke 0: .*NaN or infinite"),
    ('{"drawing": [[[0, 1e300], [0, 1]]]}', "stroke 0: .*coordinate beyond"),
    ('{"drawing": [[[0, 1' + "0" * 400 + '], [0, 1]]]}', "stroke 0: int too large"),
    ('{"drawing": [[[0, 1' + "0" * 5000 + '], [0, 1]]]}', "not valid JSON .*4300"),
    ('[' * 100_000 + ']' * 100_000, r"not valid JSON \(nested too deeply\)"),
    ('{"word": 5, "drawing": []}', '"word" must be a string'),
    ('{"key_id": [1], "drawing": []}', '"key_id" must be a string or an integer'),
    ('{"word": "\\ud800", "drawing": []}', '"word" holds a lone surrogate'),
    ('{"drawing": [], "notes": {"x": "\\udfff"}}', '"notes" holds a lone surrogate'),
    ('{"drawing": [], "x": ' + "[" * 40 + "]" * 40 + "}", '"x" is nested more than 32 deep'),
    ('{"drawing": [[[0], [0]]], "pressure": [[1], [1]]}', '"pressure" must hold one list'),
])
def test_malformed_lines_fail_naming_file_and_line(tmp_path: Path, line: str, message: str):
    good = '{"word": "cat", "drawing": [[[0, 1], [0, 1]]]}'
    path = tmp_path / "bad.ndjson"
    path.write_text(f"{good}\n\n{line}\n{good}\n")
    bad = bad_lines_of(path, 3, message)
    assert len(bad) == 1 and bad[0].startswith(f"{path}:3:")


def test_a_byte_order_mark_is_allowed(tmp_path: Path):
    path = tmp_path / "bom.ndjson"
    path.write_bytes(b'\xef\xbb\xbf{"word": "cat", "drawing": [[[0, 1], [0, 1]]]}\n')
    assert [s.label for s in iter_ndjson(path)] == ["cat"]


def test_line_and_point_caps_bound_the_work(tmp_path: Path, monkeypatch):
    """A line longer than the cap is refused without holding it whole, and reading goes on
    after it when skipping; so is a drawing with too many points."""
    monkeypatch.setattr(ndjson, "MAX_LINE_BYTES", 64)
    monkeypatch.setattr(ndjson, "MAX_POINTS", 5)
    good = '{"word": "cat", "drawing": [[[0, 1], [0, 1]]]}'
    many = json.dumps({"drawing": [[list(range(6)), list(range(6))]]}, separators=(",", ":"))
    path = tmp_path / "long.ndjson"
    path.write_text(f'{good}\n{{"drawing": [], "pad": "{"x" * 500}"}}\n{many}\n{good}\n')
    bad = bad_lines_of(path, 2, "line longer than")
    assert bad[0].startswith(f"{path}:2: line longer") and "more than 5 points" in bad[1]
    assert bad[1].startswith(f"{path}:3:")


def test_an_endless_file_without_newlines_stops_at_the_cap(monkeypatch):
    monkeypatch.setattr(ndjson, "MAX_LINE_BYTES", 2**16)
    with pytest.raises(SketchError, match="/dev/zero:1: line longer than"):
        list(iter_ndjson("/dev/zero"))


def test_line_numbers_count_blank_lines(tmp_path: Path):
    path = tmp_path / "gaps.ndjson"
    path.write_text('\n{"drawing": []}\n\n\n{"drawing": []}\n')
    assert [n for n, _ in iter_ndjson_numbered(path)] == [2, 5]


def test_unreadable_files_say_so(tmp_path: Path):
    with pytest.raises(SketchError, match="cannot open"):
        list(iter_ndjson(tmp_path / "absent.ndjson"))
    binary = tmp_path / "binary.ndjson"
    binary.write_bytes(b'{"drawing": []}\n\xff\xfe\x00garbage\n')
    with pytest.raises(SketchError, match=f"{binary}:2: not UTF-8"):
        list(iter_ndjson(binary))
    with pytest.raises(ValueError):
        list(iter_ndjson(binary, errors="ignore"))


# --- property: any sketch round-trips through ndjson -----------------------------------------
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def ink(draw) -> Sketch:
    with_time = draw(st.booleans())
    with_pressure = draw(st.booleans())
    strokes = []
    for _ in range(draw(st.integers(0, 4))):
        n = draw(st.integers(1, 12))
        xy = draw(st.lists(st.tuples(finite, finite), min_size=n, max_size=n))
        ts = draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n)) if with_time else None
        ps = (draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)) if with_pressure else None)
        strokes.append(Stroke.from_xy([p[0] for p in xy], [p[1] for p in xy], ts, ps))
    meta = draw(st.dictionaries(st.sampled_from(["countrycode", "timestamp", "recognized"]),
                                st.one_of(st.booleans(), st.text(max_size=8))))
    return Sketch(tuple(strokes), label=draw(st.one_of(st.none(), st.text(max_size=10))),
                  source_id=draw(st.one_of(st.none(), st.text("0123456789", min_size=1))),
                  meta={**meta, "has_time": with_time and bool(strokes)})  # no stroke, no time


@settings(max_examples=150, deadline=None)
@given(ink())
def test_any_sketch_round_trips_through_a_line(sk: Sketch):
    buf = io.StringIO()
    write_ndjson([sk], buf)
    (line,) = buf.getvalue().splitlines()
    back = parse_line(line)
    assert back == sk
    np.testing.assert_array_equal(back.all_points(), sk.all_points())

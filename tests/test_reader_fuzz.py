"""Every reader against hostile bytes: the only outcomes are a valid value or the documented error.

ndjson lines, sketch-rnn ``.npz`` archives, pictures and SVGs, generated and mutated from real
files. A reader may return a :class:`Sketch` (finite, bounded points) or a picture (2-D uint8),
or raise :class:`SketchError` (:class:`PictureError` for pictures); any other exception, and any
warning (numpy overflow included), fails the test.
"""
from __future__ import annotations

import io
import json
import pickle
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sketchpad.datasets.quickdraw import iter_sketchrnn_npz
from sketchpad.datasets.tu_berlin import read_svg
from sketchpad.images import PictureError, read_picture
from sketchpad.ink import Sketch, SketchError, iter_ndjson, normalise_and_simplify
from sketchpad.ink.sketch import MAX_COORDINATE

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROOT = Path(__file__).resolve().parents[1]
SAMPLE = (ROOT / "resources" / "samples" / "selftest.ndjson").read_bytes()


def _outcome(read: Callable[[Path], object], content: bytes, suffix: str,
             error: type[Exception] = SketchError) -> object:
    """Write ``content`` to a fresh file, read it with warnings as errors; the read's value,
    or ``None`` when it raised ``error``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{suffix}"
        path.write_bytes(content)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                return read(path)
            except error:
                return None


def _check_sketches(sketches: object) -> None:
    if sketches is None:
        return
    for sk in sketches:  # type: ignore[attr-defined]
        assert isinstance(sk, Sketch)
        pts = sk.all_points()
        assert np.isfinite(pts).all() and (np.abs(pts[:, :2]) <= MAX_COORDINATE).all()
        if not sk.is_empty:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                normalise_and_simplify(sk)  # what every model input computes first


# --- ndjson ------------------------------------------------------------------------------------
json_scalars = st.one_of(
    st.none(), st.booleans(), st.text(max_size=6),
    st.integers(-10**30, 10**30), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 1e9, 5e-324, 10**400]))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=20)
coords = st.lists(st.one_of(st.integers(-300, 300), st.floats(-1e12, 1e12),
                            st.sampled_from([1e308, -1e308, 10**400, "1", None])), max_size=6)
drawings = st.fixed_dictionaries(
    {"drawing": st.lists(st.one_of(st.tuples(coords, coords).map(list),
                                   st.tuples(coords, coords, coords).map(list), json_values),
                         max_size=4)},
    optional={"word": json_values, "key_id": json_values, "pressure": json_values,
              "countrycode": json_values})
hostile_lines = st.sampled_from([
    "[" * 100_000, '{"drawing": [[[1' + "0" * 5000 + "]]]}", '{"word": "\\ud800", "drawing": []}',
    '{"drawing": [[[NaN], [1]]]}', '{"drawing": [[[-Infinity], [1]]]}', "\ufeff{}",
])


def _mutated(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for at, value in flips:
        out[at % len(out)] = value
    return bytes(out[:cut] if cut is not None else out)


mutations = st.tuples(st.lists(st.tuples(st.integers(0, 2**31), st.integers(0, 255)), max_size=8),
                      st.one_of(st.none(), st.integers(0, 4000)))


@FUZZ
@given(st.lists(st.one_of(drawings.map(json.dumps), hostile_lines,
                          st.text(max_size=40)), min_size=1, max_size=4))
def test_ndjson_lines(lines: list[str]):
    content = "\n".join(lines).encode("utf-8", "surrogatepass")
    _check_sketches(_outcome(lambda p: list(iter_ndjson(p)), content, ".ndjson"))


@FUZZ
@given(mutations)
def test_ndjson_mutated_real_file(mutation):
    content = _mutated(SAMPLE, *mutation)
    _check_sketches(_outcome(lambda p: list(iter_ndjson(p)), content, ".ndjson"))


# --- sketch-rnn npz ----------------------------------------------------------------------------
def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _object_array(items: list) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


stroke3ish = st.one_of(
    st.integers(1, 6).flatmap(lambda n: st.lists(
        st.tuples(st.integers(-2**15, 2**15 - 1), st.integers(-2**15, 2**15 - 1),
                  st.integers(0, 1)), min_size=n, max_size=n)).map(
        lambda rows: np.array(rows, np.int16)),
    st.lists(st.floats(), max_size=6).map(lambda v: np.array(v).reshape(-1, 1)),
    json_values)
REAL_NPZ = _npz({"sketches": _object_array([np.array([[1, 2, 0], [3, 4, 1]], np.int16)] * 3),
                 "pix_count": np.arange(3)})


@FUZZ
@given(st.lists(stroke3ish, max_size=4))
def test_npz_of_arbitrary_objects(items: list):
    content = _npz({"sketches": _object_array(items)})
    _check_sketches(_outcome(lambda p: list(iter_sketchrnn_npz(p)), content, ".npz"))


@FUZZ
@given(mutations, st.binary(max_size=64))
def test_npz_mutated_and_raw_pickles(mutation, pickled: bytes):
    _check_sketches(_outcome(lambda p: list(iter_sketchrnn_npz(p)),
                             _mutated(REAL_NPZ, *mutation), ".npz"))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False,
                                                  "shape": (1,)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("sketches.npy", header.getvalue() + pickle.PROTO + b"\x02" + pickled)
    _check_sketches(_outcome(lambda p: list(iter_sketchrnn_npz(p)), buf.getvalue(), ".npz"))


# --- pictures ----------------------------------------------------------------------------------
MODES = ["1", "L", "P", "RGB", "RGBA", "LA", "I;16"]


def _picture_bytes(mode: str, size: tuple[int, int], fmt: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        img = Image.fromarray(rng.integers(0, 65536, size[::-1], dtype=np.uint16))
    else:
        img = Image.fromarray(rng.integers(0, 256, size[::-1], dtype=np.uint8)).convert(mode)
    if mode not in {"JPEG": ("L", "RGB"), "BMP": ("1", "L", "P", "RGB")}.get(fmt, MODES):
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def _check_picture(page: object) -> None:
    if page is not None:
        assert isinstance(page, np.ndarray) and page.ndim == 2 and page.dtype == np.uint8


@FUZZ
@given(st.sampled_from(MODES), st.tuples(st.integers(1, 40), st.integers(1, 40)),
       st.sampled_from(["PNG", "JPEG", "BMP"]), st.integers(0, 2**16), mutations)
def test_pictures_valid_and_mutated(mode, size, fmt, seed, mutation):
    content = _picture_bytes(mode, size, fmt, seed)
    page = _outcome(read_picture, content, ".png", PictureError)
    assert page is not None and page.shape == size[::-1]
    _check_picture(_outcome(read_picture, _mutated(content, *mutation), ".png", PictureError))


@FUZZ
@given(st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"%!PS-Adobe-3.0 EPSF-3.0\n",
                        b"GIF89a", b""]), st.binary(max_size=200))
def test_pictures_from_random_bytes(signature: bytes, rest: bytes):
    _check_picture(_outcome(read_picture, signature + rest, ".png", PictureError))


# --- SVG ---------------------------------------------------------------------------------------
path_data = st.text(alphabet="MmLlHhVvCcZzAQ0123456789.,-+e ", max_size=60)
transforms = st.one_of(
    st.text(alphabet="translatescalematrixrotateskewXY(0123456789.,- e)", max_size=30),
    st.sampled_from(["translate()", "scale(1e999)", "matrix(1 0 0 1 5)", "rotate(1,2)",
                     "translate(1e308) scale(1e308)"]))


@FUZZ
@given(st.lists(st.tuples(transforms, path_data), min_size=1, max_size=4), st.integers(0, 50))
def test_svgs(paths: list[tuple[str, str]], depth: int):
    body = "".join(f'<g transform="{t}"><path d="{d}"/></g>' for t, d in paths)
    svg = ('<svg xmlns="http://www.w3.org/2000/svg">' + "<g>" * depth + body + "</g>" * depth
           + "</svg>")
    sketch = _outcome(read_svg, svg.encode(), ".svg")
    _check_sketches(None if sketch is None else [sketch])


@pytest.mark.parametrize("content", [b"", b"<svg", b"\xff\xfe", b"<svg>" + b"<g>" * 20000],
                         ids=["empty", "cut", "binary", "deep-unclosed"])
def test_svg_edge_files(content: bytes):
    assert _outcome(read_svg, content, ".svg") is None

"""Loaders for every published format: real files where we have them, tiny files made here where
we do not, and the broken inputs each loader must refuse with a message that names the file."""
from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from sketchpad.datasets.quickdraw import (class_name, iter_bitmaps_npy, iter_ndjson,
                                          iter_sketchrnn_npz)
from sketchpad.datasets.tu_berlin import PER_CLASS, TuBerlin, class_of_id, read_png, read_svg
from sketchpad.ink import SketchError, normalise, sketch_to_stroke3


def test_class_names_from_file_names():
    assert class_name("x/coffee_cup.ndjson") == "coffee cup"
    assert class_name("The_Eiffel_Tower.npz") == "The Eiffel Tower"


# --- Quick, Draw! ndjson --------------------------------------------------------------------
def test_simplified_and_raw_twins_load_as_the_same_drawing(data_root: Path):
    qd = data_root / "quickdraw"
    simplified = {s.source_id: s for s in iter_ndjson(qd / "simplified" / "cat.ndjson")}
    raw = list(iter_ndjson(qd / "raw" / "cat.ndjson"))
    assert raw and all(r.source_id in simplified for r in raw)  # README: every raw has a twin
    r = raw[0]
    s = simplified[r.source_id]
    assert r.label == s.label == "cat" and len(r) == len(s)
    assert not s.meta["has_time"] and r.meta["has_time"]
    x0, y0, x1, y1 = s.bounds()
    assert (x0, y0) == (0, 0) and max(x1, y1) == 255  # simplified = normalised already
    assert r.n_points > s.n_points  # raw is not simplified
    # Normalising the raw twin lands on the same box as Google's simplified drawing.
    rx0, ry0, rx1, ry1 = normalise(r).bounds()
    assert (rx0, ry0) == (0, 0) and abs(max(rx1, ry1) - 255) < 1e-9


# --- sketch-rnn .npz ------------------------------------------------------------------------
def test_real_sketchrnn_file(data_root: Path):
    path = data_root / "quickdraw" / "sketchrnn" / "pig.npz"
    sketches = list(iter_sketchrnn_npz(path))
    assert len(sketches) == 2500
    first = sketches[0]
    assert first.label == "pig" and first.source_id == "pig/sketches/0"
    # README's example: first rows [[-9, -51, 0], [0, -59, 0], [23, 64, 0], [19, -22, 0]]
    np.testing.assert_array_equal(sketch_to_stroke3(first)[:4], [[-9, -51, 0], [0, -59, 0],
                                                                  [23, 64, 0], [19, -22, 0]])


def _ragged(*lengths: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    out = np.empty(len(lengths), dtype=object)
    for i, n in enumerate(lengths):
        seq = rng.integers(-20, 20, size=(n, 3)).astype(np.int16)
        seq[:, 2] = 0
        seq[-1, 2] = 1
        out[i] = seq
    return out


def test_npz_with_any_key_names_and_selected_keys(tmp_path: Path):
    path = tmp_path / "house_plant.npz"
    np.savez(path, train=_ragged(3, 5), valid=_ragged(4), counts=np.arange(3))
    everything = list(iter_sketchrnn_npz(path))
    assert [s.source_id for s in everything] == ["house_plant/train/0", "house_plant/train/1",
                                                 "house_plant/valid/0"]
    assert {s.label for s in everything} == {"house plant"}
    assert [s.n_points for s in iter_sketchrnn_npz(path, keys=["valid"], label="x")] == [4]
    with pytest.raises(SketchError, match="no key 'test'"):
        list(iter_sketchrnn_npz(path, keys=["test"]))


def test_npz_numeric_members_are_skipped_unread(tmp_path: Path):
    plain = tmp_path / "plain.npz"
    np.savez(plain, pix_count=np.arange(4.0))
    assert list(iter_sketchrnn_npz(plain)) == []


class _Payload:
    """Pickles as a call of ``os.system``: what a crafted drawing file would hold."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


@pytest.mark.parametrize("wrap", ["inside an array", "the whole member"])
def test_a_crafted_npz_runs_nothing(tmp_path: Path, wrap: str):
    """The payload is live (plain unpickling runs it), and the loader refuses it unrun."""
    marker = tmp_path / "ran"
    arr = np.empty(2, dtype=object)
    arr[0] = np.zeros((3, 3), np.int16)
    arr[1] = _Payload(f"touch {marker}")
    path = tmp_path / "cat.npz"
    if wrap == "inside an array":
        np.savez(path, sketches=arr)
    else:
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False,
                                                   "shape": (2,)})
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("sketches.npy", buf.getvalue() + pickle.dumps(_Payload(f"touch {marker}")))
    with zipfile.ZipFile(path) as z, z.open("sketches.npy") as f:
        np.lib.format.read_magic(f)
        np.lib.format.read_array_header_1_0(f)
        pickle.load(f)
    assert marker.exists()  # what np.load(allow_pickle=True) would have done
    marker.unlink()
    with pytest.raises(SketchError, match=r"cat.npz\[sketches\]: not a readable array "
                                          r"\(refused to load (posix|os)\.system"):
        list(iter_sketchrnn_npz(path))
    assert not marker.exists()


class _HugeArray:
    """Pickles as numpy's own array reconstruction, with a state claiming 10^9 objects."""

    def __reduce__(self):
        return (np.empty(0).__reduce__()[0], (np.ndarray, (0,), b"b"),
                (1, (10**9,), np.dtype(object), False, [1]))


def test_npz_whose_pickle_is_not_the_declared_array_is_refused(tmp_path: Path):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False,
                                               "shape": (3,)})
    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("sketches.npy", buf.getvalue() + pickle.dumps([1, 2, 3]))
    with pytest.raises(SketchError, match="not the object array of shape"):
        list(iter_sketchrnn_npz(path))
    with zipfile.ZipFile(path, "w") as z:  # a few bytes asking numpy for 8 GB
        z.writestr("sketches.npy", buf.getvalue() + pickle.dumps(_HugeArray(), protocol=2))
    with pytest.raises(SketchError, match=r"array data of 1 items for shape \(1000000000,\)"):
        list(iter_sketchrnn_npz(path))
    bad = np.empty(1, dtype=object)
    bad[0] = [[10**400, 0, 0]]  # a number too large for a float
    np.savez(path, sketches=bad)
    with pytest.raises(SketchError, match=r"\[sketches\]\[0\]: stroke-3 needs an \(n, 3\) array"):
        list(iter_sketchrnn_npz(path))


@pytest.mark.parametrize("content,message", [
    (b"", "not a readable .npz"),
    (b"PK\x03\x04 truncated zip", "not a readable .npz"),
])
def test_broken_npz_files_are_named(tmp_path: Path, content: bytes, message: str):
    path = tmp_path / "broken.npz"
    path.write_bytes(content)
    with pytest.raises(SketchError, match=f"{path}: {message}"):
        list(iter_sketchrnn_npz(path))


def test_npz_with_a_bad_drawing_names_key_and_index(tmp_path: Path):
    bad = _ragged(3, 3)
    bad[1] = np.zeros((3, 2))
    path = tmp_path / "bad.npz"
    np.savez(path, sketches=bad)
    with pytest.raises(SketchError, match=r"bad.npz\[sketches\]\[1\]: stroke-3 needs shape"):
        list(iter_sketchrnn_npz(path))


# --- numpy bitmaps --------------------------------------------------------------------------
def test_bitmaps_npy_yield_dark_ink_pages_with_labels(tmp_path: Path):
    imgs = np.zeros((2, 28, 28), np.uint8)
    imgs[0, 5:20, 14] = 255  # a bright vertical line, as the bitmap files store ink
    imgs[1, 10, 3:25] = 200
    path = tmp_path / "alarm_clock.npy"
    np.save(path, imgs.reshape(2, 784))
    out = list(iter_bitmaps_npy(path))
    assert [label for _, label in out] == ["alarm clock", "alarm clock"]
    page, _ = out[0]
    assert page.shape == (28, 28) and page.dtype == np.uint8
    assert page[10, 14] == 0 and page[0, 0] == 255  # inverted: dark ink on white


@pytest.mark.parametrize("array,message", [
    (np.zeros((2, 28, 28), np.uint8), "expected N×784 uint8"),
    (np.zeros((2, 784), np.float32), "expected N×784 uint8"),
])
def test_bitmaps_with_the_wrong_layout_are_refused(tmp_path: Path, array, message):
    path = tmp_path / "x.npy"
    np.save(path, array)
    with pytest.raises(SketchError, match=message):
        list(iter_bitmaps_npy(path))
    path.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(SketchError, match="not a readable .npy"):
        list(iter_bitmaps_npy(path))


# --- TU-Berlin PNG and SVG ------------------------------------------------------------------
def test_numbering_rule():
    assert [class_of_id(i) for i in (1, 80, 81, 20000)] == [0, 0, 1, 249]
    with pytest.raises(ValueError):
        class_of_id(0)


def test_tu_berlin_items_follow_the_numbering_rule(data_root: Path):
    tb = TuBerlin(data_root / "tu-berlin")
    assert len(tb.categories) == 250 and tb.categories[61] == "crane"
    items = list(tb.items())
    assert len(items) == 250 * PER_CLASS
    assert all(class_of_id(it.sketch_id) == it.label and tb.categories[it.label] == it.name
               for it in items)
    first, last = items[0], items[-1]
    assert (first.name, first.sketch_id, last.name, last.sketch_id) == ("airplane", 1, "zebra", 20000)
    img = read_png(first.path)
    assert img.shape == (480, 480) and img.dtype == np.uint8 and img.min() < 64 < img.max()


def test_tu_berlin_refuses_a_misfiled_sketch(tmp_path: Path):
    (tmp_path / "categories.txt").write_text("airplane\nalarm clock\n")
    (tmp_path / "png" / "airplane").mkdir(parents=True)
    (tmp_path / "png" / "alarm clock").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "png" / "airplane" / "81.png"), np.full((8, 8), 255, np.uint8))
    with pytest.raises(SketchError, match="id 81 belongs to class 1, not 0"):
        list(TuBerlin(tmp_path).items())
    with pytest.raises(SketchError, match="categories.txt: missing"):
        TuBerlin(tmp_path / "png")


def test_svgs_load_as_sketches_in_png_pixels_with_labels(data_root: Path):
    tb = TuBerlin(data_root / "tu-berlin")
    svgs = sorted((data_root / "tu-berlin" / "svg_samples").glob("*/*.svg"))
    assert len(svgs) == 17
    for path in svgs:
        sk = read_svg(path)
        assert sk.label == path.parent.name == tb.categories[class_of_id(int(path.stem))]
        assert sk.source_id == path.stem and len(sk) >= 3
        x0, y0, x1, y1 = sk.bounds()
        assert 0 <= x0 < x1 <= 480 and 0 <= y0 < y1 <= 480, path  # inside the PNG's page
    assert read_svg(svgs[0], label="given").label == "given"


def test_truncated_and_missing_pngs_are_named(data_root: Path, tmp_path: Path):
    real = data_root / "tu-berlin" / "png" / "airplane" / "1.png"
    cut = tmp_path / "cut.png"
    cut.write_bytes(real.read_bytes()[:200])
    for path, message in ((cut, "not a readable image"), (tmp_path / "none.png", "no such file")):
        with pytest.raises(SketchError, match=f"{path}: {message}"):
            read_png(path)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(SketchError, match="not a readable image"):
        read_png(empty)


SVG = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 800 800">{}</svg>'


def assert_svg_refused(tmp_path: Path, body: str, message: str) -> None:
    """An SVG holding ``body`` is refused with ``message``."""
    path = tmp_path / "7.svg"
    path.write_text(SVG.format(body))
    with pytest.raises(SketchError, match=message):
        read_svg(path)


@pytest.mark.parametrize("body,message", [
    ("<g/>", "the SVG has no paths"),
    ('<path d=""/>', "the SVG has no paths"),
    ('<path id="p1" d="M 10 10 C 20 20 30"/>', "path p1: truncated path data"),
    ('<path d="10 10 L 20 20"/>', "does not start with a command"),
    ('<path d="M 10 10 A 5 5 0 0 1 20 20"/>', "unsupported path command"),
    ("<path", "not a readable SVG"),
])
def test_bad_svgs_are_refused(tmp_path: Path, body: str, message: str):
    assert_svg_refused(tmp_path, body, message)


@pytest.mark.parametrize("transform,message", [
    ("translate()", r"bad transform 'translate\(\)' \(translate takes 1 or 2 numbers\)"),
    ("matrix(1 0 0 1 5)", "matrix takes 6 numbers"),
    ("scale(2, x)", "bad transform"),
    ("rotate(10 5)", "rotate takes 1 or 3 numbers"),
    ("perspective(3)", "unsupported transform 'perspective'"),
    ("translate(1) junk", "cannot read transform 'junk'"),
    ("scale(1e999)", "NaN or infinite"),
])
def test_bad_transforms_are_refused_by_name(tmp_path: Path, transform: str, message: str):
    assert_svg_refused(tmp_path, f'<g id="g1" transform="{transform}"><path d="M 1 1 L 2 2"/></g>',
                       message)


def test_deeply_nested_svg_and_rotations(tmp_path: Path):
    path = tmp_path / "8.svg"
    path.write_text(SVG.format("<g>" * 5000 + '<path transform="rotate(90, 10, 0) skewX(0)" '
                               'd="M 10 0 L 20 0"/>' + "</g>" * 5000))
    (stroke,) = read_svg(path).strokes
    np.testing.assert_allclose(stroke.points[:, :2] / (480 / 800), [[10, 0], [10, 10]],
                               atol=1e-9)


def test_svg_path_commands_and_transforms(tmp_path: Path):
    path = tmp_path / "svg" / "cat" / "9.svg"
    path.parent.mkdir(parents=True)
    path.write_text(SVG.format(
        '<g transform="translate(100,0) scale(2)">'
        '<path d="M 0 0 L 10 0 h 10 v 10 H 0 V 0 Z"/>'
        '<path d="m 0 50 c 0 10 10 10 10 0"/></g>'))
    sk = read_svg(path)
    assert sk.label == "cat" and sk.source_id == "9" and len(sk) == 2
    s = 480 / 800
    np.testing.assert_allclose(sk.strokes[0].points[:, :2] / s,
                               [[100, 0], [120, 0], [140, 0], [140, 20], [100, 20], [100, 0],
                                [100, 0]])
    curve = sk.strokes[1].points[:, :2] / s
    np.testing.assert_allclose(curve[[0, -1]], [[100, 100], [120, 100]])
    assert curve[:, 1].max() > 110  # the Bézier bulges towards its control points

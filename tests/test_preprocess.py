"""Sketch → model tensors: shapes, values, and every awkward input the canvas can produce."""
from __future__ import annotations

import numpy as np
import pytest

from sketchpad import preprocess as pp
from sketchpad.ink import Sketch, SketchError, Stroke, sketch_to_stroke3


def sk(*strokes) -> Sketch:
    return Sketch(tuple(Stroke.from_xy([p[0] for p in s], [p[1] for p in s]) for s in strokes))


SQUARE = sk([(0, 0), (100, 0), (100, 100), (0, 100), (0, 0)], [(20, 50), (80, 50)])
EMPTY = Sketch()


# --- the three inputs ------------------------------------------------------------------------
def test_convnet_input_shape_range_and_mean():
    spec = pp.ConvNetRaster(size=64, content=48, line_width=4.0, mean=0.1)
    x = pp.convnet_input(SQUARE, spec)
    assert x.shape == (1, 64, 64) and x.dtype == np.float32
    assert x.min() == pytest.approx(-0.1) and 0.5 < x.max() <= 0.9 + 1e-6
    ink = np.argwhere(x[0] > 0.3)
    # fitted into the centred 48-px box (8-px border left dark)
    assert ink.min() >= 8 and ink.max() <= 64 - 8


def test_the_picture_keeps_aspect_and_centres_the_short_side():
    wide = pp.render_sketch(sk([(0, 0), (200, 0), (200, 50), (0, 50), (0, 0)]), 100, 2.0)
    rows, cols = np.flatnonzero(wide.max(1) > 64), np.flatnonzero(wide.max(0) > 64)
    assert cols[0] <= 1 and cols[-1] >= 98  # longer side fills the box
    height = rows[-1] - rows[0]
    assert height == pytest.approx(25, abs=2)  # 200:50 kept
    assert (rows[0] + rows[-1]) / 2 == pytest.approx(49.5, abs=1)


def test_order_raster_grey_levels_fall_with_stroke_order():
    """13 thick, well-separated lines, so each line's core shows its exact level."""
    strokes = [[(0, 20 * i), (240, 20 * i)] for i in range(13)]
    img = pp.order_canvas(sk(*strokes), size=256, line_width=10.0)
    rows = np.flatnonzero(img.max(axis=1) > 0)
    bands = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
    assert len(bands) == 13
    assert [int(img[b].max()) for b in bands] == [255 - 13 * min(i, 10) for i in range(13)]
    x = pp.order_raster(sk(*strokes), pp.OrderRaster(size=32, mean=0.5))
    assert x.shape == (1, 32, 32) and x.dtype == np.float32 and 0 < x.max() <= 0.5 + 1e-6


def test_stroke3_input_pads_truncates_and_scales():
    seq, n = pp.stroke3_input(SQUARE, pp.Stroke3Spec(scale=10.0, max_len=16))
    raw = pp.stroke3_raw(SQUARE)
    assert seq.shape == (16, 3) and seq.dtype == np.float32 and n == len(raw) < 16
    np.testing.assert_array_equal(seq[:n, :2], raw[:, :2] / np.float32(10.0))
    np.testing.assert_array_equal(seq[:n, 2], raw[:, 2])
    assert not seq[n:].any()
    short, m = pp.stroke3_input(SQUARE, pp.Stroke3Spec(max_len=3))
    assert m == 3 and short.shape == (3, 3)
    np.testing.assert_array_equal(short, raw[:3])


def test_stroke3_raw_is_the_normalised_simplified_sketch():
    raw = pp.stroke3_raw(SQUARE)
    np.testing.assert_array_equal(raw, sketch_to_stroke3(SQUARE.model_ink).astype(np.float32))
    xy = np.cumsum(raw[:, :2], axis=0)
    assert xy.min() == 0 and xy.max() == 255


def test_specs_from_manifest_entries():
    assert pp.spec_from_dict({"kind": "stroke3", "scale": 2.0, "max_len": 9}) == \
        pp.Stroke3Spec(2.0, 9)
    with pytest.raises(ValueError, match="unknown preprocessing kind 'fft'"):
        pp.spec_from_dict({"kind": "fft"})
    with pytest.raises(ValueError, match="bad order_raster parameters"):
        pp.spec_from_dict({"kind": "order_raster", "colour": 3})


def test_place_in_canvas():
    pic = np.full((4, 4), 7, np.uint8)
    out = pp.place_in_canvas(pic, 10, at=(0, 6))
    assert out[:4, 6:].sum() == 7 * 16 and out.sum() == 7 * 16
    with pytest.raises(ValueError, match="does not fit"):
        pp.place_in_canvas(pic, 3)


def test_a_scaled_view_resizes_about_the_centre_and_resamples_bilinearly():
    pic = np.zeros((9, 9), np.uint8)
    pic[4, :] = 200  # a line through the middle row, edge to edge
    assert np.array_equal(pp.place_in_canvas(pic, 13, scale=1.0), pp.place_in_canvas(pic, 13))
    half = pp.place_in_canvas(pic, 13, scale=0.5)
    # the middle row stays on the canvas's middle row (centre 6); output pixels 4..8 sample the
    # input's pixels 0, 2, …, 8 (pixel centres map to pixel centres, as OpenCV's warp)
    assert np.flatnonzero(half.max(1)).tolist() == [6]
    assert half[6].tolist() == [0] * 4 + [200] * 5 + [0] * 4
    grown = pp.place_in_canvas(pic, 13, scale=1.4)
    assert grown[:, 6].tolist() == [0] * 5 + [57, 200, 57] + [0] * 5  # bilinear: 200 × (1 - 1/1.4)
    for bad in (0.0, -1.0, 2.0):
        with pytest.raises(ValueError, match="scale"):
            pp.place_in_canvas(pic, 13, scale=bad)
    spec = pp.ConvNetRaster(size=64, content=48, mean=0.1, scale=0.9)
    s = sk([(0, 0), (10, 10)])
    assert np.array_equal(pp.convnet_input(s, spec)[0],
                          pp.to_tensor(pp.place_in_canvas(pp.convnet_picture(s, spec), 64, scale=0.9), 0.1)[0])


def test_a_grey_page_takes_the_png_path():
    page = np.full((120, 90), 255, np.uint8)
    page[30:90, 40:50] = 0  # a dark bar on white
    x = pp.convnet_input(page, pp.ConvNetRaster())
    assert x.shape == (1, 224, 224) and x.max() == pytest.approx(1.0)


# --- awkward input ---------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda s: pp.convnet_input(s, pp.ConvNetRaster()),
    lambda s: pp.order_raster(s, pp.OrderRaster()),
    lambda s: pp.stroke3_input(s, pp.Stroke3Spec()),
    lambda s: pp.render_sketch(s, 180),
])
def test_an_empty_sketch_is_a_clear_error(fn):
    with pytest.raises(SketchError, match="the sketch is empty"):
        fn(EMPTY)


@pytest.mark.parametrize("page,message", [
    (np.full((50, 50), 255, np.uint8), "no ink"),
    (np.zeros((5, 5, 3), np.uint8), "expected a 2-D uint8 grey image"),
    (np.zeros((5, 5), np.float32), "expected a 2-D uint8 grey image"),
])
def test_pages_without_ink_or_of_the_wrong_kind_are_clear_errors(page, message):
    with pytest.raises(SketchError, match=message):
        pp.convnet_input(page, pp.ConvNetRaster())


@pytest.mark.parametrize("one", [sk([(40, 50)]), sk([(5, 5), (5, 5), (5, 5)]),
                                 sk([(1, 1)], [(1, 1)])])
def test_a_single_point_is_a_centred_dot(one):
    img = pp.render_sketch(one, 180, line_width=3.0)
    ink = np.argwhere(img > 64)
    assert len(ink) > 0
    assert np.abs(ink.mean(axis=0) - 89.5).max() <= 1  # centred
    assert np.ptp(ink, axis=0).max() <= 4  # a dot, not a line
    assert pp.order_canvas(one).max() > 200
    seq, n = pp.stroke3_input(one, pp.Stroke3Spec())
    assert n == one.model_ink.n_points
    assert not seq[:n, :2].any()  # all at the origin


def test_nan_ink_never_reaches_preprocessing():
    with pytest.raises(SketchError, match="NaN or infinite"):
        pp.convnet_input(sk([(0, 0), (float("nan"), 1)]), pp.ConvNetRaster())


def test_a_10000_point_stroke_is_simplified_and_rendered():
    t = np.linspace(0, 40 * np.pi, 10_000)
    spiral = sk(list(zip(t * np.cos(t), t * np.sin(t))))
    seq, n = pp.stroke3_input(spiral, pp.Stroke3Spec(max_len=4096))
    assert 50 < n < 2_000  # RDP ε=2 did its job
    x = pp.convnet_input(spiral, pp.ConvNetRaster())
    assert np.isfinite(x).all() and x.max() > 0.5


def test_tiny_and_huge_coordinates_give_the_same_picture():
    a = pp.render_sketch(SQUARE, 96)
    for factor in (1e-6, 1e6):
        scaled = Sketch(tuple(Stroke(s.points * [factor, factor, 1, 1]) for s in SQUARE.strokes))
        assert (np.abs(pp.render_sketch(scaled, 96).astype(int) - a) <= 1).all()


# --- the drawing itself (Pillow, supersampled) ------------------------------------------------
def test_lines_are_anti_aliased_and_as_wide_as_asked():
    """A horizontal line 3 px wide between pixel rows: a solid core, soft edges, and total ink
    per column equal to the width (area coverage), away from the round ends."""
    img = pp.render_sketch(sk([(0, 100), (255, 100)], [(0, 0)], [(0, 255)]), 128, line_width=6.0)
    col = img[:, 64].astype(float) / 255
    width = 6.0 * 128 / 255
    assert col.sum() == pytest.approx(width, abs=0.35)
    assert col.max() == 1.0 and ((col > 0) & (col < 1)).any()   # a core and grey edges


def test_area_shrink_matches_opencv_inter_area_on_a_real_page(data_root):
    """The TU-Berlin model was trained on OpenCV's INTER_AREA; the app's shrink must agree."""
    cv2 = pytest.importorskip("cv2")  # a training dependency, used here only as the reference
    from sketchpad.datasets.tu_berlin import read_png
    page = 255 - read_png(data_root / "tu-berlin" / "png" / "airplane" / "1.png")
    for h, w in [(180, 180), (173, 97), (50, 211)]:
        ours = np.rint(pp._area_resize(pp._area_resize(page.astype(float), h).T, w).T)
        ref = cv2.resize(page, (w, h), interpolation=cv2.INTER_AREA).astype(float)
        assert np.abs(ours - ref).max() <= 1 and (ours != ref).mean() < 1e-3


def test_area_shrink_keeps_the_mean():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (301, 97)).astype(float)
    small = pp._area_resize(a, 40)
    assert small.shape == (40, 97)
    np.testing.assert_allclose(small.mean(axis=0), a.mean(axis=0), rtol=1e-9)

"""Pictures: read by content against an allow-list, bounded in pixels, every mode to grey right."""
from __future__ import annotations

import os
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image

from sketchpad import images
from sketchpad.images import PictureError, picture_format, read_picture
from sketchpad.ink import SketchError
from sketchpad.preprocess import render_image

#: A real, tiny EPS: what a hostile "page.png" holds (it draws a line and would run in Ghostscript).
EPS = b"""%!PS-Adobe-3.0 EPSF-3.0
%%BoundingBox: 0 0 16 16
%%EndComments
newpath 0 0 moveto 16 16 lineto stroke
(/tmp/pwned) (w) file closefile
showpage
%%EOF
"""


def _page(tmp_path: Path, img: Image.Image, name: str = "page.png", **save) -> Path:
    path = tmp_path / name
    img.save(path, **save)
    return path


def test_postscript_named_png_is_refused_and_never_reaches_ghostscript(tmp_path: Path,
                                                                      monkeypatch):
    calls = []
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(EpsImagePlugin, "has_ghostscript", lambda: calls.append("probe") or True)
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: calls.append(a))
    for name, content in (("page.png", EPS), ("scan.jpg", b"\xc5\xd0\xd3\xc6" + EPS)):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(PictureError, match=f"{path}: not a readable image "
                                               r"\(PostScript.*does not run"):
            read_picture(path)
    assert calls == []


@pytest.mark.parametrize("content, reason", [
    (b"", "empty file"),
    (b"GIF89a\x01\x00\x01\x00", "GIF data; Sketchpad reads PNG, JPEG, BMP"),
    (b"\x89PNG\r\n\x1a\n truncated", r"truncated or corrupt\?"),
    (b"\xff\xd8\xff\xe0 garbage", r"truncated or corrupt\?"),
    (b"BM garbage", r"truncated or corrupt\?"),
])
def test_broken_and_unknown_files_are_named(tmp_path: Path, content: bytes, reason: str):
    path = tmp_path / "x.png"
    path.write_bytes(content)
    with pytest.raises(PictureError, match=f"{path}: not a readable image .*{reason}"):
        read_picture(path)


def test_missing_folders_and_fifos_are_refused_without_blocking(tmp_path: Path):
    with pytest.raises(PictureError, match="no such file"):
        read_picture(tmp_path / "none.png")
    with pytest.raises(PictureError, match="not a regular file"):
        read_picture(tmp_path)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # opening it would wait for a writer for ever
    with pytest.raises(PictureError, match="not a regular file"):
        read_picture(fifo)
    assert issubclass(PictureError, SketchError)  # the CLI's exit 3


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that claims ``width × height`` (8-bit grey) with one tiny IDAT: the bound must
    refuse it from the header, before a pixel is decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_a_huge_png_is_refused_from_its_header(tmp_path: Path):
    for w, h in ((13000, 13000), (50_000, 50_000)):  # the second trips Pillow's own bomb check
        path = tmp_path / f"huge{w}.png"
        _png_header_only(path, w, h)
        with pytest.raises(PictureError, match=f"{path}: .*more than 16,777,216 pixels"):
            read_picture(path)


def test_a_large_jpeg_is_decoded_smaller_and_a_large_png_refused(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 100 * 100)
    big = Image.new("L", (380, 300), 255)
    big.paste(0, (100, 100, 200, 120))
    page = read_picture(_page(tmp_path, big, "big.jpg", quality=95))
    assert page.shape == (75, 95) and page.dtype == np.uint8  # libjpeg at 1/4 scale
    assert page.min() < 64 and page.max() > 200
    with pytest.raises(PictureError, match="380×300 is more than 10,000 pixels"):
        read_picture(_page(tmp_path, big, "big.png"))


def test_sixteen_bit_grey_keeps_mid_grey_ink(tmp_path: Path):
    values = np.full((40, 40), 65535, np.uint16)
    values[10:30, 19:21] = 32768  # mid-grey ink, which 8-bit clipping read as white
    page = read_picture(_page(tmp_path, Image.fromarray(values)))
    assert page.dtype == np.uint8 and page[15, 19] == 128 and page[0, 0] == 255
    assert render_image(page, 28).max() == 255  # found as ink


def test_palette_alpha_and_rgb_pages_read_as_grey_on_white(tmp_path: Path):
    rgba = Image.new("RGBA", (20, 20), (0, 0, 0, 0))  # transparent black: a white page
    rgba.paste((0, 0, 0, 255), (5, 5, 15, 7))
    grey = read_picture(_page(tmp_path, rgba, "rgba.png"))
    assert grey[0, 0] == 255 and grey[6, 10] == 0
    la = read_picture(_page(tmp_path, rgba.convert("LA"), "la.png"))
    np.testing.assert_array_equal(la, grey)
    pal = rgba.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    np.testing.assert_array_equal(read_picture(_page(tmp_path, pal, "p.png")),
                                  np.asarray(rgba.convert("RGB").convert("L")))
    transparent = Image.new("P", (8, 8), 1)
    transparent.putpalette([0, 0, 0, 10, 10, 10])
    assert read_picture(_page(tmp_path, transparent, "t.png", transparency=1)).min() == 255
    bmp = read_picture(_page(tmp_path, rgba.convert("RGB"), "page.bmp"))
    assert bmp[6, 10] == 0 and bmp[0, 0] == 0  # no alpha in RGB: the black page stays black


def test_the_format_comes_from_the_content_not_the_name(tmp_path: Path):
    assert picture_format(b"\x89PNG\r\n\x1a\n....") == "PNG"
    assert picture_format(b"\xff\xd8\xff\xe1") == "JPEG" and picture_format(b"%!PS") is None
    path = _page(tmp_path, Image.new("L", (4, 3), 0), "really-a-png.jpg", format="PNG")
    assert read_picture(path).shape == (3, 4)

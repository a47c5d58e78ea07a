"""Pictures of sketches (scans, photos, TU-Berlin pages) read safely, the one way every caller does.

Pillow picks a decoder by a file's content, whatever its name, and some of its decoders hand the
file to an external program: a PostScript file called ``page.png`` would run in Ghostscript. So
the format is decided here from the first bytes, against an allow-list (PNG, JPEG, BMP: decoders
that live inside Pillow), and Pillow is told to try that format only. Decoding is bounded:
at most :data:`MAX_PIXELS` pixels are decoded (a larger JPEG is decoded at 1/2, 1/4 or 1/8 scale
by libjpeg itself; a larger PNG or BMP is refused before any pixel is read). Every failure is a
:class:`PictureError` whose message names the file and says why.
"""
from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from .ink import SketchError

#: Most pixels decoded: 16 M (a 4096 × 4096 page). A page of sketch needs far fewer, and the
#: bound keeps a 200 KB file from asking for gigabytes.
MAX_PIXELS = 4096 * 4096
#: Leading bytes → the Pillow format that decodes them (all decoded in-process).
SIGNATURES = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"BM": "BMP"}
#: Leading bytes of formats worth naming when refused (PostScript, plain and DOS EPS).
_REFUSED = {b"%!": "PostScript", b"\xc5\xd0\xd3\xc6": "PostScript (EPS)", b"%PDF": "PDF",
            b"GIF8": "GIF", b"II*\x00": "TIFF", b"MM\x00*": "TIFF", b"RIFF": "RIFF (WebP?)",
            b"<": "text (SVG or HTML?)"}
_HEAD = 16


class PictureError(SketchError):
    """A file that is not a picture Sketchpad reads; a :class:`SketchError`, so the CLI reports
    it as a bad input file (exit 3, ``sketchpad: FILE: reason``)."""


def picture_format(head: bytes) -> str | None:
    """The allowed format whose signature ``head`` starts with, else ``None``."""
    return next((fmt for sig, fmt in SIGNATURES.items() if head.startswith(sig)), None)


def read_picture(path: str | Path) -> np.ndarray:
    """A sketch page as a 2-D uint8 grey array, dark ink on a light page.

    Transparency is laid on white, as a page would show it; palette images go through their
    palette; 16-bit grey is scaled by 255/65535 (in float32), so mid-grey ink stays mid-grey
    instead of clipping to white. Safe to call from a worker thread (it touches no Qt).
    """
    path = Path(path)
    head = _head(path)
    fmt = picture_format(head)
    if fmt is None:
        raise PictureError(f"{path}: not a readable image ({_describe(head)})")
    try:
        with warnings.catch_warnings():  # the pixel bound below is ours; no Pillow warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path, formats=[fmt])
        with img:
            _bound(img, path)
            img.load()
            return _grey(img)
    except PictureError:
        raise
    except Image.DecompressionBombError:
        raise PictureError(f"{path}: more than {MAX_PIXELS:,} pixels, too large to read; "
                           "scale the picture down") from None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError, TypeError,
            ZeroDivisionError, OverflowError):  # what Pillow's decoders raise on broken data
        raise PictureError(f"{path}: not a readable image (truncated or corrupt?)") from None


def _head(path: Path) -> bytes:
    """The first bytes of a regular file (never a FIFO or device, which could block or not end)."""
    if not path.exists():
        raise PictureError(f"{path}: no such file")
    if not path.is_file():
        raise PictureError(f"{path}: not a regular file")
    try:
        with path.open("rb") as f:
            return f.read(_HEAD)
    except OSError as exc:
        raise PictureError(f"{path}: cannot open ({exc.strerror})") from None


def _describe(head: bytes) -> str:
    if not head:
        return "empty file"
    kind = next((name for sig, name in _REFUSED.items() if head.startswith(sig)), None)
    if kind and kind.startswith("PostScript"):
        return f"{kind}, which Sketchpad does not run: save it as PNG"
    return f"{kind or 'unknown'} data; Sketchpad reads {', '.join(SIGNATURES.values())}"


def _bound(img: Image.Image, path: Path) -> None:
    """Refuse, or for JPEG shrink at decode time, a picture of more than :data:`MAX_PIXELS`."""
    w, h = img.size
    if w * h <= MAX_PIXELS:
        return
    if img.format == "JPEG":
        for factor in (2, 4, 8):
            if (-(-w // factor)) * (-(-h // factor)) <= MAX_PIXELS:
                img.draft(img.mode, (-(-w // factor), -(-h // factor)))
                break
        if img.size[0] * img.size[1] <= MAX_PIXELS:
            return
    raise PictureError(f"{path}: {w}×{h} is more than {MAX_PIXELS:,} pixels, too large to "
                       "read; scale the picture down")


def _grey(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey (PNG); "I" holds it widened
        values = np.asarray(img)
        if "transparency" in img.info:  # tRNS: one grey value stands for "transparent"
            values = np.where(values == img.info["transparency"], 65535, values)
        out = values.astype(np.float32)
        out *= np.float32(255 / 65535)
        return np.rint(out, out=out).clip(0, 255).astype(np.uint8)
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return np.asarray(img.convert("L"))

"""Download the public Quick, Draw! per-class files (the full set is 50 M drawings; take classes).

``python -m sketchpad.datasets.download --classes cat,dog --dest DIR [--format simplified|raw|bitmap|sketchrnn] [--base-url URL]``

Files come from Google's public bucket (``{base}/full/simplified/<class>.ndjson``,
``full/raw/<class>.ndjson``, ``full/numpy_bitmap/<class>.npy``, ``sketchrnn/<class>.npz``) and
are saved as ``<class with _ for spaces>.<ext>``, the names the loaders and ``MANIFEST.tsv`` use.

Each file streams into ``<name>.part`` and is renamed into place only when complete and checked,
so an interrupted run never leaves a half file under the final name. Running again resumes a
``.part`` with an HTTP ``Range`` request (or starts over if the server ignores it). The size is
checked against the server's ``Content-Length``; the content against a sha256 you pass, and
against the MD5 Google Cloud Storage sends in ``x-goog-hash``, whenever those are known.
Only the standard library (``urllib``) is used.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

BASE_URL = "https://storage.googleapis.com/quickdraw_dataset"
#: format → (folder under the base URL, file extension)
FORMATS = {"simplified": ("full/simplified", "ndjson"), "raw": ("full/raw", "ndjson"),
           "bitmap": ("full/numpy_bitmap", "npy"), "sketchrnn": ("sketchrnn", "npz")}
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A file that could not be fetched or failed its check; the message names the URL."""


@dataclass(frozen=True)
class Fetched:
    """What happened to one file: ``status`` is ``downloaded``, ``resumed`` or ``present``."""

    url: str
    path: Path
    status: str
    size: int


def url_for(cls: str, fmt: str = "simplified", base_url: str = BASE_URL) -> str:
    """The bucket URL of one class file; class names keep their spaces (URL-quoted)."""
    folder, ext = _format(fmt)
    return f"{base_url.rstrip('/')}/{folder}/{urllib.parse.quote(cls)}.{ext}"


def local_name(cls: str, fmt: str = "simplified") -> str:
    """``coffee cup`` → ``coffee_cup.ndjson`` (the inverse of ``quickdraw.class_name``)."""
    return f"{cls.replace(' ', '_')}.{_format(fmt)[1]}"


def _format(fmt: str) -> tuple[str, str]:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    return FORMATS[fmt]


def _digest(path: Path, algorithm: str) -> bytes:
    h = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            h.update(block)
    return h.digest()


def _goog_md5(headers: Mapping[str, str]) -> bytes | None:
    """The whole object's MD5 from ``x-goog-hash: crc32c=...,md5=<base64>``, if sent."""
    m = re.search(r"md5=([A-Za-z0-9+/=]+)", headers.get("x-goog-hash", "") or "")
    return base64.b64decode(m.group(1)) if m else None


def _total_size(resp: http.client.HTTPResponse) -> int | None:
    """The complete file's size from ``Content-Range`` (206) or ``Content-Length`` (200)."""
    if resp.status == 206:
        m = re.search(r"/(\d+)\s*$", resp.headers.get("Content-Range", ""))
        return int(m.group(1)) if m else None
    length = resp.headers.get("Content-Length")
    return int(length) if length is not None else None


def download_file(url: str, dest: Path, sha256: str | None = None, size: int | None = None,
                  timeout: float = 60.0) -> Fetched:
    """Fetch ``url`` to ``dest`` through ``dest.part``, resuming it; checks and renames at the end.

    A ``dest`` that already exists is kept (status ``present``) when it passes the known checks
    (``sha256``, ``size``); one that fails them is fetched again.
    """
    dest = Path(dest)
    if dest.is_file() and _passes(dest, sha256, size):
        return Fetched(url, dest, "present", dest.stat().st_size)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        resp = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the .part is already whole (or longer than the file)
            return _finish(url, part, dest, sha256, size, None, "resumed")
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"{url}: {getattr(exc, 'reason', exc)}") from None
    with resp:
        resumed = resp.status == 206
        total = _total_size(resp)
        md5 = _goog_md5(resp.headers)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with part.open("ab" if resumed else "wb") as handle:
                for block in iter(lambda: resp.read(_CHUNK), b""):
                    handle.write(block)
        except (http.client.IncompleteRead, OSError) as exc:
            raise DownloadError(f"{url}: transfer broke off ({exc}); run again to resume "
                                f"from {part}") from None
    if total is not None and size is None:
        size = total
    return _finish(url, part, dest, sha256, size, md5, "resumed" if resumed else "downloaded")


def _passes(path: Path, sha256: str | None, size: int | None) -> bool:
    return ((size is None or path.stat().st_size == size)
            and (sha256 is None or _digest(path, "sha256").hex() == sha256.lower()))


def _finish(url: str, part: Path, dest: Path, sha256: str | None, size: int | None,
            md5: bytes | None, status: str) -> Fetched:
    """Check the ``.part`` and rename it into place. A short one is kept (the next run resumes
    it); one that is too long or has the wrong content is deleted, since resuming cannot mend it."""
    got = part.stat().st_size
    if size is not None and got < size:
        raise DownloadError(f"{url}: got {got} of {size} bytes; run again to resume from {part}")
    problem = None
    if size is not None and got != size:
        problem = f"size {got} bytes, expected {size}"
    elif sha256 is not None and _digest(part, "sha256").hex() != sha256.lower():
        problem = "sha256 differs from the expected one"
    elif md5 is not None and _digest(part, "md5") != md5:
        problem = "MD5 differs from the server's x-goog-hash"
    if problem:
        part.unlink()
        raise DownloadError(f"{url}: {problem}")
    part.replace(dest)
    return Fetched(url, dest, status, got)


def download_classes(classes: Iterable[str], dest: str | Path, fmt: str = "simplified",
                     base_url: str = BASE_URL,
                     sha256: Mapping[str, str] | None = None) -> list[Fetched]:
    """Fetch one file per class into ``dest``; ``sha256`` maps class → expected digest."""
    dest = Path(dest)
    return [download_file(url_for(c, fmt, base_url), dest / local_name(c, fmt),
                          sha256=(sha256 or {}).get(c))
            for c in classes]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sketchpad.datasets.download",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", required=True,
                        help="comma-separated class names, as Quick, Draw! spells them")
    parser.add_argument("--dest", required=True, type=Path, help="folder to save into")
    parser.add_argument("--format", default="simplified", choices=FORMATS)
    parser.add_argument("--base-url", default=BASE_URL)
    args = parser.parse_args(argv)
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    failed = 0
    for c in classes:
        try:
            (got,) = download_classes([c], args.dest, args.format, args.base_url)
            print(f"{got.status:10s} {got.size:12,d}  {got.path}")
        except DownloadError as exc:
            failed += 1
            print(f"failed     {exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

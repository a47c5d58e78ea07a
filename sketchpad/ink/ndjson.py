"""Quick, Draw! ndjson, one drawing per line: ``{"word", "key_id", ..., "drawing": [[xs], [ys], [ts]]}``.

Raw files carry float coordinates and ``t`` in ms; simplified files carry integers and no ``t``.
Sketchpad adds an optional ``"pressure": [[ps], ...]`` per stroke, which other Quick, Draw! tools
ignore. Reading then writing with the same options gives back equal JSON values.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from .sketch import P, Sketch, SketchError, Stroke, T, X, Y

_OWN_FIELDS = {"word", "key_id", "drawing", "pressure"}


def _number(v: float) -> int | float:
    """Integers stay integers on disk (simplified files are ints); other floats keep full repr."""
    return int(v) if float(v).is_integer() else float(v)


def drawing_to_sketch(obj: Any) -> Sketch:
    """One parsed ndjson object → Sketch; raises :class:`SketchError` saying what is wrong."""
    if not isinstance(obj, dict) or "drawing" not in obj:
        raise SketchError('expected an object with a "drawing" field')
    drawing, pressure = obj["drawing"], obj.get("pressure")
    if not isinstance(drawing, list):
        raise SketchError('"drawing" must be a list of strokes')
    if pressure is not None and (not isinstance(pressure, list) or len(pressure) != len(drawing)):
        raise SketchError('"pressure" must hold one list per stroke')
    strokes = []
    for i, stroke in enumerate(drawing):
        if not isinstance(stroke, list) or len(stroke) not in (2, 3):
            raise SketchError(f"stroke {i}: expected [xs, ys] or [xs, ys, ts]")
        try:
            ts = stroke[2] if len(stroke) == 3 else None
            ps = pressure[i] if pressure is not None else None
            strokes.append(Stroke.from_xy(stroke[0], stroke[1], ts, ps))
        except (TypeError, ValueError) as exc:
            raise SketchError(f"stroke {i}: {exc}") from None
    key = obj.get("key_id")
    meta = {k: v for k, v in obj.items() if k not in _OWN_FIELDS}
    meta["has_time"] = any(len(s) == 3 for s in drawing) if drawing else False
    return Sketch(tuple(strokes), label=obj.get("word"),
                  source_id=None if key is None else str(key), meta=meta)


def sketch_to_drawing(sketch: Sketch, with_time: bool | None = None,
                      with_pressure: bool | None = None) -> dict[str, Any]:
    """Sketch → ndjson object. ``None`` options mean "as the sketch came" (time if it had time,
    pressure if any point is not 1.0)."""
    if with_time is None:
        with_time = bool(sketch.meta.get("has_time", True))
    if with_pressure is None:
        with_pressure = any(bool((s.points[:, P] != 1.0).any()) for s in sketch.strokes)
    # Key order as Google writes it (word, other fields, key_id, drawing): a Quick, Draw! line
    # read and written again comes back byte for byte.
    obj: dict[str, Any] = {} if sketch.label is None else {"word": sketch.label}
    obj.update((k, v) for k, v in sketch.meta.items() if k != "has_time")
    if sketch.source_id is not None:
        obj["key_id"] = sketch.source_id
    cols = (X, Y, T) if with_time else (X, Y)
    obj["drawing"] = [[[_number(v) for v in s.points[:, c]] for c in cols] for s in sketch.strokes]
    if with_pressure:
        obj["pressure"] = [[float(v) for v in s.points[:, P]] for s in sketch.strokes]
    return obj


def parse_line(line: str, where: str = "<string>") -> Sketch:
    """Parse one ndjson line; errors name ``where`` (``file:line``)."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SketchError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    try:
        return drawing_to_sketch(obj)
    except SketchError as exc:
        raise SketchError(f"{where}: {exc}") from None


def iter_ndjson(path: str | Path, errors: str = "raise",
                bad_lines: list[str] | None = None) -> Iterator[Sketch]:
    """Stream the drawings of an ndjson file (raw or simplified), a line at a time.

    ``errors="raise"`` stops at the first bad line with ``file:line`` in the message;
    ``errors="skip"`` passes it over and, if ``bad_lines`` is given, appends the message there.
    Blank lines are ignored.
    """
    if errors not in ("raise", "skip"):
        raise ValueError("errors must be 'raise' or 'skip'")
    path = Path(path)
    try:
        handle = path.open("rb")  # decoded line by line, so an encoding error names its line
    except OSError as exc:
        raise SketchError(f"{path}: cannot open ({exc.strerror})") from None
    with handle:
        for lineno, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                sketch = parse_line(_decode(raw, where), where)
            except SketchError as exc:
                if errors == "raise":
                    raise
                if bad_lines is not None:
                    bad_lines.append(str(exc))
                continue
            yield sketch


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SketchError(f"{where}: not UTF-8 text") from None


def write_ndjson(sketches: Iterable[Sketch], out: str | Path | IO[str], with_time: bool | None = None,
                 with_pressure: bool | None = None) -> int:
    """Write drawings one per line; returns the count. Paths are written atomically (temp file +
    rename) so a failed write (full disk, read-only folder) leaves any previous file intact."""
    if not isinstance(out, (str, Path)):
        return _write_lines(sketches, out, with_time, with_pressure)
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            n = _write_lines(sketches, handle, with_time, with_pressure)
        tmp.replace(out)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return n


def _write_lines(sketches: Iterable[Sketch], handle: IO[str], with_time: bool | None,
                 with_pressure: bool | None) -> int:
    n = 0
    for sketch in sketches:
        handle.write(json.dumps(sketch_to_drawing(sketch, with_time, with_pressure),
                                separators=(",", ":")))
        handle.write("\n")
        n += 1
    return n

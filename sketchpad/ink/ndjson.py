"""Quick, Draw! ndjson, one drawing per line: ``{"word", "key_id", ..., "drawing": [[xs], [ys], [ts]]}``.

Raw files carry float coordinates and ``t`` in ms; simplified files carry integers and no ``t``.
Sketchpad adds an optional ``"pressure": [[ps], ...]`` per stroke, which other Quick, Draw! tools
ignore. Reading then writing with the same options gives back equal JSON values.

Reading has bounded cost whatever the file holds (a FIFO, ``/dev/zero``, a hostile line): lines
are read at most :data:`MAX_LINE_BYTES` at a time, a drawing holds at most :data:`MAX_POINTS`
points, and every way a line can be wrong (deep nesting, giant integers, NaN, a lone surrogate,
a ``word`` that is not text) is a :class:`SketchError` naming ``file:line``.
"""
from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from .sketch import MAX_POINTS, P, Sketch, SketchError, Stroke, T, X, Y

_OWN_FIELDS = {"word", "key_id", "drawing", "pressure"}
#: Longest line read, newline excluded. Real raw lines are under 40 KB; a longer one is refused
#: before it is held whole, so a file without newlines cannot fill the memory.
MAX_LINE_BYTES = 16 * 2**20
#: Deepest nesting of an extra field (real files carry only strings, numbers and booleans).
MAX_META_DEPTH = 32


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
    label, key = obj.get("word"), obj.get("key_id")
    if label is not None and not isinstance(label, str):
        raise SketchError('"word" must be a string')
    if key is not None and (isinstance(key, bool) or not isinstance(key, (str, int))):
        raise SketchError('"key_id" must be a string or an integer')
    strokes = []
    n_points = 0
    for i, stroke in enumerate(drawing):
        if (not isinstance(stroke, list) or len(stroke) not in (2, 3)
                or not all(isinstance(c, list) for c in stroke)):
            raise SketchError(f"stroke {i}: expected [xs, ys] or [xs, ys, ts]")
        n_points += len(stroke[0])
        if n_points > MAX_POINTS:
            raise SketchError(f"more than {MAX_POINTS:,} points in one drawing")
        try:
            ts = stroke[2] if len(stroke) == 3 else None
            ps = pressure[i] if pressure is not None else None
            strokes.append(Stroke.from_xy(stroke[0], stroke[1], ts, ps))
        except (TypeError, ValueError, OverflowError) as exc:
            raise SketchError(f"stroke {i}: {exc}") from None
    meta = {k: v for k, v in obj.items() if k not in _OWN_FIELDS}
    for k, v in meta.items():
        _check_field(k, v)
    _check_field("word", label)
    _check_field("key_id", key)
    meta["has_time"] = any(len(s) == 3 for s in drawing) if drawing else False
    return Sketch(tuple(strokes), label=label, source_id=None if key is None else str(key),
                  meta=meta)


def _check_field(name: str, value: Any) -> None:
    """An extra field must be printable text all the way down and shallow: a lone surrogate
    (``"\\ud800"``) cannot be written as UTF-8, and deep nesting would overflow whatever
    recursion later writes or compares it."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_META_DEPTH:
            raise SketchError(f'"{name}" is nested more than {MAX_META_DEPTH} deep')
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise SketchError(f'"{name}" holds a lone surrogate, which is not text') from None
        elif isinstance(v, dict):
            stack.extend((k, depth + 1) for k in v)
            stack.extend((x, depth + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, depth + 1) for x in v)


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
        obj = json.loads(line, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise SketchError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise SketchError(f"{where}: not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # an integer of more than 4,300 digits, or NaN / Infinity
        raise SketchError(f"{where}: not valid JSON ({exc})") from None
    try:
        return drawing_to_sketch(obj)
    except SketchError as exc:
        raise SketchError(f"{where}: {exc}") from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def iter_ndjson(path: str | Path, errors: str = "raise",
                bad_lines: list[str] | None = None) -> Iterator[Sketch]:
    """Stream the drawings of an ndjson file (raw or simplified), a line at a time.

    ``errors="raise"`` stops at the first bad line with ``file:line`` in the message;
    ``errors="skip"`` passes it over and, if ``bad_lines`` is given, appends the message there.
    Blank lines are ignored; a UTF-8 byte-order mark at the start is allowed.
    """
    for _, sketch in iter_ndjson_numbered(path, errors, bad_lines):
        yield sketch


def iter_ndjson_numbered(path: str | Path, errors: str = "raise",
                         bad_lines: list[str] | None = None) -> Iterator[tuple[int, Sketch]]:
    """:func:`iter_ndjson` with each drawing's line number (1-based), for messages that say
    ``file:line`` about a drawing after it was read."""
    if errors not in ("raise", "skip"):
        raise ValueError("errors must be 'raise' or 'skip'")
    path = Path(path)
    try:
        handle = path.open("rb")  # decoded line by line, so an encoding error names its line
    except OSError as exc:
        raise SketchError(f"{path}: cannot open ({exc.strerror})") from None
    with handle:
        for lineno, raw in _bounded_lines(handle, path):
            where = f"{path}:{lineno}"
            try:
                if raw is None:
                    raise SketchError(f"{where}: line longer than {MAX_LINE_BYTES / 2**20:g} MiB")
                if not raw.strip():
                    continue
                sketch = parse_line(_decode(raw, where), where)
            except SketchError as exc:
                if errors == "raise":
                    raise
                if bad_lines is not None:
                    bad_lines.append(str(exc))
                continue
            yield lineno, sketch


def _bounded_lines(handle: IO[bytes], path: Path) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, bytes)``, reading at most :data:`MAX_LINE_BYTES` + 1 bytes at a time; a
    longer line comes as ``None`` and the rest of it is read in chunks and dropped."""
    lineno = 0
    while True:
        try:
            raw = handle.readline(MAX_LINE_BYTES + 1)
        except OSError as exc:
            raise SketchError(f"{path}:{lineno + 1}: cannot read ({exc.strerror})") from None
        if not raw:
            return
        lineno += 1
        if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            yield lineno, None
            while raw and not raw.endswith(b"\n"):  # bounded memory even on /dev/zero
                raw = handle.readline(2**20)
            continue
        yield lineno, raw


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

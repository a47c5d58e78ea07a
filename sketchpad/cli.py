"""``sketchpad classify | search | packs``: the app's engine from a shell, with no Qt imported.

Every command goes through :class:`~sketchpad.runtime.LoadedPack`, the object the window uses,
so what a script prints is what the window would show for the same drawing.

Exit codes (a script can rely on them; ``sketchpad --help`` lists them too):

* 0 — done;
* 2 — usage error (unknown command or option, bad value);
* 3 — a bad input file: one line ``sketchpad: FILE:LINE: reason`` on stderr, no traceback;
* 4 — no usable pack: none installed, the one asked for is missing or broken, or it cannot read
  this kind of input (a stroke-order pack given a PNG).
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .images import picture_format, read_picture
from .ink import Sketch, SketchError, iter_ndjson_numbered
from .jsonstream import JsonStream
from .pack import DEPTHS, MANIFEST, Pack, PackEntry, PackError, builtin_packs_dir, discover_packs, \
    load_pack, user_packs_dir
from .preprocess import ConvNetRaster

EXIT_OK, EXIT_USAGE, EXIT_INPUT, EXIT_PACK = 0, 2, 3, 4
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
#: Pack preferred by default for each kind of input, when it is installed and valid.
PREFERRED = {"strokes": "quickdraw", "image": "tu-berlin"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}
PACKS_DIR_ENV_HELP = ("search packs only in DIR (default: the built-in packs, then "
                      "$SKETCHPAD_PACKS or ~/.local/share/sketchpad/packs)")
WORDS_DIR_HELP = ("taught words live in DIR/<pack>/ (default: $SKETCHPAD_WORDS or "
                  "~/.local/share/sketchpad/words)")

EPILOG = """\
exit codes:
  0  done
  2  usage error
  3  bad input file (one line "sketchpad: FILE:LINE: reason" on stderr)
  4  no usable pack (none installed, missing, broken, or unable to read this input)

With no command, sketchpad starts the desktop app."""


class CliError(Exception):
    """A failure to report as one line on stderr with its exit code."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


# --- inputs --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Drawing:
    """One thing to classify: a sketch (ndjson) or a grey page (image), and where it came from:
    ``where`` names it in the output (``FILE#N``, the N-th drawing), ``origin`` in error
    messages (``FILE:LINE``, or ``FILE`` for a picture)."""

    where: str
    source: Sketch | np.ndarray
    label: str | None
    origin: str


def input_kind(path: Path) -> str:
    """``"image"`` for PNG/JPEG/BMP (by suffix or signature), else ``"strokes"`` (ndjson).

    Only a regular file is peeked at: a FIFO would block, or lose the bytes read."""
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return "image"
    try:
        if path.is_file():
            with path.open("rb") as f:
                return "image" if picture_format(f.read(16)) else "strokes"
    except OSError:
        pass
    return "strokes"  # the ndjson reader then says why the file cannot be read, if it cannot


def read_drawings(path: Path) -> Iterator[Drawing]:
    """The drawings of one file, streamed; a bad file raises :class:`SketchError` with FILE:LINE."""
    if input_kind(path) == "image":
        yield Drawing(str(path), read_picture(path), None, str(path))
        return
    n = 0
    for n, (line, sketch) in enumerate(iter_ndjson_numbered(path), 1):
        yield Drawing(f"{path}#{n}", sketch, sketch.label, f"{path}:{line}")
    if n == 0:
        raise SketchError(f"{path}:1: no drawings in the file")


# --- packs ---------------------------------------------------------------------------------------
def pack_dirs(packs_dir: Path | None) -> tuple[Path, ...]:
    return (packs_dir,) if packs_dir else (builtin_packs_dir(), user_packs_dir())


def reads_images(pack: Pack) -> bool:
    """Only a DeepSketch raster can be made from a scanned page; order rasters need strokes."""
    return isinstance(pack.models["convnet"].preprocess, ConvNetRaster)


def find_pack(name: str | None, kind: str, packs_dir: Path | None) -> Pack:
    """``--pack`` as a folder path or a pack name; without it, the default for this input kind."""
    if name and (Path(name) / MANIFEST).is_file():
        try:
            return load_pack(name)
        except PackError as exc:
            raise CliError(str(exc), EXIT_PACK) from None
    dirs = pack_dirs(packs_dir)
    entries = list(discover_packs(*dirs))
    if name:
        for e in entries:
            if name in (e.name, e.path.name):
                if e.pack is None:
                    raise CliError(str(e.error), EXIT_PACK)
                return e.pack
        known = ", ".join(e.name for e in entries) or "none"
        raise CliError(f"no pack named {name!r} (installed: {known})", EXIT_PACK)
    valid = [e.pack for e in entries if e.pack is not None]
    if not valid:
        raise CliError(f"no usable pack in {' or '.join(map(str, dirs))}"
                       + "".join(f"; {e.error}" for e in entries), EXIT_PACK)
    able = [p for p in valid if kind != "image" or reads_images(p)] or valid
    preferred = [p for p in able if p.name == PREFERRED[kind]]
    return (preferred or able)[0]


class PackCache:
    """Loads each pack once per run (a run may mix ndjson and PNG files)."""

    def __init__(self, name: str | None, packs_dir: Path | None, prefer_gpu: bool,
                 words_dir: Path | None = None):
        self.name, self.packs_dir, self.prefer_gpu = name, packs_dir, prefer_gpu
        self.words_dir = words_dir
        self._loaded: dict[Path, Any] = {}

    def for_input(self, path: Path) -> Any:
        from .runtime import LoadedPack
        kind = input_kind(path)
        pack = find_pack(self.name, kind, self.packs_dir)
        if kind == "image" and not reads_images(pack):
            raise CliError(f"pack {pack.name!r} needs strokes (its convnet reads a stroke-order "
                           f"raster) and cannot classify the image {path}; use an ndjson file "
                           f"or an image pack such as {PREFERRED['image']!r}", EXIT_PACK)
        if pack.path not in self._loaded:
            try:
                self._loaded[pack.path] = LoadedPack(pack, prefer_gpu=self.prefer_gpu,
                                                     words_dir=self.words_dir)
            except PackError as exc:
                raise CliError(str(exc), EXIT_PACK) from None
        return self._loaded[pack.path]


# --- scoring -------------------------------------------------------------------------------------
def fold(label: str) -> str:
    """Class names compare with case, spaces, underscores and hyphens folded
    (``"The_Eiffel_Tower"`` = ``"the eiffel tower"``)."""
    return re.sub(r"[\s_\-]+", " ", label.strip().lower())


@dataclass
class Score:
    """Top-1 accuracy and MAP@3 over the labelled drawings whose label the pack knows."""

    n: int = 0
    drawings: int = 0
    top1: int = 0
    ap3: float = 0.0
    unknown: Counter = field(default_factory=Counter)

    def add(self, label: str | None, probs: np.ndarray, classes: dict[str, int]) -> None:
        self.drawings += 1
        if label is None:
            return
        target = classes.get(fold(label))
        if target is None:
            self.unknown[label] += 1
            return
        top3 = list(np.argsort(-probs, kind="stable")[:3])
        self.n += 1
        self.top1 += int(top3[0] == target)
        self.ap3 += 1.0 / (top3.index(target) + 1) if target in top3 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"drawings": self.drawings, "scored": self.n,
                "top1_accuracy": self.top1 / self.n if self.n else None,
                "map_at_3": self.ap3 / self.n if self.n else None,
                "unknown_labels": dict(self.unknown)}

    def line(self, where: str) -> str:
        d = self.as_dict()
        text = f"{where}: {self.drawings} drawing(s)"
        if self.n:
            text += (f", top-1 accuracy {d['top1_accuracy']:.4f} ({self.top1}/{self.n}),"
                     f" MAP@3 {d['map_at_3']:.4f}")
        if self.unknown:
            text += (f"; {sum(self.unknown.values())} with labels the pack lacks (not scored): "
                     + ", ".join(f"{k} x{v}" for k, v in sorted(self.unknown.items())))
        return text


# --- commands ------------------------------------------------------------------------------------
def _analysed(args: argparse.Namespace, cache: PackCache) -> Iterator[tuple[Path, Any, Drawing, Any]]:
    """(file, pack, drawing, prediction) for every drawing of every FILE, streamed."""
    for f in args.files:
        path = Path(f)
        drawings = read_drawings(path)
        first = next(drawings)  # a bad file is reported (exit 3) before any pack is loaded
        pack = cache.for_input(path)
        for d in chain([first], drawings):
            try:
                yield path, pack, d, pack.predict(d.source)  # taught words compete too
            except SketchError as exc:
                raise SketchError(f"{d.origin}: {exc}") from None


def classify_record(d: Drawing, pred: Any, top_k: int) -> dict[str, Any]:
    """One drawing's record in ``classify --json``: every field of it is built here."""
    return {"where": d.where, "label": d.label,
            "top": [{"class": c, "p": round(p, 6)} for c, p in pred.top(top_k)],
            "known": round(pred.known, 6), "unsure": pred.unsure}


def _progress(items: Iterator[Any]) -> Iterator[Any]:
    """A progress bar on stderr for long batch runs: only when stderr is a terminal and stdout
    is not (rows printed on the same terminal would tear it), and only once the run has taken
    two seconds, so short runs show nothing. The bundle leaves tqdm out: no bar there."""
    if not sys.stderr.isatty() or sys.stdout.isatty():
        return items
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    return tqdm(items, file=sys.stderr, unit=" drawings", delay=2, mininterval=0.5)


def cmd_classify(args: argparse.Namespace) -> int:
    """Rows (or JSON records) streamed as drawings are read, each file's summary after its
    drawings: memory stays flat in the number of drawings."""
    cache = PackCache(args.pack, args.packs_dir, not args.cpu, args.words_dir)
    out = JsonStream(sys.stdout) if args.json else None
    if out:
        out.begin("{")
        out.begin("[", "files")
    with stopped_cleanly(out):
        _classify_all(args, cache, out)
    return EXIT_OK


@contextmanager
def stopped_cleanly(out: JsonStream | None) -> Iterator[None]:
    """A ``--json`` document that a bad line or Ctrl-C ends early is closed, not cut off, and
    says why; the error then goes on to :func:`run_command` for its message and exit code."""
    try:
        yield
    except (SketchError, CliError, PackError, KeyboardInterrupt) as exc:
        if out:
            out.stop(str(exc) or "interrupted")
        raise


def _classify_all(args: argparse.Namespace, cache: "PackCache", out: JsonStream | None) -> None:
    current: tuple[Path, Score] | None = None
    last_pack = None
    for path, pack, d, pred in _progress(_analysed(args, cache)):
        if current is None or current[0] != path:
            if current:
                _end_file(out, *current)
            current = (path, Score())
            if out:
                out.begin("{")
                for key, value in (("file", str(path)), ("pack", pack.name),
                                   ("provider", pack.engine.provider.provider)):
                    out.item(value, key)
                out.begin("[", "drawings")
            elif pack.name != last_pack:
                print(f"# pack {pack.name} on {pack.engine.provider.label}")
            last_pack = pack.name
        classes = {fold(c): i for i, c in enumerate(pred.classes)}  # pack classes + words
        current[1].add(d.label, pred.probs, classes)
        if out:
            out.item(classify_record(d, pred, args.top))
        else:
            top = pred.top(args.top)
            print(f"{d.where}\t{d.label or '-'}\t"
                  + "  ".join(f"{c} {p:.3f}" for c, p in top)
                  + f"\tknown {pred.known:.3f}" + (" UNSURE" if pred.unsure else ""))
    if current:
        _end_file(out, *current)
    if out:
        out.end()
        out.end()


def _end_file(out: JsonStream | None, path: Path, score: Score) -> None:
    if out:
        out.end()
        out.item(score.as_dict(), "summary")
        out.end()
    elif score.drawings and (score.n or score.unknown):
        print(score.line(str(path)))


def cmd_search(args: argparse.Namespace) -> int:
    cache = PackCache(args.pack, args.packs_dir, not args.cpu, args.words_dir)
    depths = [args.depth] if args.depth else list(DEPTHS)
    out = JsonStream(sys.stdout) if args.json else None
    if out:
        out.begin("[")
    with stopped_cleanly(out):
        _search_all(args, cache, depths, out)
    if out:
        out.end()
    return EXIT_OK


def _search_all(args: argparse.Namespace, cache: "PackCache", depths: list[str],
                out: JsonStream | None) -> None:
    for _path, pack, d, pred in _progress(_analysed(args, cache)):
        entry: dict[str, Any] = {"where": d.where, "label": d.label, "pack": pack.name,
                                 "neighbours": {}}
        for depth in depths:
            if depth not in pack.searcher.indexes:
                raise CliError(f"pack {pack.name!r} has no {depth} index", EXIT_PACK)
            hits = pack.words.merge_neighbours(  # the taught words' examples are searched too
                {depth: pack.searcher.query(depth, pred.features[depth], args.k)},
                pred.features, args.k)[depth]
            entry["neighbours"][depth] = [
                {"gallery_id": n.gallery_id, "class": pred.classes[n.label],
                 "source_id": pack.source_id(n.gallery_id),
                 "distance": round(n.distance, 6)} for n in hits]
        if out:
            out.item(entry)
            continue
        for depth, hits in entry["neighbours"].items():
            for rank, h in enumerate(hits, 1):
                print(f"{d.where}\t{depth}\t{rank}\t{h['gallery_id']}\t{h['class']}\t"
                      f"{h['source_id']}\t{h['distance']:.4f}")


def describe_entry(entry: PackEntry, prefer_gpu: bool) -> dict[str, Any]:
    """One line of ``sketchpad packs``: valid or why not, metrics, provider (and why). The pack
    is opened whole (:func:`~sketchpad.runtime.open_pack`, as classify, search and the window
    open it), so "ok" here means those will not fail on it."""
    info: dict[str, Any] = {"name": entry.name, "path": str(entry.path), "valid": False,
                            "error": entry.error}
    if entry.pack is None:
        return info
    from .runtime import open_pack
    try:
        engine = open_pack(entry, prefer_gpu=prefer_gpu, threads=1).engine
    except PackError as exc:
        info["error"] = str(exc)
        return info
    info.update(valid=True, error=None, title=entry.pack.title,
                classes=len(entry.pack.classes), reads_images=reads_images(entry.pack),
                metrics={k: ({"value": v.get("value"), "protocol": v.get("protocol")}
                             if isinstance(v, dict) else {"value": v, "protocol": None})
                         for k, v in entry.pack.metrics.items()},
                **engine.describe())
    return info


def cmd_packs(args: argparse.Namespace) -> int:
    dirs = pack_dirs(args.packs_dir)
    infos = [describe_entry(e, not args.cpu) for e in discover_packs(*dirs)]
    if args.json:
        print(json.dumps({"searched": [str(d) for d in dirs], "packs": infos}, indent=1))
    elif not infos:
        print(f"no packs in {' or '.join(map(str, dirs))}")
    for i in infos if not args.json else ():
        if not i["valid"]:
            print(f"{i['name']}: BROKEN: {i['error']}  ({i['path']})")
            continue
        print(f"{i['name']}: ok: {i['title']}, {i['classes']} classes, models "
              f"{', '.join(i['models'])}, depths {', '.join(i['depths'])}  ({i['path']})")
        print(f"  provider: {i['provider']}" + (f"; {i['reason']}" if i["reason"] else ""))
        for k, m in i["metrics"].items():
            print(f"  {k}: {m['value']}" + (f" ({m['protocol']})" if m["protocol"] else ""))
    return EXIT_OK if any(i["valid"] for i in infos) else EXIT_PACK


# --- parser --------------------------------------------------------------------------------------
def _positive(text: str) -> int:
    """A count for ``--top`` / ``--k``, from 1 to the most a search returns (``MAX_K``);
    argparse turns the error into a usage line and exit 2."""
    from .search import MAX_K
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text[:40]!r}") from None
    if not 1 <= v <= MAX_K:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_K}, got {text[:40]}")
    return v


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: an unset sub-command option must not hide ``sketchpad --packs-dir DIR COMMAND``.
    common.add_argument("--packs-dir", type=Path, metavar="DIR", help=PACKS_DIR_ENV_HELP,
                        default=argparse.SUPPRESS)
    common.add_argument("--words-dir", type=Path, metavar="DIR", help=WORDS_DIR_HELP,
                        default=argparse.SUPPRESS)
    common.add_argument("--cpu", action="store_true", help="do not try the GPU")
    common.add_argument("--json", action="store_true", help="print one JSON document")
    pick = argparse.ArgumentParser(add_help=False)
    pick.add_argument("--pack", metavar="NAME|DIR",
                      help="pack name or folder (default: the first valid pack; 'quickdraw' for "
                           "ndjson and 'tu-berlin' for images when installed)")

    p = argparse.ArgumentParser(
        prog="sketchpad", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Live sketch recognition and similarity search. Without a command: the app.")
    from . import __version__
    p.add_argument("--version", action="version", version=f"sketchpad {__version__}")
    p.add_argument("--self-test", action="store_true",
                   help="load every pack, classify and search a bundled sample, print a summary")
    p.add_argument("--gui", action="store_true",
                   help="with --self-test: also build the main window (offscreen works)")
    p.add_argument("--packs-dir", type=Path, metavar="DIR", help=PACKS_DIR_ENV_HELP)
    p.add_argument("--words-dir", type=Path, metavar="DIR", help=WORDS_DIR_HELP)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("classify", parents=[common, pick], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="top-K classes per drawing of Quick, Draw! ndjson or PNG files; "
                            "accuracy and MAP@3 when the drawings carry a label")
    c.add_argument("files", nargs="+", metavar="FILE")
    c.add_argument("--top", type=_positive, default=3, metavar="K")
    c.set_defaults(func=cmd_classify)

    s = sub.add_parser("search", parents=[common, pick], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="nearest gallery sketches per drawing, at one or all depths")
    s.add_argument("files", nargs=1, metavar="FILE")
    s.add_argument("--depth", choices=DEPTHS, help="default: all three")
    s.add_argument("--k", type=_positive, default=8, metavar="K")
    s.set_defaults(func=cmd_search)

    k = sub.add_parser("packs", parents=[common], epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="list packs: valid or why not, metrics, execution provider")
    k.set_defaults(func=cmd_packs)

    from .cli_words import add_words_parser  # here, not at the top: cli_words imports this module
    add_words_parser(sub, [common, pick], EPILOG)
    return p


def run_command(argv: Sequence[str]) -> int:
    """Parse and run; every expected failure becomes one stderr line and its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return int(exc.code or 0)
    try:
        if args.self_test:
            from .selftest import run_self_test
            return run_self_test(args.packs_dir, gui=args.gui)
        if args.command is None:
            parser.print_usage(sys.stderr)
            print("sketchpad: error: give a command, or no arguments to start the app",
                  file=sys.stderr)
            return EXIT_USAGE
        return args.func(args)
    except SketchError as exc:
        print(f"sketchpad: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except CliError as exc:
        print(f"sketchpad: {exc}", file=sys.stderr)
        return exc.code
    except PackError as exc:
        print(f"sketchpad: {exc}", file=sys.stderr)
        return EXIT_PACK
    except BrokenPipeError:  # `sketchpad classify ... | head`
        return EXIT_OK
    except KeyboardInterrupt:
        print("sketchpad: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED

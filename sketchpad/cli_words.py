"""``sketchpad words add | list | remove | rename | export | import``: a pack's taught words.

The same :class:`~sketchpad.words.Words` object the window uses; ``classify`` and ``search``
then let the words compete with the pack's classes. A request that cannot be met (no examples,
an empty drawing, a name that is already a class or a word, a word that does not exist) exits
with code 3 and one line on stderr.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Sequence

from .cli import EXIT_INPUT, EXIT_OK, EXIT_PACK, CliError, find_pack
from .engine import Engine
from .pack import PackError
from .words import Words, WordsError


def open_words(args: argparse.Namespace) -> Words:
    """The words of ``--pack`` (default: the stroke pack ``classify`` would use for ndjson)."""
    pack = find_pack(args.pack, "strokes", args.packs_dir)
    try:
        engine = Engine(pack, prefer_gpu=not args.cpu)
    except PackError as exc:
        raise CliError(str(exc), EXIT_PACK) from None
    return Words(pack, engine, args.words_dir)


def _report(args: argparse.Namespace, words: Words, doc: dict[str, Any], text: str) -> int:
    if args.json:
        print(json.dumps({"pack": words.pack.name, "folder": str(words.folder), **doc}, indent=1))
    else:
        print(text)
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    words = open_words(args)
    items = [{"name": w.name, "examples": w.examples, "file": str(w.path)} for w in words.list()]
    problems = [{"file": str(p.path), "reason": p.reason} for p in words.problems]
    lines = [f"# pack {words.pack.name}: {len(items)} word(s) in {words.folder}"]
    lines += [f"{w['name']}\t{w['examples']} example(s)" for w in items]
    lines += [f"DAMAGED (skipped): {p['file']}: {p['reason']}" for p in problems]
    return _report(args, words, {"words": items, "problems": problems}, "\n".join(lines))


def cmd_add(args: argparse.Namespace) -> int:
    words = open_words(args)
    before = words.find(args.word)
    info = words.import_file(args.file, args.word, new=args.new)
    added = info.examples - (before.n_examples if before else 0)
    return _report(args, words, {"word": info.name, "added": added, "examples": info.examples},
                   f"{'added' if before else 'taught'} {info.name!r}: {added} example(s) from "
                   f"{args.file}, {info.examples} in all")


def cmd_import(args: argparse.Namespace) -> int:
    words = open_words(args)
    before = words.find(args.name) if args.name else None
    info = words.import_file(args.file, args.name, new=args.new)
    added = info.examples - (before.n_examples if before else 0)
    return _report(args, words, {"word": info.name, "added": added, "examples": info.examples},
                   f"imported {info.name!r}: {info.examples} example(s)")


def cmd_remove(args: argparse.Namespace) -> int:
    words = open_words(args)
    name = words.remove(args.word)
    return _report(args, words, {"removed": name}, f"removed {name!r}")


def cmd_rename(args: argparse.Namespace) -> int:
    words = open_words(args)
    info = words.rename(args.old, args.new)
    return _report(args, words, {"renamed": args.old, "to": info.name},
                   f"renamed {args.old!r} to {info.name!r}")


def cmd_export(args: argparse.Namespace) -> int:
    words = open_words(args)
    out = words.export(args.word, args.out)
    return _report(args, words, {"word": args.word, "file": str(out)}, f"wrote {out}")


def _guarded(func: Any) -> Any:
    """A words request that cannot be met is a bad input (exit 3), said in one line."""
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except WordsError as exc:
            raise CliError(str(exc), EXIT_INPUT) from None
    return run


def add_words_parser(sub: Any, parents: Sequence[argparse.ArgumentParser], epilog: str) -> None:
    """Register ``words`` and its commands under the main parser's sub-commands."""
    fmt = argparse.RawDescriptionHelpFormatter
    w = sub.add_parser("words", epilog=epilog, formatter_class=fmt,
                       help="words you teach a pack: add, list, remove, rename, export, import")
    cmds = w.add_subparsers(dest="words_command", metavar="WORDS_COMMAND", required=True)

    def command(name: str, func: Any, help: str) -> argparse.ArgumentParser:
        c = cmds.add_parser(name, parents=list(parents), epilog=epilog, formatter_class=fmt,
                            help=help)
        c.set_defaults(func=_guarded(func))
        return c

    a = command("add", cmd_add, "every drawing of a Quick, Draw! ndjson file becomes an example "
                                "of WORD (taught if new)")
    a.add_argument("word", metavar="WORD")
    a.add_argument("file", type=Path, metavar="FILE.ndjson")
    a.add_argument("--new", action="store_true", help="refuse if WORD is already a word")
    command("list", cmd_list, "the pack's words, with damaged words files and why")
    r = command("remove", cmd_remove, "forget WORD and its examples")
    r.add_argument("word", metavar="WORD")
    n = command("rename", cmd_rename, "rename a word (its examples stay)")
    n.add_argument("old", metavar="WORD")
    n.add_argument("new", metavar="NEW")
    e = command("export", cmd_export, "write WORD's examples as Quick, Draw! ndjson")
    e.add_argument("word", metavar="WORD")
    e.add_argument("out", type=Path, metavar="FILE|DIR")
    i = command("import", cmd_import, "teach the word a Quick, Draw! ndjson file holds "
                                      "(its \"word\" field, or --as)")
    i.add_argument("file", type=Path, metavar="FILE.ndjson")
    i.add_argument("--as", dest="name", metavar="WORD", help="the word's name")
    i.add_argument("--new", action="store_true", help="refuse if the word already exists")

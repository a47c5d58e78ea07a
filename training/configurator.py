"""nanoGPT-style configuration shared by the training scripts.

Defaults are plain values; bare arguments are config files (trusted Python assignments, as in
nanoGPT) and ``--key=value`` overrides are Python literals or plain strings. Unknown keys and type
changes fail loudly, so a typo never trains the wrong model.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any


def configure(argv: list[str], defaults: dict[str, Any]) -> dict[str, Any]:
    """Defaults ← config files ← ``--key=value`` overrides, in argument order."""
    cfg = dict(defaults)
    for arg in argv:
        if arg.startswith("--"):
            key, sep, raw = arg[2:].partition("=")
            if not sep:
                raise SystemExit(f"expected --key=value, got {arg!r}")
            try:
                value = ast.literal_eval(raw)
            except (ValueError, SyntaxError):
                value = raw  # a bare string such as a path
            updates = {key: value}
        else:
            scope: dict[str, Any] = {}
            exec(compile(Path(arg).read_text(), arg, "exec"), scope)
            updates = {k: v for k, v in scope.items() if not k.startswith("_")}
        for key, value in updates.items():
            if key not in defaults:
                raise SystemExit(f"{arg}: unknown config key {key!r} "
                                 f"(known: {', '.join(sorted(defaults))})")
            want = type(defaults[key])
            if want is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if want is tuple and isinstance(value, list):
                value = tuple(value)
            if not isinstance(value, want):
                raise SystemExit(f"{arg}: {key} must be {want.__name__}, got {value!r}")
            cfg[key] = value
    return cfg

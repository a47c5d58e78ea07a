"""``sketchpad``: with no arguments the desktop app, otherwise a batch command (``sketchpad --help``).

This is also the PyInstaller entry point (``build.spec``), run there as a plain script, hence the
absolute imports. Qt is imported only on the app path, so ``sketchpad classify`` and
``sketchpad --self-test`` run where PySide6 is absent or there is no display.
"""
from __future__ import annotations

import sys
from typing import Sequence


def is_app_invocation(args: Sequence[str]) -> bool:
    """``sketchpad --words-dir DIR``: only the app's own options, so the app starts."""
    return (len(args) == 2 and args[0] == "--words-dir") or \
        (len(args) == 1 and args[0].startswith("--words-dir="))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or is_app_invocation(args):
        try:
            from sketchpad.app.main import run_app  # lazy: the only path that imports Qt
        except ImportError as exc:               # e.g. "libGL.so.1: cannot open shared object"
            print(f"sketchpad: the window cannot start: {exc}\n(the system libraries Qt needs "
                  "are in README.md, section Start)", file=sys.stderr)
            return 1
        return run_app(args)
    from sketchpad.cli import run_command
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())

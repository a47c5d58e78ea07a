"""``sketchpad``: with no arguments the desktop app, otherwise a batch command (``sketchpad --help``).

This is also the PyInstaller entry point (``build.spec``), run there as a plain script, hence the
absolute imports. Qt is imported only on the app path, so ``sketchpad classify`` and
``sketchpad --self-test`` run where PySide6 is absent or there is no display.
"""
from __future__ import annotations

import sys
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        from sketchpad.app.main import run_app  # lazy: the only path that imports Qt
        return run_app(args)
    from sketchpad.cli import run_command
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())

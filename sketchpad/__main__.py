"""``sketchpad``: start the app, or run a batch command (``sketchpad --help``)."""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from .pack import discover_packs
    for entry in discover_packs():
        print(f"{entry.name}: {'ok' if entry.pack else entry.error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One JSON document written while it is produced, so a batch run's memory stays flat.

``sketchpad classify --json`` on a million drawings would otherwise hold a million records until
the end. Containers are opened, filled and closed as the data comes; each value written is one
``json.dumps`` away from the page. If the run stops half-way (a bad line, exit 3), what was
written is still one whole document: :meth:`JsonStream.stop` closes what is open and, when the
document is an object, says why under ``"stopped"``; the exit code says so too.
"""
from __future__ import annotations

import json
from typing import IO, Any


class JsonStream:
    """``begin``/``end`` containers and write ``item``s into the innermost one, in order; one
    item per line, indented by depth (like ``json.dumps(..., indent=1)``, but keeping each
    record on one line)."""

    def __init__(self, out: IO[str]):
        self.out = out
        self._open: list[tuple[str, int]] = []  # (closing bracket, items so far) per container

    def begin(self, bracket: str, key: str | None = None) -> None:
        """Open ``"{"`` or ``"["``, as the value of ``key`` when the container is an object."""
        self._start(key)
        self.out.write(bracket)
        self._open.append(("}" if bracket == "{" else "]", 0))

    def item(self, value: Any, key: str | None = None) -> None:
        self._start(key)
        self.out.write(json.dumps(value))

    def end(self) -> None:
        closing, count = self._open.pop()
        if count:
            self.out.write("\n" + " " * len(self._open))
        self.out.write(closing)
        if not self._open:
            self.out.write("\n")

    def stop(self, reason: str) -> None:
        """Close every open container (a run ended early: a bad line, Ctrl-C), so what was
        written parses; an object document gets ``"stopped": reason`` as its last item."""
        while len(self._open) > 1:
            self.end()
        if self._open:
            if self._open[0][0] == "}":
                self.item(reason, "stopped")
            self.end()

    def _start(self, key: str | None) -> None:
        if not self._open:
            return
        closing, count = self._open[-1]
        if (closing == "}") != (key is not None):
            raise ValueError("an object's items need a key, a list's none")
        self._open[-1] = (closing, count + 1)
        self.out.write(("," if count else "") + "\n" + " " * len(self._open))
        if key is not None:
            self.out.write(json.dumps(key) + ": ")

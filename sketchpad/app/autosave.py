"""Never lose a drawing: an autosave file plus a "session running" marker (plain Python, no Qt).

The window writes ``autosave.ndjson`` (atomically, through :func:`sketchpad.ink.write_ndjson`)
after every change and holds ``session.lock`` while it runs. A clean exit removes both. So at
start, a lock left behind means the last session died, and its autosave is worth offering back.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..ink import Sketch, SketchError, iter_ndjson, write_ndjson

AUTOSAVE = "autosave.ndjson"
LOCK = "session.lock"


class Autosave:
    """The autosave file and session marker in one folder (the user data folder in the app)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.file = self.folder / AUTOSAVE
        self.lock = self.folder / LOCK

    def recoverable(self) -> Sketch | None:
        """The drawing a crashed session left behind, or None (clean exit, nothing drawn, or an
        unreadable file — which is not worth a question)."""
        if not (self.lock.exists() and self.file.exists()):
            return None
        try:
            sketches = list(iter_ndjson(self.file))
        except SketchError:
            return None
        return sketches[0] if sketches and not sketches[0].is_empty else None

    def start_session(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.lock.write_text(str(os.getpid()), encoding="utf-8")

    def save(self, sketch: Sketch) -> None:
        """Write the current drawing; raises OSError (the caller reports it once)."""
        if sketch.is_empty:
            self.file.unlink(missing_ok=True)
        else:
            write_ndjson([sketch], self.file, with_time=True)

    def end_session(self) -> None:
        """A clean exit: nothing to recover next time."""
        for f in (self.file, self.lock):
            try:
                f.unlink(missing_ok=True)
            except OSError:
                pass

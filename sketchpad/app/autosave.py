"""Never lose a drawing, with any number of windows on one data folder (plain Python, no Qt).

Each window owns one session in ``<data>/sessions/``: ``<id>.ndjson``, its drawing, replaced
atomically (:mod:`sketchpad.atomic`: unique temp name, fsync of file and folder, rename) after
every change, and ``<id>.lock``, which it keeps locked with an OS lock (:mod:`sketchpad.oslock`)
while it runs. The kernel drops that lock when the process ends, however it ends, so a session
whose lock can be taken belongs to a window that died: no PID is trusted, and two live windows
never see each other's session as theirs. A clean exit removes the session.

At start a window *claims* the sessions of dead windows (it takes their locks, so no other
window offers the same drawing at the same time), asks once, and then *adopts* the ones the user
restores and discards the rest. An adopted session is removed only once its drawing is safe in
the adopter's own session file (or the adopter exits cleanly), so a crash in between loses
nothing: the claim dies with the process and the session is offered again.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..atomic import atomic_writer, leftovers
from ..ink import Sketch, SketchError, iter_ndjson, write_ndjson
from ..oslock import OsLock

SESSIONS = "sessions"
DRAWING, LOCK = ".ndjson", ".lock"


@dataclass
class Recovered:
    """A dead window's drawing, claimed (locked) by this process until restored or discarded."""

    session: str
    sketch: Sketch
    saved_at: float                 # the session file's mtime (seconds since the epoch)
    lock: OsLock = field(repr=False)


class Autosave:
    """This window's session in ``<data_dir>/sessions``, and the stale ones it finds there."""

    def __init__(self, data_dir: Path):
        self.data_dir = Path(data_dir)
        self.folder = self.data_dir / SESSIONS
        self.session = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.file = self.folder / f"{self.session}{DRAWING}"
        self._lock: OsLock | None = None
        self._adopted: list[Recovered] = []
        self._adopted_guard = threading.Lock()   # adopt() on the GUI thread, save() on the writer

    @property
    def active(self) -> bool:
        """True once :meth:`start_session` succeeded: this window's drawing is being kept."""
        return self._lock is not None

    def start_session(self) -> None:
        """Take this window's session lock. Raises OSError when the folder cannot be created or
        written (read-only, full, no room for a file) or has no file locks: autosave is then off."""
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = OsLock.try_acquire(self._path(self.session, LOCK))
        if lock is None:                         # a random name someone holds: not ours to use
            raise OSError(f"session {self.session} is in use")
        self._lock = lock

    def claim_stale(self) -> list[Recovered]:
        """The drawings of windows that died, oldest first, each locked by this process now.
        Sessions with nothing in them, or nothing readable, are removed on the way."""
        try:
            names = [p.name for p in self.folder.iterdir() if not p.name.startswith(".")]
        except OSError:
            return []
        found: list[Recovered] = []
        for session in sorted({Path(n).stem for n in names if Path(n).suffix in (DRAWING, LOCK)}
                              - {self.session}):
            try:
                lock = OsLock.try_acquire(self._path(session, LOCK))
            except OSError:                      # read-only folder: cannot tell, leave it be
                continue
            if lock is None:                     # its window is alive
                continue
            try:
                recovered = self._read(session, lock)
            except OSError:                      # there but unreadable to us: not ours to drop
                lock.release()
                continue
            if recovered is None:
                self._remove(session, lock)
            else:
                found.append(recovered)
        return sorted(found, key=lambda r: r.saved_at)

    def adopt(self, recovered: Recovered) -> None:
        """This window now shows ``recovered``'s drawing: its old session goes after this
        window's next successful :meth:`save`."""
        with self._adopted_guard:
            self._adopted.append(recovered)

    def discard(self, recovered: Iterable[Recovered]) -> None:
        """Drop claimed sessions the user did not want back."""
        for r in recovered:
            self._remove(r.session, r.lock)

    def save(self, sketch: Sketch) -> None:
        """Write the current drawing; raises OSError (the caller reports it once)."""
        if sketch.is_empty:
            self.file.unlink(missing_ok=True)
        else:
            with atomic_writer(self.file) as handle:
                write_ndjson([sketch], handle, with_time=True)
        self._drop_adopted()

    def end_session(self) -> None:
        """A clean exit: nothing to recover next time. Adopted drawings went through this
        window, whose user has saved or discarded them by now."""
        self._drop_adopted()
        if self._lock is not None:
            self._remove(self.session, self._lock)
            self._lock = None

    # --- files -----------------------------------------------------------------------------------
    def _path(self, session: str, suffix: str) -> Path:
        return self.folder / f"{session}{suffix}"

    def _read(self, session: str, lock: OsLock) -> Recovered | None:
        """The session's drawing; None when there is nothing worth a question (no file, an empty
        or broken one). Other OSErrors propagate."""
        path = self._path(session, DRAWING)
        try:
            saved_at = path.stat().st_mtime
            sketches = list(iter_ndjson(path))
        except (FileNotFoundError, SketchError):
            return None
        if not sketches or sketches[0].is_empty:
            return None
        return Recovered(session, sketches[0], saved_at, lock)

    def _remove(self, session: str, lock: OsLock) -> None:
        """Drawing (and temp files a killed writer left) first, lock last: a session without a
        lock file is never a live one."""
        drawing = self._path(session, DRAWING)
        for f in (drawing, *leftovers(drawing)):
            with contextlib.suppress(OSError):
                f.unlink(missing_ok=True)
        lock.release(remove=True)

    def _drop_adopted(self) -> None:
        with self._adopted_guard:
            adopted, self._adopted = self._adopted, []
        self.discard(adopted)

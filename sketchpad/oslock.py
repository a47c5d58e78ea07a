"""An exclusive lock on a file that the operating system drops when its process ends, however
it ends (plain Python, no Qt).

This is how a window's autosave session says "I am alive": a lock that can be taken belongs to
a process that is gone, without a PID to trust (PIDs are reused) and without a marker file that
a crash leaves behind. ``flock`` on POSIX, ``msvcrt.locking`` on Windows; both conflict between
two handles of one process too, so two windows in one process are told apart as well. There is
deliberately no fallback to "the file exists" locks (as filelock's soft locks do on a filesystem
without ``flock``): such a lock outlives a crash, and a crashed session would never come back.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path

if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

    _BUSY = {errno.EACCES, errno.EDEADLK}
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

    _BUSY = {errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES}


class OsLock:
    """A held lock on ``path``; get one with :meth:`try_acquire`."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def try_acquire(cls, path: str | Path) -> OsLock | None:
        """Lock ``path`` (created if missing) without waiting: None when another holder has it.
        Raises OSError when the file cannot be created or the filesystem has no locks."""
        path = Path(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError as exc:
            os.close(fd)
            if exc.errno in _BUSY:
                return None
            raise
        return cls(path, fd)

    def release(self, remove: bool = False) -> None:
        """Unlock, and with ``remove`` delete the lock file (closed first, as Windows needs)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            _unlock(fd)
        finally:
            os.close(fd)
        if remove:
            try:
                self.path.unlink(missing_ok=True)
            except OSError:
                pass

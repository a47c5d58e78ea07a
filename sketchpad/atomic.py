"""Replace a file so that a crash, a kill or a full disk leaves the old file or the new one,
never half of each (plain Python, no Qt).

The text goes to a temporary file beside the target with a name of its own (two writers of the
same target never share one), is flushed and fsync'ed, renamed over the target, and then the
folder is fsync'ed so that the rename itself survives a power cut. On any error the temporary
file is removed and the target is untouched.
"""
from __future__ import annotations

import contextlib
import errno
import glob
import os
import secrets
from pathlib import Path
from typing import IO, Iterator

TMP_SUFFIX = ".tmp"


def _prefix(target: Path) -> str:
    return f".{target.name}."


@contextlib.contextmanager
def atomic_writer(target: str | Path, encoding: str = "utf-8") -> Iterator[IO[str]]:
    """``with atomic_writer(path) as handle: handle.write(...)`` — the target changes only when
    the block ends without an exception, and then durably."""
    target = Path(target)
    tmp = target.with_name(f"{_prefix(target)}{secrets.token_hex(8)}{TMP_SUFFIX}")
    # O_EXCL: a name another writer already holds is an error, never a shared file.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with open(fd, "w", encoding=encoding, newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_folder(target.parent)


def fsync_folder(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` durable. Windows cannot open a folder (NTFS journals
    its metadata itself); some filesystems refuse fsync on a folder (EINVAL) and need none."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
    finally:
        os.close(fd)


def leftovers(target: str | Path) -> list[Path]:
    """Temporary files that writers killed mid-write left beside ``target``."""
    target = Path(target)
    return sorted(target.parent.glob(glob.escape(_prefix(target)) + "*" + TMP_SUFFIX))

"""sketchpad.oslock: a lock the kernel drops when its process dies, however it dies."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from sketchpad.oslock import OsLock

ROOT = Path(__file__).resolve().parents[1]


def test_two_handles_in_one_process_exclude_each_other(tmp_path):
    lock = OsLock.try_acquire(tmp_path / "a.lock")
    assert lock is not None
    assert OsLock.try_acquire(tmp_path / "a.lock") is None
    lock.release()
    again = OsLock.try_acquire(tmp_path / "a.lock")
    assert again is not None
    again.release(remove=True)
    assert not (tmp_path / "a.lock").exists()


def test_a_killed_holder_leaves_the_lock_free(tmp_path):
    path = tmp_path / "a.lock"
    code = textwrap.dedent(f"""
        import sys, time
        from sketchpad.oslock import OsLock
        held = OsLock.try_acquire({str(path)!r})
        print("held" if held else "busy", flush=True)
        time.sleep(600)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             cwd=ROOT)
    try:
        assert child.stdout.readline().strip() == "held"
        assert OsLock.try_acquire(path) is None            # alive: busy
        child.send_signal(signal.SIGKILL)
        child.wait(60)
        lock = OsLock.try_acquire(path)                    # dead: free, file still there
        assert lock is not None
        lock.release()
    finally:
        child.kill()
        child.wait(60)
        child.stdout.close()

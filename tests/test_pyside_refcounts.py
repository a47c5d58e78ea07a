"""The installed PySide6 keeps Python's reference counts: PySide6-Essentials 6.12.0 dropped one
reference to ``True`` per signal delivered to a Python slot and one to ``None`` per void call, so
on Python 3.11 the interpreter aborted after some hundred signals ("bool_dealloc: deallocating
True or False"); the app died after 58 drawn strokes. pyproject.toml pins it away; this proves
the build that is installed is clean. Runs in a child process: on a broken build the abort is
a failed test, not a dead test run."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

N = 20_000
CHILD = textwrap.dedent(f"""
    import json, sys
    from PySide6.QtCore import QCoreApplication, QObject, Signal

    class Emitter(QObject):
        fired = Signal(int)

    app = QCoreApplication([])
    emitter, received = Emitter(), [0]

    def slot(value):
        received[0] += 1

    emitter.fired.connect(slot)
    start = sys.getrefcount(True), sys.getrefcount(None)
    lowest = list(start)
    for i in range({N}):
        emitter.fired.emit(i)            # a signal to a Python slot (took a ref to True)
        emitter.setObjectName("e")       # a void call (took a ref to None)
        if i % 50 == 0:                  # report a fall long before a count can reach zero
            now = sys.getrefcount(True), sys.getrefcount(None)
            lowest = [min(a, b) for a, b in zip(lowest, now)]
            if any(s - n > 25 for s, n in zip(start, now)):
                break
    print(json.dumps({{"start": start, "lowest": lowest, "received": received[0]}}))
""")


def test_many_signals_do_not_drop_references_to_true_or_none():
    run = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         timeout=300)
    assert run.stdout, f"the child died (exit {run.returncode}): {run.stderr[-2000:]}"
    out = json.loads(run.stdout)
    (true0, none0), (true_low, none_low) = out["start"], out["lowest"]
    # The counts may wobble by a few (temporary references); a broken build falls by one a
    # signal, i.e. by thousands here, and the child stops at the first fall of more than 25.
    assert true0 - true_low <= 25, f"references to True fell from {true0} to {true_low}"
    assert none0 - none_low <= 25, f"references to None fell from {none0} to {none_low}"
    assert out["received"] == N
    assert run.returncode == 0, run.stderr[-2000:]

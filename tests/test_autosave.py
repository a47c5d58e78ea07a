"""Autosave sessions, plain Python (no Qt): one session per window, a live one never offered,
a dead one offered once and removed only when its drawing is safe elsewhere. A "crash" is a
child process that saves and leaves with ``os._exit`` (no clean-up runs; the kernel drops its
lock). Two real windows killed with SIGKILL: tests/test_autosave_two_windows.py."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from sketchpad.app.autosave import Autosave
from sketchpad.ink import Sketch, Stroke, iter_ndjson

ROOT = Path(__file__).resolve().parents[1]


def line(x0, y0, x1, y1, n=5, p=1.0) -> Stroke:
    return Stroke.from_xy(np.linspace(x0, x1, n), np.linspace(y0, y1, n),
                          np.arange(n) * 10.0, [p] * n)


def crashed_session(data: Path, n_strokes: int) -> Sketch:
    """A window's session in another process that dies without cleaning up."""
    code = textwrap.dedent(f"""
        import os, numpy as np
        from sketchpad.app.autosave import Autosave
        from sketchpad.ink import Sketch, Stroke
        saver = Autosave({str(data)!r})
        saver.start_session()
        saver.save(Sketch(tuple(Stroke.from_xy([i, i + 1], [0, 5], [0, 10], [0.5, 0.25])
                                for i in range({n_strokes}))))
        os._exit(0)
    """)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    return Sketch(tuple(Stroke.from_xy([i, i + 1], [0, 5], [0, 10], [0.5, 0.25])
                        for i in range(n_strokes)))


def files(data: Path) -> list[str]:
    return sorted(p.name for p in (data / "sessions").iterdir())


def test_a_live_session_is_never_offered_and_a_dead_one_is(tmp_path):
    data = tmp_path / "data"
    alive = Autosave(data)
    alive.start_session()
    alive.save(Sketch((line(0, 0, 9, 9),)))
    drawn = crashed_session(data, 3)
    me = Autosave(data)
    me.start_session()
    (found,) = me.claim_stale()
    assert found.sketch.strokes == drawn.strokes
    assert Autosave(data).claim_stale() == []          # claimed: nobody else is offered it


def test_a_clean_exit_leaves_nothing_to_offer(tmp_path):
    saver = Autosave(tmp_path)
    saver.start_session()
    saver.save(Sketch((line(0, 0, 10, 10, p=0.4),)))
    assert saver.file.exists()
    saver.end_session()
    assert files(tmp_path) == [] and Autosave(tmp_path).claim_stale() == []


def test_a_restored_session_goes_only_once_the_adopter_has_saved_it(tmp_path):
    data = tmp_path / "data"
    drawn = crashed_session(data, 2)
    me = Autosave(data)
    me.start_session()
    (found,) = me.claim_stale()
    me.adopt(found)
    assert f"{found.session}.ndjson" in files(data)    # not yet safe in my session: kept
    me.save(found.sketch.add_stroke(line(5, 5, 6, 6)))
    assert files(data) == [f"{me.session}.lock", f"{me.session}.ndjson"]
    (back,) = iter_ndjson(me.file)
    assert back.strokes[:2] == drawn.strokes


def test_a_crash_before_the_adopter_saved_offers_the_session_again(tmp_path):
    data = tmp_path / "data"
    crashed_session(data, 2)
    code = textwrap.dedent(f"""
        import os
        from sketchpad.app.autosave import Autosave
        me = Autosave({str(data)!r})
        me.start_session()
        (found,) = me.claim_stale()
        me.adopt(found)
        os._exit(0)                    # dies before its first save
    """)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    me = Autosave(data)
    assert [len(r.sketch) for r in me.claim_stale()] == [2]


def test_discarded_empty_and_unreadable_sessions_are_removed(tmp_path):
    data = tmp_path / "data"
    crashed_session(data, 2)
    sessions = data / "sessions"
    (sessions / "1-dead.ndjson").write_text("{not json\n")        # unreadable
    (sessions / "2-dead.lock").write_text("")                    # died before drawing
    (sessions / "4-dead.ndjson").write_text("")                  # empty
    (sessions / ".4-dead.ndjson.abcd.tmp").write_text("half")     # and killed mid-write
    me = Autosave(data)
    me.start_session()
    found = me.claim_stale()
    assert [len(r.sketch) for r in found] == [2]
    me.discard(found)
    assert files(data) == [f"{me.session}.lock"]


def test_sessions_are_offered_oldest_first(tmp_path):
    data = tmp_path / "data"
    crashed_session(data, 1)
    crashed_session(data, 2)
    first, second = sorted((data / "sessions").glob("*.ndjson"), key=lambda p: p.stat().st_mtime)
    os.utime(second, (1_000_000, 1_000_000))          # make the 2-stroke one the older
    assert [len(r.sketch) for r in Autosave(data).claim_stale()] == [2, 1]


def test_unwritable_data_folder_raises_at_start_and_save(tmp_path):
    blocked = tmp_path / "data"
    blocked.write_text("a file where the folder should be")
    with pytest.raises(OSError):
        Autosave(blocked).start_session()
    assert Autosave(blocked).claim_stale() == []
    saver = Autosave(tmp_path / "ok")
    saver.start_session()
    saver.file.mkdir()                                  # a folder where the file should be
    with pytest.raises(OSError):
        saver.save(Sketch((line(0, 0, 1, 1),)))
    assert not list(saver.folder.glob(".*.tmp"))        # no temp file left behind


def test_autosave_round_trips_time_and_pressure(tmp_path):
    sketch = Sketch((line(1.5, 2, 30, 40, p=0.3), line(5, 5, 6, 9, p=0.9)))
    saver = Autosave(tmp_path)
    saver.start_session()
    saver.save(sketch)
    (back,) = iter_ndjson(saver.file)
    np.testing.assert_array_equal(back.all_points(), sketch.all_points())

"""sketchpad.atomic: a replaced file is the old one or the new one, never half; temp names are
unique; file and folder are fsync'ed around the rename."""
from __future__ import annotations

import os
import stat

import pytest

from sketchpad import atomic
from sketchpad.atomic import atomic_writer, leftovers


def test_the_target_changes_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "a.ndjson"
    target.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_writer(target) as handle:
            handle.write("half of the new")
            raise RuntimeError("disk full, say")
    assert target.read_text() == "old\n" and leftovers(target) == []
    with atomic_writer(target) as handle:
        handle.write("new\n")
    assert target.read_text() == "new\n" and leftovers(target) == []


def test_two_writers_of_one_target_never_share_a_temp_file(tmp_path):
    target = tmp_path / "a.ndjson"
    with atomic_writer(target) as first:
        with atomic_writer(target) as second:
            first.write("first\n")
            second.write("second\n")
            assert len(leftovers(target)) == 2
        assert target.read_text() == "second\n"
    assert target.read_text() == "first\n" and leftovers(target) == []


def test_file_then_rename_then_folder_are_made_durable(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src, dst):
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    with atomic_writer(tmp_path / "a.txt") as handle:
        handle.write("x")
    # Windows cannot fsync a folder (NTFS journals the rename itself).
    assert events == ["fsync file", "rename"] + (["fsync folder"] if os.name == "posix" else [])


def test_an_unwritable_folder_raises_and_leaves_nothing(tmp_path):
    with pytest.raises(OSError):
        with atomic_writer(tmp_path / "missing" / "a.txt") as handle:
            handle.write("x")
    assert list(tmp_path.iterdir()) == []

"""Issue 14, finding 4 (files as Quick, Draw! users expect) and issue 13 (the window never blocks
on a file): the save record, reading off the GUI thread, the file list, titles and names —
first without a window (:class:`FileController` over a Document), then in the real window."""
from __future__ import annotations

import json
import os
import re
import threading
from datetime import datetime, timezone

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QSettings, QTimer  # noqa: E402

from sketchpad.app.files import (FileController, FileIdentity, file_stem, plural,  # noqa: E402
                                 quickdraw_record, read_file)
from sketchpad.app.settings import AppSettings  # noqa: E402
from sketchpad.document import Document  # noqa: E402
from sketchpad.ink import Sketch, SketchError, Stroke, write_ndjson  # noqa: E402
from windowkit import (Answers, Dialogs, draw, make_window, open_and_wait, packs,  # noqa: E402,F401
                       quickdraw, settle, star)

GOOGLE_ORDER = ["word", "countrycode", "timestamp", "recognized", "key_id", "drawing"]


def sketch(n: int = 2, label: str | None = None) -> Sketch:
    return Sketch(tuple(Stroke.from_xy([0, 10 + i], [i, 20], [0, 16]) for i in range(n)),
                  label=label)


# --- the record, plain ---------------------------------------------------------------------
def test_the_record_has_the_quickdraw_fields_in_googles_order():
    identity = FileIdentity.new("DE", datetime(2026, 3, 2, 23, 25, 10, 74530, timezone.utc))
    assert re.fullmatch(r"[1-9]\d{15}", identity.key_id)
    assert identity.timestamp == "2026-03-02 23:25:10.074530 UTC"
    guessed = quickdraw_record(sketch(), "cat", identity)           # no word: the guess
    assert (guessed.label, guessed.source_id) == ("cat", identity.key_id)
    line = json.loads(_line(guessed))
    assert list(line)[:6] == GOOGLE_ORDER and line["recognized"] is True
    named = quickdraw_record(sketch(label="dog"), "cat", identity)    # the user's word wins
    assert named.label == "dog" and named.meta["recognized"] is False
    unknown = quickdraw_record(sketch(label="dog"), None, FileIdentity.new(""))
    assert "recognized" not in unknown.meta and "countrycode" not in unknown.meta


def test_an_opened_drawing_keeps_its_own_fields(data_root):
    (original,) = quickdraw(data_root, "cat")
    again = quickdraw_record(original, "pig", FileIdentity.new("DE"))
    assert again.source_id == original.source_id and again.label == "cat"
    assert again.meta["countrycode"] == original.meta["countrycode"]
    assert again.meta["timestamp"] == original.meta["timestamp"]
    assert again.meta["recognized"] is False                          # the pack said pig
    assert list(json.loads(_line(again)))[:6] == GOOGLE_ORDER


def _line(s: Sketch) -> str:
    import io
    out = io.StringIO()
    write_ndjson([s], out)
    return out.getvalue()


def test_plurals_and_file_names():
    assert [plural(1, "stroke"), plural(2, "stroke"), plural(10_000, "drawing")] == [
        "1 stroke", "2 strokes", "10,000 drawings"]
    assert file_stem("alarm clock") == "alarm clock" and file_stem("a/b:c") == "abc"
    assert file_stem(None) == file_stem("..") == "drawing"


# --- reading, plain --------------------------------------------------------------------------
def test_read_file_counts_bad_lines_and_keeps_a_few(tmp_path, data_root):
    good = quickdraw(data_root, "cat", 3)
    path = tmp_path / "mixed.ndjson"
    write_ndjson(good, path)
    with path.open("a") as f:
        f.write("{not json\n" * 1000)
    opened = read_file(path)
    assert len(opened.drawings) == 3 and opened.bad_lines == 1000
    assert len(opened.first_errors) == 3 and "mixed.ndjson:4" in opened.first_errors[0]
    assert "1,000 lines of mixed.ndjson could not be read" in opened.notice()
    assert read_file(path, max_listed=2).more


def test_read_file_refuses_what_is_not_a_file_at_once(tmp_path):
    fifo = tmp_path / "pipe.ndjson"
    os.mkfifo(fifo)                        # opening it would wait for a writer forever
    with pytest.raises(SketchError, match="not a file"):
        read_file(fifo)
    with pytest.raises(SketchError, match="not a file"):
        read_file(tmp_path)
    with pytest.raises(SketchError, match="no such file"):
        read_file(tmp_path / "gone.ndjson")
    (tmp_path / "empty.ndjson").write_text("\n")
    with pytest.raises(SketchError, match="holds no drawings"):
        read_file(tmp_path / "empty.ndjson")


# --- the controller, without a window ------------------------------------------------------
@pytest.fixture
def controller(qtbot, tmp_path):
    doc = Document()
    loads = []

    def load(s, path, picture, page):
        loads.append((s, path, picture, page))
        doc.load(s, path)

    answers, dialogs = Answers(), Dialogs()
    settings = AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    c = FileController(doc, settings, answers, load, dialogs, guess=lambda: "cat",
                       countrycode=lambda: "NZ")
    c.loads, c.answers = loads, answers
    return c


def test_open_never_blocks_the_gui_thread(controller, qtbot, tmp_path, data_root):
    path = tmp_path / "slow.ndjson"
    write_ndjson(quickdraw(data_root, "cat", 2), path)
    release, ticks = threading.Event(), []

    def slow_read(p):                       # a network folder that takes its time
        release.wait(10)
        return read_file(p)

    controller.reader._read = slow_read
    timer = QTimer(interval=5)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    assert controller.open(path)            # returns at once: the read runs on its own thread
    qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=5000)   # the event loop keeps running
    assert controller.loads == [] and controller.reading == path
    with qtbot.waitSignal(controller.opened, timeout=5000):
        release.set()
    assert len(controller.collection.drawings) == 2 and controller.reading is None
    timer.stop()


def test_a_newer_open_wins_and_a_failed_one_says_why(controller, qtbot, tmp_path, data_root):
    one, two = tmp_path / "one.ndjson", tmp_path / "two.ndjson"
    write_ndjson(quickdraw(data_root, "cat", 1), one)
    write_ndjson(quickdraw(data_root, "pig", 1), two)
    release = threading.Event()
    controller.reader._read = lambda p: (release.wait(10) if p == one else None) or read_file(p)
    controller.open(one)
    with qtbot.waitSignal(controller.opened, timeout=5000):
        controller.open(two)
    release.set()
    qtbot.wait(100)
    assert [l[1] for l in controller.loads] == [two]          # the stale result was dropped
    controller.reader._read = read_file
    (tmp_path / "bad.png").write_bytes(b"%!PS-Adobe-3.0\n{ } loop\n")
    with qtbot.waitSignal(controller.reader.failed, timeout=5000):
        controller.open(tmp_path / "bad.png")
    assert controller.answers.errors and "bad.png" in controller.answers.errors[0]
    assert controller.document.path == two                    # nothing was replaced


def test_the_file_list_follows_the_document(controller, qtbot, tmp_path, data_root):
    path = tmp_path / "cats.ndjson"
    cats = quickdraw(data_root, "cat", 4)
    write_ndjson(cats, path)
    with qtbot.waitSignal(controller.opened):
        controller.open(path)
    assert controller.collection_labels()[0] == f"1. cat ({plural(len(cats[0]), 'stroke')})"
    assert controller.title() == "cats.ndjson — drawing 1 of 4"
    assert controller.document.path is None                   # a copy: Save never overwrites all
    assert controller.pick(2) and controller.document.sketch == cats[2]
    assert controller.title() == "cats.ndjson — drawing 3 of 4"
    assert controller.suggested(".ndjson") == tmp_path / "cats-3.ndjson"
    assert controller.suggested(".png") == tmp_path / "cats-3.png"
    assert controller.save_as(tmp_path / "third")             # the suffix is added
    saved = tmp_path / "third.ndjson"
    assert controller.collection is None and controller.title() == "third.ndjson"
    assert controller.suggested(".svg") == tmp_path / "third.svg"
    with qtbot.waitSignal(controller.opened):
        controller.open(path)
    assert controller.collection is not None
    assert controller.new() and controller.collection is None
    assert controller.collection_labels() == [] and controller.title() == "Untitled"
    assert controller.settings.recent_files()[:2] == [path, saved]


def test_save_writes_word_key_and_keeps_them(controller, tmp_path):
    controller.document.load(sketch(1))
    assert controller.suggested(".ndjson").name == "cat.ndjson"   # named after the guess
    controller.document.add_stroke(Stroke.from_xy([5, 9], [5, 9]))
    out = tmp_path / "mine.ndjson"
    assert controller.save_as(out)
    first = json.loads(out.read_text())
    assert list(first)[:6] == GOOGLE_ORDER and first["word"] == "cat"
    assert first["recognized"] is True and first["countrycode"] == "NZ"
    controller.document.set_label("dog")
    assert controller.save()
    second = json.loads(out.read_text())
    assert second["word"] == "dog" and second["recognized"] is False
    assert second["key_id"] == first["key_id"] and second["timestamp"] == first["timestamp"]
    assert not controller.document.dirty


# --- in the window ---------------------------------------------------------------------------
def test_the_window_saves_the_accepted_guess_and_a_typed_word(make_window, qtbot, tmp_path):
    w = make_window()
    draw(w.canvas, star())
    settle(qtbot, w)
    guess = w.state.analysis().prediction.top(1)[0][0]
    assert guess in w.predictions.word.placeholderText()
    out = tmp_path / "star.ndjson"
    assert w.save_as(out)
    line = json.loads(out.read_text())
    assert line["word"] == guess and line["recognized"] is True and len(line["key_id"]) == 16
    second = w.predictions.fused.names[1].full                 # click the second guess
    w.predictions.fused.names[1].clicked.emit(second)
    assert w.document.sketch.label == second and w.document.dirty
    assert w.save()
    assert json.loads(out.read_text())["word"] == second
    w.predictions.word.setText("my star")
    w.predictions.word.editingFinished.emit()
    assert w.document.sketch.label == "my star"
    w.undo_action.trigger()                                    # naming is undoable
    assert w.document.sketch.label == second


def test_the_window_title_and_list_follow_a_many_drawing_file(make_window, qtbot, tmp_path,
                                                             data_root):
    path = tmp_path / "cats.ndjson"
    write_ndjson(quickdraw(data_root, "cat", 3), path)
    w = make_window()
    open_and_wait(qtbot, w, path)
    assert w.windowTitle() == "cats.ndjson — drawing 1 of 3 — Sketchpad"
    assert w.drawing_dock.isVisible() and w.drawing_list.count() == 3
    assert w.drawing_dock.windowTitle() == "Drawings in cats.ndjson (3)"
    assert re.fullmatch(r"1\. cat \(\d+ strokes?\)", w.drawing_list.item(0).text())
    w.drawing_list.setCurrentRow(1)
    assert w.windowTitle() == "cats.ndjson — drawing 2 of 3 — Sketchpad"
    w.new_drawing()
    assert not w.drawing_dock.isVisible() and w.drawing_list.count() == 0
    assert w.windowTitle() == "Untitled — Sketchpad"


def test_dialogs_start_with_a_name(make_window, tmp_path):
    dialogs = Dialogs(answer=None)                             # the user cancels each one
    w = make_window(dialogs=dialogs)
    draw(w.canvas, star())
    assert not w.save() and not w.export_png() and not w.export_svg()
    names = [p.name for p in dialogs.suggested]
    assert all(n.rsplit(".", 1)[0] not in ("", "Untitled") for n in names)
    assert [n.rsplit(".", 1)[1] for n in names] == ["ndjson", "png", "svg"]


def test_a_partly_unreadable_file_gets_a_visible_notice(make_window, qtbot, tmp_path, data_root):
    path = tmp_path / "partly.ndjson"
    write_ndjson(quickdraw(data_root, "cat", 2), path)
    with path.open("a") as f:
        f.write('{"word": "cat", "drawing": 5}\n')
    w = make_window()
    open_and_wait(qtbot, w, path)
    assert w.notices.isVisible()
    assert "1 line of partly.ndjson could not be read and was skipped" in w.notices.text.text()
    w.new_drawing()
    assert not w.notices.isVisible()                           # it went with the drawing


def test_opening_a_fifo_in_the_window_fails_cleanly(make_window, qtbot, tmp_path):
    fifo = tmp_path / "pipe.ndjson"
    os.mkfifo(fifo)
    answers = Answers()
    w = make_window(answers)
    assert w.open_file(fifo)
    qtbot.waitUntil(lambda: bool(answers.errors), timeout=5000)
    assert "not a file" in answers.errors[0] and w.document.sketch.is_empty

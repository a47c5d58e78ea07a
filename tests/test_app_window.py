"""The main window against the tiny real pack: live recognition, neighbours, packs, files,
autosave. Settings, data and packs live in tmp folders; questions get injected answers."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QKeySequence  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QLabel  # noqa: E402

from sketchpad.app.prompts import CANCEL  # noqa: E402
from sketchpad.app.window import MainWindow  # noqa: E402
from sketchpad.ink import write_ndjson  # noqa: E402
from sketchpad.pack import DEPTHS  # noqa: E402
from windowkit import (Answers, draw, make_window, open_and_wait, packs,  # noqa: E402,F401
                       quickdraw, settle, star)


def test_drawing_gives_prediction_and_neighbours_for_every_depth(make_window, qtbot):
    w = make_window()
    assert w.provider_label.full.split(":")[0] in ("CPU", "CUDA (GPU)")
    assert w.provider_label.full == "CUDA (GPU)" or (
        w.provider_label.full.startswith("CPU: ") and "CPU" in w.provider_label.toolTip())
    draw(w.canvas, star())
    settle(qtbot, w)
    analysis = w.state.analysis()
    assert w.state.sketch() is w.document.sketch and len(w.state.sketch()) == 1
    top = analysis.prediction.top(3)
    assert [n for n, _ in w.predictions.fused.shown()] == [c for c, _ in top]
    assert w.predictions.fused.shown()[0][1] == pytest.approx(top[0][1], abs=1e-3)
    gallery = w.state.pack().gallery
    for depth in DEPTHS:
        thumbs = w.neighbours.shown(depth)
        assert len(thumbs) == w.k
        assert [t.gallery_id for t in thumbs] == [n.gallery_id for n in analysis.neighbours[depth]]
        assert [t.matches for t in thumbs] == [gallery.label_name(t.gallery_id) == top[0][0]
                                               for t in thumbs]
    assert any(t.matches for d in DEPTHS for t in w.neighbours.shown(d))
    assert w.neighbours.titles["low"].text() == "<b>low</b><br>strokes & texture"


def test_only_the_latest_request_is_shown(make_window, qtbot, data_root):
    w = make_window()
    shown = []
    w.analysisShown.connect(shown.append)
    first, second = quickdraw(data_root, "apple", kind="raw")[0], quickdraw(data_root, "star", kind="raw")[0]
    w.document.load(first)
    w.document.load(second)                  # two requests, back to back, GUI never waited
    settle(qtbot, w)
    qtbot.wait(50)
    expected = w.state.pack().analyse(second, w.k)
    assert all(a is not None for a in shown)
    np.testing.assert_allclose(shown[-1].prediction.probs, expected.prediction.probs, rtol=1e-5)
    assert len(shown) <= 2
    if len(shown) == 2:   # the first may have been running already; it was never shown last
        assert shown[0] is not shown[1]


def test_stale_result_is_dropped(make_window, qtbot, data_root):
    w = make_window()
    w.document.load(quickdraw(data_root, "star", kind="raw")[0])
    settle(qtbot, w)
    current = w.state.analysis()
    stale = w.state.pack().analyse(quickdraw(data_root, "apple", kind="raw")[0], w.k)
    w._on_analysed(w._request_id - 1, stale)
    assert w.state.analysis() is current


def test_empty_sketch_clears_predictions_without_the_engine(make_window, qtbot):
    w = make_window()
    draw(w.canvas, star())
    settle(qtbot, w)
    calls = []
    w.worker.request = lambda *a: calls.append(a)
    w.document.clear()
    assert calls == [] and w.state.analysis() is None
    assert all(name == "—" for name, _ in w.predictions.fused.shown())
    assert all(not w.neighbours.shown(d) for d in DEPTHS)


def test_per_model_panel_shows_convnet_and_rnn(make_window, qtbot):
    w = make_window()
    draw(w.canvas, star())
    settle(qtbot, w)
    w.predictions.per_model_toggle.setChecked(True)
    prediction = w.state.analysis().prediction
    for model in ("convnet", "rnn"):
        bars = w.predictions.models[model]
        assert bars.isVisible()
        assert [n for n, _ in bars.shown()] == [c for c, _ in prediction.top(3, model)]
    w.predictions.per_model_toggle.setChecked(False)
    assert not w.predictions.models["rnn"].isVisible()


def test_undo_redo_clear_shortcuts(make_window, qtbot):
    w = make_window()
    draw(w.canvas, [(30, 30), (90, 90)])
    draw(w.canvas, [(30, 90), (90, 30)])
    w.canvas.setFocus()
    QTest.keySequence(w, QKeySequence(QKeySequence.Undo))
    assert len(w.document.sketch) == 1
    QTest.keySequence(w, QKeySequence(QKeySequence.Redo))
    assert len(w.document.sketch) == 2
    QTest.keySequence(w, QKeySequence("Ctrl+Shift+Delete"))
    assert w.document.sketch.is_empty
    QTest.keySequence(w, QKeySequence(QKeySequence.Undo))
    assert len(w.document.sketch) == 2


def test_neighbour_dialog_shows_it_large_and_replays(make_window, qtbot):
    w = make_window()
    draw(w.canvas, star())
    settle(qtbot, w)
    thumb = w.neighbours.shown("high")[0]
    opened = []
    w.neighbours.neighbourClicked.disconnect()
    w.neighbours.neighbourClicked.connect(lambda gid: opened.append(w.open_neighbour(gid)))
    qtbot.mouseClick(thumb, Qt.LeftButton)
    (dialog,) = opened
    qtbot.addWidget(dialog)
    assert dialog.picture.pixmap().width() >= dialog.SIZE
    assert dialog.replay_button.isEnabled()
    n = len(dialog.sketch)
    dialog.timer.setInterval(1)
    dialog.replay()
    assert dialog.shown_strokes == 0
    qtbot.waitUntil(lambda: dialog.shown_strokes == n and not dialog.timer.isActive())


def test_broken_pack_is_listed_with_its_reason_and_the_good_one_works(make_window, qtbot, packs):
    broken = packs / "broken"
    shutil.copytree(packs / "tiny", broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest["name"] = "broken"
    (broken / "manifest.json").write_text(json.dumps(manifest))
    with (broken / "convnet.onnx").open("r+b") as f:
        f.seek(100)
        f.write(b"\0garbage\0")
    w = make_window()
    combo = w.packs.combo
    texts = [combo.itemText(i) for i in range(combo.count())]
    (bad,) = [i for i, t in enumerate(texts) if t == "broken — broken"]
    assert "convnet.onnx is corrupt" in combo.itemData(bad, Qt.ToolTipRole)
    assert not w.packs.item_enabled(bad)
    assert w.state.pack().name == "tiny"
    draw(w.canvas, star())
    settle(qtbot, w)


def test_pack_that_fails_to_load_is_marked_broken(make_window, qtbot, packs):
    w = make_window()
    shutil.rmtree(packs / "tiny")                     # it vanishes after it was listed
    with qtbot.waitSignal(w.worker.packFailed, timeout=10000):
        w._load_pack(w.packs.entries[0])
    assert "broken" in w.packs.combo.itemText(0)
    assert w.state.pack() is not None                 # the loaded one keeps working


def test_save_and_open_round_trip_with_time_and_pressure(make_window, qtbot, tmp_path):
    w = make_window()
    draw(w.canvas, star())
    draw(w.canvas, [(10, 10), (20, 40)])
    drawn = w.document.sketch
    path = tmp_path / "mine.ndjson"
    assert w.save_as(path) and not w.document.dirty and w.document.path == path
    line = json.loads(path.read_text())
    assert len(line["drawing"]) == 2 and len(line["drawing"][0]) == 3 and "pressure" in line
    w.new_drawing()
    assert w.document.sketch.is_empty
    open_and_wait(qtbot, w, path)
    np.testing.assert_array_equal(w.document.sketch.all_points(), drawn.all_points())
    assert not w.document.dirty and w.prefs.recent_files()[0] == path
    assert w.recent_menu.actions()[0].text() == "mine.ndjson"


def test_open_many_drawings_lists_them(make_window, qtbot, data_root, tmp_path):
    drawings = quickdraw(data_root, "apple", 5)
    path = tmp_path / "five.ndjson"
    write_ndjson(drawings, path)
    w = make_window()
    open_and_wait(qtbot, w, path)
    assert w.drawing_dock.isVisible() and w.drawing_list.count() == 5
    assert w.document.sketch == drawings[0] and w.document.path is None
    w.drawing_list.setCurrentRow(3)
    assert w.document.sketch == drawings[3]
    settle(qtbot, w)


def test_a_file_longer_than_the_list_says_so(make_window, qtbot, data_root, tmp_path, monkeypatch):
    import sketchpad.app.files as files_mod
    monkeypatch.setattr(files_mod, "MAX_LISTED", 3)
    path = tmp_path / "five.ndjson"
    write_ndjson(quickdraw(data_root, "apple", 5), path)
    w = make_window()
    open_and_wait(qtbot, w, path)
    assert w.drawing_list.count() == 3
    assert "Only the first 3 drawings of five.ndjson are listed" in w.notices.text.text()
    assert w.notices.isVisible()
    settle(qtbot, w)


def test_open_png_classifies_the_picture_or_says_why_not(make_window, qtbot, tmp_path):
    w = make_window()
    failures = []
    w.worker.failed.connect(lambda rid, msg: failures.append(msg))
    draw(w.canvas, star())
    assert w.export_png(tmp_path / "star.png")
    assert w.export_svg(tmp_path / "star.svg")
    assert "<polyline" in (tmp_path / "star.svg").read_text()
    w.document.mark_saved(tmp_path / "x.ndjson")
    open_and_wait(qtbot, w, tmp_path / "star.png")
    assert w.document.sketch.is_empty and w._image is not None
    assert w.wait_idle()
    qtbot.waitUntil(lambda: w.state.analysis() is not None or bool(failures))
    if failures:        # the tiny pack's convnet reads stroke order, which a picture has not
        assert "needs strokes" in failures[-1]
        qtbot.waitUntil(lambda: "needs strokes" in w.statusBar().currentMessage())
        assert w.predictions.fused.shown()[0][0] == "—"
    else:
        assert w.predictions.fused.shown()[0][0] != "—"


def test_failed_save_keeps_the_drawing_and_dirty_flag(make_window, tmp_path):
    answers = Answers()
    w = make_window(answers)
    draw(w.canvas, star())
    target = tmp_path / "no such folder" / "x.ndjson"
    assert not w.save_as(target)
    assert answers.errors and "could not be written" in answers.errors[0]
    assert w.document.dirty and len(w.document.sketch) == 1 and w.document.path is None


def crash(w: MainWindow) -> None:
    """What a kill does to a window, as far as its data folder can tell: the kernel drops its
    session lock and nothing is cleaned up (real SIGKILLs: tests/test_autosave_two_windows.py)."""
    assert w.wait_idle()                  # the autosave is on disk
    w.worker.stop()
    w.autosave._lock.release()
    w.autosave._lock = None


def test_restore_after_a_crash(make_window, qtbot, tmp_path):
    crashed = make_window()
    draw(crashed.canvas, star())
    drawn = crashed.document.sketch
    crash(crashed)
    answers = Answers(restore=True)
    w = make_window(answers)
    assert answers.asked == ["restore [1]"]
    np.testing.assert_array_equal(w.document.sketch.all_points(), drawn.all_points())
    assert w.document.dirty
    settle(qtbot, w)
    # Safe in the new window's own session, the dead one's files are gone.
    assert sorted(p.name for p in w.autosave.folder.iterdir()) == [
        f"{w.autosave.session}.lock", f"{w.autosave.session}.ndjson"]


def test_a_live_window_is_not_offered_and_two_dead_ones_come_back_in_two(make_window, qtbot):
    live, dead1, dead2 = make_window(), make_window(), make_window()
    for i, w in enumerate((live, dead1, dead2)):
        for _ in range(i + 1):
            draw(w.canvas, star())
    crash(dead1)
    crash(dead2)
    answers = Answers(restore=True)
    w = make_window(answers)
    assert answers.asked == ["restore [2, 3]"]           # one question, oldest first
    (other,) = w.restored_windows
    assert other.isVisible()
    assert [len(w.document.sketch), len(other.document.sketch)] == [2, 3]
    np.testing.assert_array_equal(other.document.sketch.all_points(),
                                  dead2.document.sketch.all_points())
    assert live.autosave.file.exists()


def test_discarded_drawings_are_gone(make_window):
    crashed = make_window()
    draw(crashed.canvas, star())
    crash(crashed)
    w = make_window(Answers(restore=False))
    assert w.document.sketch.is_empty and w.restored_windows == []
    assert make_window().prompts.asked == []


def test_an_unwritable_data_folder_still_starts_and_says_so(make_window, qtbot, tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the data folder should be")
    answers = Answers()
    w = make_window(answers, data_dir=blocked)
    qtbot.waitUntil(lambda: bool(answers.errors), timeout=5000)
    assert len(answers.errors) == 1 and answers.errors[0].startswith("Autosave is off")
    assert w.findChild(QLabel, "autosaveOff").isVisible()
    draw(w.canvas, star())                               # drawing goes on, without autosave
    assert len(w.document.sketch) == 1 and w.wait_idle()
    assert len(answers.errors) == 1


def test_a_failing_autosave_is_reported_once_and_clears_when_it_works(make_window, qtbot,
                                                                      monkeypatch):
    answers = Answers()
    w = make_window(answers)
    real_save = w.autosave.save

    def full(sketch):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(w.autosave, "save", full)
    draw(w.canvas, star())
    draw(w.canvas, star(150, 150, 60))
    assert w.wait_idle()
    qtbot.waitUntil(lambda: bool(answers.errors), timeout=5000)
    label = w.findChild(QLabel, "autosaveOff")
    assert "No space left on device" in label.toolTip() and label.isVisible()
    monkeypatch.setattr(w.autosave, "save", real_save)
    draw(w.canvas, star(250, 250, 60))
    assert w.wait_idle()
    qtbot.waitUntil(lambda: not label.isVisible(), timeout=5000)
    assert len(answers.errors) == 1                      # one notice, not one per stroke


def test_no_restore_question_after_a_clean_exit(make_window, qtbot):
    first = make_window()
    draw(first.canvas, star())
    first.document.clear()
    first.document.undo()
    first.close()                          # asks about the unsaved drawing, we discard
    assert first.prompts.asked == ["unsaved"]
    answers = Answers()
    w = make_window(answers)
    assert answers.asked == [] and w.document.sketch.is_empty


def test_quit_with_unsaved_work_can_be_cancelled(make_window):
    w = make_window(Answers(unsaved=CANCEL))
    draw(w.canvas, star())
    assert not w.close()
    assert w.isVisible() and len(w.document.sketch) == 1


def test_teach_menu_exists(make_window):
    w = make_window()
    assert w.teach_menu.title() == "&Teach"
    assert w.state is not None

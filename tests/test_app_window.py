"""The main window against the tiny real pack: live recognition, neighbours, packs, files,
autosave. Settings, data and packs live in tmp folders; questions get injected answers."""
from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPoint, QSettings, Qt  # noqa: E402
from PySide6.QtGui import QKeySequence  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from sketchpad.app.prompts import CANCEL, DISCARD  # noqa: E402
from sketchpad.app.window import MainWindow  # noqa: E402
from sketchpad.ink import Sketch, iter_ndjson, write_ndjson  # noqa: E402
from sketchpad.pack import DEPTHS  # noqa: E402


class Answers:
    """Fixed answers to the window's questions, and a record of what it asked."""

    def __init__(self, restore: bool = True, unsaved: str = DISCARD):
        self.restore, self.unsaved = restore, unsaved
        self.asked: list[str] = []
        self.errors: list[str] = []

    def restore_autosave(self, n_strokes: int) -> bool:
        self.asked.append("restore")
        return self.restore

    def unsaved_changes(self) -> str:
        self.asked.append("unsaved")
        return self.unsaved

    def error(self, title: str, text: str) -> None:
        self.errors.append(f"{title}: {text}")


@pytest.fixture
def packs(tmp_path, tiny_pack_dir) -> Path:
    folder = tmp_path / "packs"
    shutil.copytree(tiny_pack_dir, folder / "tiny")
    return folder


@pytest.fixture
def make_window(qtbot, tmp_path, packs):
    made = []

    def make(answers: Answers | None = None, pack_dirs=None, wait_pack=True) -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
        w = MainWindow(pack_dirs=pack_dirs or [packs], data_dir=tmp_path / "data",
                       settings=settings, prompts=answers or Answers())
        qtbot.addWidget(w)
        w.resize(1100, 800)
        w.show()
        made.append(w)
        if wait_pack:
            qtbot.waitUntil(lambda: w.state.pack() is not None, timeout=20000)
        return w

    yield make
    for w in made:
        w.shutdown()


def draw(canvas, points) -> None:
    QTest.mousePress(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(*points[0]))
    for p in points[1:]:
        QTest.mouseMove(canvas, QPoint(*p))
    QTest.mouseRelease(canvas, Qt.LeftButton, Qt.NoModifier, QPoint(*points[-1]))


def star(cx=200, cy=200, r=120) -> list[tuple[int, int]]:
    a = np.linspace(-np.pi / 2, -np.pi / 2 + 4 * np.pi, 11)
    return [(int(cx + r * np.cos(t)), int(cy + r * np.sin(t))) for t in a]


def settle(qtbot, w: MainWindow) -> None:
    """Wait until the worker is idle and its last result has been shown."""
    assert w.wait_idle()
    qtbot.waitUntil(lambda: w.state.analysis() is not None, timeout=10000)


def real_drawing(data_root: Path, word: str = "star") -> Sketch:
    return next(iter_ndjson(data_root / "quickdraw" / "raw" / f"{word}.ndjson"))


def test_drawing_gives_prediction_and_neighbours_for_every_depth(make_window, qtbot):
    w = make_window()
    assert w.provider_label.text() in ("CPU", "CUDA (GPU)")
    assert w.provider_label.text() == "CUDA (GPU)" or w.provider_label.toolTip()
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
    assert "low · strokes & texture" in w.neighbours.titles["low"].text()


def test_only_the_latest_request_is_shown(make_window, qtbot, data_root):
    w = make_window()
    shown = []
    w.analysisShown.connect(shown.append)
    first, second = real_drawing(data_root, "apple"), real_drawing(data_root, "star")
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
    w.document.load(real_drawing(data_root))
    settle(qtbot, w)
    current = w.state.analysis()
    stale = w.state.pack().analyse(real_drawing(data_root, "apple"), w.k)
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
    texts = [w.pack_combo.itemText(i) for i in range(w.pack_combo.count())]
    (bad,) = [i for i, t in enumerate(texts) if t.startswith("broken — broken:")]
    assert "convnet.onnx is corrupt" in texts[bad]
    assert not w.pack_combo.model().item(bad).isEnabled()
    assert w.state.pack().name == "tiny"
    draw(w.canvas, star())
    settle(qtbot, w)


def test_pack_that_fails_to_load_is_marked_broken(make_window, qtbot, packs):
    w = make_window()
    shutil.rmtree(packs / "tiny")                     # it vanishes after it was listed
    with qtbot.waitSignal(w.worker.packFailed, timeout=10000):
        w._on_pack_chosen(0)
    assert "broken" in w.pack_combo.itemText(0)
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
    assert w.open_file(path)
    np.testing.assert_array_equal(w.document.sketch.all_points(), drawn.all_points())
    assert not w.document.dirty and w.recent_files()[0] == str(path)
    assert w.recent_menu.actions()[0].text() == "mine.ndjson"


def test_open_many_drawings_lists_them(make_window, qtbot, data_root, tmp_path):
    src = data_root / "quickdraw" / "simplified" / "apple.ndjson"
    drawings = list(itertools.islice(iter_ndjson(src), 5))
    path = tmp_path / "five.ndjson"
    write_ndjson(drawings, path)
    w = make_window()
    assert w.open_file(path)
    assert w.drawing_dock.isVisible() and w.drawing_list.count() == 5
    assert w.document.sketch == drawings[0] and w.document.path is None
    w.drawing_list.setCurrentRow(3)
    assert w.document.sketch == drawings[3]
    settle(qtbot, w)


def test_a_file_longer_than_the_list_says_so(make_window, qtbot, data_root, tmp_path, monkeypatch):
    import sketchpad.app.window as window_mod
    monkeypatch.setattr(window_mod, "MAX_LISTED", 3)
    src = data_root / "quickdraw" / "simplified" / "apple.ndjson"
    path = tmp_path / "five.ndjson"
    write_ndjson(list(itertools.islice(iter_ndjson(src), 5)), path)
    w = make_window()
    assert w.open_file(path)
    assert w.drawing_list.count() == 3
    assert "only the first 3 drawings are listed" in w.statusBar().currentMessage()
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
    assert w.open_file(tmp_path / "star.png")
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


def test_restore_after_a_crash(make_window, qtbot, tmp_path):
    crashed = make_window()
    draw(crashed.canvas, star())
    drawn = crashed.document.sketch
    assert crashed.wait_idle()            # the autosave is on disk
    crashed.worker.stop()                 # it dies: no clean exit, autosave and lock remain
    answers = Answers(restore=True)
    w = make_window(answers)
    assert answers.asked == ["restore"]
    np.testing.assert_array_equal(w.document.sketch.all_points(), drawn.all_points())
    assert w.document.dirty
    settle(qtbot, w)


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

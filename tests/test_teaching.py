"""Teaching views (issue 7) on the real tiny pack: what each view shows, checked against direct
computations with the engine, the searcher and the manifest."""
from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtWidgets import QMainWindow, QMenu  # noqa: E402

from sketchpad.app.state import AppState  # noqa: E402
from sketchpad.app.teaching import (  # noqa: E402
    DepthExplorer, EmbeddingMap, NetworkView, PackReport, install)
from sketchpad.app.teaching.depth import same_class_share  # noqa: E402
from sketchpad.app.teaching.embedding import MapFrame, place  # noqa: E402
from sketchpad.app.teaching.report import MISSING, hardest_confusions  # noqa: E402
from sketchpad.app.teaching.worker import Latest  # noqa: E402
from sketchpad.ink import Sketch  # noqa: E402
from sketchpad.runtime import LoadedPack  # noqa: E402

WAIT_MS = 20000


@pytest.fixture(scope="module")
def pack(tiny_pack_dir: Path) -> LoadedPack:
    return LoadedPack.open(tiny_pack_dir)


def drawn(pack: LoadedPack, i: int) -> Sketch:
    """Gallery sketch ``i`` as if drawn on the canvas: strokes only, no label."""
    return Sketch(pack.gallery.sketch(i).strokes)


@pytest.fixture
def state(qtbot, pack: LoadedPack) -> AppState:
    s = AppState()
    s.set_pack(pack)
    s.set_sketch(drawn(pack, 7))
    return s


def settle(qtbot, view, ready=lambda: True) -> None:
    qtbot.waitUntil(lambda: not view.busy and ready(), timeout=WAIT_MS)


def reextended(tiny_pack_dir: Path, tmp_path: Path, **extra) -> LoadedPack:
    """A copy of the tiny pack whose manifest has ``extra`` (manifest.json is not hashed)."""
    copy = tmp_path / "tiny-extended"
    shutil.copytree(tiny_pack_dir, copy)
    m = json.loads((copy / "manifest.json").read_text())
    for key, value in extra.items():
        if key == "features":
            for depth, info in value.items():
                m["features"][depth].update(info)
        else:
            m[key] = value
    (copy / "manifest.json").write_text(json.dumps(m))
    return LoadedPack.open(copy)


# --- install -----------------------------------------------------------------------------------

def test_install_adds_one_action_per_view_opening_non_modal_windows(qtbot, state):
    window = QMainWindow()
    qtbot.addWidget(window)
    window.state = state
    window.teach_menu = QMenu("Teach", window)
    actions = install(window)
    assert [a.text() for a in window.teach_menu.actions()] == [a.text() for a in actions.values()]
    assert len(actions) == 4
    for cls in (DepthExplorer, EmbeddingMap, NetworkView, PackReport):
        actions[cls.__name__].trigger()
        view = window.teaching_views[cls]
        assert view.isVisible() and not view.isModal() and view.state is state
        assert view.parent() is window and view.isWindow()
        actions[cls.__name__].trigger()   # a second click raises the same window
        assert window.teaching_views[cls] is view
        settle(qtbot, view)
    for view in window.teaching_views.values():
        view.close()


# --- depth explorer ----------------------------------------------------------------------------

def test_depth_explorer_share_matches_searcher_for_the_current_sketch(qtbot, state, pack):
    view = DepthExplorer(state)
    qtbot.addWidget(view)
    view.k.setValue(6)
    settle(qtbot, view, lambda: view.result is not None and view.result.gallery_id is None
           and all(len(v) == 6 for v in view.result.neighbours.values()))
    prediction = pack.engine.predict(state.sketch())
    expected = pack.searcher.query_all(prediction.features, 6)
    reference = int(np.argmax(prediction.probs))   # the drawn sketch has no label
    assert view.result.reference == reference
    for depth, neighbours in expected.items():
        share = sum(n.label == reference for n in neighbours) / 6
        assert view.result.share(depth) == pytest.approx(share)
        assert [n.gallery_id for n in view.result.neighbours[depth]] == \
            [n.gallery_id for n in neighbours]
        assert f"{round(share * 6)}/6" in view.columns[depth].share_label.text()
        assert len(view.columns[depth].shown()) == 6
        assert "not measured" in view.columns[depth].precision_label.text()


def test_depth_explorer_on_a_gallery_sketch_uses_its_label_and_leaves_it_out(qtbot, state, pack):
    view = DepthExplorer(state)
    qtbot.addWidget(view)
    view.show_gallery_sketch(50)
    settle(qtbot, view, lambda: view.result is not None and view.result.gallery_id == 50)
    label = int(pack.gallery.labels[50])
    assert view.result.reference == label
    k = view.k.value()
    for depth in view.columns:
        vector = np.asarray(pack.searcher.indexes[depth].get_item_vector(50), np.float32)
        direct = [n for n in pack.searcher.query(depth, vector, k + 1) if n.gallery_id != 50][:k]
        assert [n.gallery_id for n in view.result.neighbours[depth]] == \
            [n.gallery_id for n in direct]
        assert view.result.share(depth) == pytest.approx(same_class_share(direct, label))
    # clicking a neighbour makes it the query
    target = view.result.neighbours["high"][0].gallery_id
    qtbot.mouseClick(view.columns["high"].buttons[0], Qt.MouseButton.LeftButton)
    settle(qtbot, view, lambda: view.result.gallery_id == target)
    assert view.index.value() == target


def test_depth_explorer_shows_measured_precision_from_the_manifest(qtbot, tiny_pack_dir, tmp_path):
    pack = reextended(tiny_pack_dir, tmp_path,
                      features={"mid": {"precision_at_10": {"value": 0.625,
                                                            "protocol": "test split"}}})
    s = AppState()
    s.set_pack(pack)
    view = DepthExplorer(s)
    qtbot.addWidget(view)
    view.show_gallery_sketch(3)
    settle(qtbot, view, lambda: view.result is not None)
    assert "precision_at_10 = 0.625" in view.columns["mid"].precision_label.text()
    assert "test split" in view.columns["mid"].precision_label.toolTip()
    assert "not measured" in view.columns["low"].precision_label.text()


# --- embedding map -----------------------------------------------------------------------------

def test_map_places_a_gallery_sketch_at_its_stored_coordinates(qtbot, state, pack):
    view = EmbeddingMap(state)
    qtbot.addWidget(view)
    view.show()
    state.set_sketch(drawn(pack, 42))
    settle(qtbot, view, lambda: len(view.placements) == 3)
    for depth, panel in view.panels.items():
        stored = pack.gallery.projections[depth][42]
        spread = np.ptp(pack.gallery.projections[depth], axis=0).max()
        np.testing.assert_allclose(view.position(depth), stored, atol=1e-4 * spread)
        assert view.placements[depth].exact
        assert panel.image is not None and panel.image.width() == panel.width()
    assert "PCA the pack stores" in view.legend.text()


def test_place_without_basis_uses_neighbours_and_snaps_to_an_identical_sketch():
    positions = np.array([[0, 0], [2, 0], [0, 4]], np.float32)
    snapped = place(np.zeros(3), [(2, 0.0), (1, 0.5)], positions, None)
    assert not snapped.exact and snapped.xy.tolist() == [0, 4]
    mean = place(np.zeros(3), [(1, 0.2), (2, 0.5)], positions, None)
    assert mean.xy.tolist() == [1, 2]


def test_zoom_keeps_the_point_under_the_pointer():
    frame = MapFrame(np.array([0.0, 0.0]), np.array([10.0, 4.0]), 300, 200)
    at = np.array([120.0, 50.0])
    zoomed = frame.zoomed(0.5, at)
    np.testing.assert_allclose(zoomed.to_pixels(frame.to_map(at)), at)
    np.testing.assert_allclose(zoomed.span, [5.0, 2.0])
    np.testing.assert_allclose(frame.to_map(frame.to_pixels(np.array([3.0, 1.0]))), [3.0, 1.0])


def test_map_hover_finds_the_point_under_the_pointer(qtbot, state, pack):
    view = EmbeddingMap(state)
    qtbot.addWidget(view)
    view.show()
    settle(qtbot, view)
    panel = view.panels["high"]
    frame = panel.frame()
    target = frame.to_pixels(pack.gallery.projections["high"][10])
    qtbot.mouseMove(panel, QPoint(int(round(target[0])), int(round(target[1]))))
    qtbot.waitUntil(lambda: panel.hovered is not None, timeout=WAIT_MS)
    got = frame.to_pixels(pack.gallery.projections["high"][panel.hovered])
    assert np.abs(got - target).max() <= 1.0


# --- what the network learned -------------------------------------------------------------------

def test_network_view_shows_one_tile_per_first_layer_filter(qtbot, state, pack):
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(pack.pack.models["convnet"].file))
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    weight = next(i for i in model.graph.initializer if i.name == conv.input[1])
    view = NetworkView(state)
    qtbot.addWidget(view)
    settle(qtbot, view, lambda: bool(view.activations))
    assert len(view.filter_tiles) == weight.dims[0] == 8
    assert set(view.activations) == {"first", "low", "mid", "high"}
    assert view.activations["first"].shape[0] == weight.dims[0]
    sheet = view.filter_sheet.pixmap()   # the 8 filters side by side, 44 px each + 3 px gaps
    assert (sheet.width(), sheet.height()) == (8 * 47, 47)
    shown = [label.pixmap() for _, label in view.act_row_labels if not label.isHidden()]
    assert len(shown) == 5 and all(not pm.isNull() for pm in shown)   # input + 4 layers


def test_network_view_without_onnx_says_what_to_install(qtbot, state, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnx", None)   # import onnx → ImportError
    view = NetworkView(state)
    qtbot.addWidget(view)
    settle(qtbot, view, lambda: "install" in view.filter_note.text())
    assert "onnx" in view.filter_note.text() and not view.filter_tiles


# --- pack report ------------------------------------------------------------------------------

def test_report_shows_the_manifest_metrics_and_says_what_is_missing(qtbot, state, pack):
    view = PackReport(state)
    qtbot.addWidget(view)
    settle(qtbot, view, lambda: view.figure_tabs["confusion_matrix"].figure.key != "")
    rows = {view.table.item(r, 0).text(): (view.table.item(r, 1).text(),
                                           view.table.item(r, 2).text())
            for r in range(view.table.rowCount())}
    metric = pack.pack.metrics["train_accuracy_fusion"]
    assert rows["train_accuracy_fusion"] == (f"{metric['value']:.4f}", metric["protocol"])
    for key, tab in view.figure_tabs.items():
        assert tab.figure.png is None and MISSING in tab.picture.text()
        assert not tab.save.isEnabled()


def test_report_draws_a_stored_confusion_matrix_and_saves_it(qtbot, tiny_pack_dir, tmp_path):
    cm = [[30, 7, 3], [2, 38, 0], [9, 1, 30]]
    pack = reextended(tiny_pack_dir, tmp_path, confusion_matrix=cm,
                      per_class_accuracy={"apple": 0.75, "candle": 0.95, "star": 0.75},
                      accuracy_vs_fraction={"0.25": 0.4, "0.5": 0.6, "1.0": 0.8})
    s = AppState()
    s.set_pack(pack)
    view = PackReport(s)
    qtbot.addWidget(view)
    view.show()
    settle(qtbot, view, lambda: view.figure_tabs["confusion_matrix"].figure.key != "")
    for tab in view.figure_tabs.values():
        assert tab.figure.png is not None and tab.save.isEnabled()
        view.tabs.setCurrentWidget(tab)    # a tab draws its figure when it is first shown
        assert not tab.picture.pixmap().isNull()
    out = view.figure_tabs["confusion_matrix"].save_to(tmp_path / "cm.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert hardest_confusions(np.array(cm), pack.pack.classes)[:3] == [
        ("star", "apple", 9, 9 / 40), ("apple", "candle", 7, 7 / 40), ("apple", "star", 3, 3 / 40)]


# --- latest-only worker ------------------------------------------------------------------------

def test_latest_drops_superseded_requests(qtbot):
    latest = Latest()
    release = threading.Event()
    got = []
    latest.ready.connect(got.append)
    latest.submit(lambda: release.wait(5) and "first")
    latest.submit(lambda: "second")
    latest.submit(lambda: "third")
    release.set()
    qtbot.waitUntil(lambda: not latest.busy, timeout=WAIT_MS)
    assert got == ["third"]

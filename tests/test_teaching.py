"""Teaching views (issues 7 and 15) on the real tiny pack: what each view shows, checked against
direct computations with the engine, the searcher and the manifest. ``teaching_pack_dir`` is the
tiny pack after ``python -m training.teaching_assets`` (t-SNE maps, probes)."""
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
    VIEWS, ChallengeMode, DepthExplorer, EmbeddingMap, NetworkView, PackReport, StrokeView,
    install)
from sketchpad.app.teaching.depth import DepthResult, depth_trend, same_class_share  # noqa: E402
from sketchpad.app.teaching.embedding import PCA, TSNE, MapFrame, place  # noqa: E402
from sketchpad.app.teaching.report import (  # noqa: E402
    MISSING, confusion_figure, hardest_confusions, most_confused, png_bytes)
from sketchpad.search import Neighbour  # noqa: E402
from sketchpad.app.teaching.worker import Latest  # noqa: E402
from sketchpad.ink import Sketch  # noqa: E402
from sketchpad.runtime import LoadedPack  # noqa: E402

WAIT_MS = 20000
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


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


def view_over(qtbot, view_class, pack: LoadedPack, sketch: Sketch | None = None,
              show: bool = True):
    """A ``view_class`` over an AppState of its own holding ``pack`` (and ``sketch``)."""
    s = AppState()
    s.set_pack(pack)
    if sketch is not None:
        s.set_sketch(sketch)
    view = view_class(s)
    qtbot.addWidget(view)
    if show:
        view.show()
    return view


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
    assert len(actions) == len(VIEWS) == 6
    for cls in (DepthExplorer, EmbeddingMap, NetworkView, StrokeView, ChallengeMode, PackReport):
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
    view = view_over(qtbot, DepthExplorer, pack, show=False)
    view.show_gallery_sketch(3)
    settle(qtbot, view, lambda: view.result is not None)
    assert "Same class among the 10 most similar: 62.5 %" in view.columns["mid"].precision_label.text()
    assert "test split" in view.columns["mid"].precision_label.toolTip()
    assert "not measured" in view.columns["low"].precision_label.text()


# --- depth explorer wording ------------------------------------------------------------------

def _result(labels: dict[str, list[int]], reference: int = 0) -> DepthResult:
    return DepthResult("q", None, reference, "its label",
                       {d: [Neighbour(i, lab, 0.1) for i, lab in enumerate(ls)]
                        for d, ls in labels.items()})


def test_depth_trend_states_the_counts_and_only_claims_a_rise_that_happened():
    down_up = _result({"low": [0, 0] + [1] * 7, "mid": [0] + [1] * 8, "high": [0] * 4 + [1] * 5})
    text = depth_trend(down_up, ["low", "mid", "high"])
    assert "2/9 → 1/9 → 4/9 (falls, then rises)" in text
    assert "rises with depth" not in text and "Figure 4" not in text
    rising = _result({"low": [0] * 7 + [1] * 2, "mid": [0] * 8 + [1], "high": [0] * 9})
    text = depth_trend(rising, ["low", "mid", "high"])
    assert "7/9 → 8/9 → 9/9 (rises at every step)" in text and "Figure 4" in text


# --- embedding map -----------------------------------------------------------------------------

def test_map_places_a_gallery_sketch_at_its_stored_pca_coordinates(qtbot, state, pack):
    """The plain tiny pack has no t-SNE map: PCA only, projected with the stored basis, and
    one sentence saying how to add the t-SNE map."""
    view = EmbeddingMap(state)
    qtbot.addWidget(view)
    view.show()
    state.set_sketch(drawn(pack, 42))
    settle(qtbot, view, lambda: len(view.placements) == 3)
    assert view.current_method() == PCA and view.method.count() == 1
    for depth, panel in view.panels.items():
        stored = pack.gallery.projections[depth][42]
        spread = np.ptp(pack.gallery.projections[depth], axis=0).max()
        np.testing.assert_allclose(view.position(depth), stored, atol=1e-4 * spread)
        assert view.placements[depth].rule == "projected"
        assert panel.image is not None and panel.image.width() == panel.width()
    assert "PCA the pack stores" in view.legend.text()
    assert "training.teaching_assets" in view.legend.text()


def test_map_shows_tsne_by_default_and_places_like_opentsne_starts(qtbot, teaching_pack_dir):
    pack = LoadedPack.open(teaching_pack_dir)
    view = view_over(qtbot, EmbeddingMap, pack)
    settle(qtbot, view, lambda: view.loaded)
    assert view.current_method() == TSNE and view.method.count() == 2
    maps = np.load(teaching_pack_dir / "projection.npz")
    k = pack.pack.manifest["projection"]["placement"]["k"]
    # a new drawing (not in the gallery) goes to the median of its k nearest gallery sketches
    from sketchpad.ink import iter_ndjson
    new = next(x for x in iter_ndjson(DATA / "quickdraw" / "simplified" / "star.ndjson")
               if x.source_id not in set(pack.gallery.source_ids))
    view.state.set_sketch(Sketch(new.strokes))
    settle(qtbot, view, lambda: len(view.placements) == 3)
    prediction = pack.engine.predict(view.state.sketch())
    for depth in view.panels:
        found = pack.searcher.query(depth, prediction.features[depth], k)
        want = np.median(maps[f"tsne_{depth}"][[n.gallery_id for n in found]], axis=0)
        np.testing.assert_allclose(view.position(depth), want, rtol=1e-5, atol=1e-5)
        assert view.placements[depth].rule == "median"
        np.testing.assert_array_equal(view.panels[depth].positions, maps[f"tsne_{depth}"])
    share = pack.pack.manifest["projection"]["neighbourhood_share"]["tsne"]
    assert " → ".join(f"{share[d]:.0%}" for d in ("low", "mid", "high")) in view.share_label.text()
    view.method.setCurrentIndex(1)   # PCA: the gallery's stored PCA map, projected exactly
    settle(qtbot, view, lambda: view.current_method() == PCA and len(view.placements) == 3)
    assert all(p.rule == "projected" for p in view.placements.values())
    np.testing.assert_array_equal(view.panels["high"].positions, pack.gallery.projections["high"])


def test_place_snaps_to_an_identical_sketch_and_otherwise_takes_the_rule():
    positions = np.array([[0, 0], [2, 0], [0, 4], [10, 10]], np.float32)
    snapped = place(np.zeros(3), [(2, 0.0), (1, 0.5)], positions, None)
    assert snapped.rule == "snapped" and snapped.exact and snapped.xy.tolist() == [0, 4]
    mean = place(np.zeros(3), [(1, 0.2), (2, 0.5)], positions, None)
    assert mean.rule == "mean" and mean.xy.tolist() == [1, 2]
    median = place(np.zeros(3), [(0, 0.1), (1, 0.2), (3, 0.5)], positions, None, "median")
    assert median.rule == "median" and median.xy.tolist() == [2, 0]


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
    settle(qtbot, view, lambda: view.loaded)
    panel = view.panels["high"]
    frame = panel.frame()
    target = frame.to_pixels(pack.gallery.projections["high"][10])
    pointer = QPoint(int(round(target[0])), int(round(target[1])))
    qtbot.mouseMove(panel, pointer)
    qtbot.waitUntil(lambda: panel.hovered is not None, timeout=WAIT_MS)
    # the point nearest the pointer in the frame the panel has now (a late layout pass may
    # have resized it a little since)
    px = panel.frame().to_pixels(pack.gallery.projections["high"])
    d = ((px - [pointer.x(), pointer.y()]) ** 2).sum(1)
    assert d[panel.hovered] == d.min() and d.min() <= 64


# --- what the network learned -------------------------------------------------------------------

def test_network_view_reads_the_probe_in_the_pack_without_onnx(qtbot, teaching_pack_dir,
                                                               monkeypatch):
    """The app's own install: ``import onnx`` fails, and the view still shows every filter and
    every layer, from probe.onnx and first_filters.npy."""
    monkeypatch.setitem(__import__("sys").modules, "onnx", None)   # import onnx → ImportError
    pack = LoadedPack.open(teaching_pack_dir)
    view = view_over(qtbot, NetworkView, pack, drawn(pack, 7), show=False)
    settle(qtbot, view, lambda: bool(view.activations))
    filters = np.load(teaching_pack_dir / "first_filters.npy")
    assert len(view.filter_tiles) == filters.shape[0] == 8
    assert set(view.activations) == {"first", "low", "mid", "high"}
    assert view.activations["first"].shape[0] == filters.shape[0]
    sheet = view.filter_sheet.pixmap()   # the 8 filters side by side, 44 px each + 3 px gaps
    assert (sheet.width(), sheet.height()) == (8 * 47, 47)
    shown = [label.pixmap() for _, label in view.act_row_labels if not label.isHidden()]
    assert len(shown) == 5 and all(not pm.isNull() for pm in shown)   # input + 4 layers


def test_network_view_without_a_probe_says_what_to_do_in_one_sentence(qtbot, state, pack):
    view = NetworkView(state)
    qtbot.addWidget(view)
    settle(qtbot, view, lambda: "training.teaching_assets" in view.filter_note.text())
    note = view.filter_note.text()
    assert note.count(". ") == 0 and str(pack.pack.path) in note and not view.filter_tiles


# --- which strokes -----------------------------------------------------------------------------

def test_stroke_view_leaves_each_stroke_out_through_the_engine(qtbot, state, pack):
    view = StrokeView(state)
    qtbot.addWidget(view)
    sketch = state.sketch()
    settle(qtbot, view, lambda: view.attribution is not None)
    result = view.attribution
    full = pack.engine.predict(sketch).probs
    top = int(np.argmax(full))
    assert result.top == pack.pack.classes[top] and result.top_p == pytest.approx(full[top], 1e-5)
    assert [e.index for e in result.effects] == list(range(len(sketch.strokes)))
    for e in result.effects:
        p = pack.engine.predict(sketch.remove_stroke(e.index)).probs
        assert e.top_p_without == pytest.approx(p[top], abs=1e-5)
        assert e.without == pack.pack.classes[int(np.argmax(p))]
        assert e.effect == pytest.approx(full[top] - p[top], abs=1e-5)
    flips = [e for e in result.effects if e.without != result.top]
    if flips:
        e = max(flips, key=lambda f: f.effect)
        assert view.sentence.text().startswith(f"Without stroke {e.index + 1} it would say "
                                               f"{e.without}")
    else:
        assert "whichever single stroke" in view.sentence.text() or \
            "no stroke matters much" in view.sentence.text()
    assert not view.picture.pixmap().isNull()


def test_stroke_sentence_names_the_stroke_by_its_order():
    from sketchpad.app.teaching.attribution import Attribution, StrokeEffect
    a = Attribution("cat", 0.8, [StrokeEffect(0, "cat", 0.7, 0.7, 0.1),
                                 StrokeEffect(1, "cat", 0.75, 0.75, 0.05),
                                 StrokeEffect(2, "monkey", 0.6, 0.3, 0.5)], 3)
    assert a.sentence().startswith("Without stroke 3 it would say monkey (60%) instead of cat")
    b = Attribution("cat", 0.8, [StrokeEffect(0, "cat", 0.79, 0.79, 0.01),
                                 StrokeEffect(1, "cat", 0.9, 0.9, -0.1)], 2)
    assert "no stroke matters much" in b.sentence()
    assert "Stroke 2 argues against cat: without it cat would rise to 90%" in b.sentence()


# --- pack report ------------------------------------------------------------------------------

def test_report_names_metrics_in_words_and_says_what_is_missing(qtbot, state, pack):
    view = PackReport(state)
    qtbot.addWidget(view)
    settle(qtbot, view)
    assert view.table.rowCount() == 0            # filled when its tab is first shown
    view.tabs.setCurrentWidget(view.all_tab)
    rows = {view.table.item(r, 0).text(): view.table.item(r, 1).text()
            for r in range(view.table.rowCount())}
    metric = pack.pack.metrics["train_accuracy_fusion"]
    assert rows["Accuracy — on the training set, the fused answer"] == f"{metric['value']:.4f}"
    view.table.setCurrentCell(0, 0)
    assert metric["protocol"] in view.protocol.text()
    assert "papers report" in view.results.intro.text() and not view.results.boxes
    assert not view.tabs.isTabVisible(view.tabs.indexOf(view.figure_tabs["calibration"]))
    for key, tab in view.figure_tabs.items():
        assert tab.figure.key == ""              # nothing drawn before its tab is shown
        view.tabs.setCurrentWidget(tab)
        settle(qtbot, view)
        assert not tab.figure.available and MISSING in tab.picture.text()
        assert not tab.save.isEnabled()


def test_report_opens_on_the_papers_tables_with_ours_beside_them(qtbot, tiny_pack_dir, tmp_path):
    metrics = {"map3_cnn": {"value": 0.9, "protocol": "MAP@3 on our test split"},
               "map3_dsnplus": {"value": 0.95, "protocol": "MAP@3 on our test split"},
               "map3_cnn_28px": 0.926, "map3_cnn_64px": 0.943, "map3_cnn_96px": 0.941}
    pack = reextended(tiny_pack_dir, tmp_path, metrics=metrics)
    view = view_over(qtbot, PackReport, pack)
    settle(qtbot, view)
    assert view.tabs.currentWidget() is view.results
    table1, sizes = view.results.boxes
    assert table1.spec.title.startswith("Table 1")
    cells = {row[0]: row[1:] for row in table1.cells()}
    assert cells["baseline CNN"] == ["86.12 %", "90.00 %", "+3.9 points"]
    assert cells["DSN+ (with center loss)"] == ["91.76 %", "95.00 %", "+3.2 points"]
    assert cells["RNN"][1] == "not measured" and cells["RNN"][2] == "—"
    assert "MAP@3" in table1.table.horizontalHeaderItem(2).text()
    assert "1/2 when second" in table1.table.horizontalHeaderItem(2).toolTip()
    assert table1.protocol.isHidden()
    table1.how.click()
    assert not table1.protocol.isHidden() and "MAP@3 on our test split" in table1.protocol.text()
    # the trend sentence checks both trends: the paper's rises, ours does not at every step
    assert ("the paper's figure rises at every step (77.8 → 89.4 → 91.8); ours rises, then falls "
            "(92.6 → 94.3 → 94.1)") in sizes.caveat.text()


def test_a_mean_over_fewer_splits_than_the_papers_is_not_compared(qtbot, tiny_pack_dir, tmp_path):
    metrics = {"ten_view_accuracy_split1": 0.7532, "mean_ten_view_accuracy": 0.7532,
               "quickdraw_heldout_top1": 0.558}
    view = view_over(qtbot, PackReport, reextended(tiny_pack_dir, tmp_path, metrics=metrics))
    settle(qtbot, view)
    cells = {row[0]: row[1:] for row in view.results.boxes[0].cells()}
    assert cells["split 1"] == ["77.25 %", "75.32 %", "-1.9 points"]
    assert cells["mean over the splits"] == ["75.42 %", "75.32 % (split 1)", "— (fewer splits)"]
    assert cells["the pack as shipped, quick Quick, Draw! drawings (top-1)"] == ["—", "55.80 %", "—"]


def test_a_big_confusion_matrix_shows_the_most_confused_classes_by_name():
    rng = np.random.default_rng(0)
    n = 60
    cm = np.diag(np.full(n, 20))
    for t, p in [(3, 7), (7, 3), (50, 51), (12, 40)]:
        cm[t, p] += 9
    cm += rng.integers(0, 2, (n, n)) * (rng.random((n, n)) < 0.02)
    keep = most_confused(cm, 30)
    assert len(keep) == 30 and {3, 7, 50, 51, 12, 40} <= set(keep.tolist())
    rgba = confusion_figure(cm, [f"class {i}" for i in range(n)], "m")
    assert rgba.ndim == 3 and rgba.shape[2] == 4 and rgba.dtype == np.uint8
    assert png_bytes(rgba)[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_draws_stored_figures_the_calibration_picture_and_saves_them(qtbot, tiny_pack_dir,
                                                                            tmp_path):
    cm = [[30, 7, 3], [2, 38, 0], [9, 1, 30]]
    copy = tmp_path / "with-calibration"
    shutil.copytree(tiny_pack_dir, copy)
    (copy / "reliability.png").write_bytes(png_bytes(confusion_figure(np.array(cm),
                                                                      ["a", "b", "c"], "r")))
    m = json.loads((copy / "manifest.json").read_text())
    from sketchpad.pack import sha256_of
    m["files"]["reliability.png"] = sha256_of(copy / "reliability.png")
    m.update(confusion_matrix=cm,
             per_class_accuracy={"apple": 0.75, "candle": 0.95, "star": 0.75},
             accuracy_vs_fraction={"value": {"0.25": 0.4, "0.5": 0.6, "1.0": 0.8},
                                   "drawings": "Some other set", "protocol": "measured elsewhere"},
             calibration={"temperature": {"fusion": 1.0},
                          "protocol": "temperature fitted on validation",
                          "diagram": "reliability.png"})
    (copy / "manifest.json").write_text(json.dumps(m))
    pack = LoadedPack.open(copy)
    view = view_over(qtbot, PackReport, pack)
    settle(qtbot, view)
    for tab in view.figure_tabs.values():
        view.tabs.setCurrentWidget(tab)    # a tab draws its figure when it is first shown
        settle(qtbot, view)
        assert tab.figure.available and tab.save.isEnabled()
        assert not tab.picture.pixmap().isNull()
    assert view.figure_tabs["calibration"].figure.png == (copy / "reliability.png").read_bytes()
    assert "temperature fitted" in view.figure_tabs["calibration"].note.text()
    assert "measured elsewhere" in view.figure_tabs["accuracy_vs_fraction"].note.text()
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

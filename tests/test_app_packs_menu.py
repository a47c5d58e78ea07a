"""Issue 14, finding 3: the pack menu always shows the pack in use; a broken pack cannot be chosen
and says why; packs of the same name show their folder; long names are elided — first the
:class:`PackChooser` alone, then in the window."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402

from sketchpad.app.packs_menu import NAME_WIDTH, PackChooser, entry_labels  # noqa: E402
from windowkit import TU_BERLIN, draw, make_window, packs, settle, star  # noqa: E402,F401


def rename(pack: Path, name: str | None = None, title: str | None = None) -> None:
    manifest = json.loads((pack / "manifest.json").read_text())
    if name is not None:
        manifest["name"] = name
    if title is not None:
        manifest["title"] = title
    (pack / "manifest.json").write_text(json.dumps(manifest))


def corrupt(pack: Path) -> None:
    with (pack / "convnet.onnx").open("r+b") as f:
        f.seek(100)
        f.write(b"\0garbage\0")


@pytest.fixture
def shelf(tmp_path, tiny_pack_dir) -> list[Path]:
    """Two folders: the same pack twice (same title), a broken one with a very long name."""
    a, b = tmp_path / "school" / "packs", tmp_path / "home" / "packs"
    shutil.copytree(tiny_pack_dir, a / "tiny")
    shutil.copytree(tiny_pack_dir, b / "tiny")
    long = b / ("zz-a-broken-pack-whose-folder-name-goes-on" + "-and-on" * 12)
    shutil.copytree(tiny_pack_dir, long)
    corrupt(long)
    return [a, b]


def test_same_titles_show_their_folders_and_broken_ones_cannot_be_chosen(qtbot, shelf):
    chooser = PackChooser()
    qtbot.addWidget(chooser.combo)
    first = chooser.refresh(shelf)
    labels = entry_labels(chooser.entries)
    assert labels[0] != labels[1] and all("Tiny test pack (" in t for t in labels[:2])
    assert "school" in labels[0] and "home" in labels[1]
    (bad,) = [i for i, e in enumerate(chooser.entries) if e.pack is None]
    assert not chooser.item_enabled(bad)
    assert "is corrupt" in chooser.combo.itemData(bad, Qt.ToolTipRole)
    metrics = chooser.combo.fontMetrics()
    assert all(metrics.horizontalAdvance(chooser.combo.itemText(i)) <= NAME_WIDTH
               for i in range(chooser.combo.count()))
    assert chooser.combo.itemText(bad).endswith("— broken") and "…" in chooser.combo.itemText(bad)
    assert chooser.combo.sizeHint().width() <= NAME_WIDTH + 60
    assert first is chooser.entries[0] and chooser.selected() is first
    # The remembered pack wins when it is usable, not when it is broken.
    assert chooser.refresh(shelf, str(chooser.entries[1].path)).path == chooser.entries[1].path
    assert chooser.refresh(shelf, str(chooser.entries[bad].path)).path == chooser.entries[0].path


def test_a_pack_that_fails_to_load_gives_the_menu_back_to_the_pack_in_use(qtbot, shelf):
    chooser = PackChooser()
    qtbot.addWidget(chooser.combo)
    chooser.refresh(shelf)
    chooser.set_in_use(chooser.entries[0].path)
    picked = []
    chooser.chosen.connect(picked.append)
    chooser.combo.setCurrentIndex(1)
    chooser.combo.activated.emit(1)
    assert picked == [chooser.entries[1]] and chooser.selected() is chooser.entries[1]
    chooser.mark_broken(chooser.entries[1].path, "its index is truncated")
    assert chooser.selected() is chooser.in_use() is chooser.entries[0]
    assert not chooser.item_enabled(1)
    assert "its index is truncated" in chooser.combo.itemData(1, Qt.ToolTipRole)
    chooser.combo.activated.emit(1)                           # a broken pack is never chosen
    assert len(picked) == 1


def test_in_the_window_the_menu_and_the_predictions_agree(make_window, qtbot, packs):
    shutil.copytree(packs / "tiny", packs / "other")
    rename(packs / "other", "other", "Other pack")
    w = make_window()
    assert w.packs.selected() is w.packs.in_use()
    assert w.state.pack().pack.path == w.packs.in_use().path
    draw(w.canvas, star())
    settle(qtbot, w)
    target = next(e for e in w.packs.entries if e.path != w.packs.in_use().path)
    shutil.rmtree(target.path)                               # it breaks after it was listed
    index = w.packs.entries.index(target)
    w.packs.combo.setCurrentIndex(index)
    with qtbot.waitSignal(w.worker.packFailed, timeout=20000):
        w.packs.combo.activated.emit(index)
    assert w.packs.selected() is w.packs.in_use()           # the menu shows what answers
    assert w.state.pack().pack.path == w.packs.in_use().path
    assert not w.packs.item_enabled(index)


def test_switching_packs_closes_the_neighbour_viewer(make_window, qtbot, packs):
    shutil.copytree(packs / "tiny", packs / "other")
    rename(packs / "other", "other", "Other pack")
    w = make_window()
    draw(w.canvas, star())
    settle(qtbot, w)
    dialog = w.open_neighbour(w.neighbours.shown("high")[0].gallery_id)
    assert dialog.isVisible()
    other = next(e for e in w.packs.usable() if e.path != w.packs.in_use().path)
    with qtbot.waitSignal(w.state.packChanged, timeout=20000):
        w._load_pack(other)
    qtbot.waitUntil(lambda: w._neighbour_dialogs == [], timeout=5000)
    assert w.packs.selected().path == other.path


@pytest.mark.skipif(not (TU_BERLIN / "manifest.json").exists(), reason="no shipped tu-berlin pack")
def test_a_picture_with_a_stroke_pack_suggests_the_picture_pack(make_window, qtbot, packs,
                                                               tmp_path):
    (packs / "tu-berlin").symlink_to(TU_BERLIN, target_is_directory=True)
    w = make_window()
    assert w.state.pack().name == "tiny"                    # reads stroke order, not pictures
    draw(w.canvas, star())
    assert w.export_png(tmp_path / "star.png")
    w.new_drawing()
    with qtbot.waitSignal(w.files.opened, timeout=10000):
        w.open_file(tmp_path / "star.png")
    assert w.notices.isVisible() and "reads strokes" in w.notices.text.text()
    assert w.notices.action.isVisible() and "TU-Berlin" in w.notices.action.text()
    with qtbot.waitSignal(w.worker.packLoaded, timeout=60000):
        w.notices.action.click()
    qtbot.waitUntil(lambda: w.state.analysis() is not None, timeout=20000)
    assert w.state.pack().name == "tu-berlin" and w.packs.selected().path.name == "tu-berlin"
    assert w.predictions.fused.shown()[0][0] != "—"

"""Issue 14, finding 5: the habits of a good desktop editor — standard shortcuts and Ctrl+Y, a
Help menu with the shortcut list and About, a hint on the empty canvas, plain labels, the CPU/GPU
reason that stays, names that fit and thumbnails that are not faint."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtGui import QKeySequence  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from sketchpad.app import ink_paint  # noqa: E402
from sketchpad.app.help import about_html, shortcut_rows  # noqa: E402
from sketchpad.app.panels import Thumb  # noqa: E402
from sketchpad.gallery import Gallery  # noqa: E402
from sketchpad.pack import load_pack  # noqa: E402
from windowkit import TU_BERLIN, draw, make_window, packs, settle, star  # noqa: E402,F401


def test_standard_shortcuts_and_ctrl_y_redo(make_window, qtbot):
    w = make_window()
    for action, key in ((w.new_action, QKeySequence.New), (w.open_action, QKeySequence.Open),
                        (w.save_action, QKeySequence.Save), (w.undo_action, QKeySequence.Undo),
                        (w.redo_action, QKeySequence.Redo)):
        assert set(QKeySequence.keyBindings(key)) <= set(action.shortcuts())
    assert QKeySequence("Ctrl+Y") in w.redo_action.shortcuts()
    draw(w.canvas, [(30, 30), (90, 90)])
    draw(w.canvas, [(30, 90), (90, 30)])
    w.canvas.setFocus()
    QTest.keySequence(w, QKeySequence("Ctrl+Z"))
    assert len(w.document.sketch) == 1
    QTest.keySequence(w, QKeySequence("Ctrl+Y"))
    assert len(w.document.sketch) == 2
    QTest.keySequence(w, QKeySequence("F11"))
    assert w.isFullScreen() and w.full_screen_action.isChecked()
    QTest.keySequence(w, QKeySequence("F11"))
    assert not w.isFullScreen()


def test_the_shortcut_list_is_read_from_the_menus(make_window):
    w = make_window()
    rows = dict(shortcut_rows(w.menus()))
    edit = dict(rows["Edit"])
    assert "Ctrl+Y" in edit["Redo"] and "Ctrl+Z" in edit["Undo"]
    assert "Redo" not in edit["Redo"].split(", ")             # no dedicated-key names
    assert dict(rows["Help"])["Keyboard shortcuts"].startswith("F1")
    dialog = w.show_shortcuts()
    assert dialog.isVisible() and dialog.tree.topLevelItemCount() == len(rows) + 1
    dialog.close()


def test_about_names_versions_packs_licences_and_attribution(make_window, packs):
    w = make_window()
    text = about_html(w.packs.entries)
    import numpy
    import onnxruntime
    from PySide6.QtCore import qVersion
    for version in (qVersion(), onnxruntime.__version__, numpy.__version__, "0.1.0"):
        assert version in text
    attribution = (packs / "tiny" / "ATTRIBUTION.txt").read_text().strip()
    assert attribution and attribution.splitlines()[0] in text
    assert "Tiny test pack" in text
    dialog = w.show_about()
    assert "Model packs" in dialog.text.toPlainText()
    dialog.close()


@pytest.mark.skipif(not (TU_BERLIN / "manifest.json").exists(), reason="no shipped tu-berlin pack")
def test_about_shows_the_shipped_packs_licences():
    from sketchpad.pack import PackEntry
    text = about_html([PackEntry(TU_BERLIN, load_pack(TU_BERLIN, verify_hashes=False), None)])
    assert "Eitz, Hays, Alexa" in text and "CC BY 4.0" in text


def test_labels_say_plainly_what_they_do(make_window):
    w = make_window()
    assert w.predictions.per_model_toggle.text() == "Show each model's own guess"
    assert w.canvas.hint_shown
    assert w.predictions.word.placeholderText() == "name the drawing"


def test_the_cpu_gpu_reason_stays_in_the_status_bar(make_window, qtbot):
    w = make_window()
    shown = w.provider_label.full
    assert shown.startswith(("CPU", "CUDA"))
    draw(w.canvas, star())
    settle(qtbot, w)
    w.statusBar().showMessage("something else")
    assert w.provider_label.isVisible() and w.provider_label.full == shown
    if shown.startswith("CPU"):
        assert ":" in shown and w.provider_label.toolTip().startswith("Recognition runs on the CPU")


def test_thumbnail_names_are_elided_not_cut(qtbot):
    thumb = Thumb(size=48)
    qtbot.addWidget(thumb)
    from PySide6.QtGui import QPixmap
    thumb.show_neighbour(1, "tennis-racket", QPixmap(48, 48), False, 0.1)
    assert thumb.text() in ("tennis-racket", ) or thumb.text().endswith("…")
    assert thumb.text() != "tennis-racke" and "tennis-racket" in thumb.toolTip()
    thumb.set_size(48, 48 + 64)                       # room to spare goes to the name
    assert thumb.text() == "tennis-racket"


@pytest.mark.skipif(not (TU_BERLIN / "manifest.json").exists(), reason="no shipped tu-berlin pack")
def test_raster_thumbnails_are_shown_at_full_strength():
    gallery = Gallery(load_pack(TU_BERLIN, verify_hashes=False))
    picture = gallery.picture(0)
    assert picture.max() < 200                          # faint as stored
    shown = ink_paint.thumbnail_image(picture)
    grey = np.frombuffer(shown.constBits(), np.uint8).reshape(shown.height(),
                                                              shown.bytesPerLine())[:, :shown.width()]
    assert grey.min() == 0                              # the strongest ink is black
    ink = grey < 250
    assert np.median(grey[ink]) < 255 - np.median(picture[picture > 5]) - 40   # darker than plain


def test_the_neighbour_thumbnails_grow_with_the_space(make_window, qtbot):
    w = make_window(size=(1000, 700))
    draw(w.canvas, star())
    settle(qtbot, w)
    small = w.neighbours.thumb_size
    w.resize(1920, 1080)
    qtbot.waitUntil(lambda: w.neighbours.thumb_size > small, timeout=5000)
    big = w.neighbours.shown("low")[0]
    assert big.iconSize().width() == w.neighbours.thumb_size
    assert big.icon().availableSizes()[0].width() >= w.neighbours.thumb_size   # drawn at size


def test_gallery_thumbnails_are_drawn_fast_but_look_the_same(tiny_pack_dir):
    # finding 7: thumbnails come straight from the stored (already simplified) strokes
    from sketchpad import preprocess as pp
    gallery = Gallery(load_pack(tiny_pack_dir, verify_hashes=False))
    assert gallery.has_strokes
    for i in range(0, len(gallery), max(1, len(gallery) // 20)):
        fast = gallery.picture(i).astype(float)
        model = pp.render_sketch(gallery.sketch(i), 64, line_width=4.0).astype(float)
        assert fast.shape == model.shape == (64, 64)
        assert np.abs(fast - model).mean() < 12
        boxes = []                                        # the ink spans the same box
        for pic in (fast, model):
            ys, xs = np.nonzero(pic > 64)
            boxes.append((xs.min(), ys.min(), xs.max(), ys.max()))
        assert np.abs(np.subtract(*boxes)).max() <= 2, boxes

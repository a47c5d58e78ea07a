"""The Help menu's two windows: the keyboard shortcuts and About.

The shortcut list is read from the window's menus, so it always says what the keys really do
(a shortcut added to an action appears here by itself). About names the versions a bug report
needs and, for every pack, its dataset's licence and attribution (the pack's ``ATTRIBUTION.txt``,
which the CC BY licences of Quick, Draw! and TU-Berlin ask to be shown).
"""
from __future__ import annotations

import html
import platform
from typing import Iterable, Sequence

import numpy as np
import onnxruntime
import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHeaderView, QMenu, QTextBrowser,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from .. import __version__
from ..pack import PackEntry

ATTRIBUTION = "ATTRIBUTION.txt"
#: What the pen and mouse do, which no menu action lists.
POINTER_ROWS = (("Draw", "Drag with the mouse or a pen"),
                ("Erase a stroke", "The pen's eraser end, or the Eraser tool, over it"),
                ("Look at a similar sketch", "Click its thumbnail"))


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def typed(key: QKeySequence) -> bool:
    """Whether a shortcut is typed on an ordinary keyboard: letters, F-keys, arrows and the like,
    not the dedicated keys some keyboards have ("Undo", "Save", "Help"), which the platform's
    standard shortcuts include and which would only puzzle in a list."""
    return key.count() > 0 and key[0].key().value < Qt.Key_Help.value


def shortcut_rows(menus: Iterable[QMenu]) -> list[tuple[str, list[tuple[str, str]]]]:
    """``(menu title, [(action, keys)])`` for every action with a shortcut, in menu order; an
    action with several shortcuts lists them all (``Ctrl+Shift+Z, Ctrl+Y``)."""
    groups = []
    for menu in menus:
        rows = []
        for action in _actions(menu):
            keys = [k.toString(QKeySequence.NativeText) for k in action.shortcuts() if typed(k)]
            if keys and action.text():
                rows.append((_plain(action.text()), ", ".join(keys)))
        if rows:
            groups.append((_plain(menu.title()), rows))
    return groups


def _actions(menu: QMenu) -> list[QAction]:
    found = []
    for action in menu.actions():
        found.extend(_actions(action.menu()) if action.menu() else [action])
    return found


def _lay_out(dialog: QDialog, content: QWidget, button: QDialogButtonBox.StandardButton,
             size: tuple[int, int]) -> None:
    """``content`` above one ``button`` that closes ``dialog`` (Close rejects, Ok accepts):
    the frame both Help windows share."""
    buttons = QDialogButtonBox(button)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addWidget(content)
    layout.addWidget(buttons)
    dialog.resize(*size)


class ShortcutsDialog(QDialog):
    """Every keyboard shortcut by menu, and what the pen does."""

    def __init__(self, menus: Sequence[QMenu], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts — Sketchpad")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Action", "Keys"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        for title, rows in [*shortcut_rows(menus), ("Pen and mouse", list(POINTER_ROWS))]:
            group = QTreeWidgetItem(self.tree, [title])
            font = group.font(0)
            font.setBold(True)
            group.setFont(0, font)
            group.setFirstColumnSpanned(True)
            for text, keys in rows:
                QTreeWidgetItem(group, [text, keys])
        self.tree.expandAll()
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.tree.header().setStretchLastSection(True)
        _lay_out(self, self.tree, QDialogButtonBox.Close, (520, 520))


def versions() -> list[tuple[str, str]]:
    return [("Sketchpad", __version__), ("Python", platform.python_version()),
            ("Qt", qVersion()), ("PySide6", PySide6.__version__),
            ("onnxruntime", onnxruntime.__version__), ("NumPy", np.__version__)]


def _pack_html(entry: PackEntry) -> str:
    if entry.pack is None:
        return (f"<h3>{html.escape(entry.name)}</h3><p>Cannot be used: "
                f"{html.escape(entry.error or '')}</p>")
    pack = entry.pack
    dataset = pack.manifest.get("dataset", {})
    facts = [f"{len(pack.classes)} classes", f"models: {', '.join(sorted(pack.models))}"]
    if isinstance(dataset, dict):
        facts += [f"dataset licence: {dataset['licence']}"] if dataset.get("licence") else []
        facts += [f"citation: {dataset['citation']}"] if dataset.get("citation") else []
    parts = [f"<h3>{html.escape(pack.title)}</h3>",
             f"<p>{html.escape(' · '.join(facts))}<br><small>{html.escape(str(entry.path))}"
             "</small></p>"]
    attribution = entry.path / ATTRIBUTION
    try:
        text = attribution.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    if text:
        parts.append(f"<p><b>Attribution</b><br>{html.escape(text).replace(chr(10), '<br>')}</p>")
    elif isinstance(dataset, dict) and dataset.get("url"):
        parts.append(f"<p>Data: {html.escape(dataset['url'])}</p>")
    return "".join(parts)


def about_html(packs: Sequence[PackEntry]) -> str:
    """About's text: what Sketchpad is, the versions, and each pack with its attribution."""
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>&nbsp;{html.escape(v)}</td></tr>"
                   for k, v in versions())
    return (f"<h2>Sketchpad {html.escape(__version__)}</h2>"
            "<p>Draw, and see what a neural network thinks it is and which sketches are most "
            "like it, at three depths. MIT licence.</p>"
            f"<table>{rows}</table>"
            "<h2>Model packs</h2>"
            + ("".join(_pack_html(e) for e in packs) or "<p>No pack is installed.</p>"))


class AboutDialog(QDialog):
    def __init__(self, packs: Sequence[PackEntry], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About Sketchpad")
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        self.text.setHtml(about_html(packs))
        _lay_out(self, self.text, QDialogButtonBox.Ok, (560, 560))

"""Choosing a pack: the toolbar's pack menu, which always shows the pack in use.

:class:`PackChooser` lists every pack found (``discover_packs``) in a ``QComboBox``: a usable
pack by its title — with its folder when another pack has the same title — and a broken one
disabled, its reason in the tooltip, so it cannot be chosen. Names are elided to a fixed width,
so a long name cannot stretch the toolbar. Picking a pack emits :attr:`PackChooser.chosen`; the
window loads it on the worker and reports back with :meth:`~PackChooser.set_in_use` or
:meth:`~PackChooser.mark_broken`, and a pack that fails to load gives the menu back to the pack
still in use.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Sequence

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox

from ..pack import Pack, PackEntry, discover_packs
from ..preprocess import OrderRaster

#: Widest a pack's name may be in the menu, in pixels; longer ones are elided in the middle.
NAME_WIDTH = 300


def reads_pictures(pack: Pack) -> bool:
    """Whether the pack can classify a picture: its ConvNet reads a raster, not stroke order."""
    return not isinstance(pack.models["convnet"].preprocess, OrderRaster)


def _folder(path: Path) -> str:
    """A pack folder as a person reads it: under the home folder as ``~/…``."""
    try:
        return "~/" + str(path.resolve().relative_to(Path.home().resolve()))
    except ValueError:
        return str(path)


def entry_labels(entries: Sequence[PackEntry]) -> list[str]:
    """The menu's text for each entry: the title, with the folder when titles repeat."""
    titles = [e.pack.title if e.pack else e.name for e in entries]
    repeated = Counter(titles)
    labels = []
    for entry, title in zip(entries, titles):
        label = f"{title} ({_folder(entry.path)})" if repeated[title] > 1 else title
        labels.append(label if entry.pack else f"{label} — broken")
    return labels


class PackChooser(QObject):
    """The pack menu and what it knows: the packs found and the one in use."""

    chosen = Signal(object)        # PackEntry: a usable pack the user picked

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.setObjectName("packs")
        self.combo.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.combo.view().setTextElideMode(Qt.ElideMiddle)
        self.combo.setMaximumWidth(NAME_WIDTH + 60)
        self.combo.setToolTip("The model pack that recognises the drawing")
        self.combo.activated.connect(self._on_activated)
        self.entries: list[PackEntry] = []
        self._in_use: Path | None = None

    # --- what the window tells it -------------------------------------------------------------
    def refresh(self, dirs: Sequence[Path], remembered: str = "") -> PackEntry | None:
        """Find the packs again and fill the menu; returns the pack to load (the remembered one
        when it is usable, else the first usable), or None when no pack is usable."""
        self.entries = list(discover_packs(*dirs))
        self.combo.clear()
        metrics = self.combo.fontMetrics()
        for i, (entry, label) in enumerate(zip(self.entries, entry_labels(self.entries))):
            self.combo.addItem(metrics.elidedText(label, Qt.ElideMiddle, NAME_WIDTH))
            if entry.pack:
                tip = (f"{label}\n{entry.path}\n{len(entry.pack.classes)} classes"
                       + ("" if reads_pictures(entry.pack) else " · reads strokes, not pictures"))
                self.combo.setItemData(i, tip, Qt.ToolTipRole)
            else:
                self._disable(i, entry.error or "it cannot be read")
        usable = self.usable()
        if not usable:
            self._in_use = None
            return None
        pick = next((e for e in usable if str(e.path) == remembered), usable[0])
        self._select(pick.path)
        return pick

    def set_in_use(self, path: Path) -> None:
        """The worker has loaded this pack: the menu shows it."""
        self._in_use = Path(path)
        self._select(self._in_use)

    def mark_broken(self, path: Path, message: str) -> None:
        """The pack at ``path`` failed to load: it cannot be chosen again, and the menu goes
        back to the pack in use."""
        for i, entry in enumerate(self.entries):
            if entry.path == Path(path):
                self.entries[i] = PackEntry(entry.path, None, message)
                label = entry_labels(self.entries)[i]
                self.combo.setItemText(i, self.combo.fontMetrics().elidedText(
                    label, Qt.ElideMiddle, NAME_WIDTH))
                self._disable(i, message)
        if self._in_use is not None:
            self._select(self._in_use)
        else:
            self.combo.setCurrentIndex(-1)

    # --- what the window asks ---------------------------------------------------------------------
    def usable(self) -> list[PackEntry]:
        return [e for e in self.entries if e.pack is not None]

    def in_use(self) -> PackEntry | None:
        return next((e for e in self.entries if e.path == self._in_use), None)

    def selected(self) -> PackEntry | None:
        i = self.combo.currentIndex()
        return self.entries[i] if 0 <= i < len(self.entries) else None

    def picture_pack(self) -> PackEntry | None:
        """A usable pack that reads pictures (what to suggest when a picture is opened)."""
        return next((e for e in self.usable() if reads_pictures(e.pack)), None)

    def item_enabled(self, i: int) -> bool:
        return bool(self.combo.model().item(i).isEnabled())

    # --- inside -----------------------------------------------------------------------------------
    def _disable(self, i: int, reason: str) -> None:
        self.combo.setItemData(i, f"Cannot be used: {reason}", Qt.ToolTipRole)
        self.combo.model().item(i).setEnabled(False)

    def _select(self, path: Path) -> None:
        for i, entry in enumerate(self.entries):
            if entry.path == path:
                self.combo.setCurrentIndex(i)

    def _on_activated(self, index: int) -> None:
        if 0 <= index < len(self.entries) and self.entries[index].pack:
            self.chosen.emit(self.entries[index])

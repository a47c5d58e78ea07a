"""What a pack knows, as a searchable list: every class with a typical gallery drawing, and the
words taught to it, marked (issue 18).

:func:`vocabulary` lists the entries and :func:`pictures` draws one picture per entry; the
pictures run on the thread pool (a 250-class pack needs a gallery search per class) and come
back as uint8 arrays, turned into pixmaps on the GUI thread (STYLE.md point 9). From the list
the words can be taught, imported, renamed, exported and removed (:class:`VocabularyDialog`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (QDialog, QFileDialog, QHBoxLayout, QInputDialog, QLabel, QLineEdit,
                               QListView, QMenu, QMessageBox, QPushButton, QVBoxLayout, QWidget)

from .. import preprocess as pp
from ..runtime import LoadedPack
from ..words import WordsError
from . import ink_paint
from .teaching.worker import Latest

PICTURE = 64
#: Gallery drawings searched per class for the one nearest its prototype.
TYPICAL_SEARCH = 64
WORD_TINT = "#ffe7a3"
NAME_ROLE, WORD_ROLE = Qt.UserRole + 1, Qt.UserRole + 2


@dataclass(frozen=True)
class Entry:
    """One thing the pack knows: a class, or a taught word with its number of examples."""

    name: str
    word: bool = False
    examples: int = 0

    @property
    def label(self) -> str:
        return self.name.replace("_", " ") + ("\n(taught)" if self.word else "")


def vocabulary(pack: LoadedPack) -> list[Entry]:
    """The words taught to the pack, then its classes, each in alphabetical order (the words
    first: they are the user's own, and a long class list would hide them)."""
    entries = [Entry(c) for c in pack.pack.classes]
    entries += [Entry(w.name, True, w.examples) for w in pack.words.list()]
    return sorted(entries, key=lambda e: (not e.word, e.name.replace("_", " ").casefold()))


def typical_row(pack: LoadedPack, c: int) -> int | None:
    """A gallery row of class ``c`` to show for it: the one nearest the class's prototype in the
    deepest features when the pack has prototypes (a typical drawing, not a random one), else
    the class's first row; None when the gallery has none."""
    labels = pack.gallery.labels
    protos = pack.engine.trust.known.prototypes
    depth = next((d for d in ("high", "mid", "low") if d in protos and d in pack.searcher.indexes),
                 None)
    if depth is not None:
        for n in pack.searcher.query(depth, protos[depth][c], k=TYPICAL_SEARCH):
            if n.label == c:
                return n.gallery_id
    rows = np.flatnonzero(labels == c)
    return int(rows[0]) if len(rows) else None


def pictures(pack: LoadedPack, entries: list[Entry], size: int = PICTURE
             ) -> dict[str, np.ndarray]:
    """Entry name → uint8 picture (ink bright on dark): a typical gallery drawing for a class,
    the first example for a word. Runs off the GUI thread."""
    index = {c: i for i, c in enumerate(pack.pack.classes)}
    out = {}
    for e in entries:
        if e.word:
            word = pack.words.find(e.name)
            if word is not None and word.n_examples:
                out[e.name] = pp.render_sketch(word.sketch(0), size, line_width=4.0)
        else:
            row = typical_row(pack, index[e.name])
            if row is not None:
                out[e.name] = pack.gallery.picture(row, size)
    return out


def icon(picture: np.ndarray) -> QIcon:
    """A picture as an icon, dark ink on white (GUI thread only)."""
    return QIcon(QPixmap.fromImage(ink_paint.thumbnail_image(picture)))


class VocabularyDialog(QDialog):
    """Everything the pack knows, filterable, with a picture each; taught words marked and
    managed here. Non-modal; follows the pack in use (:meth:`set_pack`)."""

    teachRequested = Signal()
    wordsChanged = Signal()           # a word was imported, renamed or removed

    def __init__(self, pack: LoadedPack, parent: QWidget | None = None):
        super().__init__(parent)
        self.pack = pack
        self.resize(720, 560)
        self.summary = QLabel(wordWrap=True)
        self.filter = QLineEdit(placeholderText="Filter: type part of a name")
        self.filter.setClearButtonEnabled(True)
        self.model = QStandardItemModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseInsensitive)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.view = QListView()
        self.view.setModel(self.proxy)
        self.view.setViewMode(QListView.IconMode)
        self.view.setResizeMode(QListView.Adjust)
        self.view.setMovement(QListView.Static)
        self.view.setIconSize(QSize(PICTURE, PICTURE))
        self.view.setGridSize(QSize(PICTURE + 56, PICTURE + 52))
        self.view.setWordWrap(True)
        self.view.setSpacing(4)
        self.view.setContextMenuPolicy(Qt.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().currentChanged.connect(lambda *_: self._update_buttons())
        self.message = QLabel(wordWrap=True)
        self.message.setObjectName("vocabularyMessage")
        self.teach_button = QPushButton("Teach a word…")
        self.teach_button.clicked.connect(self.teachRequested)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Teach a word from a Quick, Draw! ndjson file of drawings")
        self.import_button.clicked.connect(self._ask_import)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.clicked.connect(self._ask_rename)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self._ask_export)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._ask_remove)
        buttons = QHBoxLayout()
        for b in (self.teach_button, self.import_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        for b in (self.rename_button, self.export_button, self.remove_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.filter)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self._pictures = Latest(self)
        self._pictures.ready.connect(self._show_pictures)
        self._importer = Latest(self)
        self._importer.ready.connect(self._imported)
        self._importer.failed.connect(self._say)
        self.refresh()

    # --- what the window tells it ---------------------------------------------------------------
    def set_pack(self, pack: LoadedPack) -> None:
        self.pack = pack
        self.filter.clear()
        self.message.clear()
        self.refresh()

    def refresh(self) -> None:
        """List the pack's classes and words again; their pictures follow from the pool."""
        entries = vocabulary(self.pack)
        n_words = sum(e.word for e in entries)
        n_classes = len(entries) - n_words
        title = self.pack.pack.title
        self.setWindowTitle(f"What the {title} pack knows")
        self.summary.setText(
            f"<b>{len(entries)} things</b>: the pack's {n_classes} classes"
            + (f" and {n_words} word{'s' if n_words != 1 else ''} you taught it (marked)"
               if n_words else "; teach it more words with <i>Teach a word…</i>"))
        self.model.clear()
        blank = QPixmap(PICTURE, PICTURE)      # the pictures' room, until they come
        blank.fill(Qt.white)
        for e in entries:
            item = QStandardItem(QIcon(blank), e.label)
            item.setData(e.name, NAME_ROLE)
            item.setData(e.word, WORD_ROLE)
            item.setEditable(False)
            if e.word:
                font = QFont(item.font())
                font.setItalic(True)
                item.setFont(font)
                item.setBackground(QBrush(QColor(WORD_TINT)))
                item.setToolTip(f"{e.name}: a word you taught this pack, "
                                f"{e.examples} example{'s' if e.examples != 1 else ''}")
            else:
                item.setToolTip(f"{e.name.replace('_', ' ')}: one of the pack's classes")
            self.model.appendRow(item)
        self._update_buttons()
        pack = self.pack
        self._pictures.submit(lambda: (pack, pictures(pack, entries)))

    def shown_names(self) -> list[str]:
        """The names the list shows now, in order (after the filter)."""
        return [self.proxy.index(r, 0).data(NAME_ROLE) for r in range(self.proxy.rowCount())]

    def word_names(self) -> list[str]:
        return [e.name for e in vocabulary(self.pack) if e.word]

    def _show_pictures(self, result: tuple[LoadedPack, dict[str, np.ndarray]]) -> None:
        pack, found = result
        if pack is not self.pack:
            return
        for r in range(self.model.rowCount()):
            item = self.model.item(r)
            picture = found.get(item.data(NAME_ROLE))
            if picture is not None:
                item.setIcon(icon(picture))

    # --- words -----------------------------------------------------------------------------------
    def selected_word(self) -> str | None:
        index = self.view.currentIndex()
        return index.data(NAME_ROLE) if index.isValid() and index.data(WORD_ROLE) else None

    def select(self, name: str) -> None:
        for r in range(self.proxy.rowCount()):
            if self.proxy.index(r, 0).data(NAME_ROLE) == name:
                self.view.setCurrentIndex(self.proxy.index(r, 0))

    def rename_word(self, old: str, new: str) -> bool:
        return self._change(lambda: self.pack.words.rename(old, new),
                            lambda info: f"Renamed {old!r} to {info.name!r}.", select=True)

    def remove_word(self, name: str) -> bool:
        return self._change(lambda: self.pack.words.remove(name),
                            lambda gone: f"Removed {gone!r}: the pack no longer knows it.")

    def export_word(self, name: str, dest: Path) -> bool:
        try:
            path = self.pack.words.export(name, dest)
        except (WordsError, OSError) as exc:
            self._say(str(exc))
            return False
        self._say(f"Saved the examples of {name!r} to {path}.", error=False)
        return True

    def import_words(self, path: Path) -> None:
        """Teach the word of a Quick, Draw! ndjson file (its ``word``), off the GUI thread:
        every drawing is run through the pack."""
        words = self.pack.words
        self._say(f"Reading {Path(path).name}…", error=False)
        self._importer.submit(lambda: words.import_file(path, new=True))

    @property
    def busy(self) -> bool:
        return self._importer.busy or self._pictures.busy

    def _imported(self, info) -> None:
        self.refresh()
        self.select(info.name)
        self._say(f"Taught {info.name!r} from {info.examples} drawings.", error=False)
        self.wordsChanged.emit()

    def _change(self, do, said, select: bool = False) -> bool:
        try:
            result = do()
        except (WordsError, OSError) as exc:
            self._say(str(exc))
            return False
        self.refresh()
        if select:
            self.select(result.name)
        self._say(said(result), error=False)
        self.wordsChanged.emit()
        return True

    def _say(self, text: str, error: bool = True) -> None:
        self.message.setStyleSheet("color: #b00020;" if error else "")
        self.message.setText(text)

    def _update_buttons(self) -> None:
        word = self.selected_word() is not None
        for b in (self.rename_button, self.export_button, self.remove_button):
            b.setEnabled(word)

    # --- asking the user (thin: the work is in the methods above) ---------------------------------
    def _context_menu(self, pos) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid() or not index.data(WORD_ROLE):
            return
        self.view.setCurrentIndex(index)
        menu = QMenu(self)
        menu.addAction("Rename…", self._ask_rename)
        menu.addAction("Export…", self._ask_export)
        menu.addAction("Remove", self._ask_remove)
        menu.exec(self.view.viewport().mapToGlobal(pos))

    def _ask_rename(self) -> None:
        name = self.selected_word()
        if name is None:
            return
        new, ok = QInputDialog.getText(self, "Rename word", f"New name for {name!r}:", text=name)
        if ok and new.strip():
            self.rename_word(name, new)

    def _ask_remove(self) -> None:
        name = self.selected_word()
        if name is not None and QMessageBox.question(
                self, "Remove word", f"Forget {name!r} and its examples?") == QMessageBox.Yes:
            self.remove_word(name)

    def _ask_export(self) -> None:
        name = self.selected_word()
        if name is None:
            return
        dest, _ = QFileDialog.getSaveFileName(self, "Export word", f"{name}.ndjson",
                                              "Quick, Draw! drawings (*.ndjson)")
        if dest:
            self.export_word(name, Path(dest))

    def _ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a word", "",
                                              "Quick, Draw! drawings (*.ndjson)")
        if path:
            self.import_words(Path(path))

"""Teach a word…: a name and a few example drawings become a word the pack knows (issue 18).

The name is checked as it is typed, with the words store's own rules and messages (a pack class
or a word already taught, case and spaces folded, is refused). Examples are drawn on a small
canvas — the app's own :class:`~.canvas.Canvas` over a document of its own — or imported from
a Quick, Draw! ndjson file, read off the GUI thread by :class:`~.files.FileReader` (such a file
may hold a hundred thousand drawings). Save hands them to :meth:`sketchpad.words.Words.add` on the thread
pool (the pack embeds every example, and a pack without a fitted word model derives one the
first time, which takes seconds); the dialog closes when the word is stored.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)

from .. import preprocess as pp
from ..document import Document
from ..ink import Sketch, iter_ndjson
from ..runtime import LoadedPack
from ..words import WordsError
from .canvas import Canvas
from .files import FileReader
from .teaching.worker import Latest
from .vocabulary import icon

#: The fewest examples a word is taught from here (the CLI takes any number).
MIN_EXAMPLES = 3
#: Thumbnails shown in the examples strip; more examples are counted, not drawn.
MAX_SHOWN = 60
THUMB = 56
ERROR_COLOUR = "#b00020"


def plain(message: str) -> str:
    """An error from the thread pool without its exception type."""
    return message.split(": ", 1)[1] if message.startswith(("WordsError: ", "SketchError: ")) \
        else message


class TeachDialog(QDialog):
    """Name a word, give it examples, save it to the pack in use."""

    taught = Signal(object)           # WordInfo of the word just stored

    def __init__(self, pack: LoadedPack, parent: QWidget | None = None):
        super().__init__(parent)
        self.pack = pack
        self.examples: list[Sketch] = []
        self._saver = Latest(self)
        self._saver.ready.connect(self._saved)
        self._saver.failed.connect(self._save_failed)
        self._reader = FileReader(lambda path: list(iter_ndjson(path)), self)
        self._reader.done.connect(self._imported)
        self._reader.failed.connect(self._import_failed)
        self._importing: Path | None = None
        self.setWindowTitle(f"Teach the {pack.pack.title} pack a word")
        self.name_edit = QLineEdit(placeholderText="e.g. snowman")
        self.name_edit.setMaxLength(64)
        self.name_edit.textChanged.connect(self._update)
        self.name_message = QLabel(wordWrap=True)
        self.name_message.setObjectName("nameMessage")
        self.document = Document()
        self.canvas = Canvas(self.document)
        self.canvas.setMinimumSize(300, 300)
        self.document.subscribe(lambda _sketch: self._update())
        self.add_button = QPushButton("Add this drawing")
        self.add_button.setToolTip("Keep the drawing as an example and clear the canvas (Enter)")
        self.add_button.clicked.connect(self.add_drawing)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(lambda: self.document.load(Sketch()))
        self.import_button = QPushButton("Import drawings…")
        self.import_button.setToolTip("Add every drawing of a Quick, Draw! ndjson file")
        self.import_button.clicked.connect(self._ask_import)
        self.strip = QListWidget()
        self.strip.setViewMode(QListWidget.IconMode)
        self.strip.setIconSize(QSize(THUMB, THUMB))
        self.strip.setFlow(QListWidget.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setFixedHeight(THUMB + 28)
        self.strip.setToolTip("The examples so far (Delete removes the selected one)")
        QShortcut(QKeySequence.Delete, self.strip, activated=self._remove_selected)
        self.count_label = QLabel()
        self.status = QLabel(wordWrap=True)
        self.status.setObjectName("teachStatus")
        self.buttons = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.Save)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow("Name:", self.name_edit)
        form.addRow("", self.name_message)
        tools = QHBoxLayout()
        tools.addWidget(self.add_button)
        tools.addWidget(self.clear_button)
        tools.addStretch(1)
        tools.addWidget(self.import_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel(f"Draw at least {MIN_EXAMPLES} examples of the word, one at a "
                                "time: draw it, then <i>Add this drawing</i> (or press Enter).",
                                wordWrap=True))
        layout.addWidget(self.canvas, 1)
        layout.addLayout(tools)
        layout.addWidget(self.count_label)
        layout.addWidget(self.strip)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)      # Enter adds the drawing, it never saves
        QShortcut(QKeySequence(Qt.Key_Return), self, activated=self.add_drawing)
        QShortcut(QKeySequence(Qt.Key_Enter), self, activated=self.add_drawing)
        self._update()

    # --- examples -------------------------------------------------------------------------------
    def add_drawing(self) -> bool:
        """The canvas's drawing becomes an example; the canvas starts again."""
        sketch = self.document.sketch
        if sketch.is_empty:
            return False
        self.add_examples([sketch])
        self.document.load(Sketch())
        return True

    def add_examples(self, sketches: Iterable[Sketch]) -> int:
        """Add drawings (empty ones are skipped); returns how many were added."""
        added = [s for s in sketches if not s.is_empty]
        for s in added:
            if len(self.examples) < MAX_SHOWN:
                item = QListWidgetItem(icon(pp.render_sketch(s, THUMB, line_width=4.0)), "")
                item.setSizeHint(QSize(THUMB + 8, THUMB + 8))
                self.strip.addItem(item)
            self.examples.append(s)
        self._update()
        return len(added)

    def import_file(self, path: Path) -> int:
        """Start reading a Quick, Draw! ndjson file off the GUI thread; its drawings are added
        when it has been read (an empty name then takes the file's word). Returns the read's
        ticket: only the latest import counts."""
        self._importing = Path(path)
        self._say(f"Reading {self._importing.name}…", error=False)
        return self._reader.read(self._importing)

    def _import_failed(self, ticket: int, message: str) -> None:
        if ticket == self._reader.latest:
            self._say(f"{self._importing.name} cannot be read: {message}")

    def _imported(self, ticket: int, sketches: list[Sketch]) -> None:
        if ticket != self._reader.latest:
            return
        path = self._importing
        if not self.name_edit.text().strip():
            labels = {s.label for s in sketches if s.label}
            if len(labels) == 1:
                self.name_edit.setText(labels.pop().replace("_", " "))
        n = self.add_examples(sketches)
        self._say(f"Added {n} drawing{'s' if n != 1 else ''} from {path.name}.", error=False)

    def _remove_selected(self) -> None:
        row = self.strip.currentRow()
        if 0 <= row < self.strip.count():
            self.strip.takeItem(row)
            del self.examples[row]
            self._update()

    # --- checking and saving ---------------------------------------------------------------------
    def name_problem(self) -> str | None:
        """Why the name cannot be taught, in the words store's own words (None: it can)."""
        words = self.pack.words
        name = self.name_edit.text()
        try:
            existing = words.find(name)
            words.store.check_new_name(name, [existing] if existing is not None else [])
        except WordsError as exc:
            return str(exc)
        return None

    def _update(self) -> None:
        name_problem = self.name_problem() if self.name_edit.text().strip() else None
        self.name_message.setText(name_problem or "")
        self.name_message.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.name_message.setVisible(bool(name_problem))
        n = len(self.examples)
        more = max(0, MIN_EXAMPLES - n)
        self.count_label.setText(f"{n} example{'s' if n != 1 else ''}"
                                 + (f" — {more} more to go" if more else " — ready to save")
                                 + (f" ({n - MAX_SHOWN} not shown)" if n > MAX_SHOWN else ""))
        self.add_button.setEnabled(not self.document.sketch.is_empty)
        self.save_button.setEnabled(bool(self.name_edit.text().strip()) and not name_problem
                                    and n >= MIN_EXAMPLES and not self._saver.busy)

    def save(self) -> None:
        """Store the word off the GUI thread; :attr:`taught` follows, then the dialog closes."""
        if not self.save_button.isEnabled():
            return
        if not self.document.sketch.is_empty:
            self.add_drawing()            # what is on the canvas is meant as an example too
        words, name, examples = self.pack.words, self.name_edit.text(), list(self.examples)
        self._saver.submit(lambda: words.add(name, examples, new=True))
        self._say(f"Teaching {name.strip()!r} from {len(examples)} examples…", error=False)
        self._update()

    def _saved(self, info) -> None:
        self._update()
        self.taught.emit(info)
        self.accept()

    def _save_failed(self, message: str) -> None:
        self._say(plain(message))
        self._update()

    def _say(self, text: str, error: bool = True) -> None:
        self.status.setStyleSheet(f"color: {ERROR_COLOUR};" if error else "")
        self.status.setText(text)

    def _ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import drawings", "",
                                              "Quick, Draw! drawings (*.ndjson)")
        if path:
            self.import_file(Path(path))

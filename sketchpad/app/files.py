"""Files: Open reads off the GUI thread, Save writes what Quick, Draw! users expect, Export.

* :func:`read_file` (plain Python) reads one ndjson file of drawings or one picture; the
  :class:`FileReader` runs it on a thread of its own and hands back plain data by signal
  (STYLE.md §9), so the window never waits on a disk, a network folder or a hostile file. A
  newer Open wins: a result that arrives after another Open started is dropped.
* :func:`quickdraw_record` gives a drawing the fields a Quick, Draw! line has — ``word`` (the
  name the user gave, else the guess they accepted by saving), ``countrycode`` when the system
  locale names a country, ``timestamp``, ``recognized`` (whether the pack's guess is the word)
  and ``key_id`` — keeping those an opened file already had.
* :class:`FileController` is the File menu's logic over a :class:`~sketchpad.document.Document`:
  New, Open, the drawings of a many-drawing file, Save, Save As, Export, recent files, the
  window title's file part; questions go through the injected prompts and file dialogs, so it is
  tested without a window.
"""
from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QLocale, QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from ..document import Document
from ..images import read_picture
from ..ink import Sketch, SketchError, iter_ndjson, write_ndjson
from . import ink_paint
from .prompts import CANCEL, SAVE
from .settings import AppSettings
from .svg import write_svg

#: Drawings listed from one file (the largest Quick, Draw! file here holds 5,929).
MAX_LISTED = 10_000
#: Messages kept of a file's unreadable lines (all are counted).
BAD_LINES_KEPT = 3
NDJSON_FILTER = "Quick, Draw! drawings (*.ndjson)"
OPEN_FILTER = ("Drawings and pictures (*.ndjson *.png *.jpg *.jpeg *.bmp);;" + NDJSON_FILTER
               + ";;Pictures (*.png *.jpg *.jpeg *.bmp)")
PNG_FILTER, SVG_FILTER = "PNG picture (*.png)", "SVG drawing (*.svg)"
#: The PNG export's size in pixels.
EXPORT_SIZE = 512


def plural(n: int, word: str) -> str:
    """``1 stroke``, ``2 strokes``, ``1,024 drawings``."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


# --- reading (plain Python) ------------------------------------------------------------------
class _BadLines(list):
    """What :func:`~sketchpad.ink.iter_ndjson` reports of unreadable lines: every one counted,
    the first few kept (a file of a million bad lines must not fill the memory with messages)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def append(self, message: str) -> None:
        self.count += 1
        if len(self) < BAD_LINES_KEPT:
            super().append(message)


@dataclass(frozen=True)
class OpenedFile:
    """What one Open read: drawings (an ndjson file) or a picture, and what went wrong."""

    path: Path
    drawings: tuple[Sketch, ...] = ()
    #: A picture: 2-D uint8 grey, dark ink on a light page.
    picture: np.ndarray | None = None
    bad_lines: int = 0
    first_errors: tuple[str, ...] = ()
    #: The file holds more drawings than were read (:data:`MAX_LISTED`).
    more: bool = False

    def notice(self) -> str:
        """What the user must be told about a partial read ('' when all was read)."""
        notes = []
        if self.bad_lines:
            notes.append(f"{plural(self.bad_lines, 'line')} of {self.path.name} could not be read "
                         f"and {'was' if self.bad_lines == 1 else 'were'} skipped "
                         f"(first: {self.first_errors[0]}).")
        if self.more:
            notes.append(f"Only the first {plural(len(self.drawings), 'drawing')} of "
                         f"{self.path.name} are listed.")
        return " ".join(notes)


def read_file(path: Path, max_listed: int | None = None) -> OpenedFile:
    """Read ``path``: a ``.ndjson`` file's drawings (bad lines skipped and counted, at most
    ``max_listed``, default :data:`MAX_LISTED`), anything else as a picture. Raises
    :class:`SketchError` saying why nothing could be read."""
    path = Path(path)
    max_listed = MAX_LISTED if max_listed is None else max_listed
    if not path.is_file():          # a folder, a FIFO or a device would block or never end
        raise SketchError(f"{path}: {'no such file' if not path.exists() else 'not a file'}")
    if path.suffix.lower() != ".ndjson":
        return OpenedFile(path, picture=read_picture(path))
    bad = _BadLines()
    drawings: list[Sketch] = []
    more = False
    for sketch in iter_ndjson(path, errors="skip", bad_lines=bad):
        if len(drawings) == max_listed:
            more = True
            break
        drawings.append(sketch)
    if not drawings:
        raise SketchError(bad[0] if bad else f"{path}: the file holds no drawings")
    return OpenedFile(path, tuple(drawings), None, bad.count, tuple(bad), more)


class FileReader(QObject):
    """Runs :func:`read_file` on a thread of its own per Open; the result comes by signal.

    A daemon thread rather than a pool: a read that never ends (a network folder that hangs)
    must neither hold up the next Open nor keep the app from quitting."""

    done = Signal(int, object)       # ticket, OpenedFile
    failed = Signal(int, str)        # ticket, message

    def __init__(self, read: Callable[[Path], OpenedFile] = read_file,
                 parent: QObject | None = None):
        super().__init__(parent)
        self._read = read
        self._ticket = 0

    def read(self, path: Path) -> int:
        """Start reading ``path``; returns its ticket (the latest ticket is the one that counts)."""
        self._ticket += 1
        ticket = self._ticket
        threading.Thread(target=self._job, args=(ticket, Path(path)), daemon=True,
                         name=f"open-{ticket}").start()
        return ticket

    @property
    def latest(self) -> int:
        return self._ticket

    def _job(self, ticket: int, path: Path) -> None:
        try:
            opened = self._read(path)
        except Exception as exc:  # noqa: BLE001 — whatever a file does, the window says so
            self.failed.emit(ticket, str(exc) if isinstance(exc, SketchError)
                             else f"{path}: {getattr(exc, 'strerror', None) or exc}")
        else:
            self.done.emit(ticket, opened)


# --- saving as Quick, Draw! does (plain Python) ---------------------------------------------
@dataclass(frozen=True)
class FileIdentity:
    """The fields a drawing keeps from its first save on: its id, time and country."""

    key_id: str
    timestamp: str
    countrycode: str = ""

    @classmethod
    def new(cls, countrycode: str = "", now: datetime | None = None) -> "FileIdentity":
        """A fresh 16-digit ``key_id`` (as Quick, Draw!'s are) and the time as Google writes it
        (``2017-03-02 23:25:10.07453 UTC``)."""
        now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        return cls(str(10 ** 15 + secrets.randbelow(9 * 10 ** 15)),
                   now.strftime("%Y-%m-%d %H:%M:%S.%f UTC"), countrycode)


def quickdraw_record(sketch: Sketch, guess: str | None, identity: FileIdentity) -> Sketch:
    """The sketch as a Quick, Draw! line: ``word`` = its name, else ``guess`` (the pack's best
    guess, accepted by saving); ``recognized`` = whether the guess is the word (left out when
    there is no guess); ``countrycode``, ``timestamp`` and ``key_id`` from the sketch when it
    has them (an opened file), else from ``identity``. Other fields are kept, after these."""
    word = sketch.label or guess
    meta = dict(sketch.meta)
    fields: dict[str, object] = {}
    country = meta.pop("countrycode", None) or identity.countrycode
    if country:
        fields["countrycode"] = country
    fields["timestamp"] = meta.pop("timestamp", None) or identity.timestamp
    meta.pop("recognized", None)
    if guess is not None and word is not None:
        fields["recognized"] = guess == word
    return replace(sketch, label=word, source_id=sketch.source_id or identity.key_id,
                   meta={**fields, **meta})


def system_countrycode() -> str:
    """The system locale's country as ISO 3166 alpha-2 (``DE``), '' when it names none."""
    return QLocale.territoryToCode(QLocale.system().territory())


def file_stem(text: str | None) -> str:
    """A name fit for a file: letters, digits, spaces, dots and dashes; ``drawing`` if none."""
    stem = re.sub(r"[^\w\-. ]+", "", text or "").strip(" .")
    return stem or "drawing"


# --- dialogs (replaceable in tests) -----------------------------------------------------------
class FileDialogs:
    """The Open and Save dialogs, each starting at a suggested folder and name."""

    def __init__(self, parent: QWidget | None = None):
        self.parent = parent

    def open_path(self, start: Path) -> Path | None:
        name, _ = QFileDialog.getOpenFileName(self.parent, "Open", str(start), OPEN_FILTER)
        return Path(name) if name else None

    def save_path(self, title: str, suggested: Path, filters: str) -> Path | None:
        name, _ = QFileDialog.getSaveFileName(self.parent, title, str(suggested), filters)
        return Path(name) if name else None


# --- the File menu's logic -------------------------------------------------------------------
@dataclass
class _Collection:
    """The drawings of the many-drawing file the document came from."""

    path: Path
    drawings: tuple[Sketch, ...]
    more: bool
    row: int = 0


#: ``load(sketch, path, picture, page)``: put a whole new drawing in the document and on the
#: canvas (``page``: whether it was drawn on Sketchpad's page; see :mod:`.canvas`).
Loader = Callable[[Sketch, "Path | None", "np.ndarray | None", bool], None]


class FileController(QObject):
    """New, Open, Save, Save As, Export and the file list, over one document."""

    opened = Signal(object)           # OpenedFile, once its first drawing (or picture) is shown
    collectionChanged = Signal()      # the file list's drawings or current row changed
    recentChanged = Signal()
    notice = Signal(str)              # something to show in the window, not only the status bar
    message = Signal(str, int)        # status-bar text, milliseconds (0: until the next one)

    def __init__(self, document: Document, settings: AppSettings, prompts, load: Loader,
                 dialogs: FileDialogs | None = None,
                 guess: Callable[[], str | None] = lambda: None,
                 countrycode: Callable[[], str] = system_countrycode,
                 parent: QObject | None = None):
        """``prompts`` asks ``unsaved_changes()`` and shows ``error(title, text)``
        (:class:`~.prompts.Prompts`); ``guess`` gives the pack's best guess for the document's
        sketch right now (None: no answer yet)."""
        super().__init__(parent)
        self.document, self.settings, self.prompts, self.load = document, settings, prompts, load
        self.dialogs = dialogs or FileDialogs()
        self.guess, self.countrycode = guess, countrycode
        self.reader = FileReader(parent=self)
        self.reader.done.connect(self._on_read)
        self.reader.failed.connect(self._on_read_failed)
        self.collection: _Collection | None = None
        #: The file being read (None when no Open is under way).
        self.reading: Path | None = None
        self._agreed: Sketch | None = None
        self._identity: FileIdentity | None = None

    # --- replacing the drawing -----------------------------------------------------------------
    def keep_work(self) -> bool:
        """True when it is fine to replace the drawing (saved, discarded, or nothing to lose)."""
        if not self.document.dirty or self.document.sketch.is_empty:
            return True
        answer = self.prompts.unsaved_changes()
        if answer == SAVE:
            return self.save()
        return answer != CANCEL

    def new(self) -> bool:
        if not self.keep_work():
            return False
        self._replace(Sketch(), None, None, page=True, collection=None)
        return True

    def open(self, path: Path | None = None) -> bool:
        """Ask (unsaved work, then a file when none is given) and start reading; True when the
        read started. The drawing is replaced when :attr:`opened` fires."""
        if not self.keep_work():
            return False
        path = path or self.dialogs.open_path(self.settings.last_dir())
        if path is None:
            return False
        self.reading = Path(path)
        self._agreed = self.document.sketch     # what the user agreed to replace
        self.reader.read(self.reading)
        self.message.emit(f"Opening {self.reading.name}…", 0)
        return True

    def pick(self, row: int) -> bool:
        """Show drawing ``row`` of the file list, as a new unsaved copy (so Save never writes
        one drawing over the whole collection); False when the user kept the current one."""
        c = self.collection
        if c is None or not 0 <= row < len(c.drawings) or row == c.row:
            return False
        if not self.keep_work():
            return False
        c.row = row
        self._replace(c.drawings[row], None, None, page=False, collection=c)
        return True

    def _on_read(self, ticket: int, opened: OpenedFile) -> None:
        if ticket != self.reader.latest:
            return                          # another Open started since: this one is stale
        self.reading = None
        if self.document.sketch is not self._agreed and not self.keep_work():
            self.message.emit("", 0)        # drawn on while the file was read, and kept
            return
        if opened.picture is not None:
            self._replace(Sketch(), None, opened.picture, page=True, collection=None)
        elif len(opened.drawings) == 1:
            self._replace(opened.drawings[0], opened.path, None, page=False, collection=None)
        else:
            self._replace(opened.drawings[0], None, None, page=False,
                          collection=_Collection(opened.path, opened.drawings, opened.more))
        self.settings.add_recent(opened.path)
        self.recentChanged.emit()
        self.message.emit(f"Opened {opened.path.name}" + (
            f": {plural(len(opened.drawings), 'drawing')}" if len(opened.drawings) > 1 else ""),
            5000)
        if opened.notice():
            self.notice.emit(opened.notice())
        self.opened.emit(opened)

    def _on_read_failed(self, ticket: int, message: str) -> None:
        if ticket != self.reader.latest:
            return
        if self.reading is not None and not self.reading.exists():
            self.settings.forget_recent(self.reading)
            self.recentChanged.emit()
        self.reading = None
        self.message.emit("", 0)
        self.prompts.error("Cannot open", message)

    def _replace(self, sketch: Sketch, path: Path | None, picture: np.ndarray | None, page: bool,
                 collection: _Collection | None) -> None:
        self.collection = collection
        self._identity = None
        self.load(sketch, path, picture, page)
        self.collectionChanged.emit()

    # --- saving ------------------------------------------------------------------------------
    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._write(self.document.path)

    def save_as(self, path: Path | None = None) -> bool:
        path = path or self.dialogs.save_path("Save As", self.suggested(".ndjson"), NDJSON_FILTER)
        if path is None:
            return False
        return self._write(self._with_suffix(path, ".ndjson"))

    def record(self) -> Sketch:
        """The document's sketch as it goes into a file (:func:`quickdraw_record`)."""
        if self._identity is None:
            self._identity = FileIdentity.new(self.countrycode())
        return quickdraw_record(self.document.sketch, self.guess(), self._identity)

    def _write(self, path: Path) -> bool:
        """Save with time and pressure; on failure say why and keep the drawing unsaved."""
        try:
            write_ndjson([self.record()], path, with_time=True, with_pressure=True)
        except OSError as exc:
            self.prompts.error("Could not save", f"{path} could not be written "
                               f"({exc.strerror or exc}). The drawing is still open and unsaved.")
            return False
        if path != self.document.path:
            self.collection = None          # the document now belongs to this file alone
            self.collectionChanged.emit()
        self.document.mark_saved(path)
        self.settings.add_recent(path)
        self.recentChanged.emit()
        self.message.emit(f"Saved {path}", 5000)
        return True

    def export_png(self, path: Path | None = None) -> bool:
        return self._export(path, PNG_FILTER, ".png", self._png)

    def export_svg(self, path: Path | None = None) -> bool:
        return self._export(path, SVG_FILTER, ".svg", lambda p: write_svg(self.document.sketch, p))

    def _png(self, path: Path) -> None:
        image = ink_paint.sketch_image(self.document.sketch, EXPORT_SIZE, EXPORT_SIZE)
        if not image.save(str(path), "PNG"):
            raise OSError(f"{path} could not be written")

    def _export(self, path: Path | None, filters: str, suffix: str,
                write: Callable[[Path], None]) -> bool:
        path = path or self.dialogs.save_path("Export", self.suggested(suffix), filters)
        if path is None:
            return False
        path = self._with_suffix(path, suffix)
        try:
            write(path)
        except OSError as exc:
            self.prompts.error("Could not export", f"{path}: {exc.strerror or exc}")
            return False
        self.message.emit(f"Exported {path}", 5000)
        return True

    @staticmethod
    def _with_suffix(path: Path, suffix: str) -> Path:
        return path if path.suffix.lower() == suffix else path.with_name(path.name + suffix)

    # --- names -------------------------------------------------------------------------------
    def suggested(self, suffix: str) -> Path:
        """Where a Save or Export dialog starts: beside the document's file (or the last one
        used), named after the file, the drawing's place in its file, or its word."""
        doc = self.document
        if doc.path is not None:
            return doc.path.with_suffix(suffix)
        if self.collection is not None:
            c = self.collection
            return c.path.parent / f"{c.path.stem}-{c.row + 1}{suffix}"
        return self.settings.last_dir() / f"{file_stem(doc.sketch.label or self.guess())}{suffix}"

    def title(self) -> str:
        """The file part of the window title."""
        c = self.collection
        if c is not None:
            return f"{c.path.name} — drawing {c.row + 1} of {len(c.drawings):,}" + (
                "+" if c.more else "")
        return self.document.path.name if self.document.path else "Untitled"

    def collection_labels(self) -> list[str]:
        """The file list's rows: ``3. cat (1 stroke)``."""
        c = self.collection
        if c is None:
            return []
        return [f"{i + 1}. {(d.label or 'drawing').replace('_', ' ')} ({plural(len(d), 'stroke')})"
                for i, d in enumerate(c.drawings)]

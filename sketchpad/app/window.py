"""The main window: wires the document, canvas, worker and views together through AppState.

Flow (DESIGN.md "The picture"): canvas → :class:`Document` → :class:`AppState` → worker →
``analysed`` → prediction panel and neighbour rows. The window holds no drawing logic itself:
it builds the widgets and routes changes between the parts that do the work, each testable
without it — :class:`~.files.FileController` (New, Open off the GUI thread, Save, Export, the
file list), :class:`~.settings.AppSettings` (what is remembered), :class:`~.packs_menu.PackChooser`
(the pack menu) — asks the user questions through :class:`Prompts`, and keeps the autosave.
"""
from __future__ import annotations

import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
from PySide6.QtCore import QSettings, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (QApplication, QDockWidget, QLabel, QListWidget, QMainWindow,
                               QScrollArea, QSplitter, QToolBar, QVBoxLayout, QWidget)

from ..document import Document
from ..ink import Sketch
from ..pack import PackEntry
from ..runtime import Analysis, LoadedPack
from . import ink_paint, teaching
from .autosave import Autosave, Recovered
from .canvas import ERASER, PEN, Canvas, on_page
from .files import FileController, FileDialogs, OpenedFile
from .help import AboutDialog, ShortcutsDialog
from .notices import NoticeBar
from .packs_menu import PackChooser, reads_pictures
from .panels import (ElidedLabel, NeighbourDialog, NeighbourPane, NeighbourRows,
                     PredictionPanel)
from .prompts import Prompts
from .responsiveness import freeze_long_lived, tune_for_interaction
from .settings import AppSettings
from .state import AppState
from .words_ui import WordsController
from .worker import RecognitionWorker

#: While the pen is down, the partial sketch goes to recognition at most this often.
LIVE_INTERVAL_MS = 150
#: The smallest window: fits a 1366 × 768 laptop screen with its task bar (and 1280 × 720).
MINIMUM_SIZE = (960, 600)
#: How wide the status bar's CPU/GPU note may grow (the whole reason is in its tooltip).
PROVIDER_WIDTH = 320


def default_data_dir() -> Path:
    return Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation))


class MainWindow(QMainWindow):
    """Sketchpad's window. Everything it depends on outside Qt can be injected for tests."""

    analysisShown = Signal(object)   # Analysis | None, after the panels show it (benchmarks)
    autosaveDone = Signal(str)       # "" or the error (from the autosave thread)

    def __init__(self, pack_dirs: Sequence[Path] = (), data_dir: Path | None = None,
                 settings: QSettings | None = None, prompts: Prompts | None = None, k: int = 8,
                 dialogs: FileDialogs | None = None):
        super().__init__()
        tune_for_interaction(QApplication.instance())
        self.setWindowTitle("Sketchpad")
        self.setMinimumSize(*MINIMUM_SIZE)
        self.settings = settings or QSettings("Sketchpad", "Sketchpad")
        self.prefs = AppSettings(self.settings)
        self.prompts = prompts or Prompts(self)
        self.pack_dirs = tuple(pack_dirs)
        self.k = k
        self.state = AppState(self)
        self.document = Document()
        self.autosave = Autosave(data_dir or default_data_dir())
        self._request_id = 0
        self._image: np.ndarray | None = None
        self._neighbour_dialogs: list[NeighbourDialog] = []
        self._autosave_failed = False
        self._autosave_warned = False
        self._autosave_label: QLabel | None = None
        #: Further windows opened at start for other restored drawings (one drawing a window).
        self.restored_windows: list[MainWindow] = []
        self._closed = False
        # One background writer: files are written in order, the GUI thread never waits on disk.
        self._autosave_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="autosave")
        self._autosave_future: Future | None = None
        self.autosaveDone.connect(self._on_autosave_done)

        self.worker = RecognitionWorker(self)
        self.worker.analysed.connect(self._on_analysed)
        self.worker.failed.connect(self._on_failed)
        self.worker.packLoaded.connect(self._on_pack_loaded)
        self.worker.packFailed.connect(self._on_pack_failed)

        self.canvas = Canvas(self.document)
        self.predictions = PredictionPanel()
        self.predictions.wordChosen.connect(self.document.set_label)
        self.neighbours = NeighbourRows(k)
        self.neighbours.neighbourClicked.connect(self.open_neighbour)
        self.notices = NoticeBar()
        self.packs = PackChooser(self)
        self.packs.chosen.connect(self._load_pack)
        self.files = FileController(self.document, self.prefs, self.prompts, self._load,
                                    dialogs or FileDialogs(self), guess=self._guess, parent=self)
        self.files.opened.connect(self._on_opened)
        self.files.collectionChanged.connect(self._on_collection_changed)
        self.files.recentChanged.connect(self._rebuild_recent)
        self.files.notice.connect(self.notices.show_notice)
        self.files.message.connect(self.statusBar().showMessage)
        self.state.packChanged.connect(self._on_pack_changed)
        self.live_timer = QTimer(self, singleShot=True, interval=LIVE_INTERVAL_MS)
        self.live_timer.timeout.connect(self.request_analysis)
        self.canvas.inkMoved.connect(self._on_ink_moved)
        self.document.subscribe(self._on_document_changed)

        self._build_layout()
        self._build_actions()
        self._build_status()
        self._restore_settings()
        self.worker.start()
        self.refresh_packs()
        self._start_autosave()
        self._offer_restore()
        self._update_title()

    # --- layout -------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        """Canvas and prediction side by side over the neighbour rows, in splitters the user can
        drag; the side panel and the rows scroll when the window is small and may be collapsed."""
        side_panel = QWidget()
        side_layout = QVBoxLayout(side_panel)
        side_layout.addWidget(self.predictions)
        side_layout.addStretch(1)
        self.side = QScrollArea()
        self.side.setWidget(side_panel)
        self.side.setWidgetResizable(True)
        self.side.setFrameShape(QScrollArea.NoFrame)
        self.side.setMinimumWidth(200)
        self.side.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        top = QSplitter(Qt.Horizontal)
        top.addWidget(self.canvas)
        top.addWidget(self.side)
        top.setCollapsible(0, False)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 1)
        top.setSizes([900, 300])
        self.neighbour_pane = NeighbourPane(self.neighbours)
        self.body = QSplitter(Qt.Vertical)
        self.body.setObjectName("body")
        self.body.addWidget(top)
        self.body.addWidget(self.neighbour_pane)
        self.body.setCollapsible(0, False)
        self.body.setStretchFactor(0, 3)
        self.body.setStretchFactor(1, 2)
        self.body.setSizes([600, 400])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.notices)
        layout.addWidget(self.body, 1)
        self.setCentralWidget(central)

        self.drawing_list = QListWidget()
        self.drawing_list.setUniformItemSizes(True)   # thousands of rows lay out at once
        self.drawing_list.currentRowChanged.connect(self._on_drawing_picked)
        self.drawing_dock = QDockWidget("Drawings in file", self)
        self.drawing_dock.setObjectName("drawings")
        self.drawing_dock.setWidget(self.drawing_list)
        self.addDockWidget(Qt.LeftDockWidgetArea, self.drawing_dock)
        self.drawing_dock.hide()

    def _action(self, text: str, slot, shortcut=None, checkable: bool = False) -> QAction:
        """An action; ``shortcut`` is a key, a standard key, or a list of either."""
        action = QAction(text, self, checkable=checkable)
        keys: list[QKeySequence] = []
        for key in shortcut if isinstance(shortcut, list) else [shortcut] * (shortcut is not None):
            for seq in (QKeySequence.keyBindings(key) if isinstance(key, QKeySequence.StandardKey)
                        else [QKeySequence(key)]):
                if seq not in keys:
                    keys.append(seq)
        action.setShortcuts(keys)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.new_action = self._action("&New", self.new_drawing, QKeySequence.New)
        self.open_action = self._action("&Open…", lambda: self.open_file(), QKeySequence.Open)
        self.save_action = self._action("&Save", lambda: self.save(), QKeySequence.Save)
        self.save_as_action = self._action("Save &As…", lambda: self.save_as(),
                                           [QKeySequence.SaveAs, "Ctrl+Shift+S"])
        export_png = self._action("Export &PNG…", lambda: self.export_png(), "Ctrl+E")
        export_svg = self._action("Export S&VG…", lambda: self.export_svg(), "Ctrl+Shift+E")
        quit_action = self._action("&Quit", self.close, [QKeySequence.Quit, "Ctrl+Q"])
        quit_action.setMenuRole(QAction.QuitRole)
        file_menu.addActions([self.new_action, self.open_action])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addActions([self.save_action, self.save_as_action])
        file_menu.addSeparator()
        file_menu.addActions([export_png, export_svg])
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

        edit = bar.addMenu("&Edit")
        self.undo_action = self._action("&Undo", self.document.undo, QKeySequence.Undo)
        self.redo_action = self._action("&Redo", self.document.redo, [QKeySequence.Redo, "Ctrl+Y"])
        self.clear_action = self._action("&Clear drawing", self.document.clear, "Ctrl+Shift+Delete")
        self.pen_action = self._action("&Pen", lambda: self.set_tool(PEN), "P", checkable=True)
        self.pen_action.setChecked(True)
        self.eraser_action = self._action("&Eraser", self._on_eraser_toggled, "E", checkable=True)
        self.eraser_action.setToolTip("Erase whole strokes (a pen's eraser end always erases)")
        group = QActionGroup(self)
        group.addAction(self.pen_action)
        group.addAction(self.eraser_action)
        edit.addActions([self.undo_action, self.redo_action, self.clear_action])
        edit.addSeparator()
        edit.addActions([self.pen_action, self.eraser_action])

        view = bar.addMenu("&View")
        self.full_screen_action = self._action("&Full screen", self._on_full_screen,
                                               [QKeySequence.FullScreen, "F11"], checkable=True)
        self.gpu_action = self._action("Use the &GPU when available", self._on_gpu_toggled,
                                       checkable=True)
        view.addAction(self.full_screen_action)
        view.addAction(self.drawing_dock.toggleViewAction())
        view.addSeparator()
        view.addAction(self.gpu_action)

        self.words_menu = bar.addMenu("&Words")
        self.words_ui = WordsController(self, self.words_menu)

        self.teach_menu = bar.addMenu("&Teach")
        self.teach_actions = teaching.install(self)

        help_menu = bar.addMenu("&Help")
        self.shortcuts_action = self._action("&Keyboard shortcuts", self.show_shortcuts,
                                             [QKeySequence.HelpContents, "F1"])
        self.about_action = self._action("&About Sketchpad", self.show_about)
        self.about_action.setMenuRole(QAction.AboutRole)
        help_menu.addActions([self.shortcuts_action, self.about_action])

        tools = QToolBar("Tools", self)
        tools.setObjectName("tools")
        tools.addActions([self.new_action, self.open_action, self.save_action])
        tools.addSeparator()
        tools.addActions([self.undo_action, self.redo_action, self.clear_action])
        tools.addSeparator()
        tools.addActions([self.pen_action, self.eraser_action])
        tools.addSeparator()
        tools.addWidget(QLabel(" Pack: "))
        tools.addWidget(self.packs.combo)
        self.addToolBar(tools)
        for action in self.findChildren(QAction):        # the shortcut, where a tip shows
            keys = action.shortcut().toString(QKeySequence.NativeText)
            if keys and action.toolTip() and keys not in action.toolTip():
                action.setToolTip(f"{action.toolTip()} ({keys})")

    def _build_status(self) -> None:
        """The CPU/GPU note stays in the status bar, its reason in the tooltip; messages come
        and go beside it."""
        self.provider_label = ElidedLabel("—")
        self.provider_label.setObjectName("provider")
        self.provider_label.setMinimumWidth(120)
        self.provider_label.setMaximumWidth(PROVIDER_WIDTH)
        self.statusBar().addPermanentWidget(self.provider_label, 1)

    def menus(self) -> list:
        return [a.menu() for a in self.menuBar().actions() if a.menu()]

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self.menus(), self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def show_about(self) -> AboutDialog:
        dialog = AboutDialog(self.packs.entries, self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def _on_full_screen(self, on: bool) -> None:
        self.showFullScreen() if on else self.showNormal()

    # --- settings -----------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        self.prefs.restore_window(self)
        self.predictions.per_model_toggle.setChecked(self.prefs.each_model)
        self.gpu_action.setChecked(self.prefs.prefer_gpu)
        self.predictions.per_model_toggle.toggled.connect(
            lambda on: setattr(self.prefs, "each_model", on))
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        files = self.prefs.recent_files()
        for f in files:
            action = self.recent_menu.addAction(f.name, lambda f=f: self.open_file(f))
            action.setToolTip(str(f))
        self.recent_menu.setToolTipsVisible(True)
        self.recent_menu.setEnabled(bool(files))

    # --- packs --------------------------------------------------------------------------------
    def refresh_packs(self) -> None:
        """List every pack found (broken ones cannot be chosen) and load the remembered one."""
        entry = self.packs.refresh(self.pack_dirs, self.prefs.pack)
        if entry is None:
            self.statusBar().showMessage("No usable model pack found: predictions are off.")
            return
        self._load_pack(entry)

    def _load_pack(self, entry: PackEntry) -> None:
        self.statusBar().showMessage(f"Loading pack {entry.name}…")
        self.worker.load_pack(entry.path, prefer_gpu=self.gpu_action.isChecked())

    def _on_gpu_toggled(self, on: bool) -> None:
        self.prefs.prefer_gpu = on
        entry = self.packs.in_use() or self.packs.selected()
        if entry is not None and entry.pack is not None:
            self._load_pack(entry)

    def _on_pack_loaded(self, pack: LoadedPack) -> None:
        self.prefs.pack = str(pack.pack.path)
        self.packs.set_in_use(pack.pack.path)
        provider = pack.engine.provider
        self.provider_label.setText(f"{provider.label}: {provider.reason}" if provider.reason
                                    else provider.label)
        self.provider_label.setToolTip(f"Recognition runs on the CPU: {provider.reason}"
                                       if provider.reason else "Recognition runs on the GPU")
        self.statusBar().showMessage(
            f"Pack {pack.name}: {len(pack.pack.classes)} classes, {len(pack.gallery):,} gallery "
            "sketches", 8000)
        self.neighbours.set_pack(pack)
        self.state.set_pack(pack)      # the words controller sets the completer's classes
        if self._image is not None and reads_pictures(pack.pack):
            self.notices.dismiss()                  # the picture can be read now
        self.request_analysis()
        freeze_long_lived()

    def _on_pack_failed(self, path: Path, message: str) -> None:
        self.packs.mark_broken(path, message)
        self.statusBar().showMessage(message)
        if self.packs.in_use() is None and self.packs.usable():
            self._load_pack(self.packs.usable()[0])   # nothing loaded yet: try the next one

    def _on_pack_changed(self, pack: LoadedPack | None) -> None:
        """Neighbour windows show sketches of the pack they came from: they close."""
        for dialog in self._neighbour_dialogs:
            dialog.close()
        self._neighbour_dialogs.clear()

    # --- recognition --------------------------------------------------------------------------
    def _on_ink_moved(self) -> None:
        if not self.live_timer.isActive():
            self.live_timer.start()

    def _on_document_changed(self, sketch: Sketch) -> None:
        self.state.set_sketch(sketch)
        self.live_timer.stop()
        self.request_analysis()          # first: the worker starts while the rest happens
        self._write_autosave(sketch)
        self._update_title()
        self.predictions.set_word(sketch.label)

    @property
    def latest_request(self) -> int:
        """The id of the latest analysis asked for: answers for any other are stale."""
        return self._request_id

    def request_analysis(self) -> None:
        """Send the latest drawing (with the stroke being drawn) to the worker; never waits."""
        self._request_id += 1
        sketch = self.canvas.live_sketch()
        source: Sketch | np.ndarray | None = (sketch if not sketch.is_empty else self._image)
        if source is None:
            self._show(None)
            return
        if self.state.pack() is not None:
            self.worker.request(self._request_id, source, self.k)

    def _on_analysed(self, request_id: int, analysis: Analysis) -> None:
        if request_id != self._request_id:
            return                              # a newer sketch is on its way: drop this one
        if self.canvas.live_sketch() is self.state.sketch() or self._image is not None:
            self.state.set_analysis(analysis)
        self._show(analysis)

    def _on_failed(self, request_id: int, message: str) -> None:
        if request_id == self._request_id:
            self._show(None)
            self.statusBar().showMessage(f"Recognition failed: {message}", 8000)

    def _show(self, analysis: Analysis | None) -> None:
        self.predictions.show_prediction(analysis.prediction if analysis else None)
        self.neighbours.show_analysis(analysis)
        self.predictions.set_guess(self._guess())
        self.analysisShown.emit(analysis)

    def _guess(self) -> str | None:
        """The pack's best guess for the drawing as it is now (None while none is in)."""
        analysis = self.state.analysis()
        if analysis is None or self.state.sketch() is not self.document.sketch:
            return None
        return analysis.prediction.top(1)[0][0]

    def open_neighbour(self, gallery_id: int) -> NeighbourDialog | None:
        pack = self.state.pack()
        if pack is None or gallery_id < 0:
            return None
        dialog = NeighbourDialog(pack, gallery_id, self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda: self._neighbour_dialogs.remove(dialog)
                                 if dialog in self._neighbour_dialogs else None)
        self._neighbour_dialogs.append(dialog)
        dialog.show()
        return dialog

    # --- tools --------------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        self.canvas.set_tool(tool)
        (self.eraser_action if tool == ERASER else self.pen_action).setChecked(True)

    def _on_eraser_toggled(self, on: bool) -> None:
        self.canvas.set_tool(ERASER if on else PEN)

    # --- files --------------------------------------------------------------------------------
    def _keep_work(self) -> bool:
        """True when it is fine to replace the drawing (saved, discarded, or nothing to lose)."""
        return self.files.keep_work()

    def new_drawing(self) -> bool:
        return self.files.new()

    def open_file(self, path: Path | None = None) -> bool:
        """Start opening ``path`` (or one the user picks); the drawing is replaced when it has
        been read, off the GUI thread (``files.opened``)."""
        return self.files.open(path)

    def save(self) -> bool:
        return self.files.save()

    def save_as(self, path: Path | None = None) -> bool:
        return self.files.save_as(path)

    def export_png(self, path: Path | None = None) -> bool:
        return self.files.export_png(path)

    def export_svg(self, path: Path | None = None) -> bool:
        return self.files.export_svg(path)

    def _load(self, sketch: Sketch, path: Path | None, image: np.ndarray | None = None,
              page: bool | None = None, dirty: bool = False) -> None:
        """Put a whole new drawing (or a picture) in the document and on the canvas. ``page``:
        whether it was drawn on Sketchpad's page (None: judge by its ink, for a restore)."""
        self.canvas.cancel_stroke()
        self.notices.dismiss()
        self._image = image
        self.canvas.set_image(None if image is None else ink_paint.gray_image(image, invert=False))
        self.document.load(sketch, path, dirty=dirty)
        self.canvas.show_loaded(on_page(sketch) if page is None else page)

    def _on_opened(self, opened: OpenedFile) -> None:
        if opened.picture is None:
            return
        pack = self.packs.in_use()
        if pack is not None and not reads_pictures(pack.pack):
            other = self.packs.picture_pack()
            text = f"The {pack.pack.title} pack reads strokes as they are drawn, not pictures."
            if other is None:
                self.notices.show_notice(text + " No installed pack reads pictures.")
            else:
                self.notices.show_notice(text + f" The {other.pack.title} pack reads pictures.",
                                         f"Use {other.pack.title}", lambda: self._load_pack(other))

    def _on_collection_changed(self) -> None:
        """The file list follows the document: the drawings of its file, or nothing."""
        labels = self.files.collection_labels()
        c = self.files.collection
        self.drawing_list.blockSignals(True)
        if self.drawing_list.count() != len(labels) or (
                labels and self.drawing_list.item(0).text() != labels[0]):
            self.drawing_list.clear()
            self.drawing_list.addItems(labels)
        self.drawing_list.setCurrentRow(c.row if c is not None else -1)
        self.drawing_list.blockSignals(False)
        if c is not None:
            self.drawing_dock.setWindowTitle(f"Drawings in {c.path.name} ({len(labels):,}"
                                             f"{'+' if c.more else ''})")
        else:
            self.drawing_dock.setWindowTitle("Drawings in file")
        self.drawing_dock.setVisible(c is not None)
        self._update_title()

    def _on_drawing_picked(self, row: int) -> None:
        if not self.files.pick(row) and self.files.collection is not None:
            self.drawing_list.blockSignals(True)       # kept the drawing: the list says so
            self.drawing_list.setCurrentRow(self.files.collection.row)
            self.drawing_list.blockSignals(False)

    # --- autosave and exit ----------------------------------------------------------------------
    def _start_autosave(self) -> None:
        """A data folder that is full or read-only must not stop the window: drawing goes on,
        autosave is off, and the user is told (status bar and one notice)."""
        try:
            self.autosave.start_session()
        except OSError as exc:
            self._warn_autosave(f"{self.autosave.folder} cannot be written "
                                f"({exc.strerror or exc})")

    def _offer_restore(self) -> None:
        """One question for the drawings of every window that died: the first comes back
        here, each further one in a window of its own (a window holds one drawing)."""
        found = self.autosave.claim_stale()
        if not found:
            return
        if not self.prompts.restore_drawings([len(r.sketch) for r in found]):
            self.autosave.discard(found)
            return
        first, *more = found
        self.restore(first)
        for recovered in more:
            window = MainWindow(pack_dirs=self.pack_dirs, data_dir=self.autosave.data_dir,
                                settings=self.settings, prompts=self.prompts, k=self.k)
            window.restore(recovered)
            window.show()
            self.restored_windows.append(window)

    def restore(self, recovered: Recovered) -> None:
        """Show a dead window's drawing here, unsaved; its old session goes once this
        window's autosave holds it."""
        self.autosave.adopt(recovered)
        self._load(recovered.sketch, None, dirty=True)

    def _write_autosave(self, sketch: Sketch) -> None:
        if self._closed or not self.autosave.active:
            return
        self._autosave_future = self._autosave_pool.submit(self._autosave_job, sketch)

    def _autosave_job(self, sketch: Sketch) -> None:
        try:
            self.autosave.save(sketch)
        except OSError as exc:
            self.autosaveDone.emit(str(exc.strerror or exc))
        else:
            self.autosaveDone.emit("")

    def _on_autosave_done(self, error: str) -> None:
        if error and not self._autosave_failed:      # say it once, not after every stroke
            self._warn_autosave(f"the drawing could not be autosaved ({error})")
        elif not error and self._autosave_label is not None:
            self._autosave_label.hide()              # space was made: it works again
        self._autosave_failed = bool(error)

    def _warn_autosave(self, reason: str) -> None:
        """A lasting mark in the status bar, a message, and one notice per window."""
        advice = f"{reason}. Drawing still works; save the drawing yourself."
        message = f"Autosave is off: {advice}"
        if self._autosave_label is None:
            self._autosave_label = QLabel("Autosave off")
            self._autosave_label.setObjectName("autosaveOff")
            self.statusBar().addPermanentWidget(self._autosave_label)
        self._autosave_label.setToolTip(message)
        self._autosave_label.show()
        self.statusBar().showMessage(message, 15000)
        if not self._autosave_warned:
            self._autosave_warned = True
            # After the window is up (this can happen while it is being built).
            notice = advice[0].upper() + advice[1:]
            QTimer.singleShot(0, self, lambda: self.prompts.error("Autosave is off", notice))

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.files.title()}{' •' if self.document.dirty else ''} "
                            "— Sketchpad")
        self.undo_action.setEnabled(self.document.can_undo)
        self.redo_action.setEnabled(self.document.can_redo)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._keep_work():
            event.ignore()
            return
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("windowState", self.saveState())
        self.settings.sync()
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop the worker and mark a clean exit (also for tests that drop a window)."""
        self._closed = True
        if self.worker.isRunning() and not self.worker.stop():
            # An analysis cannot be interrupted; quitting never waits for it (run_app exits
            # without joining the thread, and everything worth keeping is written below).
            print("sketchpad: recognition still running at exit; not waiting for it",
                  file=sys.stderr)
        self._autosave_pool.shutdown(wait=True)
        self.autosave.end_session()

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Tests and benchmarks: wait for the worker and the last autosave (results still
        arrive through the event loop)."""
        if self._autosave_future is not None:
            self._autosave_future.exception(timeout_s)
        return self.worker.wait_idle(timeout_s)

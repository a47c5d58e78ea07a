"""The main window: wires the document, canvas, worker and views together through AppState.

Flow (DESIGN.md "The picture"): canvas → :class:`Document` → :class:`AppState` → worker →
``analysed`` → prediction panel and neighbour rows. The window holds no drawing logic itself:
it routes changes, asks the user questions through :class:`Prompts`, and keeps files, recent
files, settings and the autosave.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
from PySide6.QtCore import QSettings, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QImage, QKeySequence
from PySide6.QtWidgets import (QApplication, QComboBox, QDockWidget, QFileDialog, QLabel,
                               QListWidget, QMainWindow, QScrollArea, QSplitter, QToolBar,
                               QVBoxLayout, QWidget)

from ..datasets.tu_berlin import read_png
from ..document import Document
from ..ink import Sketch, SketchError, iter_ndjson, write_ndjson
from ..pack import PackEntry, discover_packs
from ..runtime import Analysis, LoadedPack
from . import ink_paint, teaching
from .autosave import Autosave
from .canvas import ERASER, PEN, Canvas
from .panels import NeighbourDialog, NeighbourRows, PredictionPanel
from .prompts import CANCEL, SAVE, Prompts
from .responsiveness import freeze_long_lived, tune_for_interaction
from .state import AppState
from .svg import write_svg
from .worker import RecognitionWorker

#: While the pen is down, the partial sketch goes to recognition at most this often.
LIVE_INTERVAL_MS = 150
MAX_RECENT = 8
#: A Quick, Draw! file can hold 100 000+ drawings; the side list shows the first ones.
#: Drawings listed from one file (the largest Quick, Draw! file here holds 5,929).
MAX_LISTED = 10_000
NDJSON_FILTER = "Quick, Draw! drawings (*.ndjson)"
OPEN_FILTER = "Drawings and pictures (*.ndjson *.png *.jpg *.jpeg);;" + NDJSON_FILTER


def default_data_dir() -> Path:
    return Path(QStandardPaths.writableLocation(QStandardPaths.AppDataLocation))


class MainWindow(QMainWindow):
    """Sketchpad's window. Everything it depends on outside Qt can be injected for tests."""

    analysisShown = Signal(object)   # Analysis | None, after the panels show it (benchmarks)
    autosaveDone = Signal(str)       # "" or the error (from the autosave thread)

    def __init__(self, pack_dirs: Sequence[Path] = (), data_dir: Path | None = None,
                 settings: QSettings | None = None, prompts: Prompts | None = None, k: int = 8):
        super().__init__()
        tune_for_interaction(QApplication.instance())
        self.setWindowTitle("Sketchpad")
        self.settings = settings or QSettings("Sketchpad", "Sketchpad")
        self.prompts = prompts or Prompts(self)
        self.pack_dirs = tuple(pack_dirs)
        self.k = k
        self.state = AppState(self)
        self.document = Document()
        self.autosave = Autosave(data_dir or default_data_dir())
        self._request_id = 0
        self._image: np.ndarray | None = None
        self._drawings: list[Sketch] = []
        self._entries: list[PackEntry] = []
        self._autosave_failed = False
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
        self.neighbours = NeighbourRows(k)
        self.neighbours.neighbourClicked.connect(self.open_neighbour)
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
        self._offer_restore()
        self.autosave.start_session()
        self._update_title()

    # --- layout -------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        self.pack_combo = QComboBox()
        self.pack_combo.setMinimumWidth(220)
        self.pack_combo.activated.connect(self._on_pack_chosen)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self.predictions)
        side_layout.addStretch(1)
        side.setMinimumWidth(300)
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(self.canvas)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        scroll = QScrollArea()
        scroll.setWidget(self.neighbours)
        scroll.setWidgetResizable(True)
        scroll.setMinimumHeight(3 * 118)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addWidget(splitter, 1)
        layout.addWidget(scroll)
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
        action = QAction(text, self, checkable=checkable)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.new_action = self._action("&New", self.new_drawing, QKeySequence.New)
        self.open_action = self._action("&Open…", lambda: self.open_file(), QKeySequence.Open)
        self.save_action = self._action("&Save", lambda: self.save(), QKeySequence.Save)
        self.save_as_action = self._action("Save &As…", lambda: self.save_as(), QKeySequence.SaveAs)
        export_png = self._action("Export &PNG…", lambda: self.export_png())
        export_svg = self._action("Export S&VG…", lambda: self.export_svg())
        quit_action = self._action("&Quit", self.close, QKeySequence.Quit)
        file_menu.addActions([self.new_action, self.open_action])
        self.recent_menu = file_menu.addMenu("Open &Recent")
        file_menu.addActions([self.save_action, self.save_as_action])
        file_menu.addSeparator()
        file_menu.addActions([export_png, export_svg])
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

        edit = bar.addMenu("&Edit")
        self.undo_action = self._action("&Undo", self.document.undo, QKeySequence.Undo)
        self.redo_action = self._action("&Redo", self.document.redo, QKeySequence.Redo)
        self.clear_action = self._action("&Clear", self.document.clear, "Ctrl+Shift+Delete")
        self.eraser_action = self._action("&Eraser", self._on_eraser_toggled, "E", checkable=True)
        self.eraser_action.setToolTip("Erase whole strokes (a pen's eraser end always erases)")
        edit.addActions([self.undo_action, self.redo_action, self.clear_action])
        edit.addSeparator()
        edit.addAction(self.eraser_action)

        view = bar.addMenu("&View")
        self.gpu_action = self._action("Use the &GPU when available", self._on_gpu_toggled,
                                       checkable=True)
        view.addAction(self.gpu_action)
        view.addAction(self.drawing_dock.toggleViewAction())

        self.teach_menu = bar.addMenu("&Teach")
        self.teach_actions = teaching.install(self)

        tools = QToolBar("Tools", self)
        tools.setObjectName("tools")
        group = QActionGroup(self)
        self.pen_action = self._action("Pen", lambda: self.set_tool(PEN), "P", checkable=True)
        self.pen_action.setChecked(True)
        group.addAction(self.pen_action)
        group.addAction(self.eraser_action)
        tools.addActions([self.new_action, self.open_action, self.save_action])
        tools.addSeparator()
        tools.addActions([self.undo_action, self.redo_action, self.clear_action])
        tools.addSeparator()
        tools.addActions([self.pen_action, self.eraser_action])
        tools.addSeparator()
        tools.addWidget(QLabel(" Pack: "))
        tools.addWidget(self.pack_combo)
        self.addToolBar(tools)

    def _build_status(self) -> None:
        self.provider_label = QLabel("—")
        self.provider_label.setObjectName("provider")
        self.statusBar().addPermanentWidget(self.provider_label)

    # --- settings -----------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.settings
        if s.value("geometry") is not None:
            self.restoreGeometry(s.value("geometry"))
        else:
            self.resize(1280, 860)
        if s.value("windowState") is not None:
            self.restoreState(s.value("windowState"))
        self.predictions.per_model_toggle.setChecked(s.value("perModel", False, bool))
        self.gpu_action.setChecked(s.value("preferGpu", True, bool))
        self.predictions.per_model_toggle.toggled.connect(
            lambda on: self.settings.setValue("perModel", on))
        self._rebuild_recent()

    def recent_files(self) -> list[str]:
        value = self.settings.value("recentFiles", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _add_recent(self, path: Path) -> None:
        files = [str(path)] + [f for f in self.recent_files() if f != str(path)]
        self.settings.setValue("recentFiles", files[:MAX_RECENT])
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        for f in self.recent_files():
            self.recent_menu.addAction(Path(f).name, lambda f=f: self.open_file(Path(f)))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    # --- packs --------------------------------------------------------------------------------
    def refresh_packs(self) -> None:
        """List every pack found; broken ones show their reason and cannot be chosen."""
        self._entries = list(discover_packs(*self.pack_dirs))
        self.pack_combo.clear()
        model = self.pack_combo.model()
        for i, entry in enumerate(self._entries):
            if entry.pack:
                self.pack_combo.addItem(entry.pack.title if entry.pack.title else entry.name)
                self.pack_combo.setItemData(i, str(entry.path), Qt.ToolTipRole)
            else:
                self.pack_combo.addItem(f"{entry.name} — broken: {entry.error}")
                self.pack_combo.setItemData(i, entry.error, Qt.ToolTipRole)
                model.item(i).setEnabled(False)
        good = [i for i, e in enumerate(self._entries) if e.pack]
        if not good:
            self.statusBar().showMessage("No usable model pack found: predictions are off.")
            return
        last = self.settings.value("pack", "")
        index = next((i for i in good if str(self._entries[i].path) == last), good[0])
        self.pack_combo.setCurrentIndex(index)
        self._on_pack_chosen(index)

    def _on_pack_chosen(self, index: int) -> None:
        if 0 <= index < len(self._entries) and self._entries[index].pack:
            entry = self._entries[index]
            self.statusBar().showMessage(f"Loading pack {entry.name}…")
            self.worker.load_pack(entry.path, prefer_gpu=self.gpu_action.isChecked())

    def _on_gpu_toggled(self, on: bool) -> None:
        self.settings.setValue("preferGpu", on)
        self._on_pack_chosen(self.pack_combo.currentIndex())

    def _on_pack_loaded(self, pack: LoadedPack) -> None:
        self.settings.setValue("pack", str(pack.pack.path))
        provider = pack.engine.provider
        self.provider_label.setText(provider.label)
        self.provider_label.setToolTip(provider.reason or "Running on the GPU")
        self.statusBar().showMessage(
            f"Pack {pack.name}: {len(pack.pack.classes)} classes, {len(pack.gallery)} gallery "
            f"sketches" + (f" · CPU because {provider.reason}" if provider.reason else ""), 8000)
        self.neighbours.set_pack(pack)
        self.state.set_pack(pack)
        self.request_analysis()
        freeze_long_lived()

    def _on_pack_failed(self, path: Path, message: str) -> None:
        for i, entry in enumerate(self._entries):
            if entry.path == path:
                self.pack_combo.setItemText(i, f"{entry.name} — broken: {message}")
                self.pack_combo.setItemData(i, message, Qt.ToolTipRole)
                self.pack_combo.model().item(i).setEnabled(False)
        self.statusBar().showMessage(message)

    # --- recognition --------------------------------------------------------------------------
    def _on_ink_moved(self) -> None:
        if not self.live_timer.isActive():
            self.live_timer.start()

    def _on_document_changed(self, sketch: Sketch) -> None:
        self.state.set_sketch(sketch)
        self._write_autosave(sketch)
        self._update_title()
        self.live_timer.stop()
        self.request_analysis()

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
        self.analysisShown.emit(analysis)

    def open_neighbour(self, gallery_id: int) -> NeighbourDialog | None:
        pack = self.state.pack()
        if pack is None or gallery_id < 0:
            return None
        dialog = NeighbourDialog(pack, gallery_id, self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
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
        if not self.document.dirty or self.document.sketch.is_empty:
            return True
        answer = self.prompts.unsaved_changes()
        if answer == SAVE:
            return self.save()
        return answer != CANCEL

    def new_drawing(self) -> None:
        if self._keep_work():
            self._load(Sketch(), None)

    def _load(self, sketch: Sketch, path: Path | None, image: np.ndarray | None = None,
              qimage: QImage | None = None, dirty: bool = False) -> None:
        self.canvas.cancel_stroke()
        self._image = image
        self.canvas.set_image(qimage)
        self.document.load(sketch, path, dirty=dirty)
        self.canvas.fit_view()

    def open_file(self, path: Path | None = None) -> bool:
        if not self._keep_work():
            return False
        if path is None:
            name, _ = QFileDialog.getOpenFileName(self, "Open", self._last_dir(), OPEN_FILTER)
            if not name:
                return False
            path = Path(name)
        try:
            if path.suffix.lower() == ".ndjson":
                self._open_drawings(path)
            else:
                self._open_picture(path)
        except (OSError, SketchError, ValueError) as exc:
            self.prompts.error("Cannot open", f"{path}: {exc}")
            return False
        self._add_recent(path)
        return True

    def _open_drawings(self, path: Path) -> None:
        bad: list[str] = []
        drawings = []
        more = False
        for sketch in iter_ndjson(path, errors="skip", bad_lines=bad):
            if len(drawings) == MAX_LISTED:
                more = True
                break
            drawings.append(sketch)
        if not drawings:
            raise SketchError(bad[0] if bad else "the file holds no drawings")
        self._drawings = drawings
        self.drawing_list.blockSignals(True)
        self.drawing_list.clear()
        self.drawing_list.addItems([f"{i + 1}. {(d.label or 'drawing').replace('_', ' ')} "
                                    f"({len(d)} strokes)" for i, d in enumerate(drawings)])
        self.drawing_list.blockSignals(False)
        self.drawing_dock.setVisible(len(drawings) > 1)
        # One drawing: the file is this document. Many: each is opened as a new, unsaved copy,
        # so Save never overwrites the whole collection with one drawing.
        self._load(drawings[0], path if len(drawings) == 1 else None)
        self.drawing_list.setCurrentRow(0)
        notes = ([f"{len(bad)} lines could not be read: {bad[0]}"] if bad else []) + (
            [f"only the first {MAX_LISTED:,} drawings are listed"] if more else [])
        if notes:
            self.statusBar().showMessage("; ".join(notes), 10000)

    def _on_drawing_picked(self, row: int) -> None:
        if 0 <= row < len(self._drawings) and self.drawing_dock.isVisible():
            if self._keep_work():
                self._load(self._drawings[row], None)

    def _open_picture(self, path: Path) -> None:
        gray = read_png(path)
        self._drawings = []
        self.drawing_dock.hide()
        self._load(Sketch(), None, image=gray, qimage=QImage(str(path)))
        self.request_analysis()

    def _last_dir(self) -> str:
        recent = self.recent_files()
        return str(Path(recent[0]).parent) if recent else str(Path.home())

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._write(self.document.path)

    def save_as(self, path: Path | None = None) -> bool:
        if path is None:
            name, _ = QFileDialog.getSaveFileName(self, "Save As", self._last_dir(), NDJSON_FILTER)
            if not name:
                return False
            path = Path(name)
        if path.suffix.lower() != ".ndjson":
            path = path.with_name(path.name + ".ndjson")
        return self._write(path)

    def _write(self, path: Path) -> bool:
        """Save with time and pressure; on failure say why and keep the drawing unsaved."""
        try:
            write_ndjson([self.document.sketch], path, with_time=True, with_pressure=True)
        except OSError as exc:
            self.prompts.error("Could not save", f"{path} could not be written "
                               f"({exc.strerror or exc}). The drawing is still open and unsaved.")
            return False
        self.document.mark_saved(path)
        self._add_recent(path)
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return True

    def export_png(self, path: Path | None = None) -> bool:
        return self._export(path, "PNG picture (*.png)", ".png", lambda p: self._png(p))

    def export_svg(self, path: Path | None = None) -> bool:
        return self._export(path, "SVG drawing (*.svg)", ".svg",
                            lambda p: write_svg(self.document.sketch, p))

    def _png(self, path: Path) -> None:
        image = ink_paint.sketch_image(self.document.sketch, 512, 512)
        if not image.save(str(path), "PNG"):
            raise OSError(f"{path} could not be written")

    def _export(self, path: Path | None, filt: str, suffix: str, write) -> bool:
        if path is None:
            name, _ = QFileDialog.getSaveFileName(self, "Export", self._last_dir(), filt)
            if not name:
                return False
            path = Path(name)
        if path.suffix.lower() != suffix:
            path = path.with_name(path.name + suffix)
        try:
            write(path)
        except OSError as exc:
            self.prompts.error("Could not export", f"{path}: {exc.strerror or exc}")
            return False
        self.statusBar().showMessage(f"Exported {path}", 5000)
        return True

    # --- autosave and exit ----------------------------------------------------------------------
    def _offer_restore(self) -> None:
        sketch = self.autosave.recoverable()
        if sketch is not None and self.prompts.restore_autosave(len(sketch)):
            self._load(sketch, None, dirty=True)

    def _write_autosave(self, sketch: Sketch) -> None:
        if self._closed:
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
            self.statusBar().showMessage(f"Autosave failed ({error}): save the drawing yourself.")
        self._autosave_failed = bool(error)

    def _update_title(self) -> None:
        name = self.document.path.name if self.document.path else "Untitled"
        self.setWindowTitle(f"{name}{' •' if self.document.dirty else ''} — Sketchpad")
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
        if self.worker.isRunning():
            self.worker.stop()
        self._autosave_pool.shutdown(wait=True)
        self.autosave.end_session()

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Tests and benchmarks: wait for the worker and the last autosave (results still
        arrive through the event loop)."""
        if self._autosave_future is not None:
            self._autosave_future.exception(timeout_s)
        return self.worker.wait_idle(timeout_s)

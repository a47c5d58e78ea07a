"""What the window remembers between runs, behind one small typed object over ``QSettings``.

Keys are named once here, values come back with their types (``QSettings`` hands an ini file's
list of one back as a plain string, and booleans as ``"true"``), and nothing outside this module
spells a key. The window's geometry and dock layout are written by the window when it closes
(``geometry``, ``windowState``) and read back by :meth:`AppSettings.restore_window`.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMainWindow

MAX_RECENT = 8
#: What a window starts at when nothing is remembered: fits a 1366 × 768 laptop screen.
DEFAULT_SIZE = (1280, 720)


class AppSettings:
    """Recent files, the last pack, the GPU and per-model switches, and the window's layout."""

    def __init__(self, settings: QSettings):
        self.qsettings = settings

    # --- recent files -----------------------------------------------------------------------------
    def recent_files(self) -> list[Path]:
        value = self.qsettings.value("recentFiles", [])
        files = [value] if isinstance(value, str) else list(value or [])
        return [Path(f) for f in files if f]

    def add_recent(self, path: Path) -> None:
        files = [Path(path)] + [f for f in self.recent_files() if f != Path(path)]
        self.qsettings.setValue("recentFiles", [str(f) for f in files[:MAX_RECENT]])

    def forget_recent(self, path: Path) -> None:
        """A recent file that could not be opened (moved, deleted) leaves the list."""
        self.qsettings.setValue("recentFiles",
                                [str(f) for f in self.recent_files() if f != Path(path)])

    def last_dir(self) -> Path:
        """Where file dialogs start: beside the last file used, else the home folder."""
        recent = self.recent_files()
        return recent[0].parent if recent else Path.home()

    # --- switches -----------------------------------------------------------------------------
    @property
    def pack(self) -> str:
        """The folder of the pack last in use ('' when none was)."""
        return str(self.qsettings.value("pack", "") or "")

    @pack.setter
    def pack(self, path: str) -> None:
        self.qsettings.setValue("pack", path)

    @property
    def prefer_gpu(self) -> bool:
        return self.qsettings.value("preferGpu", True, bool)

    @prefer_gpu.setter
    def prefer_gpu(self, on: bool) -> None:
        self.qsettings.setValue("preferGpu", on)

    @property
    def each_model(self) -> bool:
        """Whether the prediction panel shows each model's own guess too."""
        return self.qsettings.value("perModel", False, bool)

    @each_model.setter
    def each_model(self, on: bool) -> None:
        self.qsettings.setValue("perModel", on)

    # --- the window ---------------------------------------------------------------------------
    def restore_window(self, window: QMainWindow) -> None:
        """Geometry and docks as the window left them; a first run gets :data:`DEFAULT_SIZE`,
        shrunk to the screen it opens on."""
        geometry = self.qsettings.value("geometry")
        if geometry is None or not window.restoreGeometry(geometry):
            width, height = DEFAULT_SIZE
            screen = window.screen().availableGeometry() if window.screen() else None
            if screen is not None:
                width, height = min(width, screen.width()), min(height, screen.height())
            window.resize(width, height)
        state = self.qsettings.value("windowState")
        if state is not None:
            window.restoreState(state)

"""The window's part in issue 18: the Words menu, the vocabulary list, Teach a word…, and the
second opinion, wired to the prediction panel's :class:`~.trust_views.TrustBox`.

:class:`WordsController` is built by the main window from parts it already has (the worker,
the app state, the pack menu, the prediction panel) and keeps the trust box in step with them:
the count of what the pack knows follows the pack and its words; a second opinion from the
worker is shown only for the latest request; clicking it picks that pack in the pack menu.
After a word is taught, renamed or removed the drawing is analysed again, so the word competes
at once on the canvas and in the neighbour rows.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QMenu

from ..runtime import LoadedPack
from .second_opinion import Opinion
from .teach_dialog import TeachDialog
from .vocabulary import VocabularyDialog

if TYPE_CHECKING:
    from .window import MainWindow

D = TypeVar("D", bound=QDialog)


def _present(dialog: D) -> D:
    """Show a modeless dialog in front, whether it was just made or already open."""
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


class WordsController(QObject):
    """Trust and words for one main window."""

    opinionShown = Signal(object)     # the Opinion (or None) just shown, for benchmarks and tests

    def __init__(self, window: "MainWindow", menu: QMenu):
        super().__init__(window)
        self.window = window
        self.box = window.predictions.trust
        self.vocabulary: VocabularyDialog | None = None
        self.teach_dialog: TeachDialog | None = None
        self.teach_action = QAction("&Teach a word…", window)
        self.teach_action.setShortcut(QKeySequence("Ctrl+T"))
        self.teach_action.setToolTip("Teach the pack a word it does not know, from a few drawings")
        self.teach_action.triggered.connect(self.show_teach)
        self.vocabulary_action = QAction("What this pack &knows…", window)
        self.vocabulary_action.setShortcut(QKeySequence("Ctrl+K"))
        self.vocabulary_action.setToolTip("Every class and taught word of the pack, searchable")
        self.vocabulary_action.triggered.connect(self.show_vocabulary)
        menu.addActions([self.teach_action, self.vocabulary_action])
        self.box.vocabularyRequested.connect(self.show_vocabulary)
        self.box.opinionChosen.connect(self.switch_to)
        window.worker.secondOpinion.connect(self._on_second_opinion)
        # Another pack has just loaded to give opinions: ask again about the drawing on show.
        window.worker.opinionPackLoaded.connect(window.request_analysis)
        window.state.packChanged.connect(self._on_pack_changed)
        self._on_pack_changed(window.state.pack())

    @property
    def pack(self) -> LoadedPack | None:
        return self.window.state.pack()

    # --- following the window -------------------------------------------------------------------
    def _on_pack_changed(self, pack: LoadedPack | None) -> None:
        for action in (self.teach_action, self.vocabulary_action):
            action.setEnabled(pack is not None)
        self.box.known_button.setEnabled(pack is not None)
        if self.teach_dialog is not None:     # its examples were for the other pack
            self.teach_dialog.close()
            self.teach_dialog = None
        if pack is None:
            return
        self.window.worker.opinions.set_candidates(
            [e.path for e in self.window.packs.usable()], self.window.gpu_action.isChecked())
        self._words_changed()
        if self.vocabulary is not None:
            self.vocabulary.set_pack(pack)

    def _words_changed(self) -> None:
        """The pack's words changed (or the pack did): count, completer, and a fresh analysis."""
        pack = self.pack
        if pack is None:
            return
        self.box.set_count(len(pack.pack.classes), len(pack.words))
        self.window.predictions.set_classes([*pack.pack.classes, *pack.words.names])
        self.window.request_analysis()

    def _on_second_opinion(self, request_id: int, opinion: Opinion | None) -> None:
        if request_id != self.window.latest_request:
            return                    # for a drawing no longer on show
        self.box.show_opinion(opinion)
        self.opinionShown.emit(self.box.opinion)

    def switch_to(self, path: Path) -> bool:
        """Use the pack at ``path`` (the second opinion's): as if picked in the pack menu."""
        entry = next((e for e in self.window.packs.usable()
                      if Path(e.path).resolve() == Path(path).resolve()), None)
        if entry is None:
            return False
        self.box.show_opinion(None)
        self.window.packs.chosen.emit(entry)
        return True

    # --- the dialogs -----------------------------------------------------------------------------
    def show_vocabulary(self) -> VocabularyDialog | None:
        pack = self.pack
        if pack is None:
            return None
        if self.vocabulary is None:
            self.vocabulary = VocabularyDialog(pack, self.window)
            self.vocabulary.teachRequested.connect(self.show_teach)
            self.vocabulary.wordsChanged.connect(self._words_changed)
        return _present(self.vocabulary)

    def show_teach(self) -> TeachDialog | None:
        pack = self.pack
        if pack is None:
            return None
        if self.teach_dialog is None:
            self.teach_dialog = TeachDialog(pack, self.window)
            self.teach_dialog.setAttribute(Qt.WA_DeleteOnClose)
            self.teach_dialog.taught.connect(self._on_taught)
            self.teach_dialog.finished.connect(
                lambda _=0, d=self.teach_dialog: self._forget_teach_dialog(d))
        return _present(self.teach_dialog)

    def _forget_teach_dialog(self, dialog: TeachDialog) -> None:
        if self.teach_dialog is dialog:
            self.teach_dialog = None

    def _on_taught(self, info) -> None:
        self.window.statusBar().showMessage(
            f"Learnt {info.name!r} from {info.examples} drawings: the pack now knows it.", 8000)
        if self.vocabulary is not None:
            self.vocabulary.refresh()
        self._words_changed()

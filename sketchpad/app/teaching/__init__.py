"""Teaching views (issues 7 and 15): non-modal windows that explain what the pack's network does.

* :class:`~.depth.DepthExplorer` — neighbours at the three depths side by side (Figure 4);
* :class:`~.embedding.EmbeddingMap` — the gallery in 2-D per depth (t-SNE or PCA), the current
  sketch on it;
* :class:`~.learned.NetworkView` — first-layer filters (Figure 2) and activation maps;
* :class:`~.strokes.StrokeView` — which strokes made it say that (leave one stroke out);
* :class:`~.challenge.ChallengeMode` — the Quick, Draw! game for a class;
* :class:`~.report.PackReport` — results beside the papers' tables, figures savable as PNG.

Each view is built from an :class:`~sketchpad.app.state.AppState` alone and follows its signals;
:func:`install` is the one thing the main window calls. Heavy work runs on the thread pool
(:mod:`.worker`). See ``docs/teaching.md``.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from ..state import AppState
from .challenge import ChallengeMode
from .common import TeachingView
from .depth import DepthExplorer
from .embedding import EmbeddingMap
from .learned import NetworkView
from .report import PackReport
from .strokes import StrokeView

VIEWS: tuple[tuple[str, type[TeachingView]], ...] = (
    ("&Depth explorer (similar at three depths)", DepthExplorer),
    ("&Embedding map", EmbeddingMap),
    ("What the network &learned", NetworkView),
    ("Which &strokes made it say that?", StrokeView),
    ("&Challenge: draw it in 20 seconds", ChallengeMode),
    ("Pack &report", PackReport),
)

__all__ = ["ChallengeMode", "DepthExplorer", "EmbeddingMap", "NetworkView", "PackReport",
           "StrokeView", "VIEWS", "install"]


def _opener(window: QWidget, state: AppState, cls: type[TeachingView],
            open_views: dict[type, TeachingView]) -> Callable[[], TeachingView]:
    def open_view() -> TeachingView:
        """Show the view, creating it once; a second click brings the same window forward."""
        view = open_views.get(cls)
        if view is None:
            view = open_views[cls] = cls(state, window)
        view.show()
        view.raise_()
        view.activateWindow()
        return view
    return open_view


def install(window: QWidget) -> dict[str, QAction]:
    """Add one action per view to ``window.teach_menu``; each opens its view as a non-modal
    window over ``window.state``. Returns the actions by view class name (tests trigger them)."""
    state: AppState = window.state
    open_views: dict[type, TeachingView] = {}
    actions = {}
    for text, cls in VIEWS:
        action = QAction(text, window)
        action.setStatusTip(cls.title)
        action.triggered.connect(_opener(window, state, cls, open_views))
        window.teach_menu.addAction(action)
        actions[cls.__name__] = action
    window.teaching_views = open_views
    return actions

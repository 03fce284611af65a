"""What a stage view hooks up for one open document, undone in one call when it closes.

A view outlives the documents it shows: each ``set_document`` connects the document's
signals and builds helpers for it (frame and crop caches, a controller, a ranking
service). Each of those must be undone when the document goes - a signal left connected
keeps a hidden view reacting to a closed document, a cache left open keeps its decoder
thread - and the views used to list them twice, once to connect and once to disconnect.
Recording them as they are made leaves nothing to forget.
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from PyQt6.QtCore import QObject

__all__ = ["DocumentWiring"]

T = TypeVar("T", bound=QObject)


class DocumentWiring:
    def __init__(self) -> None:
        self._links: list[tuple[Any, Callable[..., Any]]] = []
        self._owned: list[QObject] = []

    def connect(self, signal: Any, slot: Callable[..., Any]) -> None:
        signal.connect(slot)
        self._links.append((signal, slot))

    def own(self, obj: T) -> T:
        """``obj`` lives as long as the document is shown: closed (if it can be) and deleted then."""
        self._owned.append(obj)
        return obj

    def release(self) -> None:
        """Disconnect every recorded signal, then close and delete the owned helpers, newest first."""
        links, owned = self._links, self._owned
        self._links, self._owned = [], []
        for signal, slot in reversed(links):
            try:
                signal.disconnect(slot)
            except (TypeError, RuntimeError):  # disconnected or deleted already
                pass
        for obj in reversed(owned):
            close = getattr(obj, "close", None)
            if callable(close):
                close()
            obj.deleteLater()

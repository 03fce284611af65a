"""Autosave: every change is on disk within ~1 s, written atomically off the UI thread.

The snapshot is taken on the UI thread (cheap: documents hold immutable values), the
JSON is rendered and written in a worker, and the result comes back as a queued signal.
The timer is started by the first unsaved change and not restarted by later ones, so
a steady stream of edits still saves every ``delay_ms`` (a crash loses at most that
plus one write). A failed write leaves the document marked unsaved, tells the user
why, and is retried.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel
from PyQt6.QtCore import QCoreApplication, QObject, QThreadPool, QTimer, pyqtSignal

from vrai_tools.storage import atomic_write_text, dump_model

from .document import BaseDocument

DELAY_MS = 1000
RETRY_MS = 5000


def write_snapshots(items: list[tuple[Path, BaseModel]]) -> None:
    for path, model in items:
        atomic_write_text(path, dump_model(model))


class _Relay(QObject):
    """Lives on the UI thread; the worker emits on it, so the slot runs on the UI thread."""

    done = pyqtSignal(int, str)


class Autosaver(QObject):
    saved = pyqtSignal(int)
    failed = pyqtSignal(str)

    def __init__(self, doc: BaseDocument, delay_ms: int = DELAY_MS, retry_ms: int = RETRY_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.delay_ms = delay_ms
        self.retry_ms = retry_ms
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.done.connect(self._finished)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.save_async)
        self._in_flight = False
        doc.changed.connect(self._schedule)
        if not doc.is_saved:  # changed while loading (tracklets built, a new results file): save that too
            self._schedule()

    def _schedule(self, delay: int | None = None) -> None:
        if not self._timer.isActive() and not self.doc.read_only:
            self._timer.start(self.delay_ms if delay is None else delay)

    def save_async(self) -> None:
        if self._in_flight or self.doc.is_saved or self.doc.read_only:
            return
        revision, items = self.doc.revision, self.doc.snapshots()
        self._in_flight = True
        relay = self._relay

        def work() -> None:
            try:
                write_snapshots(items)
                error = ""
            except Exception as e:  # reported to the user, never swallowed
                error = f"{type(e).__name__}: {e}"
            try:
                relay.done.emit(revision, error)
            except RuntimeError:  # the window was torn down while writing
                pass

        self._pool.start(work)

    def _finished(self, revision: int, error: str) -> None:
        self._in_flight = False
        if error:
            self.doc.mark_save_failed(error)
            self.failed.emit(error)
            self._schedule(self.retry_ms)
            return
        self.doc.mark_saved(revision)
        self.saved.emit(revision)
        if not self.doc.is_saved:  # edits arrived while writing
            self._schedule()

    def flush(self) -> str | None:
        """Save now, on this thread (closing a document); returns the error, if any."""
        self._timer.stop()
        self._pool.waitForDone()
        QCoreApplication.sendPostedEvents(self._relay)  # deliver the worker's last result first
        if self.doc.read_only or self.doc.is_saved:
            return None
        revision = self.doc.revision
        try:
            write_snapshots(self.doc.snapshots())
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
            self.doc.mark_save_failed(error)
            self._schedule(self.retry_ms)
            return error
        self.doc.mark_saved(revision)
        return None

"""The human test window: a query crop above, two candidates below; ← or → picks.

The clock of a trial starts when its three crops are on screen and stops at the
answer. Ctrl+Z takes the last answer back (and shows that trial again). The results
file is locked while open, so two windows never write the same test.
"""
from __future__ import annotations

import time
from functools import partial
from typing import Mapping

from PyQt6.QtCore import QSettings, Qt
from PyQt6.QtGui import QAction, QCloseEvent, QKeySequence
from PyQt6.QtWidgets import QGridLayout, QLabel, QMainWindow, QVBoxLayout, QWidget

from vrai_tools.dataset import DatasetRoot
from vrai_tools.human_eval import score
from vrai_tools.index import DatasetIndex
from vrai_tools.storage import FileLock

from ..attributes.crops import CropCache
from ..attributes.tiles import thumbnail
from ..autosave import Autosaver
from .document import HumanEvalDocument
from .keys import ROWS

SIDE = 300


class HumanEvalWindow(QMainWindow):
    def __init__(self, root: DatasetRoot, index: DatasetIndex, doc: HumanEvalDocument, lock: FileLock | None,
                 bindings: Mapping[str, tuple[str, ...]] | None = None, settings: QSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.root, self.index, self.doc, self.lock, self.settings = root, index, doc, lock, settings
        self.autosaver = Autosaver(doc, parent=self)
        self.autosaver.failed.connect(lambda err: self.statusBar().showMessage(f"Save failed: {err}", 6000))
        self.current: int | None = None
        self._shown_at: float | None = None
        records = index.by_key

        def locate(key: str) -> tuple[str, tuple[int, int], tuple[float, float, float, float]]:
            rec = records[key]
            return rec.frame_file, rec.frame_size, rec.bbox

        self.crops = CropCache(root, locate, capacity=64, parent=self)
        self.crops.ready.connect(self._crop_ready)
        self.crops.failed.connect(lambda key, err: self.statusBar().showMessage(f"{key}: {err}", 6000))
        doc.trialChanged.connect(lambda _: self._update_progress())

        self.progress = QLabel(self)
        self.progress.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.question = QLabel("Which candidate is the <b>same vehicle</b> as the query?", self)
        self.question.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.query = QLabel(self)
        self.left = QLabel(self)
        self.right = QLabel(self)
        for label in (self.query, self.left, self.right):
            label.setFixedSize(SIDE, SIDE)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.summary = QLabel(self)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        grid = QGridLayout()
        grid.addWidget(self._caption("Query"), 0, 0, 1, 2)
        grid.addWidget(self.query, 1, 0, 1, 2, Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(self._caption("← Left"), 2, 0)
        grid.addWidget(self._caption("Right →"), 2, 1)
        grid.addWidget(self.left, 3, 0, Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(self.right, 3, 1, Qt.AlignmentFlag.AlignCenter)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.addWidget(self.progress)
        layout.addWidget(self.question)
        layout.addLayout(grid, 1)
        layout.addWidget(self.summary)
        self.setCentralWidget(central)
        self.setWindowTitle(f"vrai-annotate — human test — {doc.path}")
        self.actions_by_id: dict[str, QAction] = {}
        for action_id, text, keys, handler, _, _ in ROWS:
            act = QAction(text, self)
            default = (keys,) if isinstance(keys, str) else keys
            chosen = bindings[action_id] if bindings is not None and action_id in bindings else default  # () unbinds
            act.setShortcuts([QKeySequence(k) for k in chosen])
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.triggered.connect(partial(self._dispatch, handler))
            self.addAction(act)
            self.actions_by_id[action_id] = act
        self.resize(2 * SIDE + 120, 2 * SIDE + 200)
        self.show_trial(doc.first_unanswered())

    @staticmethod
    def _caption(text: str) -> QLabel:
        label = QLabel(f"<b>{text}</b>")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        return label

    def _dispatch(self, handler: str, *_: object) -> None:
        getattr(self, handler)()

    # ------------------------------------------------------------------ trials
    def show_trial(self, index: int | None) -> None:
        self.current = index
        self._shown_at = None
        if index is None:
            for label in (self.query, self.left, self.right):
                label.clear()
            self.question.setText("<b>Done.</b> Thank you!")
            s = score(self.doc.results())
            acc = f"{100 * s.accuracy:.1f} %" if s.accuracy is not None else "—"
            secs = f"{s.mean_seconds:.1f} s" if s.mean_seconds is not None else "—"
            self.summary.setText(f"{s.correct} of {s.answered} right ({acc}), {secs} per query on average.<br>"
                                 f"Results: {self.doc.path}")
            self._update_progress()
            return
        self.summary.setText("")
        self.question.setText("Which candidate is the <b>same vehicle</b> as the query?")
        t = self.doc.trial(index)
        keys = (t.query, t.left, t.right)
        for label in (self.query, self.left, self.right):
            label.setPixmap(thumbnail(None, SIDE))
        self.crops.request(keys)
        for key in keys:
            self._crop_ready(key)
        later = [u for u in self.doc.trials[index + 1:] if u.answer is None]
        if later:
            self.crops.request((later[0].query, later[0].left, later[0].right))  # the next one, ahead of time
        self._update_progress()

    def _crop_ready(self, key: str) -> None:
        if self.current is None:
            return
        t = self.doc.trial(self.current)
        for label, k in ((self.query, t.query), (self.left, t.left), (self.right, t.right)):
            if k == key and self.crops.get(key) is not None:
                label.setPixmap(thumbnail(self.crops.get(key), SIDE))
        if self._shown_at is None and all(self.crops.get(k) is not None for k in (t.query, t.left, t.right)):
            self._shown_at = time.monotonic()  # the clock starts when the person can see all three

    def _update_progress(self) -> None:
        n = len(self.doc.trials)
        at = "finished" if self.current is None else f"query {self.current + 1} of {n}"
        self.progress.setText(f"{at} · {self.doc.answered()} answered · ← left, → right · Ctrl+Z takes the last "
                              "answer back")

    def seconds_shown(self) -> float:
        return time.monotonic() - self._shown_at if self._shown_at is not None else 0.0

    def _answer(self, side: str) -> None:
        if self.current is None:
            return
        if self._shown_at is None:
            self.statusBar().showMessage("wait for the three pictures", 3000)
            return
        self.doc.answer(self.current, side, self.seconds_shown())  # type: ignore[arg-type]
        self.show_trial(self.doc.first_unanswered())

    # ------------------------------------------------------------------ action handlers
    def pick_left(self) -> None:
        self._answer("left")

    def pick_right(self) -> None:
        self._answer("right")

    def undo(self) -> None:
        """Take the last answer back: that trial is asked again (and timed again)."""
        if self.doc.undo_stack.canUndo():
            self.doc.undo_stack.undo()
            self.show_trial(self.doc.first_unanswered())

    def close_window(self) -> None:
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        error = self.autosaver.flush()
        if error:
            self.statusBar().showMessage(f"Save failed: {error}")
            event.ignore()
            return
        self.crops.close()
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        event.accept()

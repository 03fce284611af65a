"""The results file being answered, as a document: answers are undoable and autosaved.

It plugs into the shell's :class:`~annotator.autosave.Autosaver` like any stage
document, so each answer reaches the disk atomically within a second, off the UI
thread, and a crash loses at most the last answer.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel
from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtGui import QUndoCommand

from schemas import HumanEvalResults, HumanEvalTrial
from schemas.human_eval import Side

from ..document import BaseDocument, EditRefused


class _Answer(QUndoCommand):
    def __init__(self, doc: "HumanEvalDocument", before: HumanEvalTrial, after: HumanEvalTrial) -> None:
        super().__init__(f"Answer query {before.index + 1}")
        self.doc, self.before, self.after = doc, before, after

    def redo(self) -> None:
        self.doc._apply(self.after)

    def undo(self) -> None:
        self.doc._apply(self.before)


class HumanEvalDocument(BaseDocument):
    trialChanged = pyqtSignal(int)  # trial index

    def __init__(self, path: Path, results: HumanEvalResults, annotator: str, parent: QObject | None = None) -> None:
        super().__init__(annotator, "", parent)
        self.path = Path(path)
        self._header = results.model_copy(update={"trials": []})
        self._trials: list[HumanEvalTrial] = list(results.trials)
        if not path.exists():
            self._touch()  # a new test is written at once, so it can be resumed even before the first answer

    def title(self) -> str:
        return f"human test {self.path.name}"

    @property
    def trials(self) -> list[HumanEvalTrial]:
        return list(self._trials)

    def trial(self, index: int) -> HumanEvalTrial:
        return self._trials[index]

    def first_unanswered(self) -> int | None:
        return next((t.index for t in self._trials if t.answer is None), None)

    def answered(self) -> int:
        return sum(t.answer is not None for t in self._trials)

    def results(self) -> HumanEvalResults:
        return self._header.model_copy(update={"trials": list(self._trials)})

    def snapshots(self) -> list[tuple[Path, BaseModel]]:
        return [(self.path, self.results())]

    def answer(self, index: int, side: Side, seconds: float) -> None:
        if side not in ("left", "right"):
            raise EditRefused(f"answer must be left or right, not {side!r}")
        before = self._trials[index]
        after = before.model_copy(update={"answer": side, "seconds": round(max(0.0, seconds), 3),
                                          "answered_at": datetime.now(timezone.utc).replace(microsecond=0)})
        self.push(_Answer(self, before, after))  # type: ignore[arg-type]

    def _apply(self, trial: HumanEvalTrial) -> None:
        self._trials[trial.index] = trial
        self._touch()
        self.trialChanged.emit(trial.index)

"""The one undo command: a patch of before/after values applied to a document.

Every edit (add, move corner, nudge, delete, accept proposals, mark frame done) is the
same thing seen from the undo stack: some instances, proposals and done-flags change
from one value to another. One generic command keeps undo and redo exact by
construction, and merging (a drag or a run of arrow-key nudges undoes as one step) is
just "keep my before, take the newer after".
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from PyQt6.QtGui import QUndoCommand

if TYPE_CHECKING:
    from .document import ClipDocument

MERGEABLE_ID = 1


class Patch(QUndoCommand):
    def __init__(
        self,
        doc: "ClipDocument",
        text: str,
        instances: Mapping[str, tuple[Any, Any]] | None = None,
        proposals: Mapping[int, tuple[Any, Any]] | None = None,
        done: Mapping[int, tuple[bool, bool]] | None = None,
        merge: object = None,
    ) -> None:
        super().__init__(text)
        self.doc = doc
        self.instances = dict(instances or {})
        self.proposals = dict(proposals or {})
        self.done = dict(done or {})
        self.merge = merge

    def _side(self, i: int) -> tuple[dict[str, Any], dict[int, Any], dict[int, bool]]:
        return (
            {k: v[i] for k, v in self.instances.items()},
            {k: v[i] for k, v in self.proposals.items()},
            {k: v[i] for k, v in self.done.items()},
        )

    def redo(self) -> None:
        self.doc._apply(*self._side(1))

    def undo(self) -> None:
        self.doc._apply(*self._side(0))

    def id(self) -> int:
        return MERGEABLE_ID if self.merge is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, Patch) or other.merge != self.merge or other.done or self.done:
            return False
        if set(other.instances) != set(self.instances) or set(other.proposals) != set(self.proposals):
            return False
        self.instances = {k: (self.instances[k][0], other.instances[k][1]) for k in self.instances}
        self.proposals = {k: (self.proposals[k][0], other.proposals[k][1]) for k in self.proposals}
        return True

"""Stage 4 as user actions, without widgets: what each drag and key does.

The annotator walks the instances group by group (a vehicle's crops one after the
other, so its parts stay consistent). On the current crop: drag to draw a part, drag a
box or its corner to edit it, Delete, ``N`` for "no discriminative part" (then on to
the next crop), Enter to accept the detector's proposals (then on), ``R`` to reject them.

The canvas, the view's handlers and ``benchmarks/annotate_attributes_parts.py`` all
drive these methods.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Sequence

from PyQt6.QtCore import QObject, pyqtSignal

from ..attributes.pair import Group, WorkClock
from ..document import EditRefused
from .document import PartsDocument


@dataclass(frozen=True)
class Selection:
    kind: Literal["box", "proposal"]
    id: int  # box index, or proposal id


class PartsController(QObject):
    changed = pyqtSignal()  # current crop or selection moved
    message = pyqtSignal(str)

    def __init__(self, doc: PartsDocument, clock: WorkClock | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.clock = clock or WorkClock()
        self.order = doc.walk()
        self.position = next((i for i, k in enumerate(self.order) if doc.parts(k).state == "todo"), 0)
        self.selection: Selection | None = None
        doc.instancesChanged.connect(self._check_selection)
        doc.proposalsChanged.connect(self._check_selection)

    # ------------------------------------------------------------------ state
    @property
    def key(self) -> str | None:
        return self.order[self.position] if self.order else None

    @property
    def group(self) -> Group | None:
        key = self.key
        return self.doc.group_of(key) if key is not None else None

    def _say(self, text: str) -> None:
        self.message.emit(text)

    def _edit(self, fn: Callable[[str, float], object]) -> bool:
        key = self.key
        if key is None:
            self._say("no instance in this pair")
            return False
        try:
            fn(key, self.clock.take(key))
        except EditRefused as e:
            self._say(str(e))
            return False
        return True

    def _check_selection(self, _: object = None) -> None:
        key, sel = self.key, self.selection
        if key is None or sel is None:
            return
        if sel.kind == "box" and sel.id >= len(self.doc.parts(key).boxes):
            self.selection = None
            self.changed.emit()
        elif sel.kind == "proposal" and all(p.id != sel.id for p in self.doc.proposals(key)):
            self.selection = None
            self.changed.emit()

    # ------------------------------------------------------------------ navigation
    def goto_position(self, position: int) -> None:
        if not self.order:
            return
        if self.key is not None:
            self.clock.tick(self.key)
        self.position = max(0, min(len(self.order) - 1, position))
        self.selection = None
        self.changed.emit()

    def goto_key(self, key: str) -> None:
        if key in self.order:
            self.goto_position(self.order.index(key))

    def next_instance(self) -> None:
        if self.position + 1 >= len(self.order):
            self._say("last instance of this pair")
            return
        self.goto_position(self.position + 1)

    def prev_instance(self) -> None:
        if self.position == 0:
            self._say("first instance of this pair")
            return
        self.goto_position(self.position - 1)

    def _step_todo(self, step: int) -> None:
        n = len(self.order)
        for d in range(1, n):
            i = self.position + step * d
            if 0 <= i < n and self.doc.parts(self.order[i]).state == "todo":
                self.goto_position(i)
                return
        self._say("no instance left to do in this direction" if n else "no instance in this pair")

    def next_todo(self) -> None:
        self._step_todo(1)

    def prev_todo(self) -> None:
        self._step_todo(-1)

    def _group_start(self, index: int) -> int:
        g = self.doc.groups[index]
        return self.order.index(g.keys[0])

    def next_group(self) -> None:
        g = self.group
        if g is None:
            return
        i = self.doc.group_index(g.id)
        if i + 1 >= len(self.doc.groups):
            self._say("last vehicle of this pair")
            return
        self.goto_position(self._group_start(i + 1))

    def prev_group(self) -> None:
        g = self.group
        if g is None:
            return
        i = self.doc.group_index(g.id)
        if i == 0:
            self._say("first vehicle of this pair")
            return
        self.goto_position(self._group_start(i - 1))

    def select(self, selection: Selection | None) -> None:
        self.selection = selection
        self.changed.emit()

    # ------------------------------------------------------------------ edits
    def draw_box(self, box: Sequence[float]) -> bool:
        """A box dragged out on the crop (frame pixels)."""
        added: list[int] = []
        ok = self._edit(lambda k, s: added.append(self.doc.add_box(k, box, s)))
        if ok:
            self.selection = Selection("box", added[0])
            self.changed.emit()
        return ok

    def move_box(self, index: int, box: Sequence[float], merge: object = None) -> bool:
        return self._edit(lambda k, s: self.doc.set_box(k, index, box, s, merge))

    def delete_selected(self) -> None:
        sel = self.selection
        if sel is None:
            self._say("select a part (click it) to delete it")
            return
        if sel.kind == "box":
            self._edit(lambda k, s: self.doc.delete_boxes(k, [sel.id], s))
        else:
            self._edit(lambda k, s: self.doc.reject_proposals(k, [sel.id]))
        self.selection = None
        self.changed.emit()

    def mark_none(self) -> None:
        """Answer "no discriminative part" and go on to the next crop."""
        if self._edit(lambda k, s: self.doc.mark_none(k, s)):
            self._edit(lambda k, s: self.doc.reject_proposals(k))
            self.selection = None
            if self.position + 1 < len(self.order):
                self.goto_position(self.position + 1)
            else:
                self.changed.emit()

    def accept(self) -> None:
        """Accept the selected proposal; or all proposals, then (the crop answered) go on."""
        key, sel = self.key, self.selection
        if key is None:
            return
        if sel is not None and sel.kind == "proposal":
            self._edit(lambda k, s: self.doc.accept_proposals(k, [sel.id], s))
            self.selection = None
            self.changed.emit()
            return
        if self.doc.proposals(key):
            self._edit(lambda k, s: self.doc.accept_proposals(k, None, s))
        if self.doc.parts(key).state == "todo":
            self._say("draw a part, or press N for no discriminative part")
            self.changed.emit()
            return
        if self.position + 1 < len(self.order):
            self.goto_position(self.position + 1)
        else:
            self.changed.emit()
            self._say("last instance of this pair")

    def reject(self) -> None:
        """Reject the selected proposal, or every proposal on this crop."""
        sel = self.selection
        ids = [sel.id] if sel is not None and sel.kind == "proposal" else None
        if not self._edit(lambda k, s: self.doc.reject_proposals(k, ids)):
            return
        self.selection = None
        self.changed.emit()

    def cancel(self) -> None:
        self.select(None)

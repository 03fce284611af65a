"""Stage 3 as user actions, without widgets: what each key does (CVAT's attribute mode).

The annotator looks at one group (a vehicle) at a time. Its *target* is the vehicle
(the default) or one selected crop, whose edits become per-instance overrides. A
*row* of the attribute panel is selected with ↑/↓; digits set it (colour 1–9, type
1–7, flags 1 = yes / 0 = no) and move to the next row; letters toggle the four flags
from anywhere. Enter fills what is still unset — with the model's proposal, or "no"
for the flags — and goes to the next vehicle: a typical vehicle costs three keys
(colour, type, Enter) whatever its number of crops.

The view and ``benchmarks/annotate_attributes_parts.py`` drive exactly these methods.
"""
from __future__ import annotations

from typing import Callable

from PyQt6.QtCore import QObject, pyqtSignal

from schemas import COLORS, FLAGS, TYPES

from ..document import EditRefused
from .document import FIELDS, MIXED, AttributesDocument, Value
from .pair import Group, WorkClock


def next_value(current: Value) -> bool:
    """A flag letter: unset or no → yes, yes → no."""
    return current is not True


class AttributesController(QObject):
    changed = pyqtSignal()  # position, target or row moved
    message = pyqtSignal(str)

    def __init__(self, doc: AttributesDocument, clock: WorkClock | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.clock = clock or WorkClock()
        self.index = 0
        self.target: str | None = None  # a selected crop (instance key); None: the vehicle
        self.row = 0
        first_open = next((i for i, g in enumerate(doc.groups) if not doc.is_complete(g)), 0)
        self.index = first_open

    # ------------------------------------------------------------------ state
    @property
    def group(self) -> Group | None:
        return self.doc.groups[self.index] if self.doc.groups else None

    @property
    def field(self) -> str:
        return FIELDS[self.row]

    def value(self, field: str) -> Value:
        """What the panel shows for ``field``: the target instance's effective value, or the group's."""
        g = self.group
        if g is None:
            return None
        if self.target is not None:
            return getattr(self.doc.effective(self.target), field)
        return self.doc.group_value(g, field)

    def _say(self, text: str) -> None:
        self.message.emit(text)

    def _edit(self, fn: Callable[[float], bool]) -> bool:
        g = self.group
        if g is None:
            self._say("no vehicle in this pair: link tracklets in stage 2 first")
            return False
        try:
            return fn(self.clock.take(g.id))
        except EditRefused as e:
            self._say(str(e))
            return False

    def _set(self, field: str, value: Value) -> bool:
        g = self.group
        assert g is not None
        if self.target is not None:
            return self._edit(lambda s: self.doc.set_instance_attribute(self.target or "", field, value, s))
        return self._edit(lambda s: self.doc.set_group_attribute(g.id, field, value, s))

    # ------------------------------------------------------------------ navigation
    def goto(self, index: int) -> None:
        if not self.doc.groups:
            return
        g = self.group
        if g is not None:
            self.clock.tick(g.id)
        self.index = max(0, min(len(self.doc.groups) - 1, index))
        self.target = None
        self.row = 0
        self.changed.emit()

    def goto_group(self, group_id: str) -> None:
        self.goto(self.doc.group_index(group_id))

    def next_group(self) -> None:
        if self.index + 1 >= len(self.doc.groups):
            self._say("last vehicle of this pair")
            return
        self.goto(self.index + 1)

    def prev_group(self) -> None:
        if self.index == 0:
            self._say("first vehicle of this pair")
            return
        self.goto(self.index - 1)

    def next_review(self) -> None:
        """The next group whose instances disagree (wrapping around)."""
        review = {g.id for g in self.doc.disagreeing()}
        n = len(self.doc.groups)
        for step in range(1, n + 1):
            i = (self.index + step) % n
            if self.doc.groups[i].id in review:
                self.goto(i)
                return
        self._say("no vehicle to review: all instances agree")

    def row_up(self) -> None:
        self.row = (self.row - 1) % len(FIELDS)
        self.changed.emit()

    def row_down(self) -> None:
        self.row = (self.row + 1) % len(FIELDS)
        self.changed.emit()

    def select_row(self, field: str) -> None:
        self.row = FIELDS.index(field)
        self.changed.emit()

    def select_crop(self, key: str | None) -> None:
        g = self.group
        if key is not None and (g is None or key not in g.keys):
            return
        self.target = key
        self.changed.emit()

    def select_crop_step(self, step: int) -> None:
        g = self.group
        if g is None:
            return
        if self.target is None:
            i = 0 if step > 0 else len(g.keys) - 1
        else:
            i = g.keys.index(self.target) + step
            if not 0 <= i < len(g.keys):
                self.select_crop(None)
                return
        self.select_crop(g.keys[i])

    # ------------------------------------------------------------------ edits
    def digit(self, n: int) -> None:
        field = self.field
        if field == "color":
            if not 1 <= n <= len(COLORS):
                self._say(f"colour: press 1–{len(COLORS)}")
                return
            value: Value = COLORS[n - 1]
        elif field == "type":
            if not 1 <= n <= len(TYPES):
                self._say(f"type: press 1–{len(TYPES)}")
                return
            value = TYPES[n - 1]
        else:
            if n not in (0, 1):
                self._say(f"{field}: press 1 (yes) or 0 (no)")
                return
            value = n == 1
        self._set(field, value)
        if self.row < len(FIELDS) - 1:
            self.row += 1
        self.changed.emit()

    def toggle(self, field: str) -> None:
        assert field in FLAGS
        current = self.value(field)
        self._set(field, next_value(None if current == MIXED else current))
        self.changed.emit()

    def clear_value(self) -> None:
        """Unset the selected row (for a crop: remove its override, so it follows the vehicle)."""
        self._set(self.field, None)
        self.changed.emit()

    def clear_overrides(self) -> None:
        g = self.group
        if g is None:
            return
        keys = [self.target] if self.target is not None else list(g.keys)
        if not self._edit(lambda s: self.doc.clear_overrides(keys, None, s)):
            self._say("no override to clear")
        self.changed.emit()

    def accept(self) -> None:
        """Fill the unset fields (model proposal, or "no" for flags); go on when the vehicle is complete."""
        g = self.group
        if g is None:
            return
        self.target = None
        proposal = self.doc.proposal(g)
        fill: dict[str, Value] = {}
        for field in FIELDS:
            if self.doc.group_value(g, field) is not None:
                continue
            suggested = getattr(proposal, field) if proposal is not None else None
            if suggested is not None:
                fill[field] = suggested
            elif field in FLAGS:
                fill[field] = False
        if fill:
            self._edit(lambda s: self.doc.set_group_attributes(
                g.id, fill, s, text="Accept proposal" if proposal is not None else "Unset flags: no"))
        missing = [f for f in ("color", "type") if self.doc.group_value(g, f) is None]
        if missing:
            self.row = FIELDS.index(missing[0])
            self._say(f"{' and '.join(missing)} still unset: press a digit ({'1–9' if missing[0] == 'color' else '1–7'})")
            self.changed.emit()
            return
        if self.doc.disagrees(g):
            self._say(f"{g.label}: its instances disagree (overrides); kept for review")
        if self.index + 1 < len(self.doc.groups):
            self.goto(self.index + 1)
        else:
            self.changed.emit()
            self._say("last vehicle of this pair done")

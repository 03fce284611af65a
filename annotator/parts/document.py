"""Stage-4 data: part boxes per instance, the explicit "none found" answer, detector proposals.

``Parts.state`` tells "not looked at" (``todo``) from "looked at, nothing discriminative"
(``none``); a box makes it ``done``, and deleting the last box makes it ``todo`` again
(deleting is not an answer). Boxes are frame pixels inside the instance bbox, as the
schema requires; the document clamps them there rather than refusing a drag that
overshoots the crop's edge.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from schemas import Instance, Parts

from ..attributes.pair import PairDocument, PairPatch
from ..document import EditRefused

Box = tuple[float, float, float, float]
MIN_SIDE = 1.0  # frame pixels: a click without a drag is not a box


@dataclass(frozen=True)
class PartProposal:
    """A detector box waiting to be accepted or rejected (not saved)."""

    id: int
    box: Box
    score: float


class PartsDocument(PairDocument):
    STAGE = "parts"
    WRITES_MATCHING = False
    LOOSE_GROUPS = True

    def __init__(self, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self._next_proposal = 0

    # ------------------------------------------------------------------ reading
    def parts(self, key: str) -> Parts:
        return self._instances[key].parts

    def proposals(self, key: str) -> tuple[PartProposal, ...]:
        return self._proposals.get(key, ())

    def proposal_count(self) -> int:
        return sum(len(p) for p in self._proposals.values())

    def done_count(self) -> int:
        return sum(1 for g in self.groups for k in g.keys if self._instances[k].parts.state != "todo")

    def instance_count(self) -> int:
        return sum(len(g.keys) for g in self.groups)

    def walk(self) -> list[str]:
        """Every instance in the order the annotator visits them: group by group."""
        return [k for g in self.groups for k in g.keys]

    # ------------------------------------------------------------------ checks
    def check_box(self, key: str, box: Sequence[float]) -> Box:
        """The box clamped to the instance bbox, or :class:`EditRefused` when nothing is left."""
        x1, y1, x2, y2 = (float(v) for v in box)
        x1, x2 = min(x1, x2), max(x1, x2)
        y1, y2 = min(y1, y2), max(y1, y2)
        bx1, by1, bx2, by2 = self._instances[key].bbox
        x1, x2 = max(x1, bx1), min(x2, bx2)
        y1, y2 = max(y1, by1), min(y2, by2)
        if x2 - x1 < MIN_SIDE or y2 - y1 < MIN_SIDE:
            raise EditRefused("a part box needs at least 1×1 pixel inside the vehicle box")
        return (round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2))

    def _with_parts(self, inst: Instance, state: str, boxes: list[Box], seconds: float) -> Instance:
        return self.with_provenance(inst, seconds, update={"parts": Parts(state=state, boxes=boxes)})  # type: ignore[arg-type]

    # ------------------------------------------------------------------ edits
    def add_box(self, key: str, box: Sequence[float], seconds: float = 0.0) -> int:
        """Returns the new box's index."""
        inst = self._instances[key]
        boxes = [*inst.parts.boxes, self.check_box(key, box)]
        self.push(PairPatch(self, "Add part", instances={key: (inst, self._with_parts(inst, "done", boxes, seconds))}))
        return len(boxes) - 1

    def set_box(self, key: str, index: int, box: Sequence[float], seconds: float = 0.0, merge: object = None) -> None:
        inst = self._instances[key]
        boxes = list(inst.parts.boxes)
        boxes[index] = self.check_box(key, box)
        self.push(PairPatch(self, "Move part", instances={key: (inst, self._with_parts(inst, "done", boxes, seconds))},
                            merge=merge))

    def delete_boxes(self, key: str, indices: Iterable[int], seconds: float = 0.0) -> None:
        inst = self._instances[key]
        drop = set(indices)
        boxes = [b for i, b in enumerate(inst.parts.boxes) if i not in drop]
        if len(boxes) == len(inst.parts.boxes):
            return
        new = self._with_parts(inst, "done" if boxes else "todo", boxes, seconds)
        self.push(PairPatch(self, "Delete part", instances={key: (inst, new)}))

    def mark_none(self, key: str, seconds: float = 0.0) -> bool:
        """The answer "no discriminative part" (replacing any boxes); False when already so."""
        inst = self._instances[key]
        if inst.parts.state == "none":
            return False
        self.push(PairPatch(self, "No discriminative part",
                            instances={key: (inst, self._with_parts(inst, "none", [], seconds))}))
        return True

    def mark_todo(self, key: str) -> None:
        inst = self._instances[key]
        if inst.parts.state != "todo":
            self.push(PairPatch(self, "Parts not done", instances={key: (inst, inst.model_copy(
                update={"parts": Parts(state="todo")}))}))

    # ------------------------------------------------------------------ proposals
    def set_proposals(self, proposals: Mapping[str, Iterable[tuple[Sequence[float], float]]]) -> None:
        """Detector output per instance key (not an edit: nothing is saved). Boxes are clamped."""
        changed = set()
        for key, boxes in proposals.items():
            if key not in self._instances:
                continue
            props = []
            for box, score in boxes:
                try:
                    clamped = self.check_box(key, box)
                except EditRefused:
                    continue
                props.append(PartProposal(self._next_proposal, clamped, float(score)))
                self._next_proposal += 1
            self._proposals[key] = tuple(props)
            changed.add(key)
        self.proposalsChanged.emit(frozenset(changed))

    def accept_proposals(self, key: str, ids: Iterable[int] | None = None, seconds: float = 0.0) -> int:
        """Turn proposals (all, or ``ids``) into part boxes; returns how many."""
        current = self.proposals(key)
        wanted = None if ids is None else set(ids)
        chosen = [p for p in current if wanted is None or p.id in wanted]
        if not chosen:
            return 0
        inst = self._instances[key]
        boxes = [*inst.parts.boxes, *(p.box for p in chosen)]
        keep = tuple(p for p in current if p not in chosen)
        text = "Accept part proposal" if len(chosen) == 1 else f"Accept {len(chosen)} part proposals"
        self.push(PairPatch(self, text, instances={key: (inst, self._with_parts(inst, "done", boxes, seconds))},
                            proposals={key: (current, keep)}))
        return len(chosen)

    def reject_proposals(self, key: str, ids: Iterable[int] | None = None) -> int:
        current = self.proposals(key)
        wanted = None if ids is None else set(ids)
        keep = tuple(p for p in current if wanted is not None and p.id not in wanted)
        if len(keep) == len(current):
            return 0
        self.push(PairPatch(self, "Reject part proposal", proposals={key: (current, keep)}))
        return len(current) - len(keep)

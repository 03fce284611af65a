"""The edited data of one stage, as a QObject: every change goes through its undo stack.

Views never touch the schema models directly; they call the document's edit methods,
which push a :class:`~annotator.commands.Patch` onto the undo stack, and they redraw
when the document's signals fire. Schema objects are treated as immutable values: an
edit swaps in new ``Instance`` objects instead of mutating old ones, so a snapshot for
the autosave worker is a cheap list copy that later edits cannot change under it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from pydantic import BaseModel, ValidationError
from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtGui import QUndoStack

from schemas import Clip, ClipAnnotations, Instance, Manifest, Provenance, corners_problem
from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import VraiToolsError

from .commands import Patch

Point = tuple[float, float]
Corners = tuple[Point, Point, Point, Point]
INSIDE_TOLERANCE = 1e-3


class EditRefused(VraiToolsError):
    """An edit the document will not make (read-only, degenerate corners, outside the frame)."""


class BaseDocument(QObject):
    """What the app shell needs from any stage's document: undo, dirty state, saving, read-only."""

    changed = pyqtSignal()  # saved data changed: the autosaver listens
    savedStateChanged = pyqtSignal()

    def __init__(self, annotator: str, read_only_reason: str = "", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.annotator = annotator
        self.read_only_reason = read_only_reason
        self.undo_stack = QUndoStack(self)
        self._revision = 0
        self._saved_revision = 0
        self.save_error: str | None = None

    # --- state the shell shows
    @property
    def read_only(self) -> bool:
        return bool(self.read_only_reason)

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def is_saved(self) -> bool:
        return self._saved_revision == self._revision

    def mark_saved(self, revision: int) -> None:
        self._saved_revision = max(self._saved_revision, revision)
        self.save_error = None
        self.savedStateChanged.emit()

    def mark_save_failed(self, error: str) -> None:
        self.save_error = error
        self.savedStateChanged.emit()

    def _touch(self) -> None:
        was_saved = self.is_saved
        self._revision += 1
        self.changed.emit()
        if was_saved:
            self.savedStateChanged.emit()

    def push(self, command: Patch) -> None:
        if self.read_only:
            raise EditRefused(f"read-only: {self.read_only_reason}")
        self.undo_stack.push(command)

    # --- what a stage document provides
    def snapshots(self) -> list[tuple[Path, BaseModel]]:
        """The models to write and where; called on the UI thread, must be cheap and never shared mutably."""
        raise NotImplementedError

    # --- what the stage table asks of every document class
    @classmethod
    def load(cls, root: DatasetRoot, manifest: Manifest, target: str, annotator: str,
             read_only_reason: str = "") -> "BaseDocument":
        """The document for clip or pair ``target``; raises ``DatasetFileError`` for a corrupt file."""
        raise NotImplementedError

    @classmethod
    def files(cls, root: DatasetRoot, target: str) -> list[Path]:
        """The files this document writes for ``target``: locked while it is open."""
        raise NotImplementedError

    def title(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Proposal:
    """A vehicle carried over from the previous frame, waiting to be accepted (not saved)."""

    id: int
    corners: Corners
    source: str  # key of the instance it was carried from
    score: float = 1.0


def _key_number(key: str) -> int:
    return int(key.rpartition(":")[2])


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class ClipDocument(BaseDocument):
    """Stage-1 data of one clip: instances (corners → box), frames marked done, and proposals."""

    instancesChanged = pyqtSignal(int)  # frame index
    framesDoneChanged = pyqtSignal()
    proposalsChanged = pyqtSignal(int)  # frame index

    def __init__(
        self,
        root: DatasetRoot,
        clip: Clip,
        annotations: ClipAnnotations,
        annotator: str,
        read_only_reason: str = "",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(annotator, read_only_reason, parent)
        self.root = root
        self.clip = clip
        self.clip_id = clip.id
        self.image_size: tuple[int, int] = (clip.width, clip.height)
        self.frame_indices: list[int] = [f.index for f in clip.frames]
        self._instances: dict[str, Instance] = {}
        self._frame_keys: dict[int, list[str]] = {}
        for inst in annotations.instances:
            self._instances[inst.key] = inst
            self._frame_keys.setdefault(inst.frame, []).append(inst.key)
        self._done: set[int] = set(annotations.frames_done)
        self._proposals: dict[int, tuple[Proposal, ...]] = {}
        self._next_n = max((_key_number(k) for k in self._instances), default=-1) + 1
        self._next_proposal = 0

    @classmethod
    def load(cls, root: DatasetRoot, manifest: Manifest, clip_id: str, annotator: str,
             read_only_reason: str = "") -> "ClipDocument":
        """Raises a ``DatasetFileError`` for a corrupt file, which must never be overwritten."""
        clip = manifest.clip(clip_id)
        if not clip.frames:
            raise VraiToolsError(f"clip {clip_id} has no sampled frames yet (run vrai-tools extract-frames)")
        return cls(root, clip, root.annotations(clip_id, manifest), annotator, read_only_reason)

    @classmethod
    def files(cls, root: DatasetRoot, clip_id: str) -> list[Path]:
        return [root.annotations_path(clip_id)]

    def title(self) -> str:
        return f"clip {self.clip_id}"

    # --- reading
    def instance(self, key: str) -> Instance:
        return self._instances[key]

    def has_instance(self, key: str) -> bool:
        return key in self._instances

    def instances_on(self, frame: int) -> list[Instance]:
        return sorted((self._instances[k] for k in self._frame_keys.get(frame, ())), key=lambda i: _key_number(i.key))

    def instance_count(self) -> int:
        return len(self._instances)

    def is_done(self, frame: int) -> bool:
        return frame in self._done

    def frames_done(self) -> list[int]:
        return sorted(self._done)

    def proposals_on(self, frame: int) -> tuple[Proposal, ...]:
        return self._proposals.get(frame, ())

    def proposal(self, frame: int, pid: int) -> Proposal:
        for p in self.proposals_on(frame):
            if p.id == pid:
                return p
        raise KeyError(pid)

    def snapshot(self) -> ClipAnnotations:
        """The document as the schema model, without re-validating what every edit already checked."""
        instances = sorted(self._instances.values(), key=lambda i: (i.frame, _key_number(i.key)))
        return ClipAnnotations.model_construct(
            schema_version=2, clip_id=self.clip_id, image_size=self.image_size,
            instances=instances, frames_done=sorted(self._done),
        )

    def snapshots(self) -> list[tuple[Path, BaseModel]]:
        return [(self.root.annotations_path(self.clip_id), self.snapshot())]

    # --- checks shared by every edit
    def check_corners(self, corners: Sequence[Sequence[float]]) -> Corners:
        """Corners as floats, or :class:`EditRefused` saying why they cannot outline a vehicle."""
        if len(corners) != 4:
            raise EditRefused(f"a vehicle needs 4 corners, got {len(corners)}")
        pts = tuple((round(float(x), 2), round(float(y), 2)) for x, y in corners)
        problem = corners_problem(pts)
        if problem:
            raise EditRefused(f"not a vehicle outline: {problem}")
        w, h = self.image_size
        for i, (x, y) in enumerate(pts):
            if not (-INSIDE_TOLERANCE <= x <= w + INSIDE_TOLERANCE and -INSIDE_TOLERANCE <= y <= h + INSIDE_TOLERANCE):
                raise EditRefused(f"corner {i} ({x:g}, {y:g}) is outside the {w}x{h} frame")
        return pts  # type: ignore[return-value]

    def _check_frame(self, frame: int) -> None:
        if frame not in self.frame_indices:
            raise EditRefused(f"frame {frame} is not a frame of clip {self.clip_id}")

    def _new_instance(self, frame: int, corners: Corners, source: str, seconds: float = 0.0) -> Instance:
        key = f"{self.clip_id}:{self._next_n}"
        self._next_n += 1  # keys are never reused, even after an undo
        prov = Provenance(annotator=self.annotator, at=_now(), seconds=seconds, source=source)  # type: ignore[arg-type]
        try:
            return Instance.from_corners(key, frame, corners, provenance={"corners": prov})
        except ValidationError as e:  # check_corners ran already; this is a last line of defence
            raise EditRefused(str(e.errors()[0]["msg"])) from None

    def _moved(self, inst: Instance, corners: Corners) -> Instance:
        return Instance.from_corners(inst.key, inst.frame, corners, attributes=inst.attributes, parts=inst.parts,
                                     provenance=inst.provenance)

    # --- edits (each one undoable)
    def add_instance(self, frame: int, corners: Sequence[Sequence[float]], source: str = "human") -> str:
        self._check_frame(frame)
        inst = self._new_instance(frame, self.check_corners(corners), source)
        self.push(Patch(self, "Add vehicle", instances={inst.key: (None, inst)}))
        return inst.key

    def set_corners(self, key: str, corners: Sequence[Sequence[float]], merge: object = None) -> None:
        """Move corners of one instance; consecutive edits with the same ``merge`` token undo as one."""
        old = self._instances[key]
        new = self._moved(old, self.check_corners(corners))
        self.push(Patch(self, "Move corner", instances={key: (old, new)}, merge=merge))

    def translate(self, keys: Iterable[str], dx: float, dy: float, merge: object = None) -> None:
        changes = {}
        for key in keys:
            old = self._instances[key]
            moved = [(x + dx, y + dy) for x, y in old.corners]
            changes[key] = (old, self._moved(old, self.check_corners(moved)))
        if changes:
            self.push(Patch(self, "Nudge", instances=changes, merge=merge))

    def delete(self, keys: Iterable[str]) -> None:
        changes = {k: (self._instances[k], None) for k in keys}
        if changes:
            self.push(Patch(self, "Delete vehicle" if len(changes) == 1 else f"Delete {len(changes)} vehicles",
                            instances=changes))

    def set_proposals(self, frame: int, proposals: Iterable[tuple[Corners, str, float]]) -> None:
        """Replace a frame's proposals with fresh tracker output (not an edit: nothing is saved)."""
        new = []
        for corners, source, score in proposals:
            new.append(Proposal(self._next_proposal, corners, source, score))
            self._next_proposal += 1
        self._proposals[frame] = tuple(new)
        self.proposalsChanged.emit(frame)

    def accept_proposals(self, frame: int, ids: Iterable[int] | None = None) -> list[str]:
        current = self.proposals_on(frame)
        wanted = None if ids is None else set(ids)
        chosen = [p for p in current if wanted is None or p.id in wanted]
        if not chosen:
            return []
        added = {}
        for p in chosen:
            inst = self._new_instance(frame, self.check_corners(p.corners), "carried")
            added[inst.key] = (None, inst)
        keep = tuple(p for p in current if p not in chosen)
        text = "Accept proposal" if len(chosen) == 1 else f"Accept {len(chosen)} proposals"
        self.push(Patch(self, text, instances=added, proposals={frame: (current, keep)}))
        return list(added)

    def delete_proposals(self, frame: int, ids: Iterable[int]) -> None:
        current = self.proposals_on(frame)
        drop = set(ids)
        keep = tuple(p for p in current if p.id not in drop)
        if len(keep) != len(current):
            self.push(Patch(self, "Delete proposal", proposals={frame: (current, keep)}))

    def set_proposal_corners(self, frame: int, pid: int, corners: Sequence[Sequence[float]], merge: object = None) -> None:
        pts = self.check_corners(corners)
        current = self.proposals_on(frame)
        new = tuple(Proposal(p.id, pts, p.source, p.score) if p.id == pid else p for p in current)
        self.push(Patch(self, "Move proposal corner", proposals={frame: (current, new)}, merge=merge))

    def set_frame_done(self, frame: int, done: bool = True, seconds: float = 0.0) -> None:
        """Mark a frame (not) done; ``seconds`` of work on it are shared among its instances' provenance.

        Sharing keeps sums meaningful: the corners-stage seconds of all instances add up to
        the time spent on the stage.
        """
        self._check_frame(frame)
        if done == (frame in self._done):
            return
        changes: dict[str, tuple[Instance | None, Instance | None]] = {}
        insts = self.instances_on(frame)
        if done and insts and seconds > 0:
            total = seconds + sum(i.provenance["corners"].seconds for i in insts if "corners" in i.provenance)
            share = round(total / len(insts), 3)
            for inst in insts:
                prov = inst.provenance.get("corners") or Provenance(annotator=self.annotator, at=_now())
                new_prov = {**inst.provenance, "corners": prov.model_copy(update={"seconds": share})}
                changes[inst.key] = (inst, inst.model_copy(update={"provenance": new_prov}))
        self.push(Patch(self, "Mark frame done" if done else "Mark frame not done",
                        instances=changes, done={frame: (not done, done)}))

    # --- applied by Patch only
    def _apply(
        self,
        instances: Mapping[str, Instance | None],
        proposals: Mapping[int, tuple[Proposal, ...]],
        done: Mapping[int, bool],
    ) -> None:
        frames: set[int] = set()
        for key, inst in instances.items():
            old = self._instances.get(key)
            if inst is None:
                if old is not None:
                    del self._instances[key]
                    self._frame_keys[old.frame].remove(key)
                    frames.add(old.frame)
            else:
                if old is None:
                    self._frame_keys.setdefault(inst.frame, []).append(key)
                self._instances[key] = inst
                frames.add(inst.frame)
        for frame, value in done.items():
            (self._done.add if value else self._done.discard)(frame)
        for frame, props in proposals.items():
            self._proposals[frame] = props
        if instances or done:
            self._touch()
        for frame in sorted(frames):
            self.instancesChanged.emit(frame)
        if done:
            self.framesDoneChanged.emit()
        for frame in proposals:
            self.proposalsChanged.emit(frame)

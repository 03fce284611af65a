"""Stage-2 data of one location pair: its tracklets and the vehicles linking them, undoable.

The rules live Qt-free in :mod:`vrai_tools.matching_rules` and :mod:`vrai_tools.tracklets`
as pure functions from one ``PairMatching`` to the next; this document only keeps the
current value, puts every change on the undo stack as a (before, after) pair of those
immutable values, and tells the views. Undo and redo are exact by construction, and an
autosave snapshot is the current value itself (nothing mutates it later).

Stage-1 annotations of the two clips are read, never written: they are someone else's
file (and lock). When stage 1 changed since the matching was saved, opening brings the
tracklets up to date (new boxes get tracklets, deleted ones leave theirs) and says so.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from pydantic import BaseModel
from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtGui import QUndoCommand

from schemas import Manifest, PairMatching, Tracklet, Vehicle
from vrai_tools import matching_rules as rules
from vrai_tools import tracklets as tk
from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import VraiToolsError

from ..document import BaseDocument, EditRefused


class MatchingPatch(QUndoCommand):
    def __init__(self, doc: "MatchingDocument", text: str, before: PairMatching, after: PairMatching) -> None:
        super().__init__(text)
        self.doc = doc
        self.before = before
        self.after = after

    def redo(self) -> None:
        self.doc._set(self.after)

    def undo(self) -> None:
        self.doc._set(self.before)


class MatchingDocument(BaseDocument):
    matchingChanged = pyqtSignal()

    def __init__(
        self,
        root: DatasetRoot | None,
        ctx: rules.PairContext,
        matching: PairMatching,
        annotator: str,
        read_only_reason: str = "",
        parent: QObject | None = None,
    ) -> None:
        super().__init__(annotator, read_only_reason, parent)
        self.root = root
        self.ctx = ctx
        self.pair_id = ctx.pair_id
        self._m = matching
        self.ids = rules.VehicleIds(root, ctx.pair_id)
        self.sync_notes: list[str] = []

    @classmethod
    def load(cls, root: DatasetRoot, manifest: Manifest, pair_id: str, annotator: str,
             read_only_reason: str = "") -> "MatchingDocument":
        """Raises a ``DatasetFileError`` for a corrupt file, which must never be overwritten."""
        ctx = rules.PairContext.load(root, pair_id, manifest)
        doc = cls(root, ctx, root.matching(pair_id), annotator, read_only_reason)
        doc.sync_with_stage1(root, manifest)
        return doc

    @classmethod
    def files(cls, root: DatasetRoot, pair_id: str) -> list[Path]:
        """Stage 2 writes the pair's matching file only (stage-1 boxes are read, never written)."""
        return [root.matching_path(pair_id)]

    def sync_with_stage1(self, root: DatasetRoot, manifest: Manifest) -> None:
        """Build missing tracklets; not an undoable edit, but saved like one (unless read-only)."""
        clips = {c.id: (root.annotations(c.id, manifest), [f.index for f in c.frames])
                 for c in self.ctx.clips.values()}
        synced, notes = tk.sync_with_annotations(self._m, clips, self.annotator)
        self.sync_notes = notes
        if notes:
            self._m = synced
            if not self.read_only:
                self._touch()

    def title(self) -> str:
        return f"pair {self.pair_id}"

    # ------------------------------------------------------------------ reading
    @property
    def matching(self) -> PairMatching:
        return self._m

    def snapshot(self) -> PairMatching:
        return self._m

    def snapshots(self) -> list[tuple[Path, BaseModel]]:
        assert self.root is not None
        return [(self.root.matching_path(self.pair_id), self._m)]

    def tracklet(self, tid: str) -> Tracklet:
        return self._m.tracklet(tid)

    def has_tracklet(self, tid: str) -> bool:
        return any(t.id == tid for t in self._m.tracklets)

    def vehicle_of(self, tid: str) -> Vehicle | None:
        return rules.vehicle_of(self._m).get(tid)

    def is_decided(self, tid: str) -> bool:
        return rules.is_decided(self._m, self._m.tracklet(tid))

    def camera_of(self, tid: str) -> str:
        return self.ctx.camera_of(self._m.tracklet(tid))

    def query_order(self, camera: str) -> list[str]:
        return rules.query_order(self.ctx, self._m, camera)

    def next_undecided(self, camera: str, after: str | None = None, step: int = 1) -> str | None:
        return rules.next_undecided(self.ctx, self._m, camera, after, step)

    def candidates(self, query: str, window: float) -> list[rules.Candidate]:
        return rules.candidates(self.ctx, self._m, query, window)

    def progress(self) -> tuple[int, int]:
        """Decided tracklets / all tracklets."""
        owners = rules.vehicle_of(self._m)
        done = sum(1 for t in self._m.tracklets if rules.is_decided(self._m, t, owners))
        return done, len(self._m.tracklets)

    def neighbours(self, tid: str, limit: int = 5) -> list[str]:
        """Tracklets of the same clip that could continue this one (merge candidates), closest in time first."""
        t = self._m.tracklet(tid)
        out = []
        for o in self._m.tracklets:
            if o.clip_id == t.clip_id and o.id != tid and not rules.overlap_in_time(self.ctx, t, o):
                out.append((rules.time_gap(self.ctx, t, o), o.id))
        return [x for _, x in sorted(out)[:limit]]

    # ------------------------------------------------------------------ edits
    def _edit(self, text: str, change: Callable[[PairMatching], PairMatching]) -> None:
        before = self._m
        try:
            after = change(before)
        except (VraiToolsError, KeyError) as e:
            raise EditRefused(str(e).strip("'\"")) from None
        if after is not before:
            self.push(MatchingPatch(self, text, before, after))

    def link(self, query: str, other: str, seconds: float = 0.0) -> int:
        """Same vehicle. Returns the vehicle id (new, or the joined vehicles' smaller one)."""
        result: list[int] = []

        def change(m: PairMatching) -> PairMatching:
            new, vid = rules.link(self.ctx, m, query, other, self.ids.new_id(m), self.annotator, seconds)
            result.append(vid)
            return new

        self._edit(f"Link {query} ↔ {other}", change)
        return result[0]

    def unlink(self, tid: str, seconds: float = 0.0) -> None:
        self._edit(f"Unlink {tid}", lambda m: rules.unlink(m, tid, self.annotator, seconds))

    def set_no_match(self, tid: str, seconds: float = 0.0) -> int:
        result: list[int] = []

        def change(m: PairMatching) -> PairMatching:
            new, vid = rules.set_no_match(m, tid, self.ids.new_id(m), self.annotator, seconds)
            result.append(vid)
            return new

        self._edit(f"No match for {tid}", change)
        return result[0]

    def dissolve(self, vehicle_id: int) -> None:
        """Unlink every tracklet of one vehicle (review mode's U): all of them undecided again."""
        def change(m: PairMatching) -> PairMatching:
            v = next((x for x in m.vehicles if x.id == vehicle_id), None)
            if v is None:
                raise EditRefused(f"no vehicle {vehicle_id} in pair {self.pair_id}")
            for tid in v.tracklets:
                m = rules.unlink(m, tid, self.annotator)
            return m

        self._edit(f"Dissolve vehicle {vehicle_id}", change)

    def set_uncertain(self, tid: str, uncertain: bool) -> None:
        text = "Mark uncertain" if uncertain else "Mark certain"
        self._edit(text, lambda m: rules.set_uncertain(m, tid, uncertain, self.annotator))

    def toggle_uncertain(self, tid: str) -> bool:
        v = self.vehicle_of(tid)
        flag = not (v is not None and v.uncertain)
        self.set_uncertain(tid, flag)
        return flag

    def split(self, tid: str, at_key: str, seconds: float = 0.0) -> str:
        result: list[str] = []

        def change(m: PairMatching) -> PairMatching:
            new, tail = tk.split_tracklet(m, tid, at_key, self.ctx.frame_of, self.annotator, seconds)
            result.append(tail)
            return new

        self._edit(f"Split {tid}", change)
        return result[0]

    def merge(self, keep: str, other: str, seconds: float = 0.0) -> None:
        self._edit(f"Merge {other} into {keep}",
                   lambda m: tk.merge_tracklets(m, keep, other, self.ctx.frame_of, self.annotator, seconds))

    def move(self, key: str, to_tid: str, seconds: float = 0.0) -> None:
        self._edit(f"Move {key} to {to_tid}",
                   lambda m: tk.move_instance(m, key, to_tid, self.ctx.frame_of, self.annotator, seconds))

    # ------------------------------------------------------------------ applied by MatchingPatch only
    def _set(self, m: PairMatching) -> None:
        self._m = m
        self._touch()
        self.matchingChanged.emit()

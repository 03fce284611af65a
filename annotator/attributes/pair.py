"""The per-vehicle stages' document base: one location pair, its two clips and its matching.

Stages 3 and 4 are organised by vehicle, and a vehicle spans both cameras, so their
unit is the pair: the document holds the instances of the pair's two clips and its
``matching/<pair>.json``, and groups instances by vehicle. A *group* is a vehicle, or
a tracklet not linked to a vehicle yet, or (for parts only) the instances of a clip that
are in no tracklet: the annotator walks group by group either way.

Like the stage-1 document, schema objects are immutable values: every edit swaps in
new objects through a :class:`PairPatch` on the undo stack, so undo and redo are exact
and an autosave snapshot is a cheap list copy.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Hashable, Mapping

from pydantic import BaseModel
from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtGui import QUndoCommand

from schemas import Clip, ClipAnnotations, Instance, Manifest, PairMatching, Provenance, Vehicle
from vrai_tools.dataset import DatasetRoot

from ..document import BaseDocument

MERGEABLE_ID = 3401


@dataclass(frozen=True)
class Group:
    """What the annotator looks at together: instances of one vehicle (or of one tracklet)."""

    id: str  # "v<vehicle id>", "t:<tracklet id>" or "loose:<clip id>"
    kind: str  # "vehicle" | "tracklet" | "loose"
    label: str
    keys: tuple[str, ...]  # camera A first, then B; in time order
    vehicle_id: int | None = None


def _number(key: str) -> int:
    return int(key.rpartition(":")[2])


def build_groups(matching: PairMatching, instances: Mapping[str, Instance], camera_of: Mapping[str, str],
                 loose: bool) -> list[Group]:
    """Vehicles by id, then tracklets without a vehicle, then (``loose``) instances in no tracklet.

    Keys that the matching names but the annotations lack are left out: ``validate``
    reports them, and a stage cannot annotate an instance that does not exist.
    """
    def order(keys: list[str]) -> tuple[str, ...]:
        present = [k for k in keys if k in instances]
        return tuple(sorted(present, key=lambda k: (camera_of.get(k, "?"), instances[k].frame, _number(k))))

    tracklets = {t.id: t for t in matching.tracklets}
    groups: list[Group] = []
    linked: set[str] = set()
    for v in sorted(matching.vehicles, key=lambda v: v.id):
        keys = [k for tid in v.tracklets if tid in tracklets for k in tracklets[tid].instances]
        linked.update(v.tracklets)
        cams = "+".join(sorted({camera_of.get(k, "?") for k in keys if k in instances}))
        groups.append(Group(f"v{v.id}", "vehicle", f"vehicle {v.id} ({cams or 'no instances'})", order(keys), v.id))
    in_tracklet: set[str] = set()
    for t in matching.tracklets:
        in_tracklet.update(t.instances)
        if t.id not in linked:
            note = "no match" if t.no_match else "not linked to a vehicle"
            groups.append(Group(f"t:{t.id}", "tracklet", f"tracklet {t.id} ({note})", order(list(t.instances))))
    if loose:
        by_clip: dict[str, list[str]] = {}
        for key in instances:
            if key not in in_tracklet:
                by_clip.setdefault(key.rpartition(":")[0], []).append(key)
        for clip_id in sorted(by_clip):
            groups.append(Group(f"loose:{clip_id}", "loose", f"{clip_id}: instances in no tracklet",
                                order(by_clip[clip_id])))
    return [g for g in groups if g.keys]


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class WorkClock:
    """Seconds of work per item: the time since the previous action goes to the item acted on.

    Gaps are capped, so a break in front of an open vehicle is not counted as work.
    """

    IDLE_CAP = 30.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()
        self._pending: dict[Hashable, float] = {}

    def tick(self, item: Hashable) -> None:
        t = self._clock()
        self._pending[item] = self._pending.get(item, 0.0) + min(max(t - self._last, 0.0), self.IDLE_CAP)
        self._last = t

    def take(self, item: Hashable) -> float:
        """Tick, then hand over (and forget) the seconds gathered for ``item``."""
        self.tick(item)
        return self._pending.pop(item, 0.0)


class PairPatch(QUndoCommand):
    """Before/after values of instances, vehicles and proposals; applied by the document only."""

    def __init__(self, doc: "PairDocument", text: str, *,
                 instances: Mapping[str, tuple[Instance, Instance]] | None = None,
                 vehicles: Mapping[int, tuple[Vehicle, Vehicle]] | None = None,
                 proposals: Mapping[str, tuple[Any, Any]] | None = None,
                 merge: object = None) -> None:
        super().__init__(text)
        self.doc = doc
        self.instances = dict(instances or {})
        self.vehicles = dict(vehicles or {})
        self.proposals = dict(proposals or {})
        self.merge = merge

    def _side(self, i: int) -> tuple[dict[str, Instance], dict[int, Vehicle], dict[str, Any]]:
        return ({k: v[i] for k, v in self.instances.items()}, {k: v[i] for k, v in self.vehicles.items()},
                {k: v[i] for k, v in self.proposals.items()})

    def redo(self) -> None:
        self.doc._apply(*self._side(1))

    def undo(self) -> None:
        self.doc._apply(*self._side(0))

    def id(self) -> int:
        return MERGEABLE_ID if self.merge is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        """A drag undoes as one step: keep my before, take the newer after."""
        if not isinstance(other, PairPatch) or other.merge != self.merge:
            return False
        if (set(other.instances), set(other.vehicles), set(other.proposals)) != \
                (set(self.instances), set(self.vehicles), set(self.proposals)):
            return False
        self.instances = {k: (self.instances[k][0], other.instances[k][1]) for k in self.instances}
        self.vehicles = {k: (self.vehicles[k][0], other.vehicles[k][1]) for k in self.vehicles}
        self.proposals = {k: (self.proposals[k][0], other.proposals[k][1]) for k in self.proposals}
        return True


class PairDocument(BaseDocument):
    """Instances of a pair's two clips grouped by vehicle; subclasses add one stage's edits."""

    STAGE = ""  # the provenance key the subclass writes
    WRITES_MATCHING = False
    LOOSE_GROUPS = False

    instancesChanged = pyqtSignal(object)  # frozenset of instance keys
    vehiclesChanged = pyqtSignal(object)  # frozenset of vehicle ids
    proposalsChanged = pyqtSignal(object)  # frozenset of proposal keys

    def __init__(self, root: DatasetRoot, manifest: Manifest, pair_id: str, matching: PairMatching,
                 annotations: Mapping[str, ClipAnnotations], annotator: str, read_only_reason: str = "",
                 parent: QObject | None = None) -> None:
        super().__init__(annotator, read_only_reason, parent)
        self.root = root
        self.manifest = manifest
        self.pair_id = pair_id
        self.clips: dict[str, Clip] = {c.id: c for c in manifest.clips if c.pair == pair_id}
        self._matching = matching
        self._vehicles: dict[int, Vehicle] = {v.id: v for v in matching.vehicles}
        self._annotations = dict(annotations)
        self._instances: dict[str, Instance] = {}
        self._camera: dict[str, str] = {}
        for clip_id, ann in self._annotations.items():
            for inst in ann.instances:
                self._instances[inst.key] = inst
                self._camera[inst.key] = self.clips[clip_id].camera
        self._frames = {(c.id, f.index): f for c in self.clips.values() for f in c.frames}
        self.groups: list[Group] = build_groups(matching, self._instances, self._camera, self.LOOSE_GROUPS)
        self._group_of: dict[str, Group] = {k: g for g in self.groups for k in g.keys}
        self._group_by_id: dict[str, Group] = {g.id: g for g in self.groups}
        self._proposals: dict[str, Any] = {}
        self._touched: set[str] = set()  # clip ids (and "matching") edited since load: the files to write

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, root: DatasetRoot, manifest: Manifest, pair_id: str, annotator: str,
             read_only_reason: str = "") -> "PairDocument":
        """Raises a ``DatasetFileError`` for a corrupt file, which must never be overwritten."""
        clips = [c for c in manifest.clips if c.pair == pair_id]
        annotations = {c.id: root.annotations(c.id, manifest) for c in clips}
        return cls(root, manifest, pair_id, root.matching(pair_id), annotations, annotator, read_only_reason)

    @classmethod
    def files(cls, root: DatasetRoot, pair_id: str) -> list[Path]:
        """What the stage writes, hence locks while open."""
        clips = sorted(c.id for c in root.manifest().clips if c.pair == pair_id)
        paths = [root.annotations_path(c) for c in clips]
        return ([root.matching_path(pair_id)] if cls.WRITES_MATCHING else []) + paths

    def title(self) -> str:
        return f"pair {self.pair_id}"

    # ------------------------------------------------------------------ reading
    def instance(self, key: str) -> Instance:
        return self._instances[key]

    def instances(self) -> list[Instance]:
        return list(self._instances.values())

    def camera(self, key: str) -> str:
        return self._camera[key]

    def clip_of(self, key: str) -> Clip:
        return self.clips[key.rpartition(":")[0]]

    def frame_file(self, key: str) -> tuple[str, tuple[int, int]]:
        """The frame image (relative path) an instance is on, and that frame's size."""
        clip = self.clip_of(key)
        inst = self._instances[key]
        frame = self._frames.get((clip.id, inst.frame))
        if frame is None:
            return self.root.frame_rel(clip.id, inst.frame), (clip.width, clip.height)
        return frame.file, clip.frame_size(frame)

    def vehicle(self, vehicle_id: int) -> Vehicle:
        return self._vehicles[vehicle_id]

    def group(self, group_id: str) -> Group:
        return self._group_by_id[group_id]

    def group_of(self, key: str) -> Group | None:
        return self._group_of.get(key)

    def group_index(self, group_id: str) -> int:
        return next(i for i, g in enumerate(self.groups) if g.id == group_id)

    def short_label(self, key: str) -> str:
        return f"{self._camera[key]} f{self._instances[key].frame} #{_number(key)}"

    # ------------------------------------------------------------------ saving
    def snapshot_annotations(self, clip_id: str) -> ClipAnnotations:
        """The clip file as it now is, without re-validating what every edit already checked."""
        ann = self._annotations[clip_id]
        return ClipAnnotations.model_construct(
            schema_version=2, clip_id=clip_id, image_size=ann.image_size,
            instances=[self._instances[i.key] for i in ann.instances], frames_done=list(ann.frames_done))

    def snapshot_matching(self) -> PairMatching:
        m = self._matching
        return PairMatching.model_construct(schema_version=1, pair_id=m.pair_id, tracklets=list(m.tracklets),
                                            vehicles=[self._vehicles[v.id] for v in m.vehicles])

    def snapshots(self) -> list[tuple[Path, BaseModel]]:
        """Only files this session edited: an untouched clip file is neither created nor rewritten."""
        out: list[tuple[Path, BaseModel]] = []
        if "matching" in self._touched:
            out.append((self.root.matching_path(self.pair_id), self.snapshot_matching()))
        for clip_id in sorted(self._annotations):
            if clip_id in self._touched:
                out.append((self.root.annotations_path(clip_id), self.snapshot_annotations(clip_id)))
        return out

    # ------------------------------------------------------------------ helpers for edits
    def with_provenance(self, inst: Instance, seconds: float, *, source: str = "human",
                        update: Mapping[str, object] | None = None) -> Instance:
        """``inst`` with ``update`` applied and ``seconds`` added to this stage's provenance.

        Seconds add up, so the stage's seconds summed over instances is the time spent on it.
        """
        prov = inst.provenance.get(self.STAGE)  # type: ignore[call-overload]
        total = round((prov.seconds if prov else 0.0) + seconds, 3)
        new_prov = Provenance(annotator=self.annotator, at=now(), seconds=total, source=source)  # type: ignore[arg-type]
        return inst.model_copy(update={**(update or {}), "provenance": {**inst.provenance, self.STAGE: new_prov}})

    # ------------------------------------------------------------------ applied by PairPatch only
    def _apply(self, instances: Mapping[str, Instance], vehicles: Mapping[int, Vehicle],
               proposals: Mapping[str, Any]) -> None:
        for key, inst in instances.items():
            self._instances[key] = inst
            self._touched.add(key.rpartition(":")[0])
        for vid, vehicle in vehicles.items():
            self._vehicles[vid] = vehicle
            self._touched.add("matching")
        for key, value in proposals.items():
            if value is None:
                self._proposals.pop(key, None)
            else:
                self._proposals[key] = value
        if instances or vehicles:
            self._touch()
        if vehicles:
            self.vehiclesChanged.emit(frozenset(vehicles))
        if instances:
            self.instancesChanged.emit(frozenset(instances))
        if proposals:
            self.proposalsChanged.emit(frozenset(proposals))

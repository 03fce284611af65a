"""One flat, read-only view of a dataset: a record per instance with everything joined.

The manifest, the per-clip annotations and the per-pair matchings each hold part of what
a ReID sample is (camera and frame file; box, overrides and parts; vehicle id and
vehicle-level attributes). Split, stats, crops, export and the ReID dataset all need the
join, so it is done once here, in one pass, without re-validating anything.
"""
from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping, TypeVar

from pydantic import BaseModel, ValidationError

from schemas import Attributes, ClipAnnotations, Manifest, PairMatching, Parts, Provenance, Split

from .dataset import DatasetRoot
from .errors import VraiToolsError
from .storage import load_model

M = TypeVar("M", bound=BaseModel)

Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """One ReID image: an instance with its clip, frame, effective attributes and vehicle."""

    key: str
    clip_id: str
    pair_id: str
    camera: str  # "A" | "B"
    frame: int  # sample index k within the clip
    frame_file: str  # relative to the dataset root; resolve with DatasetRoot.path()
    frame_size: tuple[int, int]  # width, height of that frame
    corners: tuple[tuple[float, float], ...]
    bbox: Box
    attributes: Attributes  # instance overrides merged over the vehicle's (shared object when none)
    parts: Parts
    vehicle_id: int | None  # None: not linked to a vehicle yet
    tracklet_id: str | None
    no_match: bool  # its tracklet was decided to have no counterpart in the other camera
    provenance: Mapping[str, Provenance]
    video_frame: int | None
    altitude: float | None

    @property
    def number(self) -> int:
        return int(self.key.rpartition(":")[2])


@dataclass
class VehicleInfo:
    id: int
    pair_id: str
    attributes: Attributes  # vehicle level
    keys: list[str] = field(default_factory=list)  # in record order
    cameras: set[str] = field(default_factory=set)
    provenance: Provenance | None = None

    @property
    def cross_camera(self) -> bool:
        return len(self.cameras) == 2


class DatasetIndex:
    """The joined records of one dataset root, plus the raw documents stats needs."""

    def __init__(self, root: DatasetRoot, manifest: Manifest, records: list[InstanceRecord],
                 vehicles: dict[int, VehicleInfo], matchings: dict[str, PairMatching],
                 frames_done: dict[str, int]) -> None:
        self.root = root
        self.manifest = manifest
        self.records = records
        self.by_key: dict[str, InstanceRecord] = {r.key: r for r in records}
        self.vehicles = vehicles
        self.matchings = matchings
        self.frames_done = frames_done

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[InstanceRecord]:
        return iter(self.records)

    def cross_camera_vehicles(self) -> list[int]:
        return sorted(v.id for v in self.vehicles.values() if v.cross_camera)

    def single_camera_vehicles(self) -> list[int]:
        return sorted(v.id for v in self.vehicles.values() if not v.cross_camera)

    def get(self, keys: Iterable[str]) -> list[InstanceRecord]:
        """Records of ``keys`` in the given order; an unknown key is a user error (stale split)."""
        out = []
        for key in keys:
            rec = self.by_key.get(key)
            if rec is None:
                raise VraiToolsError(f"instance {key!r} is listed in a split but does not exist: "
                                     f"run `vrai-tools validate {self.root.root}`")
            out.append(rec)
        return out

    def split_records(self, split: Split) -> dict[str, list[InstanceRecord]]:
        return {name: self.get(getattr(split, name)) for name in ("train", "query", "gallery")}


def load_index(root: DatasetRoot | Path | str) -> DatasetIndex:
    """Join manifest, annotations and matchings of ``root`` into instance records.

    Tolerant of the cross-file mistakes ``validate`` reports (a tracklet naming a missing
    instance is skipped), but not of a vehicle id defined in two pairs: a split built on
    that would mix two vehicles.
    """
    ds = root if isinstance(root, DatasetRoot) else DatasetRoot(root)
    was_enabled = gc.isenabled()
    gc.disable()  # ~10^6 long-lived small objects: the cyclic GC would rescan them for nothing
    try:
        return _load(ds)
    finally:
        if was_enabled:
            gc.enable()


def _fast_load(path: Path, model: type[M]) -> M:
    """pydantic-core's own JSON parser (a third faster than json.loads + validate at VRAI size);
    any problem, an older schema_version included, goes the standard way, which migrates
    and words the error."""
    try:
        return model.model_validate_json(path.read_bytes())
    except (ValidationError, ValueError, OSError):
        return load_model(path, model)


def _load(ds: DatasetRoot) -> DatasetIndex:
    manifest = _fast_load(ds.manifest_path, Manifest) if ds.exists() else ds.manifest()
    annotations: dict[str, ClipAnnotations] = {}
    for c in manifest.clips:
        p = ds.annotations_path(c.id)
        annotations[c.id] = (_fast_load(p, ClipAnnotations) if p.exists()
                             else ClipAnnotations(clip_id=c.id, image_size=(c.width, c.height)))
    matchings: dict[str, PairMatching] = {}
    vehicles: dict[int, VehicleInfo] = {}
    # key -> (vehicle, tracklet id, no_match)
    owner: dict[str, tuple[VehicleInfo | None, str, bool]] = {}
    for pair in manifest.pairs:
        if not ds.matching_path(pair.id).exists():
            continue
        m = _fast_load(ds.matching_path(pair.id), PairMatching)
        matchings[pair.id] = m
        tracklet_vehicle: dict[str, VehicleInfo] = {}
        for v in m.vehicles:
            if v.id in vehicles:
                raise VraiToolsError(
                    f"vehicle {v.id} is defined in {ds.matching_path(vehicles[v.id].pair_id)} and "
                    f"{ds.matching_path(pair.id)}: run `vrai-tools validate {ds.root}`")
            info = VehicleInfo(v.id, pair.id, v.attributes, provenance=v.provenance)
            vehicles[v.id] = info
            for tid in v.tracklets:
                tracklet_vehicle[tid] = info
        for t in m.tracklets:
            vinfo = tracklet_vehicle.get(t.id)
            for key in t.instances:
                owner[key] = (vinfo, t.id, t.no_match)

    empty = Attributes()
    records: list[InstanceRecord] = []
    for clip in manifest.clips:
        frames = {f.index: f for f in clip.frames}
        ann = annotations[clip.id]
        for inst in sorted(ann.instances, key=lambda i: int(i.key.rpartition(":")[2])):
            f = frames.get(inst.frame)
            vinfo, tid, no_match = owner.get(inst.key, (None, None, False))
            base = vinfo.attributes if vinfo is not None else empty
            own = inst.attributes
            if own == empty:
                attrs = base
            elif base is empty:
                attrs = own
            else:
                attrs = own.merged_over(base)
            records.append(InstanceRecord(
                key=inst.key, clip_id=clip.id, pair_id=clip.pair, camera=clip.camera, frame=inst.frame,
                frame_file=f.file if f is not None else ds.frame_rel(clip.id, inst.frame),
                frame_size=clip.frame_size(f) if f is not None else (clip.width, clip.height),
                corners=inst.corners, bbox=inst.bbox, attributes=attrs, parts=inst.parts,
                vehicle_id=vinfo.id if vinfo is not None else None, tracklet_id=tid, no_match=no_match,
                provenance=inst.provenance, video_frame=f.video_frame if f is not None else None,
                altitude=f.altitude if f is not None else None,
            ))
            if vinfo is not None:
                vinfo.keys.append(inst.key)
                vinfo.cameras.add(clip.camera)
    frames_done = {cid: len(a.frames_done) for cid, a in annotations.items()}
    return DatasetIndex(ds, manifest, records, vehicles, matchings, frames_done)

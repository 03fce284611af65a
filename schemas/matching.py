"""``matching/<pair_id>.json``: tracklets inside each clip and vehicles linking them (stage 2)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Identifier, InstanceKey, VehicleId, VraiModel, clip_of_key
from .common import Attributes, Provenance


class Tracklet(VraiModel):
    """Instances of one clip, at most one per frame, in time order (checked against the clip file)."""

    id: Identifier
    clip_id: Identifier
    instances: list[InstanceKey]
    no_match: bool = False  # decided: this vehicle never appears in the other camera
    provenance: Provenance | None = None


class Vehicle(VraiModel):
    """The identity. Vehicle-level attributes apply to every instance unless overridden."""

    id: VehicleId
    tracklets: list[Identifier]
    attributes: Attributes = Field(default_factory=Attributes)
    uncertain: bool = False
    provenance: Provenance | None = None


class PairMatching(VraiModel):
    schema_version: Literal[1] = 1
    pair_id: Identifier
    tracklets: list[Tracklet] = Field(default_factory=list)
    vehicles: list[Vehicle] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rules(self) -> "PairMatching":
        tids: dict[str, Tracklet] = {}
        owner: dict[str, str] = {}
        for i, t in enumerate(self.tracklets):
            if t.id in tids:
                raise ValueError(f"tracklets[{i}].id {t.id!r} is duplicated")
            tids[t.id] = t
            if not t.instances:
                raise ValueError(f"tracklets[{i}] ({t.id}) has no instances")
            for key in t.instances:
                if clip_of_key(key) != t.clip_id:
                    raise ValueError(
                        f"tracklets[{i}] ({t.id}) spans two clips: {key!r} is not in clip {t.clip_id!r}"
                    )
                if key in owner:
                    raise ValueError(f"tracklets[{i}] ({t.id}): instance {key!r} is already in tracklet {owner[key]!r}")
                owner[key] = t.id
        vids: set[int] = set()
        used: dict[str, int] = {}
        for i, v in enumerate(self.vehicles):
            if v.id in vids:
                raise ValueError(f"vehicles[{i}].id {v.id} is duplicated")
            vids.add(v.id)
            for tid in v.tracklets:
                if tid not in tids:
                    raise ValueError(f"vehicles[{i}] (id {v.id}) refers to unknown tracklet {tid!r}")
                if tid in used:
                    raise ValueError(f"vehicles[{i}] (id {v.id}): tracklet {tid!r} already belongs to vehicle {used[tid]}")
                used[tid] = v.id
        return self

    def tracklet(self, tid: str) -> Tracklet:
        for t in self.tracklets:
            if t.id == tid:
                return t
        raise KeyError(tid)

    def vehicle_of_instance(self) -> dict[str, int]:
        tracklet_vehicle = {tid: v.id for v in self.vehicles for tid in v.tracklets}
        return {
            key: tracklet_vehicle[t.id]
            for t in self.tracklets
            if t.id in tracklet_vehicle
            for key in t.instances
        }

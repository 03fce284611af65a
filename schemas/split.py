"""``splits/<name>.json``: the paper's §5.1 protocol (or a hold-out of an imported release)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Identifier, InstanceKey, VehicleId, VraiModel

Protocol = Literal["vrai", "release-holdout", "release"]


class Split(VraiModel):
    schema_version: Literal[1] = 1
    name: Identifier
    seed: int
    protocol: Protocol = "vrai"
    test_fraction: float = Field(ge=0, le=1)
    query_fraction: float = Field(default=0.25, ge=0, le=1)
    train_vehicles: list[VehicleId]
    test_vehicles: list[VehicleId]
    train: list[InstanceKey]
    query: list[InstanceKey]
    gallery: list[InstanceKey]
    excluded_single_camera: int = Field(default=0, ge=0)  # vehicles seen by one camera only, left out

    @model_validator(mode="after")
    def _disjoint(self) -> "Split":
        shared = sorted(set(self.train_vehicles) & set(self.test_vehicles))
        if shared:
            raise ValueError(f"train_vehicles and test_vehicles share vehicle(s) {shared[:10]}")
        for name, keys in (("train", self.train), ("query", self.query), ("gallery", self.gallery)):
            if len(set(keys)) != len(keys):
                raise ValueError(f"{name} lists an instance twice")
        for a, b in (("train", "query"), ("train", "gallery"), ("query", "gallery")):
            both = set(getattr(self, a)) & set(getattr(self, b))
            if both:
                raise ValueError(f"{a} and {b} share instance(s) {sorted(both)[:5]}")
        return self

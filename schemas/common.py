"""Pieces shared by several documents: attributes, parts, provenance."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from .base import Seconds, VraiModel, XyxyBox
from .vocab import Color, VehicleType


class Attributes(VraiModel):
    """Every field may be unset (None): 'not annotated yet' is different from False."""

    color: Color | None = None
    type: VehicleType | None = None
    skylight: bool | None = None
    bumper: bool | None = None
    spare_tire: bool | None = None
    luggage_rack: bool | None = None

    def merged_over(self, base: "Attributes") -> "Attributes":
        """Per-instance overrides on top of vehicle-level attributes."""
        data = base.model_dump()
        data.update({k: v for k, v in self.model_dump().items() if v is not None})
        return Attributes(**data)

    def is_complete(self) -> bool:
        return all(v is not None for v in self.model_dump().values())


class Parts(VraiModel):
    """Discriminative parts of one instance, in frame pixels.

    ``todo``: not looked at yet; ``none``: looked at, nothing discriminative found
    (the paper lets annotators skip); ``done``: at least one box.
    """

    state: Literal["todo", "done", "none"] = "todo"
    boxes: list[XyxyBox] = Field(default_factory=list)

    @model_validator(mode="after")
    def _state_matches_boxes(self) -> "Parts":
        if self.state == "none" and self.boxes:
            raise ValueError(f"state 'none' but {len(self.boxes)} part box(es) given")
        if self.state == "done" and not self.boxes:
            raise ValueError("state 'done' needs at least one part box (use state 'none' for none found)")
        return self


class Provenance(VraiModel):
    """Who did a stage, when, and how long it took (annotation speed is a product metric)."""

    annotator: str
    at: datetime
    seconds: Seconds = 0.0
    source: Literal["human", "synthetic", "model", "carried", "import"] = "human"

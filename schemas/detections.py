"""Part detections: top-k boxes with scores per instance, from ``vrai-tools detect-parts``."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import InstanceKey, VraiModel, XyxyBox


class ScoredBox(VraiModel):
    box: XyxyBox  # frame pixels, like ground-truth parts
    score: float = Field(ge=0, le=1)


class PartDetections(VraiModel):
    schema_version: Literal[1] = 1
    detector: str  # run folder or checkpoint the boxes came from
    split: str | None = None
    conf_threshold: float = 0.25
    nms_threshold: float = 0.4
    top_k: int = 3
    instances: dict[InstanceKey, list[ScoredBox]] = Field(default_factory=dict)

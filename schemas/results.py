"""Metrics files: every number says where it comes from."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from .base import VraiModel


class MetricsProvenance(VraiModel):
    dataset: str
    split: str
    seed: int
    protocol: Literal["vrai-5.1", "release-holdout", "evalai"]
    parts: Literal["detected", "ground-truth", "none"] = "none"
    run: str | None = None
    created: datetime | None = None


class ReidMetrics(VraiModel):
    schema_version: Literal[1] = 1
    provenance: MetricsProvenance
    feature: Literal["avg", "weighted"] = "avg"
    metric: Literal["euclidean", "cosine"] = "euclidean"
    mAP: float
    cmc: dict[str, float]  # "1", "5", "10" -> rate
    mINP: float
    num_query: int
    num_gallery: int
    skipped_queries: int = 0
    attributes: dict[str, float] = Field(default_factory=dict)  # attribute accuracies (Table 2)
    extra: dict[str, float] = Field(default_factory=dict)

"""The top-level documents: kind name -> model and current schema version."""
from __future__ import annotations

from typing import get_args

from pydantic import BaseModel

from .annotations import ClipAnnotations
from .detections import PartDetections
from .human_eval import HumanEvalResults
from .manifest import Manifest
from .matching import PairMatching
from .results import ReidMetrics
from .split import Split

DOCUMENTS: dict[str, type[BaseModel]] = {
    "manifest": Manifest,
    "clip-annotations": ClipAnnotations,
    "pair-matching": PairMatching,
    "split": Split,
    "part-detections": PartDetections,
    "reid-metrics": ReidMetrics,
    "human-eval-results": HumanEvalResults,
}


def current_version(model: type[BaseModel]) -> int:
    (version,) = get_args(model.model_fields["schema_version"].annotation)
    return int(version)


def kind_of(model: type[BaseModel]) -> str:
    for kind, m in DOCUMENTS.items():
        if m is model:
            return kind
    raise KeyError(model.__name__)

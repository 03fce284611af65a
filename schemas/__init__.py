"""The on-disk contract of vrai-tools: pydantic v2 models, imports pydantic and stdlib only."""
from .annotations import ClipAnnotations, Instance, bbox_of_corners, corners_problem
from .base import SCHEMA_VERSION, VraiModel, clip_of_key
from .common import Attributes, Parts, Provenance
from .detections import PartDetections, ScoredBox
from .documents import DOCUMENTS, current_version, kind_of
from .human_eval import HumanEvalResults, HumanEvalTrial
from .manifest import Clip, Frame, LocationPair, Manifest
from .matching import PairMatching, Tracklet, Vehicle
from .results import MetricsProvenance, ReidMetrics
from .split import Split
from .vocab import COLORS, FLAGS, STAGES, TYPES

__all__ = [
    "Attributes", "Clip", "ClipAnnotations", "COLORS", "DOCUMENTS", "FLAGS", "Frame", "HumanEvalResults",
    "HumanEvalTrial", "Instance", "LocationPair", "Manifest", "MetricsProvenance", "PairMatching", "PartDetections",
    "Parts", "Provenance", "ReidMetrics", "SCHEMA_VERSION", "STAGES", "ScoredBox", "Split", "TYPES",
    "Tracklet", "Vehicle", "VraiModel", "bbox_of_corners", "clip_of_key", "corners_problem",
    "current_version", "kind_of",
]

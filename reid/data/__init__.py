"""ReID data: split items, the dataset, PK sampling and the box-aware transforms."""
from __future__ import annotations

from .dataset import ReidDataset, collate, load_crop
from .items import PartsSource, ReidItem, SplitItems, attribute_targets, build_items, choose_crops, load_part_detections
from .sampler import PKSampler, SamplingError, SeededBatches
from .transforms import RandomRightAngleRotation, eval_transforms, train_transforms

__all__ = [
    "PKSampler", "PartsSource", "RandomRightAngleRotation", "ReidDataset", "ReidItem", "SamplingError",
    "SeededBatches", "SplitItems", "attribute_targets", "build_items", "choose_crops", "collate", "eval_transforms",
    "load_crop", "load_part_detections", "train_transforms",
]

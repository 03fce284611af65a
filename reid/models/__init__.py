"""ReID networks: torchvision ResNet backbones, BN neck, heads and weighted pooling."""
from __future__ import annotations

from .backbone import BACKBONES, Backbone, BackboneName, map_size
from .normalize import IMAGENET_MEAN, IMAGENET_STD, InputNormalize
from .pooling import DEFAULT_GAMMA, average_pool, part_weight_map, weighted_pool
from .reid_model import FeatureKind, ModelSpec, ReidModel, embedding
from .weights import LoadReport, WeightsError, load_pretrained, load_state_dict_strict, read_weights

__all__ = [
    "BACKBONES", "Backbone", "BackboneName", "DEFAULT_GAMMA", "FeatureKind", "IMAGENET_MEAN", "IMAGENET_STD",
    "InputNormalize", "LoadReport", "ModelSpec", "ReidModel", "WeightsError", "average_pool", "embedding",
    "load_pretrained", "load_state_dict_strict", "map_size", "part_weight_map", "read_weights", "weighted_pool",
]

"""ReID losses, one small module each, and the preset-weighted sum."""
from __future__ import annotations

from .classification import MaskedBCEWithLogits, MaskedCrossEntropy
from .contrastive import ContrastiveLoss
from .criterion import ReidCriterion
from .triplet import BatchHardMiner, TripletLoss, euclidean_distances

__all__ = ["BatchHardMiner", "ContrastiveLoss", "MaskedBCEWithLogits", "MaskedCrossEntropy", "ReidCriterion",
           "TripletLoss", "euclidean_distances"]

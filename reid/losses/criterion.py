"""The weighted sum of a preset's loss terms over one forward pass."""
from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from .classification import MaskedBCEWithLogits, MaskedCrossEntropy
from .contrastive import ContrastiveLoss
from .triplet import TripletLoss

__all__ = ["ReidCriterion"]


class ReidCriterion(nn.Module):
    """``forward(out, batch) -> (total, parts)``; ``parts`` maps each term to its (unweighted) value.

    ``out`` is the model's output dict, ``batch`` the collated batch (``label``, ``color``,
    ``type``, ``flags``).
    """

    def __init__(self, weights: Mapping[str, float], *, triplet_margin: float = 0.3, contrastive_margin: float = 1.0,
                 label_smoothing: float = 0.1) -> None:
        super().__init__()
        self.weights = dict(weights)
        self.triplet = TripletLoss(triplet_margin)
        self.contrastive = ContrastiveLoss(contrastive_margin)
        self.id_ce = MaskedCrossEntropy(label_smoothing)
        self.attr_ce = MaskedCrossEntropy(0.0)
        self.bce = MaskedBCEWithLogits()

    def term(self, name: str, out: Mapping[str, torch.Tensor], batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        labels = batch["label"]
        if name == "triplet":
            return self.triplet(out["feat"], labels)
        if name == "triplet_weighted":
            if "weighted_feat" not in out:
                raise ValueError("triplet_weighted needs the weighted feature: pass part boxes to the model")
            return self.triplet(out["weighted_feat"], labels)
        if name == "contrastive":
            return self.contrastive(out["feat"], labels)
        if name == "id":
            return self.id_ce(out["id"], labels)
        if name in ("color", "type"):
            return self.attr_ce(out[name], batch[name])
        if name == "flags":
            return self.bce(out["flags"], batch["flags"])
        raise KeyError(f"unknown loss term {name!r}")

    def forward(self, out: Mapping[str, torch.Tensor],
                batch: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        parts: dict[str, torch.Tensor] = {}
        total: torch.Tensor | None = None
        for name, w in self.weights.items():
            value = self.term(name, out, batch)
            parts[name] = value.detach()
            total = value * w if total is None else total + value * w
        assert total is not None, "a criterion needs at least one loss term"
        return total, parts

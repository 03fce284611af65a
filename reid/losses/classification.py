"""Classification losses with "not annotated" targets (``-1``) masked out.

Unset attributes must teach nothing (neither "wrong" nor "right"). A batch where a head has
no labelled target contributes ``0 * logits.sum()``: zero, yet the head stays in the graph
(DistributedDataParallel expects a gradient for every parameter every step).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MaskedBCEWithLogits", "MaskedCrossEntropy"]


class MaskedCrossEntropy(nn.Module):
    """Cross-entropy, optionally label-smoothed (the ID loss uses 0.1, Szegedy et al.)."""

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mask = target >= 0
        if not bool(mask.any()):
            return logits.sum() * 0.0
        return F.cross_entropy(logits[mask].float(), target[mask], label_smoothing=self.label_smoothing)


class MaskedBCEWithLogits(nn.Module):
    """Binary cross-entropy over the labelled entries of (B, F) flag targets in {-1, 0, 1}."""

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mask = target >= 0
        if not bool(mask.any()):
            return logits.sum() * 0.0
        return F.binary_cross_entropy_with_logits(logits[mask].float(), target[mask].float())

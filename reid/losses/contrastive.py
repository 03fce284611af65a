"""Contrastive loss (Hadsell et al. 2006), the paper's Table 3 baseline.

Over every pair of the batch: same identity pulls (``d^2``), different identities push
until the margin (``max(0, margin - d)^2``); the two means are added, so a PK batch's
many negative pairs do not drown its few positive ones. Features are L2-normalised first
by default (distances in [0, 2], so one margin suits every backbone width).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .triplet import euclidean_distances

__all__ = ["ContrastiveLoss"]


class ContrastiveLoss(nn.Module):
    def __init__(self, margin: float = 1.0, normalize: bool = True) -> None:
        super().__init__()
        self.margin = margin
        self.normalize = normalize

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = F.normalize(features.float(), dim=1) if self.normalize else features.float()
        dist = euclidean_distances(x)
        n = len(labels)
        upper = torch.triu(torch.ones(n, n, dtype=torch.bool, device=dist.device), diagonal=1)
        same = (labels[:, None] == labels[None, :]) & upper
        diff = (labels[:, None] != labels[None, :]) & upper
        loss = features.sum() * 0.0
        if bool(same.any()):
            loss = loss + dist[same].pow(2).mean()
        if bool(diff.any()):
            loss = loss + torch.relu(self.margin - dist[diff]).pow(2).mean()
        return loss

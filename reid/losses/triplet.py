"""Batch-hard triplet loss (Hermans et al. 2017; the paper's margin 0.3).

Mining and loss are separate: :class:`BatchHardMiner` picks, under ``no_grad``, for each
anchor the farthest same-identity sample and the closest other-identity sample; the loss
then takes those two distances *with* gradients. Anchors with no other identity in the
batch are left out (their triplet does not exist); an anchor with no other image of its
identity uses itself as the positive (distance 0).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["BatchHardMiner", "TripletLoss", "euclidean_distances"]


def euclidean_distances(x: torch.Tensor) -> torch.Tensor:
    """(N, N) Euclidean distances in float32; the clamp keeps sqrt's gradient finite at 0.

    The diagonal is set to 0 before the square root: ``|x|^2 + |x|^2 - 2 x.x`` is not 0 in
    floating point (about 0.2 for a feature of norm 450), and a sample's distance to itself
    is what an anchor without another image of its identity uses as its positive.
    """
    x = x.float()
    sq = (x * x).sum(dim=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (x @ x.t())
    eye = torch.eye(len(x), dtype=torch.bool, device=x.device)
    return d2.masked_fill(eye, 0.0).clamp_min(1e-12).sqrt()


class BatchHardMiner(nn.Module):
    @torch.no_grad()
    def forward(self, dist: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Indices of the hardest positive and negative per anchor, and which anchors are valid."""
        same = labels[:, None] == labels[None, :]
        pos = dist.masked_fill(~same, float("-inf")).argmax(dim=1)
        neg_dist = dist.masked_fill(same, float("inf"))
        neg = neg_dist.argmin(dim=1)
        valid = (~same).any(dim=1)
        return pos, neg, valid


class TripletLoss(nn.Module):
    def __init__(self, margin: float = 0.3, miner: nn.Module | None = None) -> None:
        super().__init__()
        self.margin = margin
        self.miner = miner if miner is not None else BatchHardMiner()

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        dist = euclidean_distances(features)
        pos, neg, valid = self.miner(dist.detach(), labels)
        if not bool(valid.any()):
            return features.sum() * 0.0  # one identity in the batch: no triplet, but keep the graph
        rows = torch.arange(len(labels), device=dist.device)
        ap = dist[rows, pos]
        an = dist[rows, neg]
        return torch.relu(ap - an + self.margin)[valid].mean()

"""The paper's learning-rate schedule, scaled to any number of epochs.

lr is constant for the first ``decay_start`` fraction of the epochs (epochs 1..150 of 300),
then decays exponentially so the last epoch runs at ``final_factor`` (1e-3) times the
initial rate. The first decaying epoch is ``ceil(epochs * decay_start) + 1`` (151 of 300),
which keeps a 1-epoch run at the full rate instead of at 1e-3 of it.
"""
from __future__ import annotations

import math

import torch

__all__ = ["decay_start_epoch", "lr_factor", "make_scheduler"]


def decay_start_epoch(epochs: int, decay_start: float = 0.5) -> int:
    """The first (1-based) epoch that runs below the initial rate."""
    return math.ceil(epochs * decay_start) + 1


def lr_factor(epoch: int, epochs: int, decay_start: float = 0.5, final_factor: float = 1e-3) -> float:
    """Multiplier of the initial lr during 1-based ``epoch``."""
    start = decay_start_epoch(epochs, decay_start)
    epoch = min(epoch, epochs)  # the scheduler steps once more after the last epoch (a 1-epoch run divided by 0)
    if epoch < start:
        return 1.0
    steps = epochs - start + 1
    return final_factor ** ((epoch - start + 1) / steps)


def make_scheduler(optimizer: torch.optim.Optimizer, epochs: int, decay_start: float = 0.5,
                   final_factor: float = 1e-3) -> torch.optim.lr_scheduler.LambdaLR:
    """Stepped once per epoch, after it; ``LambdaLR``'s index 0 is epoch 1."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: lr_factor(i + 1, epochs, decay_start, final_factor))

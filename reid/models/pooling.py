"""Average and weighted pooling of the backbone's feature map (paper §4.2).

The weighted feature stresses the discriminative parts: an h x w weight map (11 x 11 for a
352 px input) is ``gamma`` on cells covered by a part box and 1 elsewhere, and the map is
pooled with those weights. The sum is divided by the sum of the weights, so ``gamma = 1``
(or an image without parts) gives exactly the average-pooled feature, and the two
features stay on the same scale for any ``gamma`` (paper Table 5 sweeps 1.1..1.9).

Which cells a box covers: those whose centre lies inside the box, plus the cell holding
the box's own centre (so a part smaller than one cell - a 20 px mark in a 352 px crop is
less than a 32 px cell - still counts).
"""
from __future__ import annotations

import torch

DEFAULT_GAMMA = 1.3

__all__ = ["DEFAULT_GAMMA", "average_pool", "part_weight_map", "weighted_pool"]


def part_weight_map(boxes: torch.Tensor, mask: torch.Tensor | None, image_size: tuple[int, int],
                    map_size: tuple[int, int], gamma: float = DEFAULT_GAMMA) -> torch.Tensor:
    """(B, h, w) weights from part boxes (B, K, 4) xyxy in input-image pixels.

    ``mask`` (B, K) marks the real boxes of a padded batch (None: all real).
    ``image_size`` and ``map_size`` are (height, width).
    """
    b, k = boxes.shape[:2]
    h, w = map_size
    img_h, img_w = image_size
    device = boxes.device
    if k == 0:
        return torch.ones((b, h, w), device=device)
    boxes = boxes.float()
    x1, y1, x2, y2 = boxes.unbind(-1)  # (B, K)
    cx = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) * (img_w / w)
    cy = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) * (img_h / h)
    in_x = (cx >= x1[..., None]) & (cx < x2[..., None])  # (B, K, w)
    in_y = (cy >= y1[..., None]) & (cy < y2[..., None])  # (B, K, h)
    col = ((x1 + x2) * 0.5 * (w / img_w)).floor().clamp(0, w - 1).long()
    row = ((y1 + y2) * 0.5 * (h / img_h)).floor().clamp(0, h - 1).long()
    at_x = torch.arange(w, device=device) == col[..., None]
    at_y = torch.arange(h, device=device) == row[..., None]
    hit = (in_y[..., :, None] & in_x[..., None, :]) | (at_y[..., :, None] & at_x[..., None, :])  # (B, K, h, w)
    if mask is not None:
        hit &= mask[..., None, None].to(torch.bool)
    covered = hit.any(dim=1)
    return 1.0 + (gamma - 1.0) * covered.float()


def average_pool(fmap: torch.Tensor) -> torch.Tensor:
    return fmap.mean(dim=(2, 3))


def weighted_pool(fmap: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(B, C) feature: ``sum(weights * fmap) / sum(weights)`` over the map."""
    if weights.shape[-2:] != fmap.shape[-2:] or weights.shape[0] != fmap.shape[0]:
        raise ValueError(f"weight map {tuple(weights.shape)} does not fit feature map {tuple(fmap.shape)}")
    wts = weights.to(fmap.dtype)
    return (fmap * wts[:, None]).sum(dim=(2, 3)) / wts.sum(dim=(1, 2))[:, None]

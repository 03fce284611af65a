"""Training and evaluation transforms (torchvision transforms v2 over ``tv_tensors``).

Samples are dicts holding a ``tv_tensors.Image`` (uint8, CHW) and the part boxes as
``tv_tensors.BoundingBoxes`` in the same pixels, so every geometric transform moves the
boxes with the image (the weighted-pooling branch needs them where the parts are *after*
a flip or a rotation). Paper §5.1 training augmentation: resize to S x S (352 in the
paper), rotation by 90/180/270 degrees with probability 0.2, horizontal flip with
probability 0.5.

Pixel normalisation is NOT done here: images stay uint8 until they reach the model, whose
first layer (:class:`reid.models.normalize.InputNormalize`) is the one place that maps
pixels to network inputs. Anything that feeds the model (training, evaluation, the
annotator's assistance, an export) passes RGB uint8 or float in [0, 1], never
pre-normalised tensors.
"""
from __future__ import annotations

from typing import Any

import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

__all__ = ["RandomRightAngleRotation", "eval_transforms", "train_transforms"]


class RandomRightAngleRotation(v2.Transform):
    """With probability ``p``, rotate by 90, 180 or 270 degrees (equally likely).

    Exact for images (a rotation by a right angle only permutes pixels) and for boxes.
    ``expand=True`` keeps the whole picture when the input is not square.
    """

    def __init__(self, p: float = 0.2) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = p

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        if torch.rand(1).item() >= self.p:
            return {"angle": 0}
        return {"angle": 90 * int(torch.randint(1, 4, (1,)).item())}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if params["angle"] == 0:
            return inpt
        return F.rotate(inpt, params["angle"], expand=True)


def train_transforms(size: int, *, rotate_p: float = 0.2, hflip_p: float = 0.5) -> v2.Compose:
    """Resize first: the rotations and flips then work on S x S pixels, not the full crop."""
    return v2.Compose([
        v2.Resize((size, size), antialias=True),
        RandomRightAngleRotation(rotate_p),
        v2.RandomHorizontalFlip(hflip_p),
        v2.ClampBoundingBoxes(),
    ])


def eval_transforms(size: int) -> v2.Compose:
    return v2.Compose([v2.Resize((size, size), antialias=True), v2.ClampBoundingBoxes()])

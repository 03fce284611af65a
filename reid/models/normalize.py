"""The one place where pixels become network inputs.

Everything upstream (datasets, transforms, the annotator, exports) hands the model RGB
images as uint8 (0..255) or float in [0, 1]; :class:`InputNormalize`, the model's first
layer, converts them to float and subtracts the ImageNet mean / divides by its standard
deviation (the statistics torchvision's ResNet weights were trained with, so a
``--pretrained`` ImageNet file sees the inputs it expects). The constants are buffers that
are *not* saved in checkpoints: they are part of the code, not of the weights, so an old
checkpoint can never carry different statistics.
"""
from __future__ import annotations

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "InputNormalize"]


class InputNormalize(nn.Module):
    def __init__(self, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype == torch.uint8:
            x = images.to(self.mean.dtype).div_(255.0)
        elif images.is_floating_point():
            x = images.to(self.mean.dtype)
        else:
            raise TypeError(f"images must be uint8 or float in [0, 1], got {images.dtype}")
        return (x - self.mean) / self.std

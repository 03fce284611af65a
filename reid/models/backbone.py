"""torchvision ResNets as feature-map extractors, offline (``weights=None``).

Input 352 x 352 gives an 11 x 11 map with the standard last stride of 2 (total stride 32),
the map the paper's weighted pooling is defined on. ``last_stride=1`` (a common ReID
trick) doubles the map to 22 x 22 at about 1.5-2x the compute of the last stage.
"""
from __future__ import annotations

from typing import Literal

import torch
import torchvision
from torch import nn

BackboneName = Literal["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
BACKBONES: tuple[str, ...] = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")

__all__ = ["BACKBONES", "Backbone", "BackboneName", "map_size"]


class Backbone(nn.Module):
    """A ResNet without its pooling and classifier; ``forward`` returns the last feature map.

    Parameter names are torchvision's (``conv1.weight``, ``layer4.2.bn3.bias``...), so an
    ImageNet state dict for the same depth loads into it key for key (minus ``fc.*``).
    """

    def __init__(self, name: str = "resnet50", last_stride: int = 2) -> None:
        super().__init__()
        if name not in BACKBONES:
            raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
        if last_stride not in (1, 2):
            raise ValueError(f"last_stride must be 1 or 2, got {last_stride}")
        net = getattr(torchvision.models, name)(weights=None)
        if last_stride == 1:
            block = net.layer4[0]
            for m in block.modules():
                if isinstance(m, nn.Conv2d) and m.stride == (2, 2):
                    m.stride = (1, 1)
        self.name = name
        self.out_channels: int = net.fc.in_features
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.stride = 16 * last_stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def map_size(size: int, stride: int = 32) -> int:
    """Side of the feature map for a square input (torchvision ResNet arithmetic)."""
    s = size
    for _ in range({32: 5, 16: 4}[stride]):
        s = (s + 1) // 2
    return s

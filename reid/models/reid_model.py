"""The ReID network: backbone -> average pooling -> BN neck -> heads (paper §4, Fig. 5).

Outputs (a dict of tensors, so DistributedDataParallel can find them):

- ``feat``: the average-pooled feature (B, C), where the triplet/contrastive losses act;
- ``neck``: ``feat`` through the BN neck (the "BNNeck" of Luo et al. 2019), where the
  classifiers read; with no classifier there is no neck and ``neck`` is ``feat``;
- ``id`` (B, num_ids), ``color`` (B, 9), ``type`` (B, 7), ``flags`` (B, 4): head logits,
  present when the model has those heads (a preset builds only the heads it trains, so
  no parameter is ever unused - DDP requires that);
- ``weighted_feat`` / ``weighted_neck``: the weighted-pooling feature of the same map
  when part boxes are given (``multitask+dp``, paper §4.2), its neck form in eval mode only
  (in training the neck's running statistics must only see the average feature).

The retrieval embedding (:func:`embedding`) is ``neck`` (or ``weighted_neck``): with the
neck in eval mode it is a fixed per-channel affine map of the pooled feature, the same
for both features, so ``gamma = 1`` gives identical average and weighted embeddings.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import nn

from schemas import COLORS, FLAGS, TYPES

from .backbone import Backbone
from .normalize import InputNormalize
from .pooling import DEFAULT_GAMMA, average_pool, part_weight_map, weighted_pool

FeatureKind = Literal["avg", "weighted"]

__all__ = ["FeatureKind", "ModelSpec", "ReidModel", "embedding"]


@dataclass(frozen=True)
class ModelSpec:
    backbone: str = "resnet50"
    last_stride: int = 2
    num_ids: int = 0  # 0: no identity classifier
    attributes: bool = False  # colour, type and the four flags
    weighted: bool = False  # the weighted-pooling branch is trained (it can always be evaluated)
    gamma: float = DEFAULT_GAMMA

    @property
    def neck(self) -> bool:
        return self.num_ids > 0 or self.attributes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ReidModel(nn.Module):
    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        self.normalize = InputNormalize()
        self.backbone = Backbone(spec.backbone, spec.last_stride)
        dim = self.backbone.out_channels
        self.feat_dim = dim
        self.neck: nn.BatchNorm1d | None = None
        if spec.neck:
            self.neck = nn.BatchNorm1d(dim)
            self.neck.bias.requires_grad_(False)  # BNNeck: a shift would only move every class together
        self.id_head = nn.Linear(dim, spec.num_ids, bias=False) if spec.num_ids > 0 else None
        self.color_head = nn.Linear(dim, len(COLORS)) if spec.attributes else None
        self.type_head = nn.Linear(dim, len(TYPES)) if spec.attributes else None
        self.flag_head = nn.Linear(dim, len(FLAGS)) if spec.attributes else None
        for head in (self.id_head, self.color_head, self.type_head, self.flag_head):
            if head is not None:
                nn.init.normal_(head.weight, std=0.001)
                if head.bias is not None:
                    nn.init.zeros_(head.bias)

    def _neck(self, feat: torch.Tensor) -> torch.Tensor:
        return self.neck(feat) if self.neck is not None else feat

    def forward(self, images: torch.Tensor, parts: torch.Tensor | None = None, parts_mask: torch.Tensor | None = None,
                gamma: float | None = None) -> dict[str, torch.Tensor]:
        fmap = self.backbone(self.normalize(images))
        feat = average_pool(fmap)
        neck = self._neck(feat)
        out = {"feat": feat, "neck": neck}
        if self.id_head is not None:
            out["id"] = self.id_head(neck)
        if self.color_head is not None and self.type_head is not None and self.flag_head is not None:
            out["color"] = self.color_head(neck)
            out["type"] = self.type_head(neck)
            out["flags"] = self.flag_head(neck)
        if parts is not None:
            weights = part_weight_map(parts, parts_mask, tuple(images.shape[-2:]), tuple(fmap.shape[-2:]),  # type: ignore[arg-type]
                                      self.spec.gamma if gamma is None else gamma)
            wfeat = weighted_pool(fmap, weights)
            out["weighted_feat"] = wfeat
            if not self.training:
                out["weighted_neck"] = self._neck(wfeat)
        return out


def embedding(out: dict[str, torch.Tensor], kind: FeatureKind = "avg") -> torch.Tensor:
    """The retrieval feature of a forward pass (eval mode)."""
    if kind == "avg":
        return out["neck"]
    if "weighted_neck" not in out:
        raise ValueError("weighted feature asked for but the forward pass had no part boxes")
    return out["weighted_neck"]

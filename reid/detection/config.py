"""The part detector's training configuration: one pydantic model, saved resolved in the run.

Defaults follow the paper where it says something (multi-scale 320..608 around 416,
confidence 0.25, NMS 0.4, IoU 0.5, top-3 boxes) and torchvision's detection references
otherwise. ``size`` is the evaluation/prediction input (longer side of the crop, in
pixels); training sizes are ``size`` times ``train_scale``, so ``--size 128`` gives a
CPU-sized run with the same proportions as the paper's.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from vrai_tools.errors import DatasetFileError, VraiToolsError
from vrai_tools.storage import atomic_write_text, read_json, validation_problems

from .model import Arch, Backbone, build_detector

# Options that change how a run executes, not what it computes: a resumed run may change them
# (``root`` too: a dataset may move between machines; the split name still has to match).
RUNTIME_FIELDS = frozenset({"root", "device", "workers", "eval_batch_size"})

__all__ = ["DetectorTrainConfig", "RUNTIME_FIELDS", "load_config", "model_from_config", "resolve_device",
           "save_config"]


class DetectorTrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root: str
    split: str
    arch: Arch = "fcos"
    backbone: Backbone = "resnet18"
    fpn_channels: int = Field(256, ge=64, multiple_of=32)
    trainable_backbone_layers: int = Field(5, ge=0, le=5)
    weights_backbone: str | None = None  # local ImageNet-style ResNet state dict; never downloaded
    size: int = Field(416, ge=32)
    train_scale: tuple[float, float] = (320 / 416, 608 / 416)
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(16, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    warmup_iters: int = Field(100, ge=0)
    clip_grad_norm: float | None = Field(10.0, gt=0)
    hflip: float = Field(0.5, ge=0, le=1)
    jitter: float = Field(0.2, ge=0, lt=1)
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # effective on CUDA only
    workers: int = Field(2, ge=0)
    eval_every: int = Field(0, ge=0)  # 0: evaluate after the last epoch only
    eval_batch_size: int = Field(32, ge=1)
    conf_threshold: float = Field(0.25, ge=0, le=1)
    nms_threshold: float = Field(0.4, gt=0, le=1)
    iou_threshold: float = Field(0.5, gt=0, le=1)
    top_k: int = Field(3, ge=1)
    figure_samples: int = Field(8, ge=0)
    max_train_images: int | None = Field(None, ge=1)  # seeded subsets for quick runs
    max_test_images: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _scale(self) -> "DetectorTrainConfig":
        lo, hi = self.train_scale
        if not 0 < lo <= hi:
            raise ValueError(f"train_scale {list(self.train_scale)} must satisfy 0 < low <= high")
        return self

    def semantic_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(mode="json").items() if k not in RUNTIME_FIELDS}


def save_config(path: Path, cfg: DetectorTrainConfig) -> None:
    import json

    atomic_write_text(path, json.dumps(cfg.model_dump(mode="json"), indent=1, sort_keys=True) + "\n")


def parse_config(data: Any, source: Path | str) -> DetectorTrainConfig:
    if not isinstance(data, dict):
        raise DatasetFileError(source, "expected a JSON object")
    try:
        return DetectorTrainConfig.model_validate(data)
    except ValidationError as e:
        field, msg = validation_problems(e)[0]
        raise DatasetFileError(source, msg, field or None) from None


def load_config(path: Path) -> DetectorTrainConfig:
    return parse_config(read_json(path), path)


def model_from_config(cfg: DetectorTrainConfig, *, with_backbone_weights: bool = True) -> torch.nn.Module:
    """The detector a config describes (random weights; checkpoints are loaded by the caller).

    ``with_backbone_weights=False`` when a checkpoint follows anyway: the backbone file
    may not exist on the machine that only runs prediction.
    """
    return build_detector(
        arch=cfg.arch, backbone=cfg.backbone, min_size=cfg.size, max_size=cfg.size,
        fpn_channels=cfg.fpn_channels, trainable_backbone_layers=cfg.trainable_backbone_layers,
        weights_backbone=cfg.weights_backbone if with_backbone_weights else None,
        frozen_bn=cfg.weights_backbone is not None,
        nms_thresh=cfg.nms_threshold,
    )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise VraiToolsError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise VraiToolsError(f"device {name!r} asked for but CUDA is not available here")
    return dev

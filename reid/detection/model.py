"""The one-class discriminative-part detector, built from torchvision's detection models.

Default architecture: **FCOS**. The paper used YOLOv3; of torchvision's detectors FCOS is
the closest in spirit (one stage, dense, one network pass) and the best fit for part
boxes, because it is anchor-free: parts range from a wing mirror to a whole roof
rack, at every aspect ratio, and FCOS assigns them to pyramid levels by size instead
of needing anchor shapes tuned to them (YOLOv3 re-clustered its anchors per dataset;
RetinaNet and Faster R-CNN would need the same). Its sigmoid classifier also takes a
single foreground class as is (no background logit), and it has the fewest knobs to
get wrong. RetinaNet and Faster R-CNN remain available (``arch=``) for comparison.

Pixel normalisation lives in one place only: the model's own
``GeneralizedRCNNTransform`` (ImageNet mean/std). Callers feed float RGB in [0, 1]
at any size; the transform resizes the crop so that its *longer* side equals the
input size (aspect ratio kept, see :func:`set_input_size`) and maps the predicted
boxes back to the coordinates of the image it was given.

Everything here is offline: torchvision builders are called with ``weights=None``
and ``weights_backbone=None``; pretrained weights come only from local files.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Iterator, Literal

import torch
from torch import nn
from torchvision import models
from torchvision.models.detection import FCOS, FasterRCNN, RetinaNet
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.retinanet import RetinaNetHead
from torchvision.ops import misc as misc_ops
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool, LastLevelP6P7

from vrai_tools.errors import VraiToolsError

Arch = Literal["fcos", "retinanet", "fasterrcnn"]
Backbone = Literal["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]
ARCHS: tuple[str, ...] = ("fcos", "retinanet", "fasterrcnn")
BACKBONES: tuple[str, ...] = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")

__all__ = ["ARCHS", "BACKBONES", "DetectorWeightsError", "build_detector", "inference_settings",
           "load_state_dict_strict", "part_label", "set_input_size"]


class DetectorWeightsError(VraiToolsError):
    """A weights file that cannot be read or does not fit the model."""


def part_label(arch: str) -> int:
    """The class index a part box carries in the targets.

    FCOS and RetinaNet score each class with its own sigmoid, so the one class is 0;
    Faster R-CNN reserves 0 for background, so parts are 1.
    """
    return 1 if arch == "fasterrcnn" else 0


def _read_state_dict(path: Path | str, what: str) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise DetectorWeightsError(f"{path}: {what} weights file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt file, pickle with code in it, ...
        raise DetectorWeightsError(f"{path}: cannot read {what} weights ({type(e).__name__}: {e})") from None
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]  # one of our checkpoints
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise DetectorWeightsError(f"{path}: not a state dict of tensors")
    return obj


def load_state_dict_strict(module: nn.Module, state: dict[str, torch.Tensor], source: str,
                           ignore: tuple[str, ...] = ()) -> None:
    """Load every key or fail naming the missing/unexpected ones (silent partial loads are a trap)."""
    state = {k: v for k, v in state.items() if not k.startswith(ignore)}
    own = module.state_dict()
    # BatchNorm's step counter is bookkeeping, absent from FrozenBatchNorm2d: never a real mismatch.
    counter = "num_batches_tracked"
    missing = sorted(k for k in own if k not in state and not k.startswith(ignore) and not k.endswith(counter))
    unexpected = sorted(k for k in state if k not in own and not k.endswith(counter))
    shape = sorted(k for k in state if k in own and state[k].shape != own[k].shape)
    if missing or unexpected or shape:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s) e.g. {missing[:3]}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s) e.g. {unexpected[:3]}")
        if shape:
            parts.append(f"shape mismatch for {shape[:3]}")
        raise DetectorWeightsError(f"{source}: weights do not fit the model: " + "; ".join(parts))
    module.load_state_dict(state, strict=False)  # every key was checked above


def _resnet_fpn(backbone: str, *, fpn_channels: int, trainable_layers: int, returned_layers: list[int],
                extra_blocks: nn.Module, weights_backbone: Path | str | None,
                frozen_bn: bool | None) -> BackboneWithFPN:
    """A torchvision ResNet (random or local weights) under a torchvision FPN.

    torchvision's own ``resnet_fpn_backbone`` fixes the FPN width at 256; we need it
    smaller for CPU-sized runs, so the same public pieces are assembled here.
    """
    if backbone not in BACKBONES:
        raise VraiToolsError(f"unknown backbone {backbone!r} (choose from {', '.join(BACKBONES)})")
    if not 0 <= trainable_layers <= 5:
        raise VraiToolsError(f"trainable_backbone_layers must be 0..5, got {trainable_layers}")
    pretrained = weights_backbone is not None
    # Frozen BN only when the statistics came from somewhere; from scratch BN must learn.
    frozen = pretrained if frozen_bn is None else frozen_bn
    norm = misc_ops.FrozenBatchNorm2d if frozen else nn.BatchNorm2d
    net = models.get_model(backbone, weights=None, norm_layer=norm)
    if pretrained:
        load_state_dict_strict(net, _read_state_dict(weights_backbone, "backbone"), str(weights_backbone),
                               ignore=("fc.",))
    train = ["layer4", "layer3", "layer2", "layer1", "conv1"][:trainable_layers]
    if trainable_layers == 5:
        train.append("bn1")
    for name, p in net.named_parameters():
        if not any(name.startswith(t) for t in train):
            p.requires_grad_(False)
    c2 = net.inplanes // 8  # channels of layer1's output
    in_channels = [c2 * 2 ** (i - 1) for i in returned_layers]
    return_layers = {f"layer{k}": str(v) for v, k in enumerate(returned_layers)}
    return BackboneWithFPN(net, return_layers, in_channels, fpn_channels, extra_blocks=extra_blocks)


def build_detector(
    *,
    arch: Arch = "fcos",
    backbone: Backbone = "resnet18",
    num_classes: int = 1,
    min_size: int = 416,
    max_size: int = 416,
    fpn_channels: int = 256,
    trainable_backbone_layers: int = 5,
    weights: Path | str | None = None,
    weights_backbone: Path | str | None = None,
    frozen_bn: bool | None = None,
    score_thresh: float = 0.05,
    nms_thresh: float = 0.4,
    detections_per_img: int = 100,
) -> nn.Module:
    """A torchvision detector for ``num_classes`` foreground classes (parts: 1).

    ``weights`` / ``weights_backbone`` are *local* files (a detector state dict or one of
    our checkpoints; a classification ResNet state dict whose ``fc`` is ignored), loaded
    strictly. ``frozen_bn`` (default: frozen iff ``weights_backbone``) picks the backbone's
    BatchNorm kind; a checkpoint restores only into the kind it was trained with.
    ``min_size == max_size == S`` makes the longer side of every input ``S``.
    ``score_thresh`` is low on purpose (AP needs the low-confidence tail); the paper's
    0.25 is applied by evaluation and prediction. NMS 0.4 is the paper's.
    """
    if arch not in ARCHS:
        raise VraiToolsError(f"unknown detector arch {arch!r} (choose from {', '.join(ARCHS)})")
    if num_classes < 1:
        raise VraiToolsError(f"num_classes must be >= 1, got {num_classes}")
    if min_size < 32 or max_size < min_size:
        raise VraiToolsError(f"input size must be >= 32 with max_size >= min_size, got {min_size}/{max_size}")
    if fpn_channels < 64 or fpn_channels % 32:
        # torchvision's FCOS/RetinaNet heads normalise with GroupNorm(32 groups); at 32 channels a
        # group of the 1x1 top level of a lone image holds one value and GroupNorm refuses it.
        raise VraiToolsError(f"fpn_channels must be a multiple of 32, at least 64, got {fpn_channels}")
    common = dict(min_size=min_size, max_size=max_size)
    f = fpn_channels
    model: nn.Module
    if arch == "fcos":
        body = _resnet_fpn(backbone, fpn_channels=f, trainable_layers=trainable_backbone_layers,
                           returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(f, f),
                           weights_backbone=weights_backbone, frozen_bn=frozen_bn)
        # Default anchors = strides 8..128 (P3-P7); FCOS uses them only as points.
        model = FCOS(body, num_classes, score_thresh=score_thresh, nms_thresh=nms_thresh,
                     detections_per_img=detections_per_img, **common)
        # torchvision's FCOS regresses relu(x): trained from scratch, early updates push x
        # below 0 at every location, the gradient vanishes and the box branch never recovers
        # (GIoU loss stuck at 1.0; seen on CPU-sized runs). Softplus before that relu keeps
        # the same positive distances with a gradient everywhere; it starts at one stride
        # per side, the scale FCOS assigns objects to a level by.
        reg = model.head.regression_head
        nn.init.constant_(reg.bbox_reg.bias, math.log(math.e - 1))  # softplus(b) = 1
        reg.bbox_reg = nn.Sequential(reg.bbox_reg, nn.Softplus())
    elif arch == "retinanet":
        body = _resnet_fpn(backbone, fpn_channels=f, trainable_layers=trainable_backbone_layers,
                           returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(f, f),
                           weights_backbone=weights_backbone, frozen_bn=frozen_bn)
        # Anchors half of torchvision's COCO ones: parts are small objects inside small crops.
        sizes = tuple((x, int(x * 2 ** (1 / 3)), int(x * 2 ** (2 / 3))) for x in (16, 32, 64, 128, 256))
        anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * len(sizes))
        head = RetinaNetHead(f, anchors.num_anchors_per_location()[0], num_classes,
                             norm_layer=partial(nn.GroupNorm, 32))
        head.regression_head._loss_type = "giou"
        model = RetinaNet(body, num_classes, anchor_generator=anchors, head=head, score_thresh=score_thresh,
                          nms_thresh=nms_thresh, detections_per_img=detections_per_img, **common)
    else:
        body = _resnet_fpn(backbone, fpn_channels=f, trainable_layers=trainable_backbone_layers,
                           returned_layers=[1, 2, 3, 4], extra_blocks=LastLevelMaxPool(),
                           weights_backbone=weights_backbone, frozen_bn=frozen_bn)
        anchors = AnchorGenerator(((16,), (32,), (64,), (128,), (256,)), ((0.5, 1.0, 2.0),) * 5)
        model = FasterRCNN(body, num_classes + 1, rpn_anchor_generator=anchors, box_score_thresh=score_thresh,
                           box_nms_thresh=nms_thresh, box_detections_per_img=detections_per_img, **common)
    if weights is not None:
        load_state_dict_strict(model, _read_state_dict(weights, "detector"), str(weights))
    return model


def set_input_size(model: nn.Module, size: int) -> None:
    """Make the model resize every input so that its longer side is ``size`` pixels.

    With min_size = max_size = S the transform's scale is min(S/short, S/long) = S/long,
    whatever the crop's aspect ratio; multi-scale training calls this once per batch.
    """
    model.transform.min_size = (int(size),)  # type: ignore[union-attr]
    model.transform.max_size = int(size)  # type: ignore[union-attr]


def _threshold_holder(model: nn.Module) -> tuple[nn.Module, str, str, str]:
    if isinstance(model, FasterRCNN):
        return model.roi_heads, "score_thresh", "nms_thresh", "detections_per_img"
    return model, "score_thresh", "nms_thresh", "detections_per_img"


@contextmanager
def inference_settings(model: nn.Module, *, score_thresh: float, nms_thresh: float,
                       detections_per_img: int) -> Iterator[None]:
    """Temporarily set the post-processing thresholds (evaluation wants many boxes, prediction top-k)."""
    holder, s, n, d = _threshold_holder(model)
    old = (getattr(holder, s), getattr(holder, n), getattr(holder, d))
    setattr(holder, s, float(score_thresh))
    setattr(holder, n, float(nms_thresh))
    setattr(holder, d, int(detections_per_img))
    try:
        yield
    finally:
        setattr(holder, s, old[0])
        setattr(holder, n, old[1])
        setattr(holder, d, old[2])


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(all, trainable) parameter counts, for the run's report."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return total, trainable


def round_to(value: float, step: int) -> int:
    return max(step, int(math.floor(value / step + 0.5)) * step)

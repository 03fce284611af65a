"""build_detector: the three torchvision architectures, offline weights, strict loads, input size."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.ops.misc import FrozenBatchNorm2d

from reid.detection.model import (DetectorWeightsError, build_detector, inference_settings, part_label,
                                  set_input_size)
from vrai_tools.errors import VraiToolsError

TINY = dict(backbone="resnet18", min_size=64, max_size=64, fpn_channels=64)


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)  # 2 shared cores: OpenMP spinning with 2 threads under load is 10x slower


def test_keyword_only_and_checked_choices() -> None:
    with pytest.raises(TypeError):
        build_detector("fcos")  # type: ignore[misc]
    with pytest.raises(VraiToolsError, match="unknown detector arch 'yolo'"):
        build_detector(arch="yolo")  # type: ignore[arg-type]
    with pytest.raises(VraiToolsError, match="unknown backbone 'vgg16'"):
        build_detector(backbone="vgg16")  # type: ignore[arg-type]
    with pytest.raises(VraiToolsError, match="multiple of 32"):
        build_detector(fpn_channels=48)


@pytest.mark.parametrize("arch", ["fcos", "retinanet", "fasterrcnn"])
def test_each_arch_trains_and_predicts(arch: str) -> None:
    torch.manual_seed(0)
    model = build_detector(arch=arch, **TINY)  # type: ignore[arg-type]
    images = [torch.rand(3, 40, 64), torch.rand(3, 64, 30)]
    label = part_label(arch)
    targets = [{"boxes": torch.tensor([[10.0, 8.0, 22.0, 20.0]]), "labels": torch.tensor([label])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}]  # a negative crop
    model.train()
    losses = model(images, targets)
    total = sum(losses.values())
    assert torch.isfinite(total) and total.item() > 0
    total.backward()
    model.eval()
    with torch.no_grad(), inference_settings(model, score_thresh=0.0, nms_thresh=0.4, detections_per_img=3):
        out = model(images)
    assert len(out) == 2
    for o, im in zip(out, images):
        assert len(o["boxes"]) <= 3
        assert set(o["labels"].tolist()) <= {label}  # one class only
        b = o["boxes"]
        assert (b[:, 0] >= 0).all() and (b[:, 2] <= im.shape[2] + 1e-3).all() and (b[:, 3] <= im.shape[1] + 1e-3).all()


def test_inference_settings_are_restored() -> None:
    model = build_detector(**TINY)
    with inference_settings(model, score_thresh=0.25, nms_thresh=0.4, detections_per_img=3):
        assert (model.score_thresh, model.detections_per_img) == (0.25, 3)
    assert (model.score_thresh, model.nms_thresh, model.detections_per_img) == (0.05, 0.4, 100)


def test_input_size_is_the_longer_side() -> None:
    model = build_detector(**TINY)
    model.eval()
    for size in (64, 96):
        set_input_size(model, size)
        batch, _ = model.transform([torch.rand(3, 30, 90), torch.rand(3, 120, 40)])
        assert [max(s) for s in batch.image_sizes] == [size, size]


def test_local_weights_load_strictly(tmp_path: Path) -> None:
    torch.manual_seed(1)
    a = build_detector(**TINY)
    path = tmp_path / "det.pt"
    torch.save(a.state_dict(), path)
    b = build_detector(**TINY, weights=path)
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    with pytest.raises(DetectorWeightsError, match="weights do not fit the model: .*shape mismatch"):
        build_detector(**{**TINY, "fpn_channels": 96}, weights=path)
    with pytest.raises(DetectorWeightsError, match="weights file not found"):
        build_detector(**TINY, weights=tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DetectorWeightsError, match="cannot read detector weights"):
        build_detector(**TINY, weights=tmp_path / "junk.pt")


def test_backbone_weights_from_a_local_classifier(tmp_path: Path) -> None:
    import torchvision

    torch.manual_seed(2)
    resnet = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(resnet.state_dict(), path)  # an ImageNet-style file: fc included, ignored
    model = build_detector(**TINY, weights_backbone=path, trainable_backbone_layers=3)
    body = model.backbone.body
    assert torch.equal(body.conv1.weight, resnet.conv1.weight)
    assert isinstance(body.bn1, FrozenBatchNorm2d)  # pretrained statistics are kept
    assert not body.conv1.weight.requires_grad and body.layer4[0].conv1.weight.requires_grad
    partial = {k: v for k, v in resnet.state_dict().items() if not k.startswith("layer4")}
    torch.save(partial, path)
    with pytest.raises(DetectorWeightsError, match="missing key"):
        build_detector(**TINY, weights_backbone=path)

"""ReID networks: ResNet backbones, BN neck, heads per preset, weighted pooling, strict weight loading."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from reid.config import TrainConfig
from reid.engine.checkpoint import save_checkpoint
from reid.engine.setup import build_model, model_spec
from reid.losses import ReidCriterion
from reid.models import (BACKBONES, Backbone, ModelSpec, ReidModel, WeightsError, average_pool, embedding,
                         load_pretrained, map_size, part_weight_map, weighted_pool)
from reid.presets import PRESETS, get_preset
from schemas import COLORS, FLAGS, TYPES
from vrai_tools.errors import VraiToolsError


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)


# --------------------------------------------------------------------------- backbones


@pytest.mark.parametrize("name,channels", [("resnet18", 512), ("resnet34", 512), ("resnet50", 2048),
                                           ("resnet101", 2048), ("resnet152", 2048)])
def test_every_resnet_builds_with_torchvision_parameter_names(name: str, channels: int) -> None:
    with torch.device("meta"):  # structure and names only (no memory, no init time); 18 and 50 run below
        net = Backbone(name)
        reference = getattr(torchvision.models, name)(weights=None)
    assert net.out_channels == channels and net.stride == 32
    own = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    tv = {k: tuple(v.shape) for k, v in reference.state_dict().items() if not k.startswith("fc.")}
    assert own == tv  # an ImageNet file loads key for key


def test_resnet18_and_50_map_sizes() -> None:
    assert BACKBONES == ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
    assert map_size(352) == 11 and map_size(352, 16) == 22 and map_size(64) == 2
    x = torch.rand(1, 3, 352, 352)
    with torch.no_grad():
        r18 = Backbone("resnet18").eval()
        assert r18(x).shape == (1, 512, 11, 11)  # the paper's 11 x 11 map (last stride 2)
        one = Backbone("resnet18", last_stride=1).eval()
        assert one.stride == 16 and one(torch.rand(1, 3, 96, 96)).shape == (1, 512, 6, 6)
        r50 = Backbone("resnet50").eval()
        assert r50(torch.rand(2, 3, 96, 64)).shape == (2, 2048, 3, 2)
        r50s1 = Backbone("resnet50", last_stride=1).eval()
        assert r50s1(torch.rand(1, 3, 64, 64)).shape == (1, 2048, 4, 4)
    with pytest.raises(ValueError, match="unknown backbone 'vgg16'"):
        Backbone("vgg16")
    with pytest.raises(ValueError, match="last_stride must be 1 or 2"):
        Backbone("resnet18", last_stride=3)


# --------------------------------------------------------------------------- neck and heads


def _batch(n: int = 6, size: int = 64) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "image": torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g),
        "parts": torch.tensor([[[8.0, 8.0, 30.0, 30.0]]] * n),
        "parts_mask": torch.ones(n, 1, dtype=torch.bool),
        "label": torch.arange(n) // 2,
        "color": torch.tensor([0, 0, 1, 1, -1, -1])[:n],
        "type": torch.tensor([2, 2, 3, 3, 4, 4])[:n],
        "flags": torch.tensor([[1, 0, -1, 1]] * n),
    }


HEADS = {"triplet": set(), "contrastive": set(), "id": {"id"}, "triplet+id": {"id"},
         "multitask": {"id", "color", "type", "flags"}, "multitask+dp": {"id", "color", "type", "flags"}}


@pytest.mark.parametrize("preset", list(PRESETS))
def test_each_table3_preset_trains_exactly_the_heads_it_uses(preset: str) -> None:
    cfg = TrainConfig(root=".", split="s", preset=preset, backbone="resnet18", size=64)  # type: ignore[arg-type]
    spec = model_spec(cfg, num_ids=3)
    model = build_model(spec, 0).train()
    p = get_preset(preset)
    heads = {name for name, m in (("id", model.id_head), ("color", model.color_head), ("type", model.type_head),
                                  ("flags", model.flag_head)) if m is not None}
    assert heads == HEADS[preset]
    assert (model.neck is not None) == bool(heads)  # BN neck only under a classifier
    if model.id_head is not None:
        assert model.id_head.out_features == 3
    if model.color_head is not None:
        assert (model.color_head.out_features, model.type_head.out_features, model.flag_head.out_features) == \
            (len(COLORS), len(TYPES), len(FLAGS))  # type: ignore[union-attr]
    batch = _batch()
    out = model(batch["image"], batch["parts"] if p.uses_parts else None, batch["parts_mask"] if p.uses_parts else None)
    assert heads <= set(out) and not ({"id", "color", "type", "flags"} - heads) & set(out)
    assert ("weighted_feat" in out) == p.uses_parts and "weighted_neck" not in out  # neck sees avg features only
    total, parts = ReidCriterion(p.weights())(out, batch)
    assert set(parts) == set(p.losses)
    total.backward()
    # Every trainable parameter gets a gradient: DDP needs that, and no head sits idle.
    idle = [n for n, q in model.named_parameters() if q.requires_grad and (q.grad is None or not q.grad.abs().sum())]
    assert idle == []
    if model.neck is not None:
        assert not model.neck.bias.requires_grad  # BNNeck: no shift


def test_bn_neck_gives_the_eval_embedding() -> None:
    model = ReidModel(ModelSpec("resnet18", num_ids=4, attributes=True)).eval()
    assert isinstance(model.neck, torch.nn.BatchNorm1d) and model.neck.num_features == model.feat_dim == 512
    with torch.no_grad():
        model.neck.running_mean.uniform_(-1, 1)
        model.neck.running_var.uniform_(0.5, 2)
        out = model(torch.rand(2, 3, 64, 64))
    assert torch.allclose(embedding(out), model.neck(out["feat"]))
    assert not torch.allclose(out["neck"], out["feat"])
    plain = ReidModel(ModelSpec("resnet18")).eval()
    with torch.no_grad():
        o = plain(torch.rand(2, 3, 64, 64))
    assert plain.neck is None and torch.equal(o["neck"], o["feat"])
    with pytest.raises(ValueError, match="weighted feature asked for"):
        embedding(o, "weighted")


def test_model_normalises_uint8_and_float_inputs_alike() -> None:
    model = ReidModel(ModelSpec("resnet18")).eval()
    img = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.allclose(model(img)["feat"], model(img.float() / 255)["feat"], atol=1e-5)
    with pytest.raises(TypeError, match="uint8 or float"):
        model(img.to(torch.int32))


# --------------------------------------------------------------------------- weighted pooling


def test_weight_map_is_gamma_inside_part_boxes_and_one_elsewhere() -> None:
    # 352 px image, 11 x 11 map: 32 px cells, centres at 16 + 32 j.
    boxes = torch.tensor([[[64.0, 96.0, 160.0, 192.0], [0.0, 0.0, 0.0, 0.0]],
                          [[300.0, 10.0, 310.0, 20.0], [0.0, 0.0, 352.0, 352.0]]])
    mask = torch.tensor([[True, False], [True, False]])  # the second box of each row is padding
    w = part_weight_map(boxes, mask, (352, 352), (11, 11), gamma=1.3)
    assert w.shape == (2, 11, 11)
    expect = torch.ones(11, 11)
    expect[3:6, 2:5] = 1.3  # rows: centres 112, 144, 176 in [96, 192); columns: 80, 112, 144 in [64, 160)
    assert torch.allclose(w[0], expect)
    small = torch.ones(11, 11)
    small[0, 9] = 1.3  # a 10 px part inside one cell: the cell holding its centre (305, 15)
    assert torch.allclose(w[1], small)
    assert torch.equal(part_weight_map(boxes, torch.zeros(2, 2, dtype=torch.bool), (352, 352), (11, 11)),
                       torch.ones(2, 11, 11))
    assert torch.equal(part_weight_map(torch.zeros(2, 0, 4), None, (352, 352), (11, 11)), torch.ones(2, 11, 11))
    full = part_weight_map(torch.tensor([[[0.0, 0.0, 352.0, 352.0]]]), None, (352, 352), (11, 11), gamma=1.9)
    assert torch.allclose(full, torch.full((1, 11, 11), 1.9))


def test_weighted_pool_is_the_weighted_mean_of_the_map() -> None:
    g = torch.Generator().manual_seed(0)
    fmap = torch.rand(2, 5, 11, 11, generator=g)
    w = 1.0 + 0.3 * (torch.rand(2, 11, 11, generator=g) > 0.7).float()
    got = weighted_pool(fmap, w)
    for b in range(2):
        for c in range(5):
            ref = (fmap[b, c] * w[b]).sum() / w[b].sum()
            assert torch.allclose(got[b, c], ref, atol=1e-6)
    assert torch.allclose(weighted_pool(fmap, torch.ones(2, 11, 11)), average_pool(fmap), atol=1e-6)
    with pytest.raises(ValueError, match="does not fit"):
        weighted_pool(fmap, torch.ones(2, 10, 10))


def test_model_weighted_feature_at_352_px() -> None:
    model = ReidModel(ModelSpec("resnet18", num_ids=3, weighted=True)).eval()
    img = torch.rand(2, 3, 352, 352)
    parts = torch.tensor([[[64.0, 96.0, 160.0, 192.0]], [[0.0, 0.0, 0.0, 0.0]]])
    mask = torch.tensor([[True], [False]])
    with torch.no_grad():
        fmap = model.backbone(model.normalize(img))
        out = model(img, parts, mask)
        same = model(img, parts, mask, gamma=1.0)
    assert fmap.shape[-2:] == (11, 11)
    w = part_weight_map(parts, mask, (352, 352), (11, 11), 1.3)
    assert torch.allclose(out["weighted_feat"], weighted_pool(fmap, w), atol=1e-5)
    assert not torch.allclose(out["weighted_feat"][0], out["feat"][0])
    assert torch.allclose(out["weighted_feat"][1], out["feat"][1], atol=1e-6)  # no part: the average
    assert torch.allclose(embedding(same, "weighted"), embedding(same, "avg"), atol=1e-5)  # gamma 1 = average


# --------------------------------------------------------------------------- --pretrained


def _resnet18_file(tmp_path: Path, transform=None) -> Path:  # type: ignore[no-untyped-def]
    torch.manual_seed(1)
    state = torchvision.models.resnet18(weights=None).state_dict()
    if transform is not None:
        state = transform(state)
    path = tmp_path / "weights.pth"
    torch.save(state, path)
    return path


def test_pretrained_imagenet_file_loads_backbone_and_reports_fc(tmp_path: Path) -> None:
    path = _resnet18_file(tmp_path)
    state = torch.load(path, weights_only=True)
    model = ReidModel(ModelSpec("resnet18", num_ids=3))
    report = load_pretrained(model, path)
    assert report.ignored == ["fc.bias", "fc.weight"]
    assert report.loaded == len(state) - 2
    assert report.missing == []  # the neck and heads of an ImageNet start are new by nature
    assert report.summary().endswith("ignored 2 key(s) of the file not used by this model (fc.bias, fc.weight)")
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, state[k]), k
    # DataParallel / DDP prefixes are understood.
    wrapped = _resnet18_file(tmp_path, lambda s: {f"module.{k}": v for k, v in s.items()})
    assert load_pretrained(ReidModel(ModelSpec("resnet18")), wrapped).loaded == len(state) - 2


@pytest.mark.parametrize("change,message", [
    (lambda s: {k: v for k, v in s.items() if k != "layer4.1.bn2.weight"}, r"1 missing key\(s\): layer4.1.bn2.weight"),
    (lambda s: {**s, "layer5.0.conv1.weight": torch.zeros(1)}, r"1 unexpected key\(s\): layer5.0.conv1.weight"),
    (lambda s: {**s, "conv1.weight": torch.zeros(64, 3, 3, 3)},
     r"1 shape mismatch\(es\): conv1.weight \(64, 3, 3, 3\) vs \(64, 3, 7, 7\)"),
])
def test_pretrained_mismatches_are_refused_loudly(tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    path = _resnet18_file(tmp_path, change)
    model = ReidModel(ModelSpec("resnet18"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(WeightsError, match=message):
        load_pretrained(model, path)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # nothing half-loaded


def test_pretrained_of_another_depth_or_not_weights_is_refused(tmp_path: Path) -> None:
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), tmp_path / "r34.pth")
    with pytest.raises(WeightsError, match=r"weights do not fit the model: .*unexpected key\(s\): layer"):
        load_pretrained(ReidModel(ModelSpec("resnet18")), tmp_path / "r34.pth")
    with pytest.raises(WeightsError, match="weights file not found"):
        load_pretrained(ReidModel(ModelSpec("resnet18")), tmp_path / "nope.pth")
    torch.save({"net": Path("x")}, tmp_path / "pickle.pth")  # needs unpickling code: refused
    with pytest.raises(WeightsError, match="cannot read weights safely"):
        load_pretrained(ReidModel(ModelSpec("resnet18")), tmp_path / "pickle.pth")
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(WeightsError, match="expected a state dict, found list"):
        load_pretrained(ReidModel(ModelSpec("resnet18")), tmp_path / "list.pth")
    assert issubclass(WeightsError, VraiToolsError)


def test_pretrained_from_a_reid_checkpoint_skips_an_identity_head_of_other_vehicles(tmp_path: Path) -> None:
    src = ReidModel(ModelSpec("resnet18", num_ids=5, attributes=True))
    save_checkpoint(tmp_path / "last.pt", model=src, epoch=3, config={}, spec=src.spec.to_dict())
    dst = ReidModel(ModelSpec("resnet18", num_ids=7, attributes=True))
    report = load_pretrained(dst, tmp_path / "last.pt")
    assert report.ignored == ["id_head.weight"]
    assert report.missing == ["id_head.weight"]  # 5 vehicles there, 7 here: the classifier starts afresh
    assert "ignored 1 key(s) of the file not used by this model (id_head.weight)" in report.summary()
    assert "1 key(s) of the model not in the file, left at their initial values (id_head.weight)" in report.summary()
    assert torch.equal(dst.color_head.weight, src.color_head.weight)  # type: ignore[union-attr]
    for k, v in dst.backbone.state_dict().items():
        assert torch.equal(v, src.backbone.state_dict()[k])
    # A triplet-only run (no neck, no heads) into a multitask model: every head left out is named.
    bare = ReidModel(ModelSpec("resnet18"))
    save_checkpoint(tmp_path / "bare.pt", model=bare, epoch=1, config={}, spec=bare.spec.to_dict())
    report = load_pretrained(ReidModel(ModelSpec("resnet18", num_ids=3, attributes=True)), tmp_path / "bare.pt")
    assert report.ignored == []
    assert report.missing == ["color_head.bias", "color_head.weight", "flag_head.bias", "flag_head.weight",
                              "id_head.weight", "neck.bias", "neck.running_mean", "neck.running_var", "neck.weight",
                              "type_head.bias", "type_head.weight"]
    assert "11 key(s) of the model not in the file" in report.summary()
    other = ReidModel(ModelSpec("resnet50"))
    with pytest.raises(WeightsError, match="weights do not fit"):
        load_pretrained(other, tmp_path / "last.pt")


def test_a_checkpoint_gives_back_its_model_or_names_what_is_wrong() -> None:
    from reid.engine.checkpoint import CheckpointError, model_from_checkpoint

    spec = ModelSpec("resnet18", num_ids=3, attributes=True)
    trained = ReidModel(spec)
    state = {"spec": spec.to_dict(), "model": trained.state_dict()}
    again = model_from_checkpoint(state, "run/best.pt")
    assert again.spec == spec
    assert all(torch.equal(a, b) for a, b in zip(trained.state_dict().values(), again.state_dict().values()))
    with pytest.raises(CheckpointError, match=r"run/best.pt: the checkpoint's model spec is missing or unknown"):
        model_from_checkpoint({"spec": {**spec.to_dict(), "heads": 9}, "model": {}}, "run/best.pt")
    with pytest.raises(CheckpointError, match="model spec is missing"):
        model_from_checkpoint({"model": {}}, "run/best.pt")

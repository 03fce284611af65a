"""The ReID training engine on the tiny fixture: learning, schedule, divergence, checkpoints,
determinism and exact resume (real torch training, resnet18 at 64 px, CPU)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

from reid.config import TrainConfig, load_config
from reid.data import PKSampler, ReidDataset, SeededBatches, collate, train_transforms
from reid.engine.checkpoint import FORMAT, load_checkpoint, save_checkpoint
from reid.engine.fit import TIMING_FIELDS, train
from reid.engine.schedule import decay_start_epoch, lr_factor, make_scheduler
from reid.engine.setup import build_model, load_data, model_spec
from reid.engine.train import NonFiniteLossError, train_one_epoch
from reid.losses import ReidCriterion
from reid.models import ReidModel, WeightsError
from reid.presets import get_preset
from reid.runs import RunDir
from vrai_tools.errors import VraiToolsError

from .reid_fixtures import make_reid_dataset

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)  # 2 shared cores; also what makes CPU runs bit-reproducible


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_reid_dataset(tmp_path_factory.mktemp("reid"), vehicles=12, frames=3)


def tiny(root: Path, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = dict(root=str(root), split="s0", preset="multitask+dp", backbone="resnet18", size=64,
                                epochs=2, batch_p=3, batch_k=2, workers=0)
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def straight(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("runs") / "straight"
    result = train(tiny(root), out, quiet=True)
    assert result.epochs_done == 2 and result.run == out
    return out


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(RunDir(run).last)["model"]


def _same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _untimed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    drop = set(TIMING_FIELDS) | {"seconds"}
    return [{k: v for k, v in r.items() if k not in drop} for r in records]


# --------------------------------------------------------------------------- learning


def test_loss_decreases_on_tiny_data(root: Path) -> None:
    cfg = tiny(root)
    data = load_data(root, "s0", parts="ground-truth", detections_file=None, crops="auto", size=64, test=False)
    assert data.train is not None
    preset = get_preset(cfg.preset)
    model = build_model(model_spec(cfg, len(data.train.train_ids)), 0)
    criterion = ReidCriterion(preset.weights(), triplet_margin=0.3)
    sampler = PKSampler(data.train.labels, 3, 2, seed=0, batches_per_epoch=4)
    batches = SeededBatches(sampler, 0)
    loader = DataLoader(ReidDataset(data.train.items, train_transforms(64)), batch_sampler=batches,  # type: ignore[arg-type]
                        collate_fn=collate)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    stats = []
    batches.set_epoch(0)  # the same 4 batches (and augmentations) every epoch: learnable by heart
    for epoch in range(1, 6):
        stats.append(train_one_epoch(model, criterion, loader, opt, device=CPU, epoch=epoch, use_parts=True))
    first, last = stats[0], stats[-1]
    assert set(first.parts) == {"triplet", "id", "color", "type", "flags", "triplet_weighted"}
    assert first.images == 4 * 6 and first.lr == 1e-3
    assert all(math.isfinite(s.loss) for s in stats)
    assert last.loss < 0.6 * first.loss, [round(s.loss, 3) for s in stats]
    assert last.parts["id"] < first.parts["id"] and last.parts["color"] < first.parts["color"]


def test_non_finite_loss_stops_before_the_step_with_a_clear_error(root: Path) -> None:
    data = load_data(root, "s0", parts="none", detections_file=None, crops="auto", size=32, test=False)
    assert data.train is not None
    model = ReidModel(model_spec(tiny(root, preset="multitask", size=32), len(data.train.train_ids)))
    with torch.no_grad():
        model.flag_head.weight[0, 0] = float("nan")  # type: ignore[union-attr]
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k and "num_batches" not in k}
    loader = DataLoader(ReidDataset(data.train.items, train_transforms(32)),  # type: ignore[arg-type]
                        batch_sampler=SeededBatches(PKSampler(data.train.labels, 3, 2, batches_per_epoch=2), 0),
                        collate_fn=collate)
    criterion = ReidCriterion(get_preset("multitask").weights())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss \(nan\) at epoch 3, iteration 1 \[.*flags=nan\]; "
                                                 r"training stopped before the weights were updated"):
        train_one_epoch(model, criterion, loader, opt, device=CPU, epoch=3)
    assert issubclass(NonFiniteLossError, VraiToolsError)
    after = model.state_dict()
    assert all(torch.equal(v, after[k]) or (v.isnan() == after[k].isnan()).all() for k, v in before.items())


def test_non_finite_loss_in_a_run_keeps_the_run_folder_clean(root: Path, tmp_path: Path) -> None:
    """End to end: NaN starting weights (a broken ``--pretrained`` file) stop the run at its first step."""
    cfg0 = tiny(root, preset="multitask", size=32)
    src = build_model(model_spec(cfg0, 6), 0)
    with torch.no_grad():
        src.color_head.weight.fill_(float("inf"))  # type: ignore[union-attr]
    save_checkpoint(tmp_path / "broken.pt", model=src, epoch=1, config={}, spec=src.spec.to_dict())
    out = tmp_path / "run"
    with pytest.raises(VraiToolsError, match=r"non-finite loss \(nan\) at epoch 1, iteration 1"):
        train(tiny(root, preset="multitask", size=32, pretrained=str(tmp_path / "broken.pt")), out, quiet=True)
    assert not RunDir(out).last.exists()  # no checkpoint of poisoned weights


def test_pretrained_that_does_not_fit_refuses_before_writing(root: Path, tmp_path: Path) -> None:
    import torchvision

    torch.save(torchvision.models.resnet34(weights=None).state_dict(), tmp_path / "r34.pth")
    with pytest.raises(WeightsError, match=r"r34.pth: weights do not fit the model: .*unexpected key"):
        train(tiny(root, pretrained=str(tmp_path / "r34.pth")), tmp_path / "run", quiet=True)
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- schedule


def test_lr_is_constant_to_epoch_150_of_300_then_decays_to_a_thousandth() -> None:
    assert decay_start_epoch(300) == 151
    assert all(lr_factor(e, 300) == 1.0 for e in range(1, 151))
    assert lr_factor(151, 300) < 1.0
    assert math.isclose(lr_factor(300, 300), 1e-3, rel_tol=1e-9)
    ratios = [lr_factor(e + 1, 300) / lr_factor(e, 300) for e in range(151, 300)]
    assert max(ratios) - min(ratios) < 1e-9 and math.isclose(ratios[0], 1e-3 ** (1 / 150), rel_tol=1e-9)  # exponential
    # Scales with the number of epochs: half constant, then down to 1e-3 at the last one.
    assert decay_start_epoch(10) == 6 and lr_factor(5, 10) == 1.0 and math.isclose(lr_factor(10, 10), 1e-3)
    assert lr_factor(1, 1) == 1.0  # a 1-epoch run trains at the full rate
    assert math.isclose(lr_factor(4, 4, decay_start=0.5, final_factor=1e-2), 1e-2)


def test_scheduler_drives_adam_epoch_by_epoch() -> None:
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = make_scheduler(opt, 300)
    lrs = []
    for _ in range(300):
        lrs.append(opt.param_groups[0]["lr"])  # the rate epoch e trains at
        opt.step()
        sched.step()
    assert lrs[:150] == [1e-3] * 150
    assert lrs[150] < 1e-3 and lrs[149] == 1e-3
    assert math.isclose(lrs[-1], 1e-6, rel_tol=1e-9)
    assert all(b < a for a, b in zip(lrs[150:], lrs[151:]))
    one = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    s1 = make_scheduler(one, 1)
    assert one.param_groups[0]["lr"] == 1e-3
    one.step()
    s1.step()  # the step after the last epoch of a 1-epoch run


# --------------------------------------------------------------------------- a whole run


def test_run_folder_checkpoint_and_metrics(straight: Path) -> None:
    run = RunDir(straight)
    cfg = load_config(run.config)
    assert cfg.parts == "ground-truth"  # resolved: multitask+dp without a detections file
    state = load_checkpoint(run.last)
    assert state["format"] == FORMAT and state["epoch"] == 2
    assert {"model", "optimizer", "scheduler", "scaler", "sampler", "epoch", "config", "rng", "history"} <= set(state)
    assert state["config"] == json.loads(run.config.read_text())
    assert state["scaler"] is None  # no AMP on the CPU
    assert state["scheduler"]["last_epoch"] == 2
    assert state["sampler"] == {"seed": 0, "epoch": 2, "p": 3, "k": 2, "batches_per_epoch": 6, "world_size": 1}
    assert len(state["optimizer"]["state"]) > 0 and "exp_avg" in next(iter(state["optimizer"]["state"].values()))
    model = ReidModel(model_spec(cfg, 6))
    model.load_state_dict(state["model"], strict=True)
    assert run.best.is_file() and run.report.is_file() and (run.plots / "training.png").is_file()

    records = run.read_metrics()
    assert [r["kind"] for r in records] == ["epoch", "epoch", "eval"]
    e1, e2, ev = records
    assert (e1["epoch"], e2["epoch"], ev["epoch"]) == (1, 2, 2)
    assert e1["lr"] == 1e-3 and math.isclose(e2["lr"], 1e-6)  # 2 epochs: the second is the last, at 1e-3 x
    assert e1["images"] == e2["images"] == 36  # 6 batches of P x K = 3 x 2
    assert set(e1["parts"]) == {"triplet", "id", "color", "type", "flags", "triplet_weighted"}
    assert e2["loss"] < e1["loss"]
    assert (ev["num_query"], ev["num_gallery"]) == (12, 24) and 0 <= ev["mAP"] <= 1
    assert records == state["history"]


def test_epoch_checkpoints_record_every_epoch(root: Path, tmp_path: Path, straight: Path) -> None:
    """A run stopped after epoch 1 holds epoch 1's states; resumed, it ends bit-identical to the straight run."""
    out = tmp_path / "stopped"
    first = train(tiny(root), out, quiet=True, stop_after=1)
    assert first.epochs_done == 1
    state = load_checkpoint(RunDir(out).last)
    assert state["epoch"] == 1 and state["sampler"]["epoch"] == 1 and state["scheduler"]["last_epoch"] == 1
    assert [r["epoch"] for r in RunDir(out).read_metrics()] == [1]
    assert not RunDir(out).report.exists()  # not finished

    resumed = train(tiny(root, workers=0, log_every=1), out, quiet=True, resume=True)  # runtime fields may change
    assert resumed.epochs_done == 2
    assert _same_weights(_weights(out), _weights(straight))
    a, b = load_checkpoint(RunDir(out).last), load_checkpoint(RunDir(straight).last)
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert _untimed(RunDir(out).read_metrics()) == _untimed(RunDir(straight).read_metrics())
    assert RunDir(out).report.is_file()


def test_two_runs_with_one_seed_are_identical_and_another_seed_differs(root: Path, tmp_path: Path,
                                                                        straight: Path) -> None:
    again = tmp_path / "again"
    train(tiny(root), again, quiet=True)
    assert _same_weights(_weights(again), _weights(straight))
    assert _untimed(RunDir(again).read_metrics()) == _untimed(RunDir(straight).read_metrics())
    other = tmp_path / "seed1"
    train(tiny(root, seed=1), other, quiet=True, stop_after=1)
    w1, w0 = _weights(other), _weights(straight)
    assert not torch.equal(w1["backbone.conv1.weight"], w0["backbone.conv1.weight"])


def test_resume_refuses_a_changed_config_and_fresh_runs_refuse_existing_folders(root: Path, tmp_path: Path,
                                                                                straight: Path) -> None:
    with pytest.raises(VraiToolsError, match=r"trained with a different config \(batch_k, lr\)"):
        train(tiny(root, lr=5e-4, batch_k=3), straight, quiet=True, resume=True)
    with pytest.raises(VraiToolsError, match=r"already exists and is not empty \(pass --resume to continue it\)"):
        train(tiny(root), straight, quiet=True)
    with pytest.raises(VraiToolsError, match="not a training run"):
        train(tiny(root), tmp_path / "nothing", quiet=True, resume=True)
    assert load_checkpoint(RunDir(straight).last)["epoch"] == 2  # untouched


def test_resume_check_names_each_changed_field_and_allows_runtime_ones(root: Path, tmp_path: Path) -> None:
    from reid.config import check_resume, config_differences

    saved = tiny(root).resolved()
    asked = {"lr": 5e-4, "batch_k": "2", "workers": 4, "root": "/elsewhere", "device": "cpu", "epochs": 2}
    assert config_differences(saved, asked) == ["lr: run has 0.001, asked 0.0005"]
    with pytest.raises(VraiToolsError, match=r"config.json: --resume continues the run as configured; "
                                             r"these options differ: lr: run has 0.001, asked 0.0005"):
        check_resume(saved, asked, tmp_path)
    check_resume(saved, {"workers": 4, "log_every": 1, "eval_batch_size": 8}, tmp_path)  # runtime only: fine

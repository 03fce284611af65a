"""The detector engine with real torch training on the tiny fixture: learning, divergence, exact resume."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from reid.detection.checkpoint import CheckpointError, load_checkpoint
from reid.detection.config import DetectorTrainConfig, model_from_config
from reid.detection.data import PartCropDataset, collate, load_samples, split_keys
from reid.detection.train import NonFiniteLossError, RunFolderError, train_detector, train_one_epoch
from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import VraiToolsError

from .detector_fixtures import make_parts_dataset


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)  # 2 shared cores: OpenMP spinning with 2 threads under load is 10x slower


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_parts_dataset(tmp_path_factory.mktemp("parts"))


def tiny(root: Path, **kw: object) -> DetectorTrainConfig:
    base = dict(root=str(root), split="s0", size=64, fpn_channels=64, batch_size=4, epochs=2, workers=0,
                warmup_iters=2, max_train_images=8, max_test_images=4, figure_samples=2)
    return DetectorTrainConfig(**{**base, **kw})  # type: ignore[arg-type]


def _train_loader(root: Path, size: int = 80) -> DataLoader:
    samples = load_samples(root, split_keys(DatasetRoot(root).split("s0"), "train"))
    ds = PartCropDataset(samples[:8], long_side=size)
    return DataLoader(ds, batch_size=4, shuffle=False, collate_fn=collate)


def test_training_loss_decreases(root: Path) -> None:
    cfg = tiny(root)
    torch.manual_seed(0)
    model = model_from_config(cfg)
    loader = _train_loader(root)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    history = [train_one_epoch(model, loader, opt, None, scaler, device=torch.device("cpu"), epoch=e, sizes=[80])
               for e in range(6)]
    first, last = history[0], history[-1]
    assert set(first) >= {"classification", "bbox_regression", "bbox_ctrness", "loss", "lr", "images_per_s"}
    assert last["loss"] < 0.75 * first["loss"], [round(h["loss"], 3) for h in history]
    # The box branch itself learns (torchvision's relu regression can die from scratch).
    assert last["bbox_regression"] < first["bbox_regression"]


def test_non_finite_loss_stops_with_a_clear_error(root: Path) -> None:
    cfg = tiny(root)
    model = model_from_config(cfg)
    with torch.no_grad():
        model.head.classification_head.cls_logits.weight[0, 0, 0, 0] = float("nan")
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with pytest.raises(NonFiniteLossError, match=r"epoch 3, batch 1: loss is nan \(classification nan"):
        train_one_epoch(model, _train_loader(root), opt, None, torch.amp.GradScaler("cpu", enabled=False),
                        device=torch.device("cpu"), epoch=3, sizes=[64])


def test_run_folder_resume_matches_an_uninterrupted_run(root: Path, tmp_path: Path) -> None:
    cfg = tiny(root)
    straight = tmp_path / "straight"
    m1 = train_detector(cfg, straight, quiet=True)

    # Interrupt the second run as Ctrl-C would, right after epoch 1 was saved.
    stopped = tmp_path / "stopped"

    def interrupt(line: str) -> None:
        if line.startswith("epoch 2/2"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_detector(cfg, stopped, quiet=True, log=interrupt)
    assert load_checkpoint(stopped / "checkpoint.pt")["epoch"] == 1
    lines: list[str] = []
    m2 = train_detector(cfg, stopped, resume=True, quiet=True, log=lines.append)
    assert lines[0] == f"resuming {stopped} after epoch 1/2"

    a = load_checkpoint(straight / "checkpoint.pt")
    b = load_checkpoint(stopped / "checkpoint.pt")
    assert a["epoch"] == b["epoch"] == 2
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert m1.ap50 == m2.ap50 and m1.precision == m2.precision
    for name in ("config.json", "metrics.json", "report.md", "figure7.png"):
        assert (straight / name).is_file()
    epochs = [json.loads(ln)["epoch"] for ln in (stopped / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2]
    saved = json.loads((straight / "config.json").read_text())
    assert saved["size"] == 64 and saved["arch"] == "fcos" and saved["conf_threshold"] == 0.25
    assert {"model", "optimizer", "scheduler", "scaler", "epoch", "config"} <= set(a)

    # Guard rails of the run folder.
    with pytest.raises(RunFolderError, match="already holds a trained detector"):
        train_detector(cfg, straight, quiet=True)
    with pytest.raises(RunFolderError, match=r"settings differ from its config.json: lr \(0.001 -> 0.01\)"):
        train_detector(tiny(root, lr=0.01), straight, resume=True, quiet=True)
    with pytest.raises(RunFolderError, match="nothing to resume"):
        train_detector(cfg, tmp_path / "empty", resume=True, quiet=True)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_corrupt_checkpoint_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(b"\x80\x04garbage")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(bad)
    torch.save({"model": {}}, bad)
    with pytest.raises(CheckpointError, match="not a part-detector checkpoint"):
        load_checkpoint(bad)


def test_a_split_without_part_boxes_is_refused(root: Path, tmp_path: Path) -> None:
    split = json.loads((root / "splits" / "s0.json").read_text())
    ann = json.loads((root / "annotations" / "p1-A.json").read_text())
    none_keys = [i["key"] for i in ann["instances"] if i["parts"]["state"] == "none"]
    split.update(name="negatives", train=none_keys, query=[], gallery=[])
    (root / "splits" / "negatives.json").write_text(json.dumps(split))
    try:
        with pytest.raises(VraiToolsError, match="none of its 3 train instances has part boxes"):
            train_detector(tiny(root, split="negatives"), tmp_path / "run", quiet=True)
    finally:
        (root / "splits" / "negatives.json").unlink()

"""`vrai-tools train-detector` and `vrai-tools detect-parts` end to end on the tiny fixture."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from reid.detection.data import PartCropDataset, load_samples
from reid.detection.evaluate import DetectionMetrics
from reid.detection.predict import CropPrediction, load_detector, predict, to_frame_boxes
from schemas import PartDetections
from vrai_tools.cli import cli
from vrai_tools.dataset import DatasetRoot
from vrai_tools.storage import load_model

from .detector_fixtures import TODO_KEY, make_parts_dataset

TINY = ["--epochs", "2", "--size", "64", "--fpn-channels", "64", "--batch-size", "4", "--workers", "0",
        "--max-train-images", "8", "--max-test-images", "6"]


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)  # 2 shared cores: OpenMP spinning with 2 threads under load is 10x slower


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("cli")
    root = make_parts_dataset(base / "data")
    run = base / "run"
    result = CliRunner().invoke(cli, ["train-detector", str(root), "--split", "s0", "--out", str(run), *TINY])
    assert result.exit_code == 0, result.output
    return root, run, result.output


def run_cli(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, list(args))
    return r.exit_code, r.output


def test_train_detector_writes_the_run_folder(trained: tuple[Path, Path, str]) -> None:
    root, run, output = trained
    assert "epoch 1/2  loss" in output and "classification" in output and "bbox_regression" in output
    assert "test: precision" in output and "AP@0.5" in output
    for name in ("config.json", "checkpoint.pt", "metrics.jsonl", "metrics.json", "report.md", "figure7.png"):
        assert (run / name).is_file(), name
    m = DetectionMetrics.model_validate_json((run / "metrics.json").read_text())
    assert (m.num_images, m.split, m.dataset, m.epoch) == (6, "s0", "parts-fixture", 2)
    assert (m.conf_threshold, m.nms_threshold, m.iou_threshold, m.top_k) == (0.25, 0.4, 0.5, 3)
    cfg = json.loads((run / "config.json").read_text())
    assert (cfg["size"], cfg["fpn_channels"], cfg["epochs"], cfg["arch"]) == (64, 64, 2, "fcos")
    assert cfg["root"] == str(root.resolve())
    assert "| this run |" in (run / "report.md").read_text()
    img = np.asarray(Image.open(run / "figure7.png").convert("RGB")).astype(int)
    assert img.shape[0] > 200 and img.shape[1] > 200
    red = (img[..., 0] > 200) & (img[..., 1] < 60) & (img[..., 2] < 80)
    assert red.sum() > 50, "ground-truth boxes are drawn in red"


def test_help_and_usage_errors(trained: tuple[Path, Path, str], tmp_path: Path) -> None:
    root, run, _ = trained
    for cmd in ("train-detector", "detect-parts"):
        code, out = run_cli(cmd, "--help")
        assert code == 0 and "Example" in out
    code, out = run_cli("train-detector", str(root), "--out", str(tmp_path / "r"))
    assert code == 2 and "--split is required" in out
    code, out = run_cli("train-detector", str(root), "--out", str(tmp_path / "r"), "--resume")
    assert code == 2 and "nothing to resume" in out
    code, out = run_cli("train-detector", str(root), "--split", "s0", "--out", str(run), *TINY)
    assert code == 1 and "already holds a trained detector" in out and "Traceback" not in out
    code, out = run_cli("train-detector", str(root), "--split", "nope", "--out", str(tmp_path / "r"), *TINY)
    assert code == 1 and "no split named 'nope' (have: s0)" in out
    code, out = run_cli("train-detector", str(root), "--split", "s0", "--out", str(tmp_path / "r"),
                        "--fpn-channels", "80")
    assert code == 1 and "fpn_channels" in out and "multiple of 32" in out
    code, out = run_cli("detect-parts", str(root), "--detector", str(tmp_path), "--out", str(tmp_path / "d.json"))
    assert code == 1 and "no checkpoint.pt in this run folder" in out


def _check_inside(root: Path, dets: PartDetections, k: int) -> None:
    ds = DatasetRoot(root)
    bboxes = {i.key: i.bbox for a in ds.iter_annotations() for i in a.instances}
    for key, boxes in dets.instances.items():
        assert len(boxes) == k, key
        x1, y1, x2, y2 = bboxes[key]
        scores = [b.score for b in boxes]
        assert scores == sorted(scores, reverse=True)
        for b in boxes:
            bx1, by1, bx2, by2 = b.box
            assert x1 <= bx1 < bx2 <= x2 and y1 <= by1 < by2 <= y2, (key, b.box, bboxes[key])


def test_detect_parts_writes_a_valid_file_in_frame_pixels(trained: tuple[Path, Path, str], tmp_path: Path) -> None:
    root, run, _ = trained
    out = tmp_path / "parts.json"
    # --conf 0 so that an undertrained detector still returns its 3 best boxes everywhere.
    code, text = run_cli("detect-parts", str(root), "--detector", str(run), "--out", str(out), "--split", "s0",
                         "--conf", "0", "--batch-size", "5", "--quiet")
    assert code == 0, text
    dets = load_model(out, PartDetections)
    split = DatasetRoot(root).split("s0")
    assert set(dets.instances) == set(split.train) | set(split.query) | set(split.gallery)
    assert TODO_KEY in dets.instances  # prediction covers instances not annotated yet
    assert (dets.split, dets.top_k, dets.conf_threshold, dets.nms_threshold) == ("s0", 3, 0.0, 0.4)
    _check_inside(root, dets, 3)
    assert "36 instances, 36 with at least one part (108 boxes)" in text

    # The file's boxes, mapped into each crop, are what the model predicts on that crop.
    det = load_detector(run)
    samples = load_samples(root, None, include_todo=True)
    crops = PartCropDataset(samples, long_side=det.config.size)
    for p in predict(det.model, crops, device=torch.device("cpu"), score_thresh=0.0, nms_thresh=0.4,
                     max_detections=3, batch_size=16):
        s = samples[p.index]
        written = np.array([b.box for b in dets.instances[s.key]])
        x1, y1, x2, y2 = s.bbox
        expected = np.clip(crops.geometry(p.index).to_frame(p.boxes), [x1, y1, x1, y1], [x2, y2, x2, y2])
        np.testing.assert_allclose(written, expected, atol=0.011)

    code, text = run_cli("detect-parts", str(root), "--detector", str(run), "--out", str(out))
    assert code == 2 and "exists; pass --force" in text
    code, text = run_cli("detect-parts", str(root), "--detector", str(run / "checkpoint.pt"), "--out", str(out),
                         "--force", "--quiet")
    assert code == 0, text
    everything = load_model(out, PartDetections)
    assert everything.split is None and len(everything.instances) == 36
    assert all(s.score >= 0.25 for v in everything.instances.values() for s in v)


def test_ground_truth_survives_crop_to_frame(trained: tuple[Path, Path, str]) -> None:
    """A perfect detector's output comes back as exactly the annotated frame boxes."""
    root, _, _ = trained
    samples = [s for s in load_samples(root, None) if s.boxes]
    crops = PartCropDataset(samples, long_side=77)
    for i, s in enumerate(samples):
        g = crops.geometry(i)
        pred = CropPrediction(i, g.to_crop(s.boxes), np.array([0.9]))
        (back,) = to_frame_boxes(s, crops, pred)
        np.testing.assert_allclose(back.box, s.boxes[0], atol=0.006)

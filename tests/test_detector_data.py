"""Crops and part boxes: which instances, which coordinates, and boxes that move with the image."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reid.detection.data import (CropGeometry, PartCropDataset, check_frames, crop_window, load_samples,
                                 multiscale_sizes, split_keys)
from schemas import PartDetections
from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import DatasetFileError, VraiToolsError

from .detector_fixtures import TODO_KEY, make_parts_dataset


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_parts_dataset(tmp_path_factory.mktemp("parts"))


@pytest.mark.parametrize("bbox,frame,side", [
    ((10.3, 20.7, 61.2, 44.9), (192, 128), 96),
    ((0.0, 0.0, 30.0, 90.0), (100, 90), 64),  # touching the frame's corner, tall
    ((150.5, 100.2, 191.9, 127.99), (192, 128), 200),  # bottom-right edge, upscaled
])
def test_geometry_round_trips(bbox: tuple[float, float, float, float], frame: tuple[int, int], side: int) -> None:
    g = CropGeometry.for_bbox(bbox, frame, side)
    assert max(g.width, g.height) == side
    rng = np.random.default_rng(0)
    xy = rng.uniform([bbox[0], bbox[1]], [bbox[2], bbox[3]], size=(20, 2, 2))
    frame_boxes = np.concatenate([xy.min(axis=1), xy.max(axis=1)], axis=1)
    np.testing.assert_allclose(g.to_frame(g.to_crop(frame_boxes)), frame_boxes, atol=1e-9)
    crop_boxes = g.to_crop(frame_boxes)
    np.testing.assert_allclose(g.to_crop(g.to_frame(crop_boxes)), crop_boxes, atol=1e-9)
    # The bbox lands inside the crop; the window's corners map to the crop's corners.
    b = g.to_crop([bbox])[0]
    assert b[0] >= -1e-9 and b[1] >= -1e-9 and b[2] <= g.width + 1e-9 and b[3] <= g.height + 1e-9
    x0, y0, x1, y1 = crop_window(bbox, frame)
    np.testing.assert_allclose(g.to_crop([(x0, y0, x1, y1)])[0], [0, 0, g.width, g.height], atol=1e-9)


def test_multiscale_sizes_follow_the_paper() -> None:
    assert multiscale_sizes(416) == list(range(320, 609, 32))
    small = multiscale_sizes(96)
    assert small[0] >= 96 * 320 / 416 and small[-1] <= 96 * 608 / 416 and len(small) >= 5


def test_samples_keep_done_and_none_and_leave_out_todo(root: Path) -> None:
    split = DatasetRoot(root).split("s0")
    train = load_samples(root, split_keys(split, "train"))
    test = load_samples(root, split_keys(split, "test"))
    assert TODO_KEY in split.train and TODO_KEY not in {s.key for s in train}
    assert [s.key for s in train] == [k for k in split.train if k != TODO_KEY]  # split order kept
    assert {s.state for s in test} == {"done", "none"}
    negatives = [s for s in test if s.state == "none"]
    assert negatives and all(s.boxes == () for s in negatives)
    everything = load_samples(root, None, include_todo=True)
    assert len(everything) == 36 and TODO_KEY in {s.key for s in everything}


def test_crop_boxes_sit_on_the_marks(root: Path) -> None:
    samples = load_samples(root, None)
    ds = PartCropDataset(samples, long_side=96)
    pos = [i for i, s in enumerate(samples) if s.boxes]
    neg = [i for i, s in enumerate(samples) if not s.boxes]
    for i in pos[:6]:
        item = ds[i]
        img = item["image"].numpy()
        assert max(img.shape[1:]) == 96
        (x1, y1, x2, y2), = item["boxes"].numpy()
        qx, qy = (x2 - x1) / 4, (y2 - y1) / 4
        inner = img[:, round(y1 + qy):round(y2 - qy), round(x1 + qx):round(x2 - qx)]
        assert inner.size and inner.mean() > 0.9, "the white mark fills the part box"
        ring = np.zeros(img.shape[1:], bool)
        ring[max(0, round(y1) - 4):round(y2) + 4, max(0, round(x1) - 4):round(x2) + 4] = True
        ring[round(y1):round(y2), round(x1):round(x2)] = False
        assert img[:, ring].mean() < 0.8, "and stops at its edges"
        assert item["labels"].tolist() == [0]
    item = ds[neg[0]]
    assert item["boxes"].shape == (0, 4) and item["labels"].shape == (0,)


def test_flip_moves_boxes_with_the_image(root: Path) -> None:
    samples = [s for s in load_samples(root, None) if s.boxes][:4]
    plain = PartCropDataset(samples, long_side=96)
    flipped = PartCropDataset(samples, long_side=96, train=True, hflip=1.0, jitter=0.0)
    for i in range(len(samples)):
        a, b = plain[i], flipped[i]
        w = a["image"].shape[2]
        np.testing.assert_allclose(b["image"].numpy(), a["image"].numpy()[:, :, ::-1], atol=1e-6)
        (x1, y1, x2, y2), = a["boxes"].numpy()
        np.testing.assert_allclose(b["boxes"].numpy()[0], [w - x2, y1, w - x1, y2], atol=1e-4)


def test_augmentation_is_seeded_per_epoch_and_item(root: Path) -> None:
    samples = [s for s in load_samples(root, None) if s.boxes][:6]
    ds = PartCropDataset(samples, long_side=64, train=True, hflip=0.5, jitter=0.3, seed=3)
    ds.set_epoch(1)
    first = [ds[i]["image"] for i in range(6)]
    ds.set_epoch(2)
    other = [ds[i]["image"] for i in range(6)]
    ds.set_epoch(1)
    again = [ds[i]["image"] for i in range(6)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_a_split_naming_unknown_instances_is_refused(root: Path, tmp_path: Path) -> None:
    split = json.loads((root / "splits" / "s0.json").read_text())
    split["train"].append("p1-A:999")
    with pytest.raises(VraiToolsError, match="instance 'p1-A:999' is listed in a split but does not exist"):
        load_samples(root, split["train"])


def test_a_missing_frame_is_named_before_any_work(tmp_path: Path) -> None:
    root = make_parts_dataset(tmp_path / "d", vehicles=3, frames=2)
    (root / "frames" / "p1-B" / "000001.jpg").unlink()
    samples = load_samples(root, None, include_todo=True)
    with pytest.raises(DatasetFileError, match=r"p1-B/000001.jpg: frame image missing \(needed by 3 instance"):
        check_frames(samples)


def test_schema_box_type_matches_detections() -> None:
    # What detect-parts writes must be what the ReID side reads.
    doc = PartDetections(detector="run", instances={"c:1": [{"box": (1, 2, 3, 4), "score": 0.5}]})
    assert doc.instances["c:1"][0].box == (1, 2, 3, 4)

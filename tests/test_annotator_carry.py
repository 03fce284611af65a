"""Carry-over tracking (Qt-free): proposals where vehicles went, none for vehicles that left."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator.carry import carry_over
from tests.annotator_fixtures import box_of, iou, make_clip_dataset


@pytest.mark.parametrize("colour", [True, False])
def test_vehicles_are_found_where_they_moved(tmp_path: Path, colour: bool) -> None:
    clip = make_clip_dataset(tmp_path, frames=4, vehicles=6, speed=12.0)
    flag = cv2.IMREAD_COLOR if colour else cv2.IMREAD_GRAYSCALE
    frames = [cv2.imread(str(tmp_path / f"frames/p1-A/{k:06d}.jpg"), flag) for k in range(4)]
    for k in range(3):
        shapes = [(str(v), c) for v, c in clip.truth[k]]
        result = {r.source: r for r in carry_over(frames[k], frames[k + 1], shapes)}
        truth = dict(clip.truth[k + 1])
        assert set(result) == {str(v) for v, _ in clip.truth[k] if v in truth}
        for v, corners in truth.items():
            assert iou(box_of(result[str(v)].corners), box_of(corners)) > 0.9
            assert 0 < result[str(v)].score <= 1


def _scene(car_x: float | None, rng: np.random.Generator) -> np.ndarray:
    img = cv2.GaussianBlur(rng.integers(60, 120, (180, 320, 3)).astype(np.uint8), (0, 0), 1.5)
    if car_x is not None:
        cv2.rectangle(img, (int(car_x), 80), (int(car_x) + 36, 96), (200, 40, 40), -1)
        cv2.rectangle(img, (int(car_x) + 24, 82), (int(car_x) + 30, 94), (20, 20, 20), -1)
    return img


def test_no_proposal_for_a_vehicle_that_left_or_vanished() -> None:
    prev = _scene(270, np.random.default_rng(1))
    corners = ((270.0, 80.0), (306.0, 80.0), (306.0, 96.0), (270.0, 96.0))
    leaving = _scene(300, np.random.default_rng(1))  # less than 70 % of it still inside
    gone = _scene(None, np.random.default_rng(1))
    stays = _scene(262, np.random.default_rng(1))
    assert carry_over(prev, leaving, [("c:0", corners)]) == []
    assert carry_over(prev, gone, [("c:0", corners)]) == []
    (moved,) = carry_over(prev, stays, [("c:0", corners)])
    assert moved.corners[0] == pytest.approx((262.0, 80.0), abs=0.5)

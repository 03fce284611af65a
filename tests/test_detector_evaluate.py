"""Detector metrics on hand-built boxes, every expected number worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from reid.detection.evaluate import (ImageResult, average_precision, box_iou, detection_metrics, match_detections,
                                     metrics_markdown, precision_recall_f)

PROV = dict(dataset="d", split="s", split_seed=0, epoch=1, arch="fcos", backbone="resnet18", input_size=96,
            nms_threshold=0.4)


def test_box_iou_hand_values() -> None:
    a = [[0, 0, 10, 10]]
    b = [[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 5, 5]]
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 1.0, 0.0, 25 / 100]])
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 4)


def test_match_is_greedy_by_score_and_inclusive_at_threshold() -> None:
    gt = [[0, 0, 10, 10]]
    # Both overlap the one gt; only the higher-scoring one may take it.
    scores, tp = match_detections(ImageResult.of([[0, 0, 10, 10], [0, 0, 10, 9]], [0.3, 0.9], gt))
    assert scores.tolist() == [0.9, 0.3]
    assert tp.tolist() == [True, False]
    # IoU exactly 0.5 counts as a hit (>=).
    _, tp = match_detections(ImageResult.of([[0, 0, 10, 5]], [0.5], [[0, 0, 10, 10]]))
    assert tp.tolist() == [True]
    _, tp = match_detections(ImageResult.of([[0, 0, 10, 4.9]], [0.5], [[0, 0, 10, 10]]))
    assert tp.tolist() == [False]


def test_match_takes_best_unmatched_gt() -> None:
    gt = [[0, 0, 10, 10], [2, 0, 12, 10]]
    # p1 overlaps gt0 (IoU 0.667) and gt1 (IoU 1.0): takes gt1; p2 then still finds gt0.
    preds = [[2, 0, 12, 10], [0, 0, 10, 10]]
    _, tp = match_detections(ImageResult.of(preds, [0.9, 0.8], gt))
    assert tp.tolist() == [True, True]


def _two_images() -> list[ImageResult]:
    img1 = ImageResult.of([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]], [0.9, 0.3, 0.2],
                          [[0, 0, 10, 10], [20, 20, 30, 30]])
    img2 = ImageResult.of([[0, 0, 5, 5]], [0.5], [])  # a negative crop with one false alarm
    return [img1, img2]


def test_precision_recall_f_at_paper_threshold() -> None:
    prf = precision_recall_f(_two_images(), conf=0.25, iou=0.5)
    # kept: 0.9 (hit), 0.3 (miss), 0.5 on the negative (miss); 0.2 is below 0.25
    assert (prf.tp, prf.fp, prf.fn) == (1, 2, 1)
    assert prf.precision == pytest.approx(1 / 3)
    assert prf.recall == pytest.approx(1 / 2)
    assert prf.f_score == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    top1 = precision_recall_f(_two_images(), conf=0.25, iou=0.5, top_k=1)
    assert (top1.tp, top1.fp, top1.fn) == (1, 1, 1)
    all_boxes = precision_recall_f(_two_images(), conf=0.0)
    assert (all_boxes.tp, all_boxes.fp, all_boxes.fn) == (2, 2, 0)


def test_average_precision_hand_computed() -> None:
    # Ranked over both crops: 0.9 hit, 0.5 miss, 0.3 miss, 0.2 hit; 2 gt boxes.
    # Recall 0.5 at precision 1, recall 1.0 at precision 2/4: AP = 0.5 * 1 + 0.5 * 0.5.
    assert average_precision(_two_images()) == pytest.approx(0.75)
    perfect = [ImageResult.of([[0, 0, 10, 10]], [0.4], [[0, 0, 10, 10]])]
    assert average_precision(perfect) == pytest.approx(1.0)
    # The precision envelope: a miss ranked first, then two hits -> P(0.5)=1/2, P(1)=2/3 -> AP = 2/3.
    envelope = [ImageResult.of([[40, 40, 50, 50], [0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.8, 0.7],
                               [[0, 0, 10, 10], [20, 20, 30, 30]])]
    assert average_precision(envelope) == pytest.approx(0.5 * (2 / 3) + 0.5 * (2 / 3))


def test_empty_cases_have_documented_values() -> None:
    no_preds = [ImageResult.of([], [], [[0, 0, 1, 1]])]
    prf = precision_recall_f(no_preds)
    assert (prf.tp, prf.fp, prf.fn, prf.precision, prf.recall, prf.f_score) == (0, 0, 1, 0.0, 0.0, 0.0)
    assert average_precision(no_preds) == 0.0
    assert average_precision([ImageResult.of([[0, 0, 1, 1]], [0.9], [])]) == 0.0
    assert average_precision([]) == 0.0


def test_detection_metrics_and_report() -> None:
    m = detection_metrics(_two_images(), conf=0.25, iou=0.5, top_k=3, **PROV)
    assert (m.num_images, m.num_positive_images, m.num_gt) == (2, 1, 2)
    assert m.precision == pytest.approx(1 / 3) and m.ap50 == pytest.approx(0.75)
    md = metrics_markdown(m, figure="figure7.png")
    assert "| this run | 33.33 | 50.00 | 40.00 | 75.00 |" in md
    assert "44.07" in md and "figure7.png" in md

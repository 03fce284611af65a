"""Detector evaluation at the paper's settings (§5.3), as pure functions on boxes.

The paper reports precision, recall and F-score at confidence 0.25, NMS 0.4 and IoU 0.5
(44.07 / 49.48 / 46.62 on VRAI). NMS happens inside the model; these functions take the
boxes it kept. We add AP@0.5 (threshold-free, so two detectors can be compared without
arguing about 0.25) and the same P/R/F restricted to the top-3 boxes per crop, which is
what the weighted pooling actually consumes.

Matching is greedy in score order: each prediction takes the unmatched ground-truth
box it overlaps most, if that IoU reaches the threshold (COCO's rule). Because the order
is by score, the matches of the boxes above any confidence threshold, or of the top-k,
are the same as in the full matching, so one matching per image serves every metric.
Conventions for empty cases: precision is 0 with no predictions, recall and AP are 0
with no ground truth (``num_gt`` says when that happened).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

PAPER_VRAI = {"precision": 0.4407, "recall": 0.4948, "f_score": 0.4662}

__all__ = ["DetectionMetrics", "ImageResult", "PRF", "average_precision", "box_iou", "detection_metrics",
           "match_detections", "metrics_markdown", "precision_recall_f"]


@dataclass(frozen=True)
class ImageResult:
    """Predictions (after NMS) and ground truth of one crop, in the same coordinates."""

    boxes: np.ndarray  # (N, 4) xyxy
    scores: np.ndarray  # (N,)
    gt: np.ndarray  # (M, 4) xyxy

    @classmethod
    def of(cls, boxes: Sequence[Sequence[float]], scores: Sequence[float],
           gt: Sequence[Sequence[float]]) -> "ImageResult":
        return cls(np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64).reshape(-1),
                   np.asarray(gt, np.float64).reshape(-1, 4))


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (N, M) of xyxy boxes; continuous coordinates (no +1 pixel convention)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def match_detections(result: ImageResult, iou: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(scores sorted high to low, is-true-positive for each), greedy in score order."""
    order = np.argsort(-result.scores, kind="stable")
    scores = result.scores[order]
    tp = np.zeros(len(order), bool)
    if len(result.gt) and len(order):
        ious = box_iou(result.boxes[order], result.gt)
        taken = np.zeros(len(result.gt), bool)
        for i in range(len(order)):
            cand = np.where(taken, -1.0, ious[i])
            j = int(np.argmax(cand))
            if cand[j] >= iou:
                taken[j] = True
                tp[i] = True
    return scores, tp


@dataclass(frozen=True)
class PRF:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f_score(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def precision_recall_f(results: Sequence[ImageResult], conf: float = 0.25, iou: float = 0.5,
                       top_k: int | None = None) -> PRF:
    """Counts over all crops of the boxes scoring >= ``conf`` (and among the ``top_k`` best per crop)."""
    tp = fp = n_gt = 0
    for r in results:
        scores, hit = match_detections(r, iou)
        keep = scores >= conf
        if top_k is not None:
            keep[top_k:] = False
        tp += int(hit[keep].sum())
        fp += int((~hit[keep]).sum())
        n_gt += len(r.gt)
    return PRF(tp, fp, n_gt - tp)


def average_precision(results: Sequence[ImageResult], iou: float = 0.5) -> float:
    """Area under the precision envelope over all recall levels (VOC 2010+ all-point AP)."""
    all_scores, all_hits, n_gt = [], [], 0
    for r in results:
        s, h = match_detections(r, iou)
        all_scores.append(s)
        all_hits.append(h)
        n_gt += len(r.gt)
    if n_gt == 0:
        return 0.0
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
    hits = np.concatenate(all_hits) if all_hits else np.zeros(0, bool)
    order = np.argsort(-scores, kind="stable")
    hits = hits[order]
    ctp = np.cumsum(hits)
    cfp = np.cumsum(~hits)
    recall = np.concatenate([[0.0], ctp / n_gt])
    precision = np.concatenate([[1.0], ctp / np.maximum(ctp + cfp, 1)])
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum((recall[1:] - recall[:-1]) * envelope[1:]))


class DetectionMetrics(BaseModel):
    """``metrics.json`` of a detector run: the numbers and where they come from."""

    model_config = ConfigDict(extra="forbid")

    dataset: str
    split: str
    split_seed: int
    subset: str = "test (query + gallery)"
    run: str | None = None
    epoch: int
    arch: str
    backbone: str
    input_size: int
    conf_threshold: float
    nms_threshold: float
    iou_threshold: float
    top_k: int
    num_images: int
    num_positive_images: int
    num_gt: int
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f_score: float
    ap50: float
    topk_precision: float
    topk_recall: float
    topk_f_score: float
    created: datetime | None = None


def detection_metrics(results: Sequence[ImageResult], *, conf: float, iou: float, top_k: int,
                      **provenance: object) -> DetectionMetrics:
    prf = precision_recall_f(results, conf, iou)
    top = precision_recall_f(results, conf, iou, top_k=top_k)
    return DetectionMetrics(
        conf_threshold=conf, iou_threshold=iou, top_k=top_k,
        num_images=len(results), num_positive_images=sum(1 for r in results if len(r.gt)),
        num_gt=sum(len(r.gt) for r in results),
        tp=prf.tp, fp=prf.fp, fn=prf.fn, precision=prf.precision, recall=prf.recall, f_score=prf.f_score,
        ap50=average_precision(results, iou),
        topk_precision=top.precision, topk_recall=top.recall, topk_f_score=top.f_score,
        **provenance,  # type: ignore[arg-type]
    )


def metrics_markdown(m: DetectionMetrics, figure: str | None = None) -> str:
    """The run's ``report.md``: the paper's table layout, our numbers beside VRAI's."""
    pct = lambda v: f"{100 * v:.2f}"  # noqa: E731
    lines = [
        f"# Part detector — {m.dataset}, split `{m.split}` (seed {m.split_seed})",
        "",
        f"{m.arch} / {m.backbone}, input {m.input_size} px, epoch {m.epoch}; evaluated on the {m.subset} "
        f"instances whose parts were annotated: {m.num_images} crops ({m.num_positive_images} with parts, "
        f"{m.num_gt} part boxes).",
        f"Settings as the paper's §5.3: confidence {m.conf_threshold}, NMS {m.nms_threshold}, "
        f"IoU {m.iou_threshold}.",
        "",
        "| | Precision (%) | Recall (%) | F-score (%) | AP@0.5 (%) |",
        "|---|---:|---:|---:|---:|",
        f"| this run | {pct(m.precision)} | {pct(m.recall)} | {pct(m.f_score)} | {pct(m.ap50)} |",
        f"| this run, top-{m.top_k} per crop | {pct(m.topk_precision)} | {pct(m.topk_recall)} | "
        f"{pct(m.topk_f_score)} | |",
        f"| paper, VRAI (YOLOv3) | {pct(PAPER_VRAI['precision'])} | {pct(PAPER_VRAI['recall'])} | "
        f"{pct(PAPER_VRAI['f_score'])} | |",
        "",
        f"Counts at confidence {m.conf_threshold}: {m.tp} true positives, {m.fp} false positives, "
        f"{m.fn} missed part boxes.",
    ]
    if figure:
        lines += ["", f"![Ground truth (red) and top-{m.top_k} predictions (green)]({figure})"]
    return "\n".join(lines) + "\n"

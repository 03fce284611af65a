"""Attribute accuracy per head (paper Table 2) and the type confusion matrix (Fig. 6).

Targets are integer arrays with ``-1`` where the attribute is unset ("not annotated
yet" must not count as wrong, nor as right): colour and type are indices into
``schemas.vocab.COLORS`` / ``TYPES``, the four flags are 0/1. ``targets_from_attributes``
builds them from schema ``Attributes``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from reid.evaluation.rank import EvaluationError
from schemas.common import Attributes
from schemas.vocab import COLORS, FLAGS, TYPES

#: Head names, as the ``Attributes`` fields: two classifications, then the four flags.
HEADS: tuple[str, ...] = ("color", "type", *FLAGS)
UNSET = -1


@dataclass(frozen=True)
class AttributeAccuracy:
    """Accuracy of each head over its labelled samples (NaN when a head has none)."""

    accuracy: dict[str, float]
    labelled: dict[str, int]

    def as_dict(self) -> dict[str, float]:
        """Keys ``<head>_acc`` for ``ReidMetrics.attributes``; heads with no label left out."""
        return {f"{h}_acc": a for h, a in self.accuracy.items() if not np.isnan(a)}


def targets_from_attributes(attrs: Iterable[Attributes]) -> dict[str, np.ndarray]:
    """Per-head integer targets (``-1`` for unset) from schema attributes, in order."""
    items = list(attrs)
    out: dict[str, np.ndarray] = {}
    out["color"] = np.array([UNSET if a.color is None else COLORS.index(a.color) for a in items], np.int64)
    out["type"] = np.array([UNSET if a.type is None else TYPES.index(a.type) for a in items], np.int64)
    for flag in FLAGS:
        values = [getattr(a, flag) for a in items]
        out[flag] = np.array([UNSET if v is None else int(v) for v in values], np.int64)
    return out


def predicted_labels(pred: Any, head: str, flag_threshold: float = 0.0) -> np.ndarray:
    """Hard labels from what a head outputs.

    Colour/type: class indices (N,) or scores (N, C) -> argmax. Flags: booleans or 0/1
    integers as they are; floats are scores compared with ``flag_threshold`` (0 for
    logits, 0.5 for probabilities).
    """
    arr = np.asarray(pred.detach().cpu() if hasattr(pred, "detach") else pred)
    if head in ("color", "type"):
        if arr.ndim == 2:
            return np.argmax(arr, axis=1).astype(np.int64)
        if arr.ndim == 1 and np.issubdtype(arr.dtype, np.integer):
            return arr.astype(np.int64)
        raise EvaluationError(f"{head} predictions must be class indices (N,) or scores (N, C), got {arr.shape} {arr.dtype}")
    if arr.ndim != 1:
        raise EvaluationError(f"{head} predictions must be one value per sample, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.floating):
        return (arr > flag_threshold).astype(np.int64)
    return arr.astype(np.int64)


def attribute_accuracy(
    pred: Mapping[str, Any], target: Mapping[str, Any], flag_threshold: float = 0.0
) -> AttributeAccuracy:
    """Accuracy of every head present in both ``pred`` and ``target``; unset targets masked."""
    acc: dict[str, float] = {}
    labelled: dict[str, int] = {}
    for head in HEADS:
        if head not in pred or head not in target:
            continue
        p = predicted_labels(pred[head], head, flag_threshold)
        t = np.asarray(target[head], dtype=np.int64)
        if p.shape != t.shape:
            raise EvaluationError(f"{head}: {len(p)} predictions for {len(t)} targets")
        mask = t != UNSET
        n = int(mask.sum())
        labelled[head] = n
        acc[head] = float(np.mean(p[mask] == t[mask])) if n else float("nan")
    return AttributeAccuracy(acc, labelled)


def confusion_matrix(pred: Any, target: Any, num_classes: int) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class; unset targets left out."""
    p = np.asarray(pred, dtype=np.int64)
    t = np.asarray(target, dtype=np.int64)
    if p.shape != t.shape or p.ndim != 1:
        raise EvaluationError(f"predictions {p.shape} and targets {t.shape} must be equal 1-D shapes")
    mask = t != UNSET
    p, t = p[mask], t[mask]
    bad = (t < 0) | (t >= num_classes) | (p < 0) | (p >= num_classes)
    if bad.any():
        raise EvaluationError(f"labels must lie in [0, {num_classes}) or be {UNSET} (unset)")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def type_confusion_matrix(pred: Any, target: Any, normalize: bool = True) -> np.ndarray:
    """The paper's Fig. 6: vehicle types (``schemas.vocab.TYPES`` order), each true-type row
    normalised to sum to 1 (a type with no sample keeps a row of zeros)."""
    counts = confusion_matrix(predicted_labels(pred, "type"), target, len(TYPES))
    if not normalize:
        return counts
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)

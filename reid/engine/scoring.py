"""From extracted features to the numbers of a report: ranking metrics, attribute accuracy,
the type confusion matrix and ranked lists for sample queries (pure, no I/O)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from reid.evaluation import (
    AttributeAccuracy,
    RankResult,
    attribute_accuracy,
    evaluate_features,
    ranked_lists_features,
    type_confusion_matrix,
)
from schemas import FLAGS

from ..data.items import ReidItem

Metric = Literal["euclidean", "cosine"]

__all__ = ["Scored", "sample_queries", "score_features"]


@dataclass
class Scored:
    rank: RankResult | None  # None: the gallery's identities are hidden (official release test set)
    attributes: AttributeAccuracy | None  # None: the model has no attribute heads
    type_counts: np.ndarray | None  # raw confusion counts (rows: true type)
    samples: list[int] = field(default_factory=list)  # query rows shown as ranked lists
    ranked: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))  # gallery indices per sample
    distances: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))


def sample_queries(n: int, count: int) -> list[int]:
    """Evenly spaced query rows: deterministic and spread over clips (splits are in clip order)."""
    if n <= 0 or count <= 0:
        return []
    count = min(count, n)
    return sorted({int(round(i * (n - 1) / max(count - 1, 1))) for i in range(count)})


def _targets(items: list[ReidItem]) -> dict[str, np.ndarray]:
    out = {"color": np.array([it.color for it in items], np.int64),
           "type": np.array([it.type for it in items], np.int64)}
    for j, f in enumerate(FLAGS):
        out[f] = np.array([it.flags[j] for it in items], np.int64)
    return out


def score_features(q: dict[str, np.ndarray], g: dict[str, np.ndarray], q_items: list[ReidItem],
                   g_items: list[ReidItem], *, feature: str = "avg", metric: Metric = "euclidean",
                   samples: int = 8, k: int = 10) -> Scored:
    qf, gf = q[feature], g[feature]
    q_pids = np.array([it.pid for it in q_items])
    g_pids = np.array([it.pid for it in g_items])
    labelled = bool((q_pids >= 0).all() and (g_pids >= 0).all())
    rank = None
    if labelled:
        rank = evaluate_features(qf, gf, q_pids, g_pids, np.array([it.camid for it in q_items]),
                                 np.array([it.camid for it in g_items]), metric=metric)
    attrs = None
    counts = None
    if "color" in q:
        items = list(q_items) + list(g_items)
        pred: dict[str, Any] = {"color": np.concatenate([q["color"], g["color"]]),
                                "type": np.concatenate([q["type"], g["type"]])}
        flags = np.concatenate([q["flags"], g["flags"]])
        for j, f in enumerate(FLAGS):
            pred[f] = flags[:, j]
        target = _targets(items)
        attrs = attribute_accuracy(pred, target)
        counts = type_confusion_matrix(pred["type"], target["type"], normalize=False)
    rows = sample_queries(len(q_items), samples)
    kk = min(k, len(g_items))
    if rows and kk:
        if labelled:
            ids = (q_pids[rows], g_pids, np.array([q_items[r].camid for r in rows]),
                   np.array([it.camid for it in g_items]))
            ranked = ranked_lists_features(qf[rows], gf, kk, *ids, metric=metric)
        else:
            ranked = ranked_lists_features(qf[rows], gf, kk, metric=metric)
        dist = np.full(ranked.shape, np.nan, np.float32)
        for i, r in enumerate(rows):
            valid = ranked[i] >= 0
            dist[i, valid] = _distance(qf[r], gf[ranked[i][valid]], metric)
    else:
        ranked = np.zeros((len(rows), 0), np.int64)
        dist = np.zeros((len(rows), 0), np.float32)
    return Scored(rank, attrs, counts, rows, ranked, dist)


def _distance(qv: np.ndarray, gm: np.ndarray, metric: Metric) -> np.ndarray:
    if metric == "cosine":
        qn = qv / max(float(np.linalg.norm(qv)), 1e-12)
        gn = gm / np.maximum(np.linalg.norm(gm, axis=1, keepdims=True), 1e-12)
        return (1.0 - gn @ qn).astype(np.float32)
    return ((gm - qv[None]) ** 2).sum(axis=1).astype(np.float32)

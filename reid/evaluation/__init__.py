"""ReID evaluation: pure functions on distances or features and ids, no dataset I/O.

``evaluate_rank`` takes a distance matrix, ``evaluate_features`` takes features and never
holds the full matrix; both follow the standard protocol (see ``rank``). torch is only
imported when features are evaluated.
"""
from __future__ import annotations

from reid.evaluation.attributes import (
    AttributeAccuracy,
    attribute_accuracy,
    confusion_matrix,
    type_confusion_matrix,
)
from reid.evaluation.chunked import evaluate_features, pairwise_distances, ranked_lists_features
from reid.evaluation.rank import (
    EvaluationError,
    RankResult,
    Relevance,
    evaluate_rank,
    ranked_lists,
)

__all__ = [
    "AttributeAccuracy",
    "EvaluationError",
    "RankResult",
    "Relevance",
    "attribute_accuracy",
    "confusion_matrix",
    "evaluate_features",
    "evaluate_rank",
    "pairwise_distances",
    "ranked_lists",
    "ranked_lists_features",
    "type_confusion_matrix",
]

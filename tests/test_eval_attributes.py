"""Attribute accuracy (unset labels masked) and the type confusion matrix, on hand-built cases."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from reid.evaluation import EvaluationError, attribute_accuracy, confusion_matrix, type_confusion_matrix
from reid.evaluation.attributes import HEADS, targets_from_attributes
from schemas.common import Attributes
from schemas.vocab import TYPES


def test_accuracy_per_head_ignores_unset_targets():
    target = {
        "color": np.array([0, 1, -1, 2]),
        "type": np.array([3, 3, 3, -1]),
        "skylight": np.array([1, 0, -1, -1]),
        "bumper": np.array([-1, -1, -1, -1]),
    }
    pred = {
        "color": np.array([0, 2, 5, 2]),  # 2 of 3 labelled right; the unset one is ignored
        "type": np.array([3, 0, 3, 6]),  # 2 of 3
        "skylight": np.array([True, True, False, False]),  # 1 of 2
        "bumper": np.array([0, 1, 0, 1]),  # nothing labelled
    }
    acc = attribute_accuracy(pred, target)
    assert acc.accuracy["color"] == pytest.approx(2 / 3)
    assert acc.accuracy["type"] == pytest.approx(2 / 3)
    assert acc.accuracy["skylight"] == pytest.approx(1 / 2)
    assert np.isnan(acc.accuracy["bumper"])
    assert acc.labelled == {"color": 3, "type": 3, "skylight": 2, "bumper": 0}
    assert "spare_tire" not in acc.accuracy  # heads absent from the inputs are not reported
    assert acc.as_dict() == {"color_acc": pytest.approx(2 / 3), "type_acc": pytest.approx(2 / 3),
                             "skylight_acc": 0.5}


def test_scores_are_turned_into_labels():
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0]])  # argmax 1, 0
    flags = np.array([-0.2, 0.3, 0.7])  # logits: > 0 is True
    target = {"color": np.array([1, 1]), "spare_tire": np.array([0, 1, 0])}
    acc = attribute_accuracy({"color": logits, "spare_tire": flags}, target)
    assert acc.accuracy == {"color": 0.5, "spare_tire": pytest.approx(2 / 3)}
    probs = attribute_accuracy({"spare_tire": np.array([0.2, 0.3, 0.7])}, target, flag_threshold=0.5)
    assert probs.accuracy["spare_tire"] == pytest.approx(1 / 3)


def test_targets_from_schema_attributes():
    attrs = [
        Attributes(color="Red", type="SUV", skylight=True, bumper=False),
        Attributes(),
    ]
    t = targets_from_attributes(attrs)
    assert set(t) == set(HEADS)
    assert t["color"].tolist() == [3, -1]
    assert t["type"].tolist() == [TYPES.index("SUV"), -1]
    assert t["skylight"].tolist() == [1, -1] and t["bumper"].tolist() == [0, -1]
    assert t["luggage_rack"].tolist() == [-1, -1]


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    target = [0, 0, 1, 2, 2, 2, -1]
    pred = [0, 1, 1, 2, 0, 2, 1]
    m = confusion_matrix(pred, target, 3)
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_type_confusion_matrix_is_row_normalised_over_the_seven_types():
    sedan, suv, bus = TYPES.index("Sedan"), TYPES.index("SUV"), TYPES.index("Bus")
    target = np.array([sedan, sedan, sedan, sedan, suv, suv, -1])
    pred = np.array([sedan, sedan, sedan, suv, suv, sedan, bus])
    m = type_confusion_matrix(pred, target)
    assert m.shape == (len(TYPES), len(TYPES))
    assert m[sedan, sedan] == 0.75 and m[sedan, suv] == 0.25
    assert m[suv, suv] == 0.5 and m[suv, sedan] == 0.5
    assert m[bus].tolist() == [0.0] * len(TYPES)  # no bus in the targets: a zero row, not NaN
    counts = type_confusion_matrix(pred, target, normalize=False)
    assert counts.sum() == 6 and counts[sedan, sedan] == 3


def test_bad_labels_and_shapes_are_errors():
    with pytest.raises(EvaluationError, match="labels must lie"):
        confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(EvaluationError, match="2 predictions for 3 targets"):
        attribute_accuracy({"color": np.array([0, 1])}, {"color": np.array([0, 1, 2])})
    with pytest.raises(EvaluationError, match="class indices"):
        attribute_accuracy({"type": np.array([0.5, 0.2])}, {"type": np.array([0, 1])})

"""Pre-filling attributes from a trained multi-task model (``--model RUN``), torch loaded lazily.

The model predicts every crop of a vehicle; the vehicle's proposal is the class with
the highest mean score over its crops (a flag: mean probability above 0.5), because
one blurred crop should not outvote ten clear ones. Proposals are shown beside the
values; Enter accepts them.

The multi-task ReID model lives in ``reid``; this module needs one function from it,
imported at run time (off the UI thread)::

    reid.inference.load_attribute_predictor(run: Path, device: str = "cpu") -> predictor
    predictor.predict(crops: list[np.ndarray (H, W, 3) uint8 RGB]) -> {
        "color": (N, 9) scores, "type": (N, 7) scores,        # logits or probabilities
        "skylight" | "bumper" | "spare_tire" | "luggage_rack": (N,) probabilities}

The crops are the instances' tight boxes (:func:`vrai_tools.crops.pixel_box`), as in
training. A run that cannot propose attributes (no such folder, no checkpoint, no
attribute heads as in a ``triplet`` run, no torch) gives a one-line :class:`AssistError`
for the status bar, never a traceback.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Protocol, Sequence

import numpy as np

from schemas import COLORS, FLAGS, TYPES, Attributes
from vrai_tools.errors import VraiToolsError


class AttributePredictor(Protocol):
    def predict(self, crops: Sequence[np.ndarray]) -> Mapping[str, np.ndarray]: ...


class AssistError(VraiToolsError):
    """A model that cannot be used for proposals."""


def load_predictor(run: Path | str, device: str = "cpu") -> AttributePredictor:
    run = Path(run)
    if not run.exists():
        raise AssistError(f"--model {run}: no such run folder or checkpoint")
    try:
        from reid.inference import load_attribute_predictor
    except ImportError as e:
        raise AssistError(f"--model {run}: attribute proposals need torch and torchvision ({e}); "
                          "annotate without --model") from None
    try:
        return load_attribute_predictor(run, device=device)
    except VraiToolsError as e:  # e.g. a triplet run: no attribute heads
        raise AssistError(" ".join(str(e).split())) from None
    except Exception as e:  # a corrupt file torch cannot read, ...: still one line for the status bar
        raise AssistError(f"--model {run}: cannot load the model ({type(e).__name__}: {' '.join(str(e).split())})") \
            from None


def _softmax(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2:
        raise AssistError(f"expected (N, C) class scores, got shape {s.shape}")
    if np.all(s >= 0) and np.allclose(s.sum(axis=1), 1.0, atol=1e-3):
        return s  # already probabilities
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def aggregate(predictions: Mapping[str, np.ndarray]) -> Attributes:
    """One vehicle's proposal from the predictions of its crops."""
    out: dict[str, object] = {}
    for field, names in (("color", COLORS), ("type", TYPES)):
        if field in predictions and len(predictions[field]):
            probs = _softmax(predictions[field]).mean(axis=0)
            if probs.shape[0] != len(names):
                raise AssistError(f"{field}: the model has {probs.shape[0]} classes, the paper's vocabulary {len(names)}")
            out[field] = names[int(np.argmax(probs))]
    for flag in FLAGS:
        if flag in predictions and len(predictions[flag]):
            p = np.asarray(predictions[flag], dtype=np.float64).ravel()
            if np.any(p < 0) or np.any(p > 1):
                p = 1.0 / (1.0 + np.exp(-p))  # logits
            out[flag] = bool(p.mean() > 0.5)
    return Attributes(**out)  # type: ignore[arg-type]


def propose(predictor: AttributePredictor, crops_by_group: Mapping[str, Sequence[np.ndarray]]) -> dict[str, Attributes]:
    """Proposals per group id (runs the model; call it off the UI thread)."""
    out: dict[str, Attributes] = {}
    for gid, crops in crops_by_group.items():
        if crops:
            out[gid] = aggregate(predictor.predict(list(crops)))
    return out

"""Optional ReID model assistance (``vrai-annotate --model RUN``), loaded lazily.

The annotator must start without torch, so nothing here imports ``reid`` or ``torch``
until a model is actually asked for, and then on the ranking worker thread.

The contract with ``reid/`` is one function, :func:`reid.engine.embed.load_embedder`::

    load_embedder(run: Path, device: str = "cpu") -> Embedder

where an ``Embedder`` has ``embed(crops: list of HxWx3 uint8 RGB arrays) -> float array
(N, D)``. The crops are the instances' tight boxes, exactly as ReID training reads them
(:func:`vrai_tools.appearance.model_crop`, i.e. :func:`vrai_tools.crops.pixel_box`; the
matching view's display crops have a margin and are never fed to the model); the
model's own resizing and pixel normalisation happen inside ``embed``.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from vrai_tools.errors import VraiToolsError

PROVIDER = "reid.engine.embed"


class Embedder(Protocol):
    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray: ...


class ModelUnavailable(VraiToolsError):
    """``--model`` given but no model can be loaded from it."""


def load_embedder(run: Path | str, device: str = "cpu") -> Embedder:
    """The run's embedder; :class:`ModelUnavailable` (one line, for the status bar) when it cannot be used."""
    run = Path(run)
    if not run.exists():
        raise ModelUnavailable(f"{run}: no such training run (expected a folder written by 'vrai-tools train')")
    try:
        module = importlib.import_module(PROVIDER)
    except ImportError as e:
        raise ModelUnavailable(f"{run}: ranking with a ReID model needs torch and torchvision ({e}); "
                               "ranking uses the built-in colour-and-shape descriptor instead") from None
    try:
        return module.load_embedder(run, device=device)
    except VraiToolsError as e:
        raise ModelUnavailable(str(e)) from None


def embed_tracklet(embedder: Embedder, crops: Sequence[np.ndarray]) -> np.ndarray:
    """Mean of the instance embeddings, L2-normalised: one vector per tracklet."""
    if not crops:
        raise ValueError("embed_tracklet: no crops")
    feats = np.asarray(embedder.embed(list(crops)), dtype=np.float64)
    feats /= np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    mean = feats.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)

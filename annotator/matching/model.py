"""Optional ReID model assistance (``vrai-annotate --model RUN``), loaded lazily.

The annotator must start without torch, so nothing here imports ``reid`` or ``torch``
until a model is actually asked for, and then on the ranking worker thread.

The contract with ``reid/`` is one function, looked up in the first module of
:data:`PROVIDERS` that has it::

    load_embedder(run: Path, device: str = "cpu") -> Embedder

where an ``Embedder`` has ``embed(crops: list of HxWx3 uint8 RGB arrays) -> float array
(N, D)`` (box crops as cut by :func:`vrai_tools.appearance.box_crop`; the model's own
resizing and pixel normalisation happen inside ``embed``).
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from vrai_tools.errors import VraiToolsError

PROVIDERS = ("reid.engine.embed", "reid.engine.features", "reid.engine.extract", "reid.engine")


class Embedder(Protocol):
    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray: ...


class ModelUnavailable(VraiToolsError):
    """``--model`` given but no model can be loaded from it."""


def load_embedder(run: Path | str, device: str = "cpu") -> Embedder:
    run = Path(run)
    if not run.exists():
        raise ModelUnavailable(f"{run}: no such training run (expected a folder written by 'vrai-tools train')")
    for name in PROVIDERS:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        loader = getattr(module, "load_embedder", None)
        if loader is not None:
            return loader(run, device=device)
    raise ModelUnavailable(
        f"{run}: this installation has no ReID feature extractor (reid.engine.*.load_embedder); "
        "ranking uses the built-in colour-and-shape descriptor instead")


def embed_tracklet(embedder: Embedder, crops: Sequence[np.ndarray]) -> np.ndarray:
    """Mean of the instance embeddings, L2-normalised: one vector per tracklet."""
    if not crops:
        raise ValueError("embed_tracklet: no crops")
    feats = np.asarray(embedder.embed(list(crops)), dtype=np.float64)
    feats /= np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    mean = feats.mean(axis=0)
    return mean / max(float(np.linalg.norm(mean)), 1e-12)

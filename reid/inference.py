"""Model assistance for the annotator: a trained run's embeddings and attribute predictions on crops.

Two entry points, both over the one loader :func:`reid.engine.embed.load_run_model`:

- :func:`load_embedder` (stage 2: ranking match candidates), see :mod:`reid.engine.embed`;
- :func:`load_attribute_predictor` (stage 3: attribute proposals). Its ``predict(crops)``
  returns, per crop, the colour and type class probabilities (softmax of the heads) and
  each of the four flags' probability (sigmoid), in the vocabulary order of
  :mod:`schemas.vocab` - what :func:`annotator.attributes.assist.aggregate` consumes::

      {"color": (N, 9), "type": (N, 7), "skylight": (N,), "bumper": (N,),
       "spare_tire": (N,), "luggage_rack": (N,)}

Only runs trained with the attribute heads (presets ``multitask`` and ``multitask+dp``)
can propose attributes; any other run is refused with a one-line
:class:`NoAttributeHeads` error.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from schemas import COLORS, FLAGS, TYPES
from vrai_tools.errors import VraiToolsError

from .engine.embed import Embedder, RunModel, load_embedder, load_run_model
from .presets import PRESETS

__all__ = ["AttributePredictor", "Embedder", "NoAttributeHeads", "load_attribute_predictor", "load_embedder"]


class NoAttributeHeads(VraiToolsError):
    """The run's model has no colour/type/flag heads (e.g. a ``triplet`` run)."""


class AttributePredictor:
    def __init__(self, run_model: RunModel) -> None:
        if not run_model.spec.attributes:
            raise NoAttributeHeads(_no_heads(run_model))
        self.run_model = run_model

    def describe(self) -> str:
        return self.run_model.describe()

    def predict(self, crops: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
        if len(crops) == 0:
            empty: dict[str, np.ndarray] = {"color": np.zeros((0, len(COLORS)), np.float32),
                                            "type": np.zeros((0, len(TYPES)), np.float32)}
            return {**empty, **{f: np.zeros(0, np.float32) for f in FLAGS}}
        got = self.run_model.run(list(crops), lambda out: {
            "color": out["color"].softmax(dim=1),
            "type": out["type"].softmax(dim=1),
            "flags": out["flags"].sigmoid(),
        })
        flags = got.pop("flags")
        return {**got, **{name: flags[:, i] for i, name in enumerate(FLAGS)}}


def _no_heads(rm: RunModel) -> str:
    able = " or ".join(repr(name) for name, p in PRESETS.items() if p.attributes)
    return (f"{rm.checkpoint}: this run (preset {rm.preset!r}) has no attribute heads, so it cannot propose "
            f"attributes; use a run trained with preset {able}")


def load_attribute_predictor(run: Path | str, device: str = "cpu") -> AttributePredictor:
    """Stage 3's contract (:mod:`annotator.attributes.assist`)."""
    return AttributePredictor(load_run_model(run, device))

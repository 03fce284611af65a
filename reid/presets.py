"""The rows of the paper's Table 3, as loss recipes.

=================  ===========================================================
``triplet``        batch-hard triplet loss on the pooled feature
``contrastive``    contrastive loss on the pooled feature (baseline)
``id``             identity classification (cross-entropy, label smoothing 0.1)
``triplet+id``     both
``multitask``      triplet + ID + colour, type (cross-entropy) and the four flags (BCE)
``multitask+dp``   multitask + the weighted-pooling feature and its own triplet loss
                   (discriminative parts, gamma = 1.3 on the 11 x 11 map)
=================  ===========================================================

A preset decides which heads the model has (:func:`model_spec`), so each row trains
exactly the parameters it uses. Weights of the loss terms are 1 unless a config
overrides them (``loss_weights``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

from vrai_tools.errors import VraiToolsError

__all__ = ["LOSS_NAMES", "PRESETS", "Preset", "get_preset"]

LOSS_NAMES: tuple[str, ...] = ("triplet", "contrastive", "id", "color", "type", "flags", "triplet_weighted")


@dataclass(frozen=True)
class Preset:
    name: str
    losses: Mapping[str, float]
    description: str = ""
    paper_row: str = ""
    extra: Mapping[str, float] = field(default_factory=dict)

    @property
    def uses_parts(self) -> bool:
        return "triplet_weighted" in self.losses

    @property
    def id_head(self) -> bool:
        return "id" in self.losses

    @property
    def attributes(self) -> bool:
        return any(k in self.losses for k in ("color", "type", "flags"))

    def weights(self, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
        out = dict(self.losses)
        for name, w in (overrides or {}).items():
            if name not in out:
                raise VraiToolsError(f"loss_weights: preset {self.name!r} has no {name!r} loss "
                                     f"(it has {', '.join(out)})")
            out[name] = float(w)
        return out


def _p(name: str, losses: dict[str, float], description: str, row: str) -> Preset:
    return Preset(name, MappingProxyType(losses), description, row)


_ATTR = {"color": 1.0, "type": 1.0, "flags": 1.0}
PRESETS: Mapping[str, Preset] = MappingProxyType({
    "triplet": _p("triplet", {"triplet": 1.0}, "batch-hard triplet loss", "Triplet Loss"),
    "contrastive": _p("contrastive", {"contrastive": 1.0}, "contrastive loss", "Contrastive Loss"),
    "id": _p("id", {"id": 1.0}, "identity classification", "ID Classification Loss"),
    "triplet+id": _p("triplet+id", {"triplet": 1.0, "id": 1.0}, "triplet + identity classification",
                     "Triplet + ID Loss"),
    "multitask": _p("multitask", {"triplet": 1.0, "id": 1.0, **_ATTR},
                    "triplet + identity + attribute classification", "Multi-task"),
    "multitask+dp": _p("multitask+dp", {"triplet": 1.0, "id": 1.0, **_ATTR, "triplet_weighted": 1.0},
                       "multitask + weighted pooling over discriminative parts", "Multi-task + DP"),
})


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise VraiToolsError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None

"""The stages, registered in one place: the shell, the overview and the menus read this list.

A new stage is a view (``StageView``), a document (``BaseDocument``) and one entry here,
plus its rows in :data:`annotator.actions.ACTIONS` with ``scope`` = its id.

Stages 2–4 are listed through their ``stage`` modules (``ID``, ``TITLE``, ``UNIT``,
``make_view``, ``load``, ``files``), which import their views and documents only when
first used: those import :mod:`annotator.stages.base` and so cannot be imported while
this package is still initialising.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable, Literal

from schemas import Manifest
from vrai_tools.dataset import DatasetRoot

from ..attributes import stage as attributes_stage
from ..document import BaseDocument, ClipDocument
from ..matching import stage as matching_stage
from ..parts import stage as parts_stage
from .base import StageView
from .corners.view import CornersView


@dataclass(frozen=True)
class StageSpec:
    id: str
    title: str
    unit: Literal["clip", "pair"]  # what the overview opens it on
    view: Callable[[], StageView]
    # (root, manifest, clip or pair id, annotator, read-only reason) -> document; raises DatasetFileError
    load: Callable[[DatasetRoot, Manifest, str, str, str], BaseDocument]
    files: Callable[[DatasetRoot, str], list[Path]]  # the files it writes, locked while open


def _from_module(m: ModuleType) -> StageSpec:
    return StageSpec(m.ID, m.TITLE, m.UNIT, m.make_view, m.load, m.files)


STAGES: tuple[StageSpec, ...] = (
    StageSpec("corners", "1 · Corners → box", "clip", CornersView, ClipDocument.load,
              lambda root, clip_id: [root.annotations_path(clip_id)]),
    _from_module(matching_stage),
    _from_module(attributes_stage),
    _from_module(parts_stage),
)
STAGE_IDS: tuple[str, ...] = tuple(s.id for s in STAGES)


def stage(stage_id: str) -> StageSpec:
    for s in STAGES:
        if s.id == stage_id:
            return s
    raise KeyError(f"unknown stage {stage_id!r} (known: {', '.join(STAGE_IDS)})")

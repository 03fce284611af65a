"""The stages, registered in one place: the shell, the overview and the menus read this list.

A new stage is a view (``StageView``), a document (``BaseDocument``, with its ``load`` and
``files``) and one row here, plus its rows in :data:`annotator.actions.ACTIONS` with
``scope`` = its id.

Views and documents are named as ``"module:Class"`` and imported when first used: they
import :mod:`annotator.stages.base`, so they cannot be imported while this package is
still initialising, and the app starts without loading every stage.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from schemas import Manifest
from vrai_tools.dataset import DatasetRoot

from ..document import BaseDocument
from .base import StageView


@cache
def _resolve(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class StageSpec:
    id: str
    title: str
    unit: Literal["clip", "pair"]  # what the overview opens it on
    view_class: str  # "module:Class" of its StageView
    document_class: str  # "module:Class" of its BaseDocument

    def view(self) -> StageView:
        return _resolve(self.view_class)()

    def load(self, root: DatasetRoot, manifest: Manifest, target: str, annotator: str,
             read_only_reason: str = "") -> BaseDocument:
        """The document for clip or pair ``target``; raises ``DatasetFileError`` for a corrupt file."""
        return _resolve(self.document_class).load(root, manifest, target, annotator, read_only_reason)

    def files(self, root: DatasetRoot, target: str) -> list[Path]:
        """The files the stage writes for ``target``, locked while it is open."""
        return _resolve(self.document_class).files(root, target)


STAGES: tuple[StageSpec, ...] = (
    StageSpec("corners", "1 · Corners → box", "clip",
              "annotator.stages.corners.view:CornersView", "annotator.document:ClipDocument"),
    StageSpec("matching", "2 · Cross-camera matching", "pair",
              "annotator.matching.view:MatchingView", "annotator.matching.document:MatchingDocument"),
    StageSpec("attributes", "3 · Attributes", "pair",
              "annotator.attributes.view:AttributesView", "annotator.attributes.document:AttributesDocument"),
    StageSpec("parts", "4 · Parts", "pair",
              "annotator.parts.view:PartsView", "annotator.parts.document:PartsDocument"),
)
STAGE_IDS: tuple[str, ...] = tuple(s.id for s in STAGES)


def stage(stage_id: str) -> StageSpec:
    for s in STAGES:
        if s.id == stage_id:
            return s
    raise KeyError(f"unknown stage {stage_id!r} (known: {', '.join(STAGE_IDS)})")

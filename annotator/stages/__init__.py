"""The stages, registered in one place: the shell, the overview and the menus read this list.

A new stage is a view (``StageView``), a document (``BaseDocument``) and one entry here,
plus its rows in :data:`annotator.actions.ACTIONS` with ``scope`` = its id.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from schemas import Manifest
from vrai_tools.dataset import DatasetRoot

from ..document import BaseDocument, ClipDocument
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


STAGES: tuple[StageSpec, ...] = (
    StageSpec("corners", "1 · Corners → box", "clip", CornersView, ClipDocument.load,
              lambda root, clip_id: [root.annotations_path(clip_id)]),
)


def stage(stage_id: str) -> StageSpec:
    for s in STAGES:
        if s.id == stage_id:
            return s
    raise KeyError(f"unknown stage {stage_id!r} (known: {', '.join(s.id for s in STAGES)})")

"""Stage 2's entry in the shell's stage table (lazy imports; see :mod:`annotator.attributes.stage`)."""
from __future__ import annotations

from pathlib import Path

from schemas import Manifest
from vrai_tools.dataset import DatasetRoot

ID = "matching"
TITLE = "2 · Cross-camera matching"
UNIT = "pair"


def make_view():  # -> MatchingView
    from .view import MatchingView

    return MatchingView()


def load(root: DatasetRoot, manifest: Manifest, pair_id: str, annotator: str, read_only_reason: str = ""):
    from .document import MatchingDocument

    return MatchingDocument.load(root, manifest, pair_id, annotator, read_only_reason)


def files(root: DatasetRoot, pair_id: str) -> list[Path]:
    """Stage 2 writes the pair's matching file only (stage-1 boxes are read, never written)."""
    return [root.matching_path(pair_id)]

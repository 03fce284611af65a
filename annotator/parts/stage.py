"""Stage 4's entry in the shell's stage table (lazy imports; see :mod:`annotator.attributes.stage`)."""
from __future__ import annotations

from pathlib import Path

from schemas import Manifest
from vrai_tools.dataset import DatasetRoot

ID = "parts"
TITLE = "4 · Parts"
UNIT = "pair"


def make_view():  # -> PartsView
    from .view import PartsView

    return PartsView()


def load(root: DatasetRoot, manifest: Manifest, pair_id: str, annotator: str, read_only_reason: str = ""):
    from .document import PartsDocument

    return PartsDocument.load(root, manifest, pair_id, annotator, read_only_reason)


def files(root: DatasetRoot, pair_id: str) -> list[Path]:
    from .document import PartsDocument

    return PartsDocument.files(root, pair_id)

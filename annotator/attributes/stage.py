"""Stage 3's entry in the shell's stage table, importable without an import cycle.

``annotator/stages/__init__.py`` imports this module while the ``annotator.stages``
package is still initialising, so nothing here may import the stage view (which needs
``annotator.stages.base``) at module level: the view is imported when first built.
"""
from __future__ import annotations

from pathlib import Path

from schemas import Manifest
from vrai_tools.dataset import DatasetRoot

ID = "attributes"
TITLE = "3 · Attributes"
UNIT = "pair"


def make_view():  # -> AttributesView
    from .view import AttributesView

    return AttributesView()


def load(root: DatasetRoot, manifest: Manifest, pair_id: str, annotator: str, read_only_reason: str = ""):
    from .document import AttributesDocument

    return AttributesDocument.load(root, manifest, pair_id, annotator, read_only_reason)


def files(root: DatasetRoot, pair_id: str) -> list[Path]:
    from .document import AttributesDocument

    return AttributesDocument.files(root, pair_id)

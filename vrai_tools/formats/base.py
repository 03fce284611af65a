"""What a format's converter hands to the exporter: files to cut, copy and write."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..index import InstanceRecord


@dataclass
class ExportPlan:
    """Everything an export writes, relative to the output folder, decided before any write.

    ``crops``: instance crops to cut (native resolution); ``frames``: whole frame images to
    copy (source relative to the dataset root); ``files``: small metadata files, already
    serialised. ``folders``: the top-level entries this format owns (replaced by --force).
    """

    folders: list[str]
    crops: list[tuple[InstanceRecord, str]] = field(default_factory=list)
    frames: list[tuple[str, str]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

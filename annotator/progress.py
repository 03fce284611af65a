"""Per-stage progress of every clip, computed from the files (Qt-free).

- corners: frames marked done / sampled frames;
- matching: instances in a tracklet that belongs to a vehicle or is marked no_match;
- attributes: instances whose effective attributes (vehicle's, overridden per instance) are complete;
- parts: instances whose parts state is not ``todo``.
A file that cannot be read gives an error line instead of numbers: the overview must
open even when one clip is broken.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from schemas import Attributes, ClipAnnotations, PairMatching
from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import VraiToolsError

PROGRESS_STAGES = ("corners", "matching", "attributes", "parts")


@dataclass(frozen=True)
class Count:
    done: int
    total: int

    def __str__(self) -> str:
        if self.total == 0:
            return "–"
        return f"{self.done}/{self.total} ({100 * self.done // self.total}%)"


@dataclass
class ClipProgress:
    clip_id: str
    camera: str
    frames: int
    counts: dict[str, Count] = field(default_factory=dict)  # stage id -> count
    error: str | None = None


@dataclass
class PairProgress:
    pair_id: str
    description: str
    clips: list[ClipProgress] = field(default_factory=list)
    error: str | None = None  # the pair's matching file


def clip_counts(ann: ClipAnnotations, frames: int, matching: PairMatching | None) -> dict[str, Count]:
    n = len(ann.instances)
    vehicle_attrs: dict[str, Attributes] = {}
    decided: set[str] = set()
    if matching is not None:
        by_tracklet = {tid: v for v in matching.vehicles for tid in v.tracklets}
        for t in matching.tracklets:
            vehicle = by_tracklet.get(t.id)
            if vehicle is not None or t.no_match:
                decided.update(t.instances)
            if vehicle is not None:
                for key in t.instances:
                    vehicle_attrs[key] = vehicle.attributes
    empty = Attributes()
    return {
        "corners": Count(len(set(ann.frames_done)), frames),
        "matching": Count(sum(1 for i in ann.instances if i.key in decided), n),
        "attributes": Count(sum(1 for i in ann.instances
                                if i.attributes.merged_over(vehicle_attrs.get(i.key, empty)).is_complete()), n),
        "parts": Count(sum(1 for i in ann.instances if i.parts.state != "todo"), n),
    }


def dataset_progress(root: DatasetRoot) -> list[PairProgress]:
    """Raises only when the manifest itself cannot be read."""
    manifest = root.manifest()
    out = []
    for pair in manifest.pairs:
        pp = PairProgress(pair.id, pair.description)
        matching: PairMatching | None = None
        try:
            matching = root.matching(pair.id)
        except VraiToolsError as e:
            pp.error = str(e)
        for cam, clip in sorted(manifest.pair_clips(pair.id).items()):
            cp = ClipProgress(clip.id, cam, len(clip.frames))
            try:
                cp.counts = clip_counts(root.annotations(clip.id, manifest), len(clip.frames), matching)
            except VraiToolsError as e:
                cp.error = str(e)
            pp.clips.append(cp)
        out.append(pp)
    return out

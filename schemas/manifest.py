"""``dataset.json``: location pairs, clips and their sampled frames."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from .base import Camera, FrameIndex, Identifier, RelPath, Seconds, VraiModel


class Frame(VraiModel):
    """One sampled frame; ``index`` k is the k-th sample, stored as ``frames/<clip>/<k:06d>.jpg``."""

    index: FrameIndex
    timestamp: Seconds  # presentation time from the start of the clip
    file: RelPath
    video_frame: int | None = Field(default=None, ge=0)  # decoded frame number it came from
    width: int | None = Field(default=None, gt=0)  # only where frames differ in size (imported release)
    height: int | None = Field(default=None, gt=0)
    altitude: float | None = None  # metres above take-off, from the SRT sidecar
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    abs_time: datetime | None = None


class Clip(VraiModel):
    id: Identifier
    pair: Identifier
    camera: Camera
    video: RelPath | None = None  # None for an imported release (no videos)
    telemetry: RelPath | None = None
    fps: float | None = Field(default=None, gt=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    duration: Seconds | None = None
    start_time: datetime | None = None
    sync_offset: float = 0.0  # seconds added to this clip's time to reach the pair's common clock
    frames: list[Frame] = Field(default_factory=list)

    @model_validator(mode="after")
    def _frames_ordered(self) -> "Clip":
        prev_index, prev_t = -1, -1.0
        for i, f in enumerate(self.frames):
            if f.index <= prev_index:
                raise ValueError(f"frames[{i}].index {f.index} is not after frames[{i - 1}].index {prev_index}")
            if f.timestamp < prev_t:
                raise ValueError(f"frames[{i}].timestamp {f.timestamp} goes back in time (previous {prev_t})")
            prev_index, prev_t = f.index, f.timestamp
        return self

    def frame_size(self, frame: Frame) -> tuple[int, int]:
        return (frame.width or self.width, frame.height or self.height)


class LocationPair(VraiModel):
    """Two drones filming adjacent locations at the same time (the VRAI capture setup)."""

    id: Identifier
    description: str = ""


class Manifest(VraiModel):
    schema_version: Literal[1] = 1
    name: str
    source: Literal["video", "synthetic", "vrai-release", "market1501"] = "video"  # last two: imported loose images
    sample_every: Seconds | None = 0.5
    pairs: list[LocationPair] = Field(default_factory=list)
    clips: list[Clip] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> "Manifest":
        pair_ids: set[str] = set()
        for i, p in enumerate(self.pairs):
            if p.id in pair_ids:
                raise ValueError(f"pairs[{i}].id {p.id!r} is duplicated")
            pair_ids.add(p.id)
        clip_ids: set[str] = set()
        cams: set[tuple[str, str]] = set()
        for i, c in enumerate(self.clips):
            if c.id in clip_ids:
                raise ValueError(f"clips[{i}].id {c.id!r} is duplicated")
            clip_ids.add(c.id)
            if c.pair not in pair_ids:
                raise ValueError(f"clips[{i}].pair {c.pair!r} is not a declared pair")
            if (c.pair, c.camera) in cams:
                raise ValueError(f"clips[{i}]: pair {c.pair!r} already has a camera {c.camera} clip")
            cams.add((c.pair, c.camera))
        return self

    def clip(self, clip_id: str) -> Clip:
        for c in self.clips:
            if c.id == clip_id:
                return c
        raise KeyError(clip_id)

    def pair_clips(self, pair_id: str) -> dict[str, Clip]:
        return {c.camera: c for c in self.clips if c.pair == pair_id}

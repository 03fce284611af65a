"""``annotations/<clip_id>.json``: stages 1, 3 and 4 for every instance of one clip."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import FrameIndex, Identifier, InstanceKey, Point, VraiModel, XyxyBox, clip_of_key
from .common import Attributes, Parts, Provenance
from .vocab import Stage

BBOX_TOLERANCE = 1e-3  # pixels; JSON float round-trips stay far below this


def bbox_of_corners(corners: tuple[Point, ...] | list[Point]) -> tuple[float, float, float, float]:
    """The smallest axis-aligned rectangle containing the corners (the paper's box)."""
    xs = [p[0] for p in corners]
    ys = [p[1] for p in corners]
    return (min(xs), min(ys), max(xs), max(ys))


def corners_problem(corners: tuple[Point, ...] | list[Point], min_area: float = 1.0) -> str | None:
    """Why four clicked corners do not make a vehicle outline, or None when they do.

    Unrolled on purpose: it runs once per instance, 137k times when a VRAI-sized
    dataset is validated.
    """
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = corners
    crosses = (
        (bx - ax) * (cy - ay) - (by - ay) * (cx - ax),
        (cx - bx) * (dy - by) - (cy - by) * (dx - bx),
        (dx - cx) * (ay - cy) - (dy - cy) * (ax - cx),
        (ax - dx) * (by - dy) - (ay - dy) * (bx - dx),
    )
    c0, c1, c2, c3 = crosses
    if (c0 >= min_area or c0 <= -min_area) and (c1 >= min_area or c1 <= -min_area) and \
            (c2 >= min_area or c2 <= -min_area) and (c3 >= min_area or c3 <= -min_area):
        return None  # the common case; every pair of points shares one of these triangles, so none repeats
    pts = ((ax, ay), (bx, by), (cx, cy), (dx, dy))
    for i in range(4):
        for j in range(i + 1, 4):
            if abs(pts[i][0] - pts[j][0]) < 1e-6 and abs(pts[i][1] - pts[j][1]) < 1e-6:
                return f"corners {i} and {j} are the same point {list(pts[i])}"
    for i, cross in enumerate(crosses):
        if abs(cross) < min_area:
            return f"corners {i}, {(i + 1) % 4}, {(i + 2) % 4} are collinear"
    return None


class Instance(VraiModel):
    """One vehicle box in one frame: the ReID 'image'."""

    key: InstanceKey
    frame: FrameIndex
    corners: tuple[Point, Point, Point, Point]
    bbox: XyxyBox
    attributes: Attributes = Field(default_factory=Attributes)  # per-instance overrides
    parts: Parts = Field(default_factory=Parts)
    provenance: dict[Stage, Provenance] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _geometry(self) -> "Instance":
        corners = self.corners
        problem = corners_problem(corners)
        if problem:
            raise ValueError(f"degenerate corners: {problem}")
        (ax, ay), (bx, by), (cx, cy), (dx, dy) = corners  # unrolled: 137k instances in a VRAI-sized dataset
        x1, y1, x2, y2 = self.bbox
        tol = BBOX_TOLERANCE
        if abs(x1 - min(ax, bx, cx, dx)) > tol or abs(y1 - min(ay, by, cy, dy)) > tol or \
                abs(x2 - max(ax, bx, cx, dx)) > tol or abs(y2 - max(ay, by, cy, dy)) > tol:
            expected = bbox_of_corners(corners)
            raise ValueError(
                f"bbox {list(self.bbox)} is not the smallest rectangle around the corners "
                f"(expected {[round(v, 3) for v in expected]})"
            )
        for i, (px1, py1, px2, py2) in enumerate(self.parts.boxes):
            if px1 < x1 - BBOX_TOLERANCE or py1 < y1 - BBOX_TOLERANCE or px2 > x2 + BBOX_TOLERANCE or py2 > y2 + BBOX_TOLERANCE:
                raise ValueError(f"parts.boxes[{i}] {[px1, py1, px2, py2]} lies outside the instance bbox {list(self.bbox)}")
        return self

    @classmethod
    def from_corners(cls, key: str, frame: int, corners: list[Point] | tuple[Point, ...], **kw: object) -> "Instance":
        c = tuple((float(x), float(y)) for x, y in corners)
        return cls(key=key, frame=frame, corners=c, bbox=bbox_of_corners(c), **kw)  # type: ignore[arg-type]


class ClipAnnotations(VraiModel):
    schema_version: Literal[2] = 2
    clip_id: Identifier
    image_size: tuple[int, int]  # width, height of the clip's frames (copied from the manifest)
    instances: list[Instance] = Field(default_factory=list)
    frames_done: list[FrameIndex] = Field(default_factory=list)  # stage 1: frames marked complete

    @model_validator(mode="after")
    def _rules(self) -> "ClipAnnotations":
        w, h = self.image_size
        seen: set[str] = set()
        tol = BBOX_TOLERANCE
        for i, inst in enumerate(self.instances):
            if inst.key in seen:
                raise ValueError(f"instances[{i}].key {inst.key!r} is duplicated")
            seen.add(inst.key)
            if clip_of_key(inst.key) != self.clip_id:
                raise ValueError(f"instances[{i}].key {inst.key!r} does not belong to clip {self.clip_id!r}")
            x1, y1, x2, y2 = inst.bbox
            if x1 < -tol or y1 < -tol or x2 > w + tol or y2 > h + tol:
                raise ValueError(
                    f"instances[{i}] ({inst.key}): corners {[list(p) for p in inst.corners]} "
                    f"leave the {w}x{h} frame"
                )
        if len(set(self.frames_done)) != len(self.frames_done):
            raise ValueError("frames_done has duplicates")
        return self

    def by_key(self) -> dict[str, Instance]:
        return {i.key: i for i in self.instances}

    def next_key(self) -> str:
        n = max((int(i.key.rpartition(":")[2]) for i in self.instances), default=-1) + 1
        return f"{self.clip_id}:{n}"

"""Ground truth of one clip: every labelled vehicle in every sampled frame, and how it goes
into our schemas (annotations, tracklets and vehicles) for the stages asked for.

Labels are computed at the exact video frame ``sample_video`` picked for each sample (its
``video_frame``), with the same closed-form poses the renderer drew that frame with.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from schemas import Attributes, ClipAnnotations, PairMatching, Provenance, Tracklet, Vehicle
from schemas.annotations import corners_problem

from .geometry import affines, apply, labelled, part_box
from .traffic import ClipPlan, Passage
from .vehicles import VehicleSpec

__all__ = ["ANNOTATOR", "SampledFrameRef", "TruthInstance", "build_annotations", "build_matching", "clip_instances"]

ANNOTATOR = "vrai-tools synth"
DECIMALS = 2  # corner and box coordinates in JSON: hundredths of a pixel


@dataclass(frozen=True)
class SampledFrameRef:
    index: int  # sample k
    timestamp: float
    video_frame: int


@dataclass
class TruthInstance:
    key: str
    frame: int  # sample index k
    vehicle: int
    corners: list[tuple[float, float]]  # front-left, front-right, rear-right, rear-left (clamped to the frame)
    bbox: tuple[float, float, float, float]
    parts: list[tuple[float, float, float, float]] = field(default_factory=list)
    part_marks: list[int] = field(default_factory=list)  # which of the vehicle's marks each part box is
    visible: float = 1.0  # fraction of the outline inside the frame

    def to_json(self) -> dict[str, object]:
        return {"key": self.key, "frame": self.frame, "vehicle": self.vehicle,
                "corners": [list(p) for p in self.corners], "bbox": list(self.bbox),
                "parts": [list(b) for b in self.parts], "part_marks": self.part_marks, "visible": round(self.visible, 4)}


def clip_instances(plan: ClipPlan, vehicles: dict[int, VehicleSpec], passages: list[Passage],
                   frames: list[SampledFrameRef], fps: float) -> list[TruthInstance]:
    """Every labelled (vehicle, sampled frame) of the clip, keyed ``<clip>:<n>`` in (frame, vehicle) order."""
    mine = [p for p in passages if p.camera == plan.camera]
    if not mine or not frames:
        return []
    lanes = plan.scene.lanes
    cam = plan.cam
    t = np.array([f.video_frame / fps for f in frames])  # render time of the sampled video frame
    dx, dy, h, psi = plan.flight.pose(t)
    speed = np.array([lanes[p.lane].speed for p in mine])
    s = np.array([p.s0 for p in mine])[:, None] + speed[:, None] * (t[None, :] + plan.sync_offset - np.array([p.t0 for p in mine])[:, None])
    ox = np.array([lanes[p.lane].origin[0] for p in mine])[:, None]
    oy = np.array([lanes[p.lane].origin[1] for p in mine])[:, None]
    ux = np.array([lanes[p.lane].direction[0] for p in mine])[:, None]
    uy = np.array([lanes[p.lane].direction[1] for p in mine])[:, None]
    x, y = ox + s * ux, oy + s * uy
    reach = np.hypot(*cam.half_extent(1.0)) * h + 8.0
    pi, fi = np.nonzero(np.hypot(x - dx, y - dy) < reach)
    if len(pi) == 0:
        return []
    ang = np.array([lanes[p.lane].angle for p in mine])
    a = affines(x[pi, fi], y[pi, fi], ang[pi], dx[fi], dy[fi], h[fi], psi[fi], cam.focal, cam.centre)
    specs = [vehicles[mine[i].vehicle] for i in pi]
    ok, frac = labelled(a, np.array([sp.length for sp in specs]), np.array([sp.width for sp in specs]), cam.width, cam.height)
    rows = sorted((frames[fi[j]].index, specs[j].id, j) for j in np.nonzero(ok)[0])
    out: list[TruthInstance] = []
    w, hgt = cam.width, cam.height
    for k, vid, j in rows:
        spec = specs[j]
        corners = apply(a[j], spec.corners_local())
        clamped = bool((corners < 0).any() or (corners[:, 0] > w).any() or (corners[:, 1] > hgt).any())
        if clamped:
            corners[:, 0] = np.clip(corners[:, 0], 0, w)
            corners[:, 1] = np.clip(corners[:, 1], 0, hgt)
        cr = [(round(float(cx), DECIMALS), round(float(cy), DECIMALS)) for cx, cy in corners.tolist()]
        if clamped and corners_problem(cr) is not None:  # clamping folded it (a frame corner cut most of it off)
            continue
        xs, ys = [p[0] for p in cr], [p[1] for p in cr]
        bbox = (min(xs), min(ys), max(xs), max(ys))
        parts, marks = _parts(a[j], spec, bbox)
        out.append(TruthInstance(key=f"{plan.clip_id}:{len(out)}", frame=k, vehicle=vid, corners=cr, bbox=bbox,
                                 parts=parts, part_marks=marks, visible=float(frac[j])))
    return out


def _parts(a: np.ndarray, spec: VehicleSpec, bbox: tuple[float, float, float, float]
           ) -> tuple[list[tuple[float, float, float, float]], list[int]]:
    """Part boxes (rounded, inside ``bbox``) of the marks visible in this placement, and their mark indices."""
    if not spec.marks:
        return [], []
    pts, starts = spec.mark_points()
    px = apply(a, pts)
    lo, hi = np.minimum.reduceat(px, starts, axis=0), np.maximum.reduceat(px, starts, axis=0)
    parts, marks = [], []
    for m_i, (x0, y0, x1, y1) in enumerate(np.hstack([lo, hi]).tolist()):
        box = part_box(x0, y0, x1, y1, bbox)
        if box is None:
            continue
        r = [round(v, DECIMALS) for v in box]
        r = [max(r[0], bbox[0]), max(r[1], bbox[1]), min(r[2], bbox[2]), min(r[3], bbox[3])]
        if r[2] - r[0] < 0.5 or r[3] - r[1] < 0.5:
            continue
        parts.append((r[0], r[1], r[2], r[3]))
        marks.append(m_i)
    return parts, marks


def _provenance(at: datetime) -> Provenance:
    return Provenance(annotator=ANNOTATOR, at=at, seconds=0.0, source="synthetic")


def build_annotations(plan: ClipPlan, truth: list[TruthInstance], vehicles: dict[int, VehicleSpec],
                      frames: list[SampledFrameRef], stages: frozenset[str], at: datetime) -> ClipAnnotations:
    """The clip's annotation file with the stages in ``stages`` filled (corners is required for any)."""
    cam = plan.cam
    if "corners" not in stages:
        return ClipAnnotations(clip_id=plan.clip_id, image_size=(cam.width, cam.height))
    prov = _provenance(at).model_dump(mode="json")
    per_instance_attrs = "attributes" in stages and "matching" not in stages
    instances = []
    for ti in truth:
        doc: dict[str, object] = {"key": ti.key, "frame": ti.frame, "corners": ti.corners, "bbox": ti.bbox}
        provenance = {"corners": prov}
        if "attributes" in stages:
            provenance["attributes"] = prov
            if per_instance_attrs:
                doc["attributes"] = vehicles[ti.vehicle].attributes()
        if "parts" in stages:
            provenance["parts"] = prov
            doc["parts"] = {"state": "done", "boxes": ti.parts} if ti.parts else {"state": "none", "boxes": []}
        doc["provenance"] = provenance
        instances.append(doc)
    # one validation pass over plain data: every instance's own rules (corners, bbox, parts
    # inside it) and the document's (unique keys, inside the frame) - 137k instances at VRAI scale
    return ClipAnnotations.model_validate({"clip_id": plan.clip_id, "image_size": (cam.width, cam.height),
                                           "instances": instances, "frames_done": [f.index for f in frames]})


def tracklet_id(clip_id: str, vehicle: int) -> str:
    return f"{clip_id}-t{vehicle}"


def build_matching(pair_id: str, truth: dict[str, list[TruthInstance]], vehicles: dict[int, VehicleSpec],
                   stages: frozenset[str], at: datetime) -> PairMatching:
    """Tracklets (one per vehicle per clip) and the vehicles linking them; ``truth``: clip id -> instances."""
    prov = _provenance(at)
    tracklets: list[Tracklet] = []
    owner: dict[int, list[str]] = {}
    per_clip: dict[str, dict[int, list[str]]] = {}
    for clip_id in sorted(truth):
        keys: dict[int, list[str]] = {}
        for ti in truth[clip_id]:  # already in frame order
            keys.setdefault(ti.vehicle, []).append(ti.key)
        per_clip[clip_id] = keys
    seen_in: dict[int, int] = {}
    for keys in per_clip.values():
        for vid in keys:
            seen_in[vid] = seen_in.get(vid, 0) + 1
    for clip_id, keys in per_clip.items():
        for vid in sorted(keys):
            tid = tracklet_id(clip_id, vid)
            tracklets.append(Tracklet(id=tid, clip_id=clip_id, instances=keys[vid], no_match=seen_in[vid] == 1,
                                      provenance=prov))
            owner.setdefault(vid, []).append(tid)
    with_attrs = "attributes" in stages
    vs = [Vehicle(id=vid, tracklets=tids, provenance=prov,
                  attributes=Attributes(**vehicles[vid].attributes()) if with_attrs else Attributes())
          for vid, tids in sorted(owner.items())]
    return PairMatching(pair_id=pair_id, tracklets=tracklets, vehicles=vs)

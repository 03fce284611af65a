"""Small, valid datasets built in code, for tests and benchmarks that need more than ``handmade``.

``make_dataset`` writes a dataset root through the schema models (so it is valid by
construction): location pairs of two clips, vehicles drawn as rotated rectangles with
their four corners, complete vehicle-level attributes with a few per-instance overrides,
parts in every state (done / none / todo), provenance for each stage, tracklets per
clip, vehicles linking the two cameras, some vehicles seen by one camera only, one
unmatched tracklet per clip, and tiny JPEG frames where each vehicle is painted in its
colour (so a crop can be checked by its pixels).

Keep the signature of :func:`make_dataset` stable: other engineers' tests use it.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from schemas import (
    COLORS,
    TYPES,
    Attributes,
    Clip,
    ClipAnnotations,
    Frame,
    Instance,
    LocationPair,
    Manifest,
    PairMatching,
    Parts,
    Provenance,
    Tracklet,
    Vehicle,
)
from vrai_tools.dataset import DatasetRoot

# Paint colour of each attribute colour in the JPEG frames (RGB).
PAINT: dict[str, tuple[int, int, int]] = {
    "White": (240, 240, 240), "Black": (15, 15, 15), "Gray": (128, 128, 128), "Red": (220, 30, 30),
    "Green": (30, 180, 40), "Blue": (30, 60, 220), "Yellow": (235, 220, 30), "Brown": (120, 70, 20),
    "Other": (200, 60, 200),
}
BACKGROUND = (70, 90, 70)
EPOCH = datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc)
ANNOTATORS = ("alice", "bob")


@dataclass
class FactoryInfo:
    """What was generated, for tests to compare against (not written to disk)."""

    cross_camera: list[int] = field(default_factory=list)
    single_camera: list[int] = field(default_factory=list)
    unmatched_keys: list[str] = field(default_factory=list)
    overridden_keys: list[str] = field(default_factory=list)
    vehicle_color: dict[int, str] = field(default_factory=dict)


def rotated_rect(cx: float, cy: float, length: float, width: float, angle: float) -> list[tuple[float, float]]:
    """Corners of a vehicle seen from above, clockwise from the front-left."""
    c, s = math.cos(angle), math.sin(angle)
    out = []
    for dx, dy in ((length / 2, -width / 2), (length / 2, width / 2), (-length / 2, width / 2), (-length / 2, -width / 2)):
        out.append((round(cx + dx * c - dy * s, 2), round(cy + dx * s + dy * c, 2)))
    return out


def _prov(rnd: random.Random, minutes: int, seconds: float) -> Provenance:
    return Provenance(annotator=rnd.choice(ANNOTATORS), at=EPOCH + timedelta(minutes=minutes), seconds=seconds)


def make_dataset(
    root: Path | str,
    pairs: int = 2,
    vehicles_per_pair: int = 8,
    frames: int = 8,
    images: bool = True,
    seed: int = 0,
    *,
    size: tuple[int, int] = (160, 96),
    track_length: tuple[int, int] = (2, 5),
    single_camera_every: int = 4,
    info: FactoryInfo | None = None,
) -> DatasetRoot:
    """Write a valid dataset root and return it.

    Vehicle ids run 1..pairs*vehicles_per_pair. Every ``single_camera_every``-th vehicle
    of a pair is seen by camera A only (0 disables that). Each vehicle appears in a run of
    ``track_length`` consecutive frames per camera. ``info``, when given, is filled with
    the ground truth the generator knows.
    """
    rnd = random.Random(seed)
    ds = DatasetRoot(root)
    ds.root.mkdir(parents=True, exist_ok=True)
    w, h = size
    info = info if info is not None else FactoryInfo()
    manifest = Manifest(name=f"factory-seed{seed}", source="synthetic", pairs=[], clips=[])
    vid = 0
    paintings: dict[tuple[str, int], list[tuple[list[tuple[float, float]], str]]] = {}
    for p in range(pairs):
        pair_id = f"p{p + 1}"
        manifest.pairs.append(LocationPair(id=pair_id, description=f"factory pair {p + 1}"))
        clip_of = {cam: f"{pair_id}-{cam}" for cam in "AB"}
        for cam, cid in clip_of.items():
            manifest.clips.append(Clip(
                id=cid, pair=pair_id, camera=cam, video=None, fps=30.0, width=w, height=h,
                duration=frames * 0.5, sync_offset=0.0 if cam == "A" else 0.25,
                frames=[Frame(index=k, timestamp=0.5 * k, file=ds.frame_rel(cid, k), video_frame=15 * k,
                              altitude=round(20.0 + 2.5 * k + 10 * p, 1)) for k in range(frames)],
            ))
        instances: dict[str, list[Instance]] = {cid: [] for cid in clip_of.values()}
        tracklets: list[Tracklet] = []
        vehicles: list[Vehicle] = []

        def add_track(cid: str, label: str, color: str) -> list[str]:
            n_frames = min(frames, rnd.randint(*track_length))
            start = rnd.randrange(0, frames - n_frames + 1)
            length = rnd.uniform(0.16, 0.26) * w
            width = length * rnd.uniform(0.42, 0.55)
            r = math.hypot(length, width) / 2 + 1
            cx, cy = rnd.uniform(r, w - r), rnd.uniform(r, h - r)
            angle = rnd.uniform(0, math.pi)
            keys = []
            for k in range(start, start + n_frames):
                n = len(instances[cid])
                key = f"{cid}:{n}"
                corners = rotated_rect(cx, cy, length, width, angle + 0.05 * (k - start))
                bbox_probe = Instance.from_corners(key, k, corners)
                x1, y1, x2, y2 = bbox_probe.bbox
                roll = (n + len(label)) % 5
                if roll == 4:
                    parts = Parts(state="todo")
                elif roll == 3:
                    parts = Parts(state="none")
                else:
                    bw, bh = (x2 - x1) / 4, (y2 - y1) / 4
                    boxes = [(round(x1 + bw, 2), round(y1 + bh, 2), round(x1 + 2 * bw, 2), round(y1 + 2 * bh, 2))]
                    if roll == 1:
                        boxes.append((round(x2 - 1.5 * bw, 2), round(y2 - 1.5 * bh, 2), round(x2 - 0.5 * bw, 2), round(y2 - 0.5 * bh, 2)))
                    parts = Parts(state="done", boxes=boxes)
                prov = {"corners": _prov(rnd, k, round(rnd.uniform(2, 6), 2))}
                if parts.state != "todo":
                    prov["parts"] = _prov(rnd, 60 + k, round(rnd.uniform(3, 9), 2))
                inst = Instance.from_corners(key, k, corners, parts=parts, provenance=prov)
                instances[cid].append(inst)
                paintings.setdefault((cid, k), []).append((corners, color))
                keys.append(key)
            tracklets.append(Tracklet(id=f"{cid}-t{len(tracklets)}", clip_id=cid, instances=keys,
                                      provenance=_prov(rnd, 30, round(rnd.uniform(5, 15), 2))))
            return keys

        for v in range(vehicles_per_pair):
            vid += 1
            color = rnd.choice(COLORS)
            attrs = Attributes(color=color, type=rnd.choice(TYPES), skylight=rnd.random() < 0.3,
                               bumper=rnd.random() < 0.5, spare_tire=rnd.random() < 0.1, luggage_rack=rnd.random() < 0.2)
            info.vehicle_color[vid] = color
            single = single_camera_every > 0 and v % single_camera_every == single_camera_every - 1
            keys_a = add_track(clip_of["A"], f"v{vid}A", color)
            tids = [tracklets[-1].id]
            if not single:
                add_track(clip_of["B"], f"v{vid}B", color)
                tids.append(tracklets[-1].id)
                info.cross_camera.append(vid)
            else:
                info.single_camera.append(vid)
            if v % 3 == 1:  # a per-instance override: the colour looked different in one frame
                first = instances[clip_of["A"]][int(keys_a[0].rpartition(":")[2])]
                other = COLORS[(COLORS.index(color) + 1) % len(COLORS)]
                first.attributes = Attributes(color=other)
                info.overridden_keys.append(first.key)
            vehicles.append(Vehicle(id=vid, tracklets=tids, attributes=attrs,
                                    provenance=_prov(rnd, 90, round(rnd.uniform(4, 12), 2))))
        for cid in clip_of.values():  # one tracklet nobody matched yet
            info.unmatched_keys.extend(add_track(cid, f"u{cid}", "Other"))
        for cid, insts in instances.items():
            ds.save_annotations(ClipAnnotations(clip_id=cid, image_size=(w, h), instances=insts,
                                                frames_done=list(range(frames))))
        ds.save_matching(PairMatching(pair_id=pair_id, tracklets=tracklets, vehicles=vehicles))
    ds.save_manifest(manifest)
    if images:
        _paint_frames(ds, manifest, paintings)
    return ds


def _paint_frames(ds: DatasetRoot, manifest: Manifest,
                  paintings: dict[tuple[str, int], list[tuple[list[tuple[float, float]], str]]]) -> None:
    from PIL import Image, ImageDraw

    for clip in manifest.clips:
        ds.frames_dir(clip.id).mkdir(parents=True, exist_ok=True)
        for f in clip.frames:
            img = Image.new("RGB", (clip.width, clip.height), BACKGROUND)
            draw = ImageDraw.Draw(img)
            for corners, color in paintings.get((clip.id, f.index), []):
                draw.polygon(corners, fill=PAINT[color])
            img.save(ds.root / f.file, quality=92)

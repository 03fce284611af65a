"""Datasets that come as loose images (an official VRAI release, a Market-1501 folder).

DESIGN.md: such a release has no videos, so each image becomes a frame of its own whose
single instance covers the whole image (corners = image corners). Vehicle id and camera
come from the file name; unlabeled test images are instances in no vehicle.

Our model has two cameras (A, B) per location pair, while a release numbers its
cameras. Pairs are found from the data: cameras that share a vehicle belong to one pair;
the lower camera number is A. A pair id keeps the numbers (``cam1-2``) so an export
writes the same camera numbers back.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from schemas import (
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
    Split,
    Tracklet,
    Vehicle,
)

from ..errors import FormatError

Subset = Literal["train", "query", "gallery", "test"]
PAIR_ID = re.compile(r"^cam(\d+)(?:-(\d+))?$")


@dataclass
class LooseImage:
    """One released image and what its file name and annotation files say about it."""

    name: str  # file name in the release (kept as the frame's file name)
    src: Path
    size: tuple[int, int]
    subset: Subset
    camera_no: int
    vehicle_id: int | None = None
    video_frame: int | None = None
    attributes: Attributes = field(default_factory=Attributes)  # image-level labels (test images)
    part_boxes: list[tuple[float, float, float, float]] | None = None  # None: parts not annotated


@dataclass
class BuiltDataset:
    manifest: Manifest
    annotations: list[ClipAnnotations]
    matchings: list[PairMatching]
    split: Split
    copies: list[tuple[Path, str]]  # (source image, destination relative to the root)
    notes: list[str] = field(default_factory=list)


def camera_pairs(images: list[LooseImage]) -> dict[int, tuple[str, str]]:
    """camera number -> (pair id, 'A'|'B'), grouping cameras linked by a shared vehicle."""
    cams_of: dict[int, set[int]] = defaultdict(set)
    all_cams: set[int] = set()
    for im in images:
        all_cams.add(im.camera_no)
        if im.vehicle_id is not None:
            cams_of[im.vehicle_id].add(im.camera_no)
    parent = {c: c for c in all_cams}

    def find(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for cams in cams_of.values():
        first, *rest = sorted(cams)
        for c in rest:
            a, b = find(first), find(c)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = defaultdict(list)
    for c in sorted(all_cams):
        groups[find(c)].append(c)
    out: dict[int, tuple[str, str]] = {}
    for cams in groups.values():
        if len(cams) > 2:
            vid = next(v for v, cs in sorted(cams_of.items()) if len(cs & set(cams)) >= 2)
            raise FormatError(
                f"cameras {', '.join(map(str, cams))} are linked by shared vehicles (e.g. vehicle {vid}); "
                f"vrai-tools datasets have two cameras per location pair")
        pair = f"cam{cams[0]}" if len(cams) == 1 else f"cam{cams[0]}-{cams[1]}"
        for letter, c in zip("AB", cams):
            out[c] = (pair, letter)
    return out


def camera_numbers(manifest: Manifest) -> dict[tuple[str, str], int]:
    """(pair, camera) -> camera number for an export: kept from an imported release's pair ids
    (``cam3-4``), else 2k-1 / 2k for the k-th pair of the manifest."""
    out: dict[tuple[str, str], int] = {}
    kept = True
    for p in manifest.pairs:
        m = PAIR_ID.match(p.id)
        if not m:
            kept = False
            break
        out[(p.id, "A")] = int(m.group(1))
        if m.group(2):
            out[(p.id, "B")] = int(m.group(2))
    if kept and len(set(out.values())) == len(out):
        return out
    out.clear()
    for k, p in enumerate(manifest.pairs, start=1):
        out[(p.id, "A")], out[(p.id, "B")] = 2 * k - 1, 2 * k
    return out


def _clamp_parts(boxes: list[tuple[float, float, float, float]], w: int, h: int) -> tuple[list[tuple[float, float, float, float]], int]:
    out, dropped = [], 0
    for x1, y1, x2, y2 in boxes:
        x1, x2 = sorted((min(max(x1, 0.0), w), min(max(x2, 0.0), w)))
        y1, y2 = sorted((min(max(y1, 0.0), h), min(max(y2, 0.0), h)))
        if x2 - x1 < 1e-6 or y2 - y1 < 1e-6:
            dropped += 1
            continue
        out.append((x1, y1, x2, y2))
    return out, dropped


def build(images: list[LooseImage], *, name: str, source: Literal["vrai-release", "video", "synthetic"],
          vehicle_attributes: dict[int, Attributes], query: list[str], gallery: list[str],
          split_name: str, protocol: Literal["release", "vrai"], provenance_at: datetime | None = None,
          annotator: str = "import") -> BuiltDataset:
    """Turn loose images into our documents. ``query``/``gallery`` list image names in order."""
    cams = camera_pairs(images)
    by_clip: dict[str, list[LooseImage]] = defaultdict(list)
    for im in images:
        pair, letter = cams[im.camera_no]
        by_clip[f"{pair}-{letter}"].append(im)
    pairs = sorted({p for p, _ in cams.values()}, key=lambda p: [int(x) for x in PAIR_ID.match(p).groups() if x])  # type: ignore[union-attr]
    subset_rank = {"train": 0, "query": 1, "gallery": 1, "test": 1}
    official = {n: i for i, n in enumerate(query + gallery)}
    at = provenance_at or datetime(1970, 1, 1, tzinfo=timezone.utc)
    prov = Provenance(annotator=annotator, at=at, seconds=0.0, source="import")

    notes: list[str] = []
    clips: list[Clip] = []
    annotations: list[ClipAnnotations] = []
    copies: list[tuple[Path, str]] = []
    key_of: dict[str, str] = {}
    tracklet_keys: dict[tuple[int, str], list[str]] = defaultdict(list)
    dropped_parts = 0
    for pair in pairs:
        for letter in "AB":
            cid = f"{pair}-{letter}"
            ims = by_clip.get(cid)
            if not ims:
                continue
            ims.sort(key=lambda im: (subset_rank[im.subset], official.get(im.name, -1),
                                     im.vehicle_id if im.vehicle_id is not None else -1,
                                     im.video_frame if im.video_frame is not None else -1, im.name))
            frames, insts = [], []
            width = max(im.size[0] for im in ims)
            height = max(im.size[1] for im in ims)
            for k, im in enumerate(ims):
                w, h = im.size
                rel = f"frames/{cid}/{im.name}"
                frames.append(Frame(index=k, timestamp=0.0, file=rel, video_frame=im.video_frame, width=w, height=h))
                copies.append((im.src, rel))
                if im.part_boxes is None:
                    parts = Parts(state="todo")
                else:
                    boxes, dropped = _clamp_parts(im.part_boxes, w, h)
                    dropped_parts += dropped
                    parts = Parts(state="done", boxes=boxes) if boxes else Parts(state="none")
                key = f"{cid}:{k}"
                insts.append(Instance.from_corners(key, k, [(0, 0), (w, 0), (w, h), (0, h)],
                                                   attributes=im.attributes, parts=parts))
                key_of[im.name] = key
                if im.vehicle_id is not None:
                    tracklet_keys[(im.vehicle_id, cid)].append(key)
            clips.append(Clip(id=cid, pair=pair, camera=letter, video=None, width=width, height=height, frames=frames))
            annotations.append(ClipAnnotations(clip_id=cid, image_size=(width, height), instances=insts,
                                               frames_done=list(range(len(ims)))))
    if dropped_parts:
        notes.append(f"{dropped_parts} part box(es) outside their image or empty were dropped")

    matchings: list[PairMatching] = []
    vehicles_by_pair: dict[str, list[Vehicle]] = defaultdict(list)
    tracklets_by_pair: dict[str, list[Tracklet]] = defaultdict(list)
    for (vid, cid), keys in sorted(tracklet_keys.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        pair = cid.rsplit("-", 1)[0]
        tid = f"{cid}-v{vid}"
        tracklets_by_pair[pair].append(Tracklet(id=tid, clip_id=cid, instances=keys))
        if vehicles_by_pair[pair] and vehicles_by_pair[pair][-1].id == vid:
            vehicles_by_pair[pair][-1].tracklets.append(tid)
        else:
            vehicles_by_pair[pair].append(Vehicle(id=vid, tracklets=[tid], attributes=vehicle_attributes.get(vid, Attributes()),
                                                  provenance=prov))
    for pair in pairs:
        matchings.append(PairMatching(pair_id=pair, tracklets=tracklets_by_pair.get(pair, []),
                                      vehicles=vehicles_by_pair.get(pair, [])))

    train = [key_of[im.name] for c in clips for im in by_clip[c.id] if im.subset == "train"]
    train_v = sorted({im.vehicle_id for im in images if im.subset == "train" and im.vehicle_id is not None})
    test_v = sorted({im.vehicle_id for im in images if im.subset != "train" and im.vehicle_id is not None})
    n_ids = len(train_v) + len(test_v)
    split = Split(
        name=split_name, seed=0, protocol=protocol,
        test_fraction=(len(test_v) / n_ids) if (protocol != "release" and n_ids) else 0.0,
        train_vehicles=train_v, test_vehicles=test_v if protocol != "release" else [],
        train=train, query=[key_of[n] for n in query], gallery=[key_of[n] for n in gallery],
    )
    manifest = Manifest(name=name, source=source, sample_every=None,
                        pairs=[LocationPair(id=p, description=f"release cameras {p[3:]}") for p in pairs], clips=clips)
    return BuiltDataset(manifest, annotations, matchings, split, copies, notes)

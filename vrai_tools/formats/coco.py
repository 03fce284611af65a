"""COCO detection format: whole frames with every vehicle box, for detection tooling
(pycocotools, torchvision references, mmdetection...).

::

    images/<clip_id>/<frame file name>     copies of the frames
    instances.json                         {"info", "images", "annotations", "categories"}

- one COCO image per frame that holds at least one instance of the split; *every*
  instance of that frame is annotated (a detector must not learn that an unlisted
  vehicle is background), each with ``attributes.subset`` = train / query / gallery /
  none saying where the split put it;
- category = vehicle type (ids 1..7 in the paper's order), 8 = ``untyped`` for vehicles
  whose type is not annotated yet;
- ``bbox`` is [x, y, width, height] of the axis-aligned box, ``segmentation`` the
  clicked quadrilateral, ``area`` its area, ``iscrowd`` 0;
- ``attributes`` carries colour, the four flags, the vehicle id (-1: not linked yet),
  the instance key and the part boxes (xywh, frame pixels).
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import PurePosixPath
from typing import Any

from schemas import FLAGS, TYPES, Split

from ..index import DatasetIndex, InstanceRecord
from .base import ExportPlan

ANNOTATION_FILE = "instances.json"
IMAGES_DIR = "images"
UNTYPED = "untyped"
CATEGORIES: list[dict[str, Any]] = [
    {"id": i + 1, "name": t, "supercategory": "vehicle"} for i, t in enumerate((*TYPES, UNTYPED))
]
CATEGORY_ID = {c["name"]: c["id"] for c in CATEGORIES}


def polygon_area(corners: tuple[tuple[float, float], ...]) -> float:
    s = 0.0
    for i, (x1, y1) in enumerate(corners):
        x2, y2 = corners[(i + 1) % len(corners)]
        s += x1 * y2 - x2 * y1
    return abs(s) / 2


def annotation(rec: InstanceRecord, ann_id: int, image_id: int, subset: str) -> dict[str, Any]:
    x1, y1, x2, y2 = rec.bbox
    a = rec.attributes
    return {
        "id": ann_id, "image_id": image_id, "category_id": CATEGORY_ID[a.type or UNTYPED],
        "bbox": [round(x1, 3), round(y1, 3), round(x2 - x1, 3), round(y2 - y1, 3)],
        "area": round(polygon_area(rec.corners), 3), "iscrowd": 0,
        "segmentation": [[round(v, 3) for p in rec.corners for v in p]],
        "attributes": {
            "instance_key": rec.key, "vehicle_id": rec.vehicle_id if rec.vehicle_id is not None else -1,
            "subset": subset, "color": a.color, **{f: getattr(a, f) for f in FLAGS},
            "parts_state": rec.parts.state,
            "parts": [[round(b[0], 3), round(b[1], 3), round(b[2] - b[0], 3), round(b[3] - b[1], 3)] for b in rec.parts.boxes],
        },
    }


def to_coco(index: DatasetIndex, split: Split) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The COCO document and the (frame source, destination) copies it refers to."""
    subset_of: dict[str, str] = {}
    for name in ("train", "query", "gallery"):
        for key in getattr(split, name):
            subset_of[key] = name
    frames: dict[tuple[str, int], list[InstanceRecord]] = defaultdict(list)
    for r in index.records:
        frames[(r.clip_id, r.frame)].append(r)
    clip_order = {c.id: i for i, c in enumerate(index.manifest.clips)}
    images, anns, copies = [], [], []
    used: set[str] = set()
    for (clip_id, frame) in sorted(frames, key=lambda cf: (clip_order[cf[0]], cf[1])):
        recs = frames[(clip_id, frame)]
        if not any(r.key in subset_of for r in recs):
            continue
        image_id = len(images) + 1
        first = recs[0]
        dest = f"{IMAGES_DIR}/{clip_id}/{PurePosixPath(first.frame_file).name}"
        if dest in used:  # frames of one clip stored under equal names in different folders
            dest = f"{IMAGES_DIR}/{clip_id}/{frame:06d}_{PurePosixPath(first.frame_file).name}"
        used.add(dest)
        w, h = first.frame_size
        images.append({"id": image_id, "file_name": dest, "width": w, "height": h,
                       "clip_id": clip_id, "frame": frame, "camera": first.camera, "pair": first.pair_id})
        copies.append((first.frame_file, dest))
        for r in sorted(recs, key=lambda r: r.number):
            anns.append(annotation(r, len(anns) + 1, image_id, subset_of.get(r.key, "none")))
    doc = {
        "info": {"description": f"{index.manifest.name}: vehicles (vrai-tools export)", "version": "1",
                 "split": split.name, "seed": split.seed},
        "images": images, "annotations": anns, "categories": CATEGORIES,
    }
    return doc, copies


def plan_export(index: DatasetIndex, split: Split) -> ExportPlan:
    doc, copies = to_coco(index, split)
    plan = ExportPlan(folders=[IMAGES_DIR, ANNOTATION_FILE], frames=copies)
    plan.files = {ANNOTATION_FILE: (json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n").encode()}
    subsets = defaultdict(int)
    for a in doc["annotations"]:
        subsets[a["attributes"]["subset"]] += 1
    plan.counts = {"images": len(doc["images"]), "boxes": len(doc["annotations"]),
                   **{f"{s} boxes": n for s, n in sorted(subsets.items())}}
    return plan


def labels_from_coco(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """instance key -> the labels an annotation carries (for round-trip checks and re-import)."""
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    out = {}
    for a in doc["annotations"]:
        at = a["attributes"]
        x, y, w, h = a["bbox"]
        name = cats[a["category_id"]]
        out[at["instance_key"]] = {
            "bbox": (x, y, x + w, y + h), "type": None if name == UNTYPED else name, "color": at["color"],
            **{f: at[f] for f in FLAGS}, "vehicle_id": None if at["vehicle_id"] == -1 else at["vehicle_id"],
            "subset": at["subset"], "parts": [(px, py, px + pw, py + ph) for px, py, pw, ph in at["parts"]],
            "parts_state": at["parts_state"],
        }
    return out

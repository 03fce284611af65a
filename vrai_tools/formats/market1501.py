"""Market-1501 folders, as read by torchreid's and fast-reid's ``Market1501`` loaders.

::

    bounding_box_train/  query/  bounding_box_test/
    {pid:04d}_c{cam}s1_{frame:06d}_{k:02d}.jpg
    ids.json            pid -> vehicle id, file -> instance key (ours; loaders ignore it)

Those loaders read ``([-\\d]+)_c(\\d)`` from each name and assert ``0 <= pid <= 1501`` and
``1 <= cam <= 6``. So pids are renumbered 1..N over the exported vehicles (vehicle ids can
be far above 1501; pid 0 would mean "background" to them) and ``ids.json`` keeps the
way back. Camera A is ``c1``, B is ``c2``: the loaders' evaluation drops same-camera
gallery matches, which is the paper's cross-camera rule. ``frame`` is the video frame
number when known (else the sample index); ``k`` numbers the boxes of one frame from 01.
With more than 1501 vehicles the stock loaders' assert fails; the export says so.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from schemas import Split

from ..errors import FormatError
from ..index import DatasetIndex
from .base import ExportPlan
from .imagewise import LooseImage

FOLDERS = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}
IDS_FILE = "ids.json"
LOADER_PATTERN = re.compile(r"([-\d]+)_c(\d)")
NAME = re.compile(r"^(-?\d+)_c(\d)s(\d+)_(\d+)_(\d+)\.jpg$")
CAMERA_NO = {"A": 1, "B": 2}
MAX_LOADER_PID = 1501


def image_name(pid: int, cam: int, frame: int, k: int) -> str:
    return f"{pid:04d}_c{cam}s1_{frame:06d}_{k:02d}.jpg"


def plan_export(index: DatasetIndex, split: Split) -> ExportPlan:
    recs = index.split_records(split)
    unlabeled = [r.key for name in ("query", "gallery") for r in recs[name] if r.vehicle_id is None]
    if unlabeled:
        raise FormatError(
            f"split {split.name!r} has {len(unlabeled)} test image(s) without a vehicle id (e.g. {unlabeled[0]}); "
            f"Market-1501 needs identities. For an imported release make a hold-out split: "
            f"vrai-tools split ROOT --name holdout --seed 0 --protocol vrai-release")
    vids = sorted({r.vehicle_id for rs in recs.values() for r in rs if r.vehicle_id is not None})
    pid_of = {vid: i + 1 for i, vid in enumerate(vids)}
    # k: position of the box among the boxes of its frame (all instances of the frame, by key)
    in_frame: dict[tuple[str, int], list[int]] = defaultdict(list)
    for r in index.records:
        in_frame[(r.clip_id, r.frame)].append(r.number)
    plan = ExportPlan(folders=[*FOLDERS.values(), IDS_FILE])
    images: dict[str, str] = {}
    for subset, folder in FOLDERS.items():
        for r in recs[subset]:
            assert r.vehicle_id is not None
            k = sorted(in_frame[(r.clip_id, r.frame)]).index(r.number) + 1
            frame_no = r.video_frame if r.video_frame is not None else r.frame
            rel = f"{folder}/{image_name(pid_of[r.vehicle_id], CAMERA_NO[r.camera], frame_no, k)}"
            if rel in images:
                raise FormatError(f"instances {images[rel]} and {r.key} would both be {rel}")
            images[rel] = r.key
            plan.crops.append((r, rel))
    doc = {"format": "market1501", "split": split.name, "seed": split.seed, "protocol": split.protocol,
           "pids": {f"{pid:04d}": vid for vid, pid in pid_of.items()}, "images": dict(sorted(images.items()))}
    plan.files = {IDS_FILE: (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()}
    plan.counts = {"train images": len(recs["train"]), "train IDs": len(split.train_vehicles),
                   "query": len(recs["query"]), "gallery": len(recs["gallery"])}
    if len(vids) > MAX_LOADER_PID:
        plan.notes.append(
            f"{len(vids)} identities: torchreid's and fast-reid's stock Market1501 loaders assert pid <= "
            f"{MAX_LOADER_PID}; register a copy of the loader without that assert for this export")
    return plan


def read_market(folder: Path) -> tuple[list[LooseImage], dict[str, list[str]], list[str]]:
    """Images of a Market-1501 folder and the train/query/gallery names (query and gallery in
    name order). Junk images (pid -1) are skipped; pid 0 ("background") is kept unlabeled."""
    from .vrai_release import _image_size

    folder = Path(folder)
    notes: list[str] = []
    missing = [f for f in FOLDERS.values() if not (folder / f).is_dir()]
    if missing:
        raise FormatError(f"{folder}: missing {', '.join(m + '/' for m in missing)}; a Market-1501 folder has "
                          f"{', '.join(f + '/' for f in FOLDERS.values())}")
    ids: dict[str, Any] = {}
    ids_path = folder / IDS_FILE
    if ids_path.exists():
        try:
            ids = json.loads(ids_path.read_text())
        except (OSError, ValueError) as e:
            raise FormatError(f"{ids_path}: not readable JSON ({e})") from None
        if not isinstance(ids, dict) or not isinstance(ids.get("pids", {}), dict):
            raise FormatError(f"{ids_path}: pids: expected an object of pid -> vehicle id")
        notes.append(f"{IDS_FILE}: vehicle ids restored from the export")
    vehicle_of = {int(k): int(v) for k, v in ids.get("pids", {}).items()}
    images: list[LooseImage] = []
    names: dict[str, list[str]] = {s: [] for s in FOLDERS}
    junk = 0
    for subset, sub in FOLDERS.items():
        for p in sorted((folder / sub).glob("*.jpg")):
            m = NAME.match(p.name)
            if not m:
                raise FormatError(f"{p}: name does not follow {{pid}}_c{{cam}}s{{seq}}_{{frame}}_{{k}}.jpg")
            pid, cam, _, frame, _k = (int(x) for x in m.groups())
            if pid == -1:
                junk += 1
                continue
            vid = vehicle_of.get(pid, pid) if pid != 0 else None
            # names repeat across folders in real Market-1501: prefix the folder to keep them unique
            name = f"{sub}__{p.name}"
            images.append(LooseImage(name=name, src=p, size=_image_size(p), subset=subset,  # type: ignore[arg-type]
                                     camera_no=cam, vehicle_id=vid, video_frame=frame))
            names[subset].append(name)
    if junk:
        notes.append(f"{junk} junk image(s) (pid -1) skipped")
    return images, names, notes

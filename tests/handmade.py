"""A small hand-made dataset root, written as plain JSON so tests can break it on purpose."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

W, H = 120, 80


def quad(x: float, y: float, w: float, h: float) -> list[list[float]]:
    """A slightly rotated quadrilateral inside the box (x, y, w, h)."""
    return [[x + 2, y], [x + w, y + 2], [x + w - 2, y + h], [x, y + h - 2]]


def instance(key: str, frame: int, x: float, y: float, w: float = 30, h: float = 16, **extra: Any) -> dict[str, Any]:
    corners = quad(x, y, w, h)
    xs, ys = [p[0] for p in corners], [p[1] for p in corners]
    doc = {"key": key, "frame": frame, "corners": corners, "bbox": [min(xs), min(ys), max(xs), max(ys)]}
    doc.update(extra)
    return doc


def write_json(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1))


def make_handmade(root: Path) -> Path:
    """One pair, two clips of three frames, two vehicles seen by both cameras, and a split."""
    clips = []
    for cam in ("A", "B"):
        cid = f"p1-{cam}"
        frames = []
        for k in range(3):
            rel = f"frames/{cid}/{k:06d}.jpg"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((H, W, 3), 40 * k, np.uint8)).save(root / rel)
            frames.append({"index": k, "timestamp": 0.5 * k, "file": rel, "altitude": 30.0 + k})
        clips.append({"id": cid, "pair": "p1", "camera": cam, "width": W, "height": H, "fps": 30.0, "frames": frames})
        insts = []
        for k in range(3):
            insts.append(instance(f"{cid}:{2 * k}", k, 10 + 5 * k, 10,
                                  parts={"state": "done", "boxes": [[20 + 5 * k, 12, 26 + 5 * k, 18]]}))
            insts.append(instance(f"{cid}:{2 * k + 1}", k, 60, 40 + 5 * k, parts={"state": "none", "boxes": []}))
        write_json(root / "annotations" / f"{cid}.json",
                   {"schema_version": 2, "clip_id": cid, "image_size": [W, H], "instances": insts, "frames_done": [0, 1, 2]})
    write_json(root / "dataset.json", {"schema_version": 1, "name": "handmade", "pairs": [{"id": "p1"}], "clips": clips})
    tracklets = []
    for cam in ("A", "B"):
        cid = f"p1-{cam}"
        tracklets.append({"id": f"{cid}-t0", "clip_id": cid, "instances": [f"{cid}:0", f"{cid}:2", f"{cid}:4"]})
        tracklets.append({"id": f"{cid}-t1", "clip_id": cid, "instances": [f"{cid}:1", f"{cid}:3", f"{cid}:5"]})
    attrs = {"color": "White", "type": "Sedan", "skylight": False, "bumper": True, "spare_tire": False, "luggage_rack": False}
    write_json(root / "matching" / "p1.json", {
        "schema_version": 1, "pair_id": "p1", "tracklets": tracklets,
        "vehicles": [
            {"id": 1, "tracklets": ["p1-A-t0", "p1-B-t0"], "attributes": attrs},
            {"id": 2, "tracklets": ["p1-A-t1", "p1-B-t1"], "attributes": {**attrs, "color": "Red"}},
        ],
    })
    write_json(root / "splits" / "s0.json", {
        "schema_version": 1, "name": "s0", "seed": 0, "protocol": "vrai", "test_fraction": 0.5, "query_fraction": 0.25,
        "train_vehicles": [1], "test_vehicles": [2],
        "train": ["p1-A:0", "p1-A:2", "p1-A:4", "p1-B:0", "p1-B:2", "p1-B:4"],
        "query": ["p1-A:1"], "gallery": ["p1-A:3", "p1-A:5", "p1-B:1", "p1-B:3", "p1-B:5"],
    })
    return root


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

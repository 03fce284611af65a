"""A tiny dataset for the part-detector tests: coloured rectangles are vehicles, bright squares are parts.

Written through the schema models (so it is valid by construction), with real JPEG
frames, one pair of two cameras, tracklets, vehicles and a split. Every vehicle but
the last carries one white mark at its own place; the last has none (parts state
``none``, the negatives); one instance is left ``todo``.
"""
from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np

from schemas import (Attributes, ClipAnnotations, Clip, Frame, Instance, LocationPair, Manifest, PairMatching, Parts,
                     Split, Tracklet, Vehicle)
from vrai_tools.dataset import DatasetRoot

W, H = 192, 128
COLORS = [(200, 40, 40), (40, 90, 200), (40, 160, 60), (150, 60, 160), (200, 140, 30), (90, 90, 90),
          (30, 150, 150), (160, 80, 40)]
TODO_KEY = "p1-B:3"  # vehicle 2 (train) in frame 0 of camera B


def make_parts_dataset(root: Path, *, vehicles: int = 6, frames: int = 3, seed: int = 0) -> Path:
    """Clips ``p1-A``/``p1-B`` with ``frames`` frames each; split ``s0`` (first half of vehicles train)."""
    rng = random.Random(seed)
    ds = DatasetRoot(root)
    cols = 3
    cell_w, cell_h = W // cols, H // max(1, -(-vehicles // cols))
    specs = []
    for v in range(vehicles):
        w, h = rng.randint(44, 54), rng.randint(22, min(30, cell_h - 8))
        mark = None if v == vehicles - 1 else (rng.uniform(0.15, 0.7), rng.uniform(0.15, 0.6), rng.randint(6, 8))
        specs.append((COLORS[v % len(COLORS)], w, h, mark))
    clips, matching_tracklets = [], []
    keys_by_vehicle: dict[int, dict[str, list[str]]] = {v: {"A": [], "B": []} for v in range(vehicles)}
    for cam, order in (("A", list(range(vehicles))), ("B", list(reversed(range(vehicles))))):
        cid = f"p1-{cam}"
        frame_docs, instances = [], []
        for k in range(frames):
            img = np.full((H, W, 3), 70, np.uint8)
            img += np.random.default_rng(seed * 100 + k + (cam == "B") * 50).integers(0, 12, img.shape, dtype=np.uint8)
            for slot, v in enumerate(order):
                color, w, h, mark = specs[v]
                x = (slot % cols) * cell_w + 3 + 2 * k
                y = (slot // cols) * cell_h + 4 + k
                x, y = min(x, W - w - 1), min(y, H - h - 1)
                cv2.rectangle(img, (x, y), (x + w - 1, y + h - 1), color, thickness=-1)
                if mark is None:
                    parts = Parts(state="none")
                else:
                    fx, fy, s = mark
                    mx, my = x + int(fx * w), y + int(fy * h)
                    cv2.rectangle(img, (mx, my), (mx + s - 1, my + s - 1), (255, 255, 255), thickness=-1)
                    parts = Parts(state="done", boxes=[(mx - 0.5, my - 0.5, mx + s - 0.5, my + s - 0.5)])
                key = f"{cid}:{len(instances)}"
                if key == TODO_KEY:
                    parts = Parts()
                x1, y1, x2, y2 = max(0.0, x - 0.5), max(0.0, y - 0.5), x + w - 0.5, y + h - 0.5
                corners = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
                instances.append(Instance.from_corners(key, k, corners, parts=parts))
                keys_by_vehicle[v][cam].append(key)
            rel = ds.frame_rel(cid, k)
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / rel), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
            frame_docs.append(Frame(index=k, timestamp=0.5 * k, file=rel))
        clips.append(Clip(id=cid, pair="p1", camera=cam, width=W, height=H, fps=30.0, frames=frame_docs))
        ds.save_annotations(ClipAnnotations(clip_id=cid, image_size=(W, H), instances=instances,
                                            frames_done=list(range(frames))))
        for v in range(vehicles):
            matching_tracklets.append(Tracklet(id=f"{cid}-t{v}", clip_id=cid, instances=keys_by_vehicle[v][cam]))
    ds.save_manifest(Manifest(name="parts-fixture", source="synthetic", pairs=[LocationPair(id="p1")], clips=clips))
    ds.save_matching(PairMatching(pair_id="p1", tracklets=matching_tracklets, vehicles=[
        Vehicle(id=v + 1, tracklets=[f"p1-A-t{v}", f"p1-B-t{v}"], attributes=Attributes(type="Sedan"))
        for v in range(vehicles)]))
    n_train = vehicles // 2
    train = [k for v in range(n_train) for cam in "AB" for k in keys_by_vehicle[v][cam]]
    query = [keys_by_vehicle[v]["A"][0] for v in range(n_train, vehicles)]
    gallery = [k for v in range(n_train, vehicles) for cam in "AB" for k in keys_by_vehicle[v][cam] if k not in query]
    ds.save_split(Split(name="s0", seed=seed, test_fraction=0.5, train_vehicles=list(range(1, n_train + 1)),
                        test_vehicles=list(range(n_train + 1, vehicles + 1)), train=train, query=query,
                        gallery=gallery))
    return root

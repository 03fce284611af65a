"""A tiny ReID dataset for the reid tests: coloured boxes are vehicles, small marks their parts.

Written through the schema models (valid by construction) with real JPEG frames: one
location pair, cameras A and B, ``frames`` frames each, every vehicle in every frame
(one tracklet per clip per vehicle). Colours repeat every ``len(PAINT)`` vehicles, so a
vehicle is told from its look-alikes only by its mark (a white square whose place
depends on the vehicle: the ground-truth discriminative part). Camera B sees everything
a little darker and shifted. Attributes are complete except a few unset ones (masked out
of the losses). Split ``s0``: the first half of the vehicles train; for each test
vehicle the camera-A images and the first camera-B image are gallery, the other
camera-B images are queries (so every query has a cross-camera match).
"""
from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np

from schemas import (TYPES, Attributes, Clip, ClipAnnotations, Frame, Instance, LocationPair, Manifest,
                     PairMatching, Parts, Split, Tracklet, Vehicle)
from vrai_tools.dataset import DatasetRoot

PAINT = {"Red": (220, 40, 40), "Blue": (40, 70, 210), "Green": (40, 170, 60), "Yellow": (230, 210, 40)}
CELL_W, CELL_H = 60, 46
COLS = 4


def _rgb_to_bgr(c: tuple[int, int, int]) -> tuple[int, int, int]:
    return (c[2], c[1], c[0])


def make_reid_dataset(root: Path | str, *, vehicles: int = 12, frames: int = 3, seed: int = 0,
                      split: str = "s0", unset_every: int = 5) -> Path:
    root = Path(root)
    rng = random.Random(seed)
    ds = DatasetRoot(root)
    rows = -(-vehicles // COLS)
    w, h = COLS * CELL_W, rows * CELL_H
    names = list(PAINT)
    specs = []
    for v in range(vehicles):
        color = names[v % len(names)]
        mark = (0.12 + 0.6 * ((v // len(names)) % 3) / 2, 0.15 + 0.5 * rng.random())  # relative place of the mark
        attrs = Attributes(color=color, type=TYPES[v % len(TYPES)], skylight=v % 2 == 0, bumper=v % 3 == 0,
                           spare_tire=v % 4 == 0, luggage_rack=None if v % unset_every == 0 else v % 5 == 1)
        specs.append((color, mark, attrs))
    clips, annotations = [], []
    keys: dict[int, dict[str, list[str]]] = {v: {"A": [], "B": []} for v in range(vehicles)}
    for cam in ("A", "B"):
        cid = f"p1-{cam}"
        frame_docs, instances = [], []
        for k in range(frames):
            noise = np.random.default_rng(seed * 1000 + k * 2 + (cam == "B")).integers(0, 20, (h, w, 3), dtype=np.uint8)
            img = (np.full((h, w, 3), 90, np.uint8) + noise)
            dark = 0.8 if cam == "B" else 1.0
            for v, (color, (mx, my), attrs) in enumerate(specs):
                col, row = v % COLS, v // COLS
                bw, bh = 44, 30
                x = col * CELL_W + 4 + rng.randint(0, 6) + (3 if cam == "B" else 0)
                y = row * CELL_H + 4 + rng.randint(0, 6)
                paint = tuple(int(c * dark) for c in PAINT[color])
                cv2.rectangle(img, (x, y), (x + bw - 1, y + bh - 1), _rgb_to_bgr(paint), thickness=-1)  # type: ignore[arg-type]
                px, py = x + int(mx * bw), y + int(my * bh)
                cv2.rectangle(img, (px, py), (px + 9, py + 9), (255, 255, 255), thickness=-1)
                n = len(instances)
                key = f"{cid}:{n}"
                corners = [(x, y), (x + bw, y), (x + bw, y + bh), (x, y + bh)]
                instances.append(Instance.from_corners(
                    key, k, corners, parts=Parts(state="done", boxes=[(px, py, px + 10, py + 10)])))
                keys[v][cam].append(key)
            rel = DatasetRoot.frame_rel(cid, k)
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(root / rel), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            frame_docs.append(Frame(index=k, timestamp=0.5 * k, file=rel))
        clips.append(Clip(id=cid, pair="p1", camera=cam, width=w, height=h, frames=frame_docs))
        annotations.append(ClipAnnotations(clip_id=cid, image_size=(w, h), instances=instances,
                                           frames_done=list(range(frames))))
    tracklets, vehicle_docs = [], []
    for v in range(vehicles):
        tids = []
        for cam in ("A", "B"):
            tid = f"p1-{cam}-v{v}"
            tracklets.append(Tracklet(id=tid, clip_id=f"p1-{cam}", instances=keys[v][cam]))
            tids.append(tid)
        vehicle_docs.append(Vehicle(id=v, tracklets=tids, attributes=specs[v][2]))
    ds.save_manifest(Manifest(name="reid-fixture", source="synthetic", pairs=[LocationPair(id="p1")], clips=clips))
    for ann in annotations:
        ds.save_annotations(ann)
    ds.save_matching(PairMatching(pair_id="p1", tracklets=tracklets, vehicles=vehicle_docs))
    n_train = vehicles // 2
    train_v, test_v = list(range(n_train)), list(range(n_train, vehicles))
    query, gallery = [], []
    for v in test_v:
        gallery += keys[v]["A"] + keys[v]["B"][:1]
        query += keys[v]["B"][1:]
    ds.save_split(Split(name=split, seed=seed, test_fraction=0.5, train_vehicles=train_v, test_vehicles=test_v,
                        train=[k for v in train_v for c in ("A", "B") for k in keys[v][c]], query=query,
                        gallery=gallery))
    return root


__all__ = ["make_reid_dataset"]

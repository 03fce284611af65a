"""A tiny two-camera location pair for the stage-2 (matching) tests.

Coloured rectangles (cars seen from above, with a dark windscreen) drive along lanes of a
grey road in camera A and again in camera B, written as real JPEG frames with a
manifest and stage-1 annotations. Which car is which is returned as ground truth, so
tests can check tracklets, rankings and the saved matching against it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from schemas import Clip, ClipAnnotations, Frame, Instance, LocationPair, Manifest
from vrai_tools.dataset import DatasetRoot

PAIR = "p1"
CLIP_A, CLIP_B = "p1-A", "p1-B"


@dataclass(frozen=True)
class Car:
    """One vehicle: its paint (RGB), footprint, and when/where each camera sees it."""

    colour: tuple[int, int, int]
    length: float = 26.0
    width: float = 12.0
    lane_a: float = 20.0  # y of its lane in camera A
    lane_b: float = 20.0
    x_a: float = 10.0  # x at its first sample in camera A
    x_b: float = 10.0
    speed: float = 9.0  # pixels per sample
    samples_a: tuple[int, int] | None = (0, 5)  # first and last sample seen by camera A (None: never)
    samples_b: tuple[int, int] | None = (2, 7)


# Four cars in camera A, four in camera B: red, blue and white are seen by both; green
# only by A, yellow only by B. The white car in B is the only white one, the red and
# the blue differ in colour, so a colour descriptor ranks every true match first.
DEFAULT_CARS: tuple[Car, ...] = (
    Car((210, 30, 30), lane_a=16, lane_b=60, samples_a=(0, 5), samples_b=(2, 7)),
    Car((40, 70, 220), lane_a=36, lane_b=16, x_a=30, x_b=20, samples_a=(0, 6), samples_b=(3, 7)),
    Car((235, 235, 235), lane_a=56, lane_b=36, x_a=20, samples_a=(1, 7), samples_b=(0, 5)),
    Car((40, 170, 60), lane_a=76, samples_a=(0, 7), samples_b=None, length=30),
    Car((230, 210, 30), lane_b=80, samples_a=None, samples_b=(0, 7), length=22),
)


@dataclass
class PairData:
    root: Path
    cars: tuple[Car, ...]
    truth: dict[str, int] = field(default_factory=dict)  # instance key -> car index

    @property
    def ds(self) -> DatasetRoot:
        return DatasetRoot(self.root)

    def keys_of(self, car: int, clip_id: str) -> list[str]:
        return sorted((k for k, c in self.truth.items() if c == car and k.startswith(clip_id + ":")),
                      key=lambda k: int(k.rpartition(":")[2]))


def _corners(x: float, y: float, length: float, width: float) -> list[tuple[float, float]]:
    return [(x, y - width / 2), (x + length, y - width / 2), (x + length, y + width / 2), (x, y + width / 2)]


def make_pair_dataset(root: Path, cars: tuple[Car, ...] = DEFAULT_CARS, samples: int = 8,
                      size: tuple[int, int] = (160, 96), sync_offset: float = 0.0, seed: int = 0) -> PairData:
    """Write ``dataset.json``, JPEG frames and both clips' annotations under ``root``."""
    rng = np.random.default_rng(seed)
    w, h = size
    ds = DatasetRoot(root)
    data = PairData(root, cars)
    clips = []
    for camera, clip_id in (("A", CLIP_A), ("B", CLIP_B)):
        frames, instances = [], []
        n = 0
        out = root / "frames" / clip_id
        out.mkdir(parents=True, exist_ok=True)
        road = rng.integers(95, 120, size=(h, w, 3)).astype(np.uint8)
        for k in range(samples):
            img = road.copy()
            for ci, car in enumerate(cars):
                span = car.samples_a if camera == "A" else car.samples_b
                if span is None or not span[0] <= k <= span[1]:
                    continue
                x = (car.x_a if camera == "A" else car.x_b) + car.speed * (k - span[0])
                y = car.lane_a if camera == "A" else car.lane_b
                corners = _corners(x, y, car.length, car.width)
                if not all(0 <= px <= w and 0 <= py <= h for px, py in corners):
                    continue
                x1, y1 = int(round(x)), int(round(y - car.width / 2))
                x2, y2 = int(round(x + car.length)), int(round(y + car.width / 2))
                cv2.rectangle(img, (x1, y1), (x2 - 1, y2 - 1), car.colour, -1)
                cv2.rectangle(img, (x1 + int(car.length * 0.6), y1 + 1),
                              (x1 + int(car.length * 0.75), y2 - 2), (25, 25, 25), -1)
                key = f"{clip_id}:{n}"
                n += 1
                instances.append(Instance.from_corners(key, k, corners))
                data.truth[key] = ci
            rel = ds.frame_rel(clip_id, k)
            cv2.imwrite(str(root / rel), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
            frames.append(Frame(index=k, timestamp=0.5 * k, file=rel))
        clips.append(Clip(id=clip_id, pair=PAIR, camera=camera, width=w, height=h, fps=30.0,
                          sync_offset=sync_offset if camera == "B" else 0.0, frames=frames))
        ds.save_annotations(ClipAnnotations(clip_id=clip_id, image_size=(w, h), instances=instances))
    ds.save_manifest(Manifest(name="matching-test", source="synthetic", pairs=[LocationPair(id=PAIR)], clips=clips))
    return data


def read_matching(root: Path) -> dict:
    """The saved matching file as plain JSON (what another tool would read)."""
    return json.loads((root / "matching" / f"{PAIR}.json").read_text())

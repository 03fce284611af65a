"""A tiny synthetic drone clip for the annotator tests and benchmarks.

Vehicles are textured rotated rectangles driving over a textured road surface while the
camera drifts, written as real JPEG frames with a manifest; the exact corners of every
vehicle in every frame are returned as ground truth.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

Corners = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


@dataclass
class SynthClip:
    root: Path
    clip_id: str
    size: tuple[int, int]
    frames: int
    # frame index -> [(vehicle id, corners)] of vehicles fully inside the frame
    truth: dict[int, list[tuple[int, Corners]]] = field(default_factory=dict)


def _corners(cx: float, cy: float, length: float, width: float, heading: float) -> Corners:
    c, s = math.cos(heading), math.sin(heading)
    pts = []
    for lx, ly in ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)):
        x, y = lx * length, ly * width
        pts.append((round(float(cx + x * c - y * s), 2), round(float(cy + x * s + y * c), 2)))
    return tuple(pts)  # type: ignore[return-value]


def _inside(corners: Corners, w: int, h: int) -> bool:
    return all(0 <= x <= w and 0 <= y <= h for x, y in corners)


def make_clip_dataset(
    root: Path,
    frames: int = 6,
    vehicles: int = 4,
    size: tuple[int, int] = (320, 180),
    seed: int = 0,
    speed: float = 6.0,
    with_camera_b: bool = True,
) -> SynthClip:
    """Write ``dataset.json`` and ``frames/p1-A/*.jpg`` (and an empty camera-B clip) under ``root``."""
    rng = np.random.default_rng(seed)
    w, h = size
    scale = w / 320.0
    pad = int(16 * scale) + 2
    ground = rng.integers(70, 130, size=(h + 2 * pad, w + 2 * pad, 3)).astype(np.uint8)
    ground = cv2.GaussianBlur(ground, (0, 0), 2.0 * scale)
    for y in range(0, h + 2 * pad, int(37 * scale)):
        cv2.line(ground, (0, y), (w + 2 * pad, y + int(9 * scale)), (200, 200, 200), max(1, int(scale)))
    # traffic in lanes along a road crossing the frame at an angle; one lane is parked cars
    road = float(rng.uniform(-0.35, 0.35))
    along, across = np.array([math.cos(road), math.sin(road)]), np.array([-math.sin(road), math.cos(road)])
    lanes = max(2, min(6, int(round(vehicles / 4))))
    span = float(np.hypot(w, h)) + 80 * scale  # lane length, longer than the frame's diagonal
    per_lane = -(-vehicles // lanes)
    cars = []
    for v in range(vehicles):
        lane = v % lanes
        offset = (lane - (lanes - 1) / 2) * 24 * scale
        direction = 0.0 if lane % 2 == 0 else math.pi
        speed_lane = 0.0 if lane == lanes - 1 else speed * scale * (0.6 + 0.4 * (lane % 3) / 2)
        length, width = float(rng.uniform(26, 36) * scale), float(rng.uniform(13, 17) * scale)
        cars.append({
            # spread over the middle of the lane, so most cars start inside the frame
            "s": (span - 0.8 * w) / 2 + (v // lanes + 0.5) * 0.8 * w / per_lane + float(rng.uniform(-3, 3) * scale),
            "offset": offset + float(rng.uniform(-2, 2) * scale), "length": length, "width": width,
            "heading": road + direction + float(rng.uniform(-0.08, 0.08)),
            "dir": 1.0 if direction == 0.0 else -1.0,
            "colour": tuple(int(c) for c in rng.integers(20, 255, size=3)),
            "mark": tuple(int(c) for c in rng.integers(0, 255, size=3)),
            "speed": speed_lane * float(rng.uniform(0.95, 1.05)),
        })
    clip_id = "p1-A"
    clip = SynthClip(root=root, clip_id=clip_id, size=size, frames=frames)
    frame_docs = []
    out_dir = root / "frames" / clip_id
    out_dir.mkdir(parents=True, exist_ok=True)
    for k in range(frames):
        # the drone drifts a little: the ground (and every car on it) shifts in the image
        ox = int(round(pad * (1 + 0.8 * math.sin(k / 5))))
        oy = int(round(pad * (1 + 0.8 * math.cos(k / 7))))
        img = ground[oy:oy + h, ox:ox + w].copy()
        truth = []
        for vid, car in enumerate(cars):
            length, width, heading = car["length"], car["width"], car["heading"]
            centre = np.array([w / 2, h / 2]) + (car["s"] - span / 2) * along + car["offset"] * across
            cx, cy = centre[0] - (ox - pad), centre[1] - (oy - pad)
            corners = _corners(cx, cy, length, width, heading)
            front = _corners(cx + 0.25 * length * math.cos(heading), cy + 0.25 * length * math.sin(heading),
                             0.18 * length, 0.8 * width, heading)
            roof = _corners(cx - 0.15 * length * math.cos(heading), cy - 0.15 * length * math.sin(heading),
                            0.2 * length, 0.35 * width, heading)
            # a windscreen and a roof mark give the tracker something to hold on to
            for quad, col in ((corners, car["colour"]), (front, (30, 30, 30)), (roof, car["mark"])):
                q = np.array(quad, np.float32).reshape(-1, 1, 2)
                cv2.fillPoly(img, [np.round(q * 16).astype(np.int32)], col, lineType=cv2.LINE_AA, shift=4)
            if _inside(corners, w, h):
                truth.append((vid, corners))
            car["s"] = (car["s"] + car["dir"] * car["speed"]) % span
        clip.truth[k] = truth
        rel = f"frames/{clip_id}/{k:06d}.jpg"
        cv2.imwrite(str(root / rel), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        frame_docs.append({"index": k, "timestamp": 0.5 * k, "file": rel})
    clips = [{"id": clip_id, "pair": "p1", "camera": "A", "width": w, "height": h, "fps": 30.0, "frames": frame_docs}]
    if with_camera_b:
        clips.append({"id": "p1-B", "pair": "p1", "camera": "B", "width": w, "height": h, "fps": 30.0,
                      "frames": frame_docs[:1]})
    manifest = {"schema_version": 1, "name": "annotator-test", "source": "synthetic",
                "pairs": [{"id": "p1", "description": "test pair"}], "clips": clips}
    (root / "dataset.json").write_text(json.dumps(manifest, indent=1))
    return clip


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_of(corners: Corners | tuple[tuple[float, float], ...]) -> tuple[float, float, float, float]:
    xs = [p[0] for p in corners]
    ys = [p[1] for p in corners]
    return (min(xs), min(ys), max(xs), max(ys))


# ----------------------------------------------------------------------------- pytest helpers


@pytest.fixture
def annotator_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Settings in a temporary folder, so no test reads or writes the real user's settings."""
    from annotator.settings import ANNOTATOR_ENV, CONFIG_DIR_ENV

    folder = tmp_path / "config"
    monkeypatch.setenv(CONFIG_DIR_ENV, str(folder))
    monkeypatch.delenv(ANNOTATOR_ENV, raising=False)
    return folder


@pytest.fixture
def synth_clip(tmp_path: Path) -> SynthClip:
    return make_clip_dataset(tmp_path / "ds", frames=4, vehicles=3)


def load_document(root: Path, clip_id: str = "p1-A", annotator: str = "tester", read_only: str = ""):
    from annotator.document import ClipDocument
    from vrai_tools.dataset import DatasetRoot

    ds = DatasetRoot(root)
    return ClipDocument.load(ds, ds.manifest(), clip_id, annotator, read_only)


def open_window(qtbot, root: Path, clip: str | None = "p1-A", annotator: str = "tester", *extra: str):
    """The real main window, as ``vrai-annotate ROOT --clip CLIP`` starts it, shown and active."""
    from annotator.app import create_window, parse_args

    argv = [str(root), "--annotator", annotator, *(["--clip", clip] if clip else []), *extra]
    args, _ = parse_args(argv)
    window = create_window(args)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)  # shortcuts only reach the active window
    return window

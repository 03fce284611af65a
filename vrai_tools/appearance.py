"""The built-in appearance descriptor for ranking match candidates when no ReID model is given.

Seen from above, a vehicle is mostly its paint and its footprint. So the descriptor is

- a colour histogram in HSV of the vehicle *rectified* from its four clicked corners
  (the axis-aligned box of a diagonal car is half road; the quadrilateral is not), with
  hue bins for coloured pixels and brightness bins for white/grey/black ones, which
  have no meaningful hue, square-rooted so cosine similarity is the Bhattacharyya
  coefficient, which is robust to a few stray pixels;
- a coarse layout profile along the vehicle (windscreen, roof, boot differ between
  sedans, hatchbacks and SUVs), folded so it does not depend on which end is the front
  (the order of clicked corners does not say);
- its shape: length/width ratio, and length in metres when the altitude is known
  (pixels × altitude / image width is proportional to metres for a fixed lens, so it is
  comparable between the two drones even at different heights).

A tracklet is described by a few of its instances (the largest ones not cut by the
frame border) averaged. Everything here is numpy + OpenCV, no Qt, no torch.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import cv2
import numpy as np

from schemas import Clip, Instance

from .crops import pixel_box
from .dataset import DatasetRoot
from .errors import VraiToolsError

RECT_LENGTH, RECT_WIDTH = 48, 24  # rectified vehicle, pixels (long axis horizontal)
HUE_BINS = 12
VALUE_BINS = 6
PROFILE_BINS = 4  # per half of the folded layout profile
MIN_SAT, MIN_VAL = 70, 45  # below: an achromatic pixel (white, grey, black)

COLOUR_WEIGHT = 1.0
LAYOUT_WEIGHT = 0.35
LAYOUT_SIGMA = 0.08  # profiles this far apart (brightness 0-1, L2) score exp(-1/2) on layout
ASPECT_WEIGHT = 0.6  # per unit of |log(aspect ratio)| difference
SIZE_WEIGHT = 0.8  # per unit of |log(metric length)| difference


@dataclass(frozen=True)
class Appearance:
    colour: np.ndarray  # unit vector (square-rooted histogram)
    layout: np.ndarray  # brightness profile, zero-mean (0 for a plain car)
    aspect: float  # length / width
    metric_length: float | None  # proportional to metres; None when the altitude is unknown
    count: int = 1  # instances averaged into it


def order_corners(corners: Sequence[Sequence[float]]) -> np.ndarray:
    """Corners in cyclic order (by angle around their centre): clicks may come in any order."""
    pts = np.asarray(corners, dtype=np.float32).reshape(4, 2)
    c = pts.mean(axis=0)
    ang = np.arctan2(pts[:, 1] - c[1], pts[:, 0] - c[0])
    return pts[np.argsort(ang)]


def footprint(corners: Sequence[Sequence[float]]) -> tuple[float, float, np.ndarray]:
    """Length and width in pixels, and the corners rotated so the first side is a long one."""
    pts = order_corners(corners)
    sides = [float(np.linalg.norm(pts[(i + 1) % 4] - pts[i])) for i in range(4)]
    a, b = (sides[0] + sides[2]) / 2, (sides[1] + sides[3]) / 2
    if b > a:
        pts = np.roll(pts, -1, axis=0)
        a, b = b, a
    return a, max(b, 1e-3), pts


def rectify(rgb: np.ndarray, corners: Sequence[Sequence[float]]) -> np.ndarray:
    """The vehicle warped to RECT_LENGTH × RECT_WIDTH, long axis horizontal."""
    _, _, pts = footprint(corners)
    dst = np.array([[0, 0], [RECT_LENGTH - 1, 0], [RECT_LENGTH - 1, RECT_WIDTH - 1], [0, RECT_WIDTH - 1]],
                   dtype=np.float32)
    h = cv2.getPerspectiveTransform(pts.astype(np.float32), dst)
    return cv2.warpPerspective(rgb, h, (RECT_LENGTH, RECT_WIDTH), flags=cv2.INTER_AREA,
                               borderMode=cv2.BORDER_REPLICATE)


def colour_histogram(rect_rgb: np.ndarray) -> np.ndarray:
    """Hue bins (coloured pixels, two brightness levels) + brightness bins (the rest), Hellinger-normalised."""
    margin_y, margin_x = max(1, rect_rgb.shape[0] // 8), max(1, rect_rgb.shape[1] // 12)
    core = rect_rgb[margin_y:-margin_y, margin_x:-margin_x]  # corners are clicked on the outline: drop the road
    hsv = cv2.cvtColor(np.ascontiguousarray(core), cv2.COLOR_RGB2HSV).reshape(-1, 3).astype(np.int32)
    h, s, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    chroma = (s >= MIN_SAT) & (v >= MIN_VAL)
    hue_bin = (h[chroma] * HUE_BINS // 180).clip(0, HUE_BINS - 1) * 2 + (v[chroma] >= 150)
    val_bin = (v[~chroma] * VALUE_BINS // 256).clip(0, VALUE_BINS - 1)
    hist = np.concatenate([
        np.bincount(hue_bin, minlength=2 * HUE_BINS), np.bincount(val_bin, minlength=VALUE_BINS)
    ]).astype(np.float64)
    hist = np.sqrt(hist / max(hist.sum(), 1.0))
    return hist / max(np.linalg.norm(hist), 1e-12)


def layout_profile(rect_rgb: np.ndarray) -> np.ndarray:
    """Brightness along the vehicle's length, folded (front and rear averaged), and roof-versus-sides.

    Kept in brightness units (not normalised): a plain car has a flat profile near zero,
    and normalising would blow its noise up into a pattern.
    """
    grey = cv2.cvtColor(np.ascontiguousarray(rect_rgb), cv2.COLOR_RGB2GRAY).astype(np.float64) / 255.0
    along = cv2.resize(grey.mean(axis=0, keepdims=True), (2 * PROFILE_BINS, 1), interpolation=cv2.INTER_AREA)[0]
    folded = (along[:PROFILE_BINS] + along[::-1][:PROFILE_BINS]) / 2
    across = grey.mean(axis=1)
    centre = across[len(across) // 4: -len(across) // 4].mean() - (across[: len(across) // 4].mean()
                                                                     + across[-len(across) // 4:].mean()) / 2
    return np.concatenate([folded - folded.mean(), [centre]])


def describe(rgb_frame: np.ndarray, inst: Instance, altitude: float | None = None) -> Appearance:
    """The descriptor of one instance from its frame (RGB, full size)."""
    length, width, _ = footprint(inst.corners)
    rect = rectify(rgb_frame, inst.corners)
    metric = None
    if altitude is not None and altitude > 0:
        metric = length * altitude / rgb_frame.shape[1]
    return Appearance(colour_histogram(rect), layout_profile(rect), length / width, metric)


def combine(items: Sequence[Appearance]) -> Appearance:
    """One descriptor for a tracklet: averaged vectors, median shape."""
    if not items:
        raise ValueError("combine: no descriptors")
    colour = np.mean([a.colour for a in items], axis=0)
    layout = np.mean([a.layout for a in items], axis=0)
    metrics = [a.metric_length for a in items if a.metric_length is not None]
    return Appearance(
        colour / max(np.linalg.norm(colour), 1e-12),
        layout,
        float(np.median([a.aspect for a in items])),
        float(np.median(metrics)) if metrics else None,
        sum(a.count for a in items),
    )


def similarity(a: Appearance, b: Appearance) -> float:
    """Higher is more alike; 1.0 for identical colour and layout and equal shape."""
    layout = math.exp(-float(np.sum((a.layout - b.layout) ** 2)) / (2 * LAYOUT_SIGMA ** 2))
    s = COLOUR_WEIGHT * float(a.colour @ b.colour) + LAYOUT_WEIGHT * layout
    s -= ASPECT_WEIGHT * abs(math.log(a.aspect / b.aspect))
    if a.metric_length and b.metric_length:
        s -= SIZE_WEIGHT * abs(math.log(a.metric_length / b.metric_length))
    return s / (COLOUR_WEIGHT + LAYOUT_WEIGHT)


def rank(query: Appearance, candidates: Mapping[str, Appearance]) -> list[tuple[str, float]]:
    """Candidates best first; ties broken by id so the order never flickers."""
    scored = [(tid, similarity(query, app)) for tid, app in candidates.items()]
    scored.sort(key=lambda x: (-round(x[1], 9), x[0]))
    return scored


def cosine_rank(query: np.ndarray, candidates: Mapping[str, np.ndarray]) -> list[tuple[str, float]]:
    """The same ranking for learned embeddings (a trained ReID model)."""
    q = query / max(float(np.linalg.norm(query)), 1e-12)
    scored = [(tid, float(q @ (e / max(float(np.linalg.norm(e)), 1e-12)))) for tid, e in candidates.items()]
    scored.sort(key=lambda x: (-round(x[1], 9), x[0]))
    return scored


# ----------------------------------------------------------------------------- choosing instances


def touches_border(inst: Instance, size: tuple[int, int], margin: float = 1.0) -> bool:
    x1, y1, x2, y2 = inst.bbox
    return x1 <= margin or y1 <= margin or x2 >= size[0] - margin or y2 >= size[1] - margin


def representative(keys: Sequence[str], instances: Mapping[str, Instance], size: tuple[int, int],
                   k: int = 6) -> list[str]:
    """Up to ``k`` instances spread over the tracklet, preferring whole vehicles (not cut by the border)."""
    known = [key for key in keys if key in instances]
    whole = [key for key in known if not touches_border(instances[key], size)]
    pool = whole or known
    if len(pool) <= k:
        return list(pool)
    idx = np.linspace(0, len(pool) - 1, k).round().astype(int)
    return [pool[i] for i in dict.fromkeys(idx.tolist())]


# ----------------------------------------------------------------------------- reading pixels


def read_rgb(root: DatasetRoot, rel: str) -> np.ndarray:
    path = root.path(rel)
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise VraiToolsError(f"{path}: cannot read this image (missing or not an image)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def box_crop(rgb: np.ndarray, inst: Instance, pad: float = 0.0) -> np.ndarray:
    """The instance's box widened by ``pad`` of its size, inside the frame: a crop for *display*.

    What a ReID model is fed is :func:`model_crop`, the tight box training uses.
    """
    h, w = rgb.shape[:2]
    x1, y1, x2, y2 = inst.bbox
    px, py = (x2 - x1) * pad, (y2 - y1) * pad
    left, top = max(int(math.floor(x1 - px)), 0), max(int(math.floor(y1 - py)), 0)
    right, bottom = min(int(math.ceil(x2 + px)), w), min(int(math.ceil(y2 + py)), h)
    return np.ascontiguousarray(rgb[top:max(bottom, top + 1), left:max(right, left + 1)])


def model_crop(rgb: np.ndarray, inst: Instance, frame_size: tuple[int, int] | None = None) -> np.ndarray:
    """The crop a ReID model sees: the instance's whole-pixel box, no margin.

    The same pixels ReID training and evaluation read (:func:`vrai_tools.crops.pixel_box`
    of the bbox in the frame of ``frame_size``, the manifest's width and height; by
    default the image's own), so a model ranks the crops it was trained on.
    """
    h, w = rgb.shape[:2]
    left, top, right, bottom = pixel_box(inst.bbox, frame_size or (w, h))
    return np.ascontiguousarray(rgb[top:min(bottom, h), left:min(right, w)])


class InstanceStore:
    """Descriptors and box crops of instances, read from the frames once and kept.

    Frames are read grouped (every wanted instance of a frame from one decode).
    Descriptors are tiny and kept for every instance seen; crops are kept in an LRU of
    ``crop_capacity``, two per instance: the display crop (:meth:`crop`, widened by
    ``crop_pad`` so the annotator sees the vehicle's surroundings) and the model crop
    (:meth:`model_crop`, the tight box ReID training uses: a margin the model never saw
    in training costs it rank-1 accuracy). Safe to call from one worker thread while the
    UI thread reads what is already there (a lock guards the maps).
    """

    def __init__(self, root: DatasetRoot, clips: Iterable[Clip], instances: Mapping[str, Instance],
                 crop_capacity: int = 2000, crop_pad: float = 0.1) -> None:
        self.root = root
        self.instances = instances
        self.frames: dict[tuple[str, int], str] = {}
        self.altitude: dict[tuple[str, int], float | None] = {}
        self.size: dict[str, tuple[int, int]] = {}
        self.frame_size: dict[tuple[str, int], tuple[int, int]] = {}
        for clip in clips:
            self.size[clip.id] = (clip.width, clip.height)
            for f in clip.frames:
                self.frames[(clip.id, f.index)] = f.file
                self.altitude[(clip.id, f.index)] = f.altitude
                self.frame_size[(clip.id, f.index)] = clip.frame_size(f)
        self.crop_capacity = crop_capacity
        self.crop_pad = crop_pad  # display crops only; the model crop is always the tight box
        self._desc: dict[str, Appearance] = {}
        self._crops: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()  # key -> (display, model)
        self._lock = threading.Lock()

    def clip_size(self, clip_id: str) -> tuple[int, int]:
        return self.size[clip_id]

    def descriptor(self, key: str) -> Appearance | None:
        with self._lock:
            return self._desc.get(key)

    def _crop_pair(self, key: str) -> tuple[np.ndarray, np.ndarray] | None:
        with self._lock:
            c = self._crops.get(key)
            if c is not None:
                self._crops.move_to_end(key)
            return c

    def crop(self, key: str) -> np.ndarray | None:
        """The display crop (with the ``crop_pad`` margin), if loaded."""
        c = self._crop_pair(key)
        return c[0] if c is not None else None

    def model_crop(self, key: str) -> np.ndarray | None:
        """The tight crop a ReID model is fed (:func:`model_crop`), if loaded."""
        c = self._crop_pair(key)
        return c[1] if c is not None else None

    def load(self, keys: Iterable[str], crops: bool = True) -> list[str]:
        """Make sure the keys' descriptors (and crops) are there; returns the keys that failed."""
        todo: dict[tuple[str, int], list[Instance]] = {}
        with self._lock:
            for key in keys:
                inst = self.instances.get(key)
                if inst is None:
                    continue
                if key in self._desc and (not crops or key in self._crops):
                    continue
                todo.setdefault((key.rpartition(":")[0], inst.frame), []).append(inst)
        failed: list[str] = []
        for (clip_id, frame), insts in sorted(todo.items()):
            rel = self.frames.get((clip_id, frame))
            try:
                if rel is None:
                    raise VraiToolsError(f"clip {clip_id} has no frame {frame}")
                rgb = read_rgb(self.root, rel)
            except VraiToolsError:
                failed.extend(i.key for i in insts)
                continue
            alt = self.altitude.get((clip_id, frame))
            size = self.frame_size.get((clip_id, frame))
            made = [(i.key, describe(rgb, i, alt),
                     (box_crop(rgb, i, self.crop_pad), model_crop(rgb, i, size)) if crops else None) for i in insts]
            with self._lock:
                for key, desc, crop in made:
                    self._desc[key] = desc
                    if crop is not None:
                        self._crops[key] = crop
                        self._crops.move_to_end(key)
                while len(self._crops) > self.crop_capacity:
                    self._crops.popitem(last=False)
        return failed

    def tracklet(self, keys: Sequence[str], k: int = 6) -> Appearance | None:
        """The combined descriptor of a tracklet's representative instances (loading them if needed)."""
        if not keys:
            return None
        clip_id = keys[0].rpartition(":")[0]
        chosen = representative(keys, self.instances, self.size.get(clip_id, (1 << 30, 1 << 30)), k)
        self.load(chosen, crops=False)
        have = [d for d in (self.descriptor(key) for key in chosen) if d is not None]
        return combine(have) if have else None

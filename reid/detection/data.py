"""Instance crops with their part boxes, in crop coordinates, for the part detector.

A *sample* is one instance: the frame it lives in, its bbox and its part boxes, all in
frame pixels as stored in ``annotations/<clip>.json``. The dataset cuts the bbox out of
the frame, resizes it so its longer side is ``long_side`` (aspect kept) and moves the
part boxes into that crop's pixels; :class:`CropGeometry` is the one place that maps
boxes between frame and crop, both ways, so predictions go back to the frame exactly.

Which instances take part: parts state ``done`` (positives) and ``none`` (looked at,
nothing found: negatives with zero boxes, they teach the detector to stay quiet);
``todo`` instances say nothing about parts and are left out of training and evaluation
(prediction covers every instance).

Augmentation is seeded per (seed, epoch, index), not by a global RNG, so a resumed run
sees the same flips as an uninterrupted one whatever the number of loader workers.
"""
from __future__ import annotations

import math
import random
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as TF

from schemas import Split
from vrai_tools.crops import pixel_box, scaled_size
from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import DatasetFileError, VraiToolsError
from vrai_tools.index import load_index

Box = tuple[float, float, float, float]
Subset = Literal["train", "test", "all"]

__all__ = ["CropGeometry", "PartCropDataset", "PartSample", "check_frames", "collate", "crop_window", "load_samples",
           "multiscale_sizes", "split_keys"]


@dataclass(frozen=True)
class PartSample:
    key: str
    image: Path  # the frame file
    frame_size: tuple[int, int]  # width, height from the manifest
    bbox: Box  # frame pixels
    state: Literal["todo", "done", "none"]
    boxes: tuple[Box, ...]  # frame pixels


def split_keys(split: Split, subset: Subset) -> list[str]:
    """Instance keys of a split: ``train``, ``test`` (query + gallery, as the paper evaluates) or ``all``."""
    if subset == "train":
        return list(split.train)
    if subset == "test":
        return list(split.query) + list(split.gallery)
    return list(split.train) + list(split.query) + list(split.gallery)


def load_samples(root: DatasetRoot | Path | str, keys: Sequence[str] | None = None, *,
                 include_todo: bool = False, source: str = "a split") -> list[PartSample]:
    """Samples for ``keys`` (in that order), or for every instance of the dataset when None.

    Read through the dataset index (manifest + annotations joined once); a key that names
    no instance is an error: a split that disagrees with the annotations must not be
    trained on silently. ``source`` says where the keys came from in that error
    (``"a split"``; the annotator passes ``"this pair"``).
    """
    index = load_index(root)
    if keys is not None:
        unknown = [k for k in keys if k not in index.by_key]
        if unknown:
            raise VraiToolsError(f"instance {unknown[0]!r} is listed in {source} but does not exist"
                                 f"{f' (nor {len(unknown) - 1} other(s))' if len(unknown) > 1 else ''}: "
                                 f"run `vrai-tools validate {index.root.root}`")
    records = index.records if keys is None else index.get(keys)
    return [
        PartSample(
            key=r.key,
            image=index.root.path(r.frame_file),
            frame_size=r.frame_size,
            bbox=r.bbox,
            state=r.parts.state,
            boxes=tuple(tuple(b) for b in r.parts.boxes),  # type: ignore[misc]
        )
        for r in records
        if include_todo or r.parts.state != "todo"  # todo: says nothing about parts
    ]


def check_frames(samples: Sequence[PartSample]) -> None:
    """Fail early, naming the file, when a frame is missing.

    Inside DataLoader workers the same error would come back as a bare RuntimeError
    carrying a traceback, hours into a run.
    """
    for path in sorted({s.image for s in samples}):
        if not path.is_file():
            users = [s.key for s in samples if s.image == path]
            raise DatasetFileError(path, f"frame image missing (needed by {len(users)} instance(s), e.g. {users[0]}); "
                                   "run `vrai-tools extract-frames` or `vrai-tools validate`")


# --------------------------------------------------------------------------- geometry


def crop_window(bbox: Box, frame_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Whole-pixel window (x0, y0, x1, y1) covering ``bbox``, clipped to the frame, at least 1 px.

    The same window as ``vrai-tools crops`` cuts, so our crops are its ``s<N>`` crops.
    """
    return pixel_box(bbox, frame_size)


@dataclass(frozen=True)
class CropGeometry:
    """Where a resized crop came from: frame (x, y) -> crop ((x - x0) * sx, (y - y0) * sy)."""

    x0: int
    y0: int
    sx: float
    sy: float
    width: int  # of the resized crop
    height: int

    @classmethod
    def for_bbox(cls, bbox: Box, frame_size: tuple[int, int], long_side: int) -> "CropGeometry":
        window = crop_window(bbox, frame_size)
        x0, y0, x1, y1 = window
        width, height = scaled_size(window, long_side)
        return cls(x0, y0, width / (x1 - x0), height / (y1 - y0), width, height)

    def to_crop(self, boxes: np.ndarray | Sequence[Box]) -> np.ndarray:
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        return (b - [self.x0, self.y0, self.x0, self.y0]) * [self.sx, self.sy, self.sx, self.sy]

    def to_frame(self, boxes: np.ndarray | Sequence[Box]) -> np.ndarray:
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        return b / [self.sx, self.sy, self.sx, self.sy] + [self.x0, self.y0, self.x0, self.y0]


def multiscale_sizes(size: int, scale: tuple[float, float] = (320 / 416, 608 / 416),
                     step: int | None = None) -> list[int]:
    """Training input sizes around ``size``: the paper's 320..608 around 416, scaled to ``size``.

    Multiples of ``step`` (default 32 from 320 px up, finer below so CPU-sized runs
    still get several scales). Always contains at least ``size`` itself.
    """
    if step is None:
        step = 32 if size >= 320 else 16 if size >= 128 else 8
    lo, hi = size * scale[0], size * scale[1]
    first = math.ceil(lo / step) * step
    sizes = list(range(max(first, step), int(math.floor(hi)) + 1, step))
    return sizes or [size]


# --------------------------------------------------------------------------- dataset


def read_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DatasetFileError(path, "cannot read the frame image (missing or not an image)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


class PartCropDataset(Dataset):
    """Item ``i``: ``{"image": float RGB [0,1] (3,H,W), "boxes": (N,4) crop px, "labels": (N,), "index": i}``."""

    def __init__(self, samples: Sequence[PartSample], *, long_side: int, label: int = 0, train: bool = False,
                 hflip: float = 0.5, jitter: float = 0.0, seed: int = 0, frame_cache: int = 8) -> None:
        self.samples = list(samples)
        self.long_side = int(long_side)
        self.label = int(label)
        self.train = train
        self.hflip = hflip
        self.jitter = jitter
        self.seed = seed
        self.epoch = 0
        self._cache: OrderedDict[Path, np.ndarray] = OrderedDict()
        self._cache_size = frame_cache

    def __len__(self) -> int:
        return len(self.samples)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def geometry(self, i: int) -> CropGeometry:
        s = self.samples[i]
        return CropGeometry.for_bbox(s.bbox, s.frame_size, self.long_side)

    def _frame(self, s: PartSample) -> np.ndarray:
        img = self._cache.get(s.image)
        if img is None:
            img = read_rgb(s.image)
            h, w = img.shape[:2]
            if (w, h) != tuple(s.frame_size):
                raise DatasetFileError(s.image, f"image is {w}x{h} but dataset.json says "
                                       f"{s.frame_size[0]}x{s.frame_size[1]}")
            self._cache[s.image] = img
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(s.image)
        return img

    def crop(self, i: int) -> tuple[np.ndarray, CropGeometry]:
        """The resized crop (H, W, 3 uint8 RGB) and its geometry, without augmentation."""
        s = self.samples[i]
        g = self.geometry(i)
        x0, y0, x1, y1 = crop_window(s.bbox, s.frame_size)
        patch = self._frame(s)[y0:y1, x0:x1]
        interp = cv2.INTER_AREA if g.width < patch.shape[1] else cv2.INTER_LINEAR
        return cv2.resize(patch, (g.width, g.height), interpolation=interp), g

    def __getitem__(self, i: int) -> dict[str, object]:
        s = self.samples[i]
        patch, g = self.crop(i)
        image = tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(patch)).permute(2, 0, 1).float().div_(255))
        boxes = tv_tensors.BoundingBoxes(torch.as_tensor(g.to_crop(s.boxes), dtype=torch.float32).reshape(-1, 4),
                                         format="XYXY", canvas_size=(g.height, g.width))
        if self.train:
            image, boxes = self._augment(i, image, boxes)
        boxes = TF.clamp_bounding_boxes(boxes)
        b = boxes.as_subclass(torch.Tensor)
        keep = (b[:, 2] - b[:, 0] > 0.5) & (b[:, 3] - b[:, 1] > 0.5)
        b = b[keep]
        return {"image": image.as_subclass(torch.Tensor), "boxes": b,
                "labels": torch.full((len(b),), self.label, dtype=torch.int64), "index": i}

    def _augment(self, i: int, image: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rng = random.Random(f"{self.seed}:{self.epoch}:{i}")
        if rng.random() < self.hflip:
            image, boxes = TF.horizontal_flip(image), TF.horizontal_flip(boxes)
        if self.jitter > 0:
            j = self.jitter
            image = TF.adjust_brightness(image, rng.uniform(1 - j, 1 + j))
            image = TF.adjust_contrast(image, rng.uniform(1 - j, 1 + j))
            image = TF.adjust_saturation(image, rng.uniform(1 - j, 1 + j))
        return image, boxes


def collate(batch: list[dict[str, object]]) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]], list[int]]:
    """Detection models take lists (every crop keeps its own size)."""
    images = [b["image"] for b in batch]
    targets = [{"boxes": b["boxes"], "labels": b["labels"]} for b in batch]
    return images, targets, [int(b["index"]) for b in batch]  # type: ignore[arg-type,call-overload]

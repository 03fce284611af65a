"""The ReID dataset: decodes an item's crop and yields it with its targets and part boxes.

Augmentation randomness is drawn from a seed that comes with the index
(``dataset[(i, seed)]``, see :class:`reid.data.sampler.SeededBatches`), not from the
global generator: the same (epoch, step, position) gets the same flip and rotation
whatever the number of loader workers, and a resumed run sees exactly what an
uninterrupted one would have seen. A plain ``dataset[i]`` (evaluation) uses no randomness.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors
from torchvision.io import ImageReadMode, decode_image, read_file

from vrai_tools.errors import DatasetFileError

from .items import ReidItem

__all__ = ["ReidDataset", "collate", "load_crop"]


def load_crop(item: ReidItem) -> tuple[torch.Tensor, torch.Tensor]:
    """The item's pixels (uint8 RGB, CHW) and its part boxes in those pixels (K x 4, float)."""
    try:
        img = decode_image(read_file(item.path), mode=ImageReadMode.RGB)
    except (RuntimeError, OSError) as e:
        raise DatasetFileError(item.path, f"cannot read image for instance {item.key} ({e})") from None
    left, top, right, bottom = item.box
    if item.from_frame:
        h, w = img.shape[-2:]
        img = img[:, top:min(bottom, h), left:min(right, w)]
        sx = sy = 1.0
    else:
        sx = img.shape[-1] / (right - left)
        sy = img.shape[-2] / (bottom - top)
    if item.parts:
        boxes = torch.tensor(item.parts, dtype=torch.float32)
        boxes -= torch.tensor([left, top, left, top], dtype=torch.float32)
        boxes *= torch.tensor([sx, sy, sx, sy], dtype=torch.float32)
    else:
        boxes = torch.zeros((0, 4), dtype=torch.float32)
    return img.contiguous(), boxes


class ReidDataset(Dataset[dict[str, Any]]):
    def __init__(self, items: Sequence[ReidItem], transforms: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.items = list(items)
        self.transforms = transforms

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, ref: int | tuple[int, int]) -> dict[str, Any]:
        index, seed = (ref, None) if isinstance(ref, int) else ref
        item = self.items[index]
        img, boxes = load_crop(item)
        h, w = img.shape[-2:]
        sample = {
            "image": tv_tensors.Image(img),
            "parts": tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=(h, w)),
        }
        if seed is None:
            sample = self.transforms(sample)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                sample = self.transforms(sample)
        return {
            "image": sample["image"].as_subclass(torch.Tensor),
            "parts": sample["parts"].as_subclass(torch.Tensor).to(torch.float32),
            "index": index,
            "label": item.label,
            "pid": item.pid,
            "camid": item.camid,
            "color": item.color,
            "type": item.type,
            "flags": item.flags,
        }


def collate(samples: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack a batch; part boxes are padded to the batch's largest count with a mask.

    Images stay uint8 (a quarter of the bytes to move to the GPU); the model normalises.
    """
    n = len(samples)
    k = max((s["parts"].shape[0] for s in samples), default=0)
    parts = torch.zeros((n, k, 4), dtype=torch.float32)
    mask = torch.zeros((n, k), dtype=torch.bool)
    for i, s in enumerate(samples):
        m = s["parts"].shape[0]
        if m:
            parts[i, :m] = s["parts"]
            mask[i, :m] = True
    out = {
        "image": torch.stack([s["image"] for s in samples]),
        "parts": parts,
        "parts_mask": mask,
        "flags": torch.tensor([s["flags"] for s in samples], dtype=torch.long).reshape(n, 4),
    }
    for name in ("index", "label", "pid", "camid", "color", "type"):
        out[name] = torch.tensor([s[name] for s in samples], dtype=torch.long)
    return out

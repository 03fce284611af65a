"""What training and evaluation build the same way: device, seeds, model, split items."""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from schemas import PartDetections, Split
from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import VraiToolsError
from vrai_tools.index import DatasetIndex, load_index

from ..config import TrainConfig
from ..data.items import PartsSource, SplitItems, build_items, load_part_detections
from ..models.reid_model import ModelSpec, ReidModel
from ..presets import get_preset

__all__ = ["DataBundle", "build_model", "load_data", "model_spec", "resolve_device", "seed_everything"]


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise VraiToolsError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise VraiToolsError(f"device {name!r} asked for but CUDA is not available here")
        if dev.index is None:
            dev = torch.device("cuda", local_rank)
    return dev


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def set_determinism(device: torch.device, deterministic: bool) -> None:
    """The CPU kernels used here are deterministic for a fixed thread count; CUDA needs asking."""
    if device.type == "cuda":
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cudnn.deterministic = deterministic
        torch.backends.cuda.matmul.allow_tf32 = not deterministic
        torch.backends.cudnn.allow_tf32 = not deterministic


def model_spec(cfg: TrainConfig, num_ids: int) -> ModelSpec:
    preset = get_preset(cfg.preset)
    return ModelSpec(backbone=cfg.backbone, last_stride=cfg.last_stride, num_ids=num_ids if preset.id_head else 0,
                     attributes=preset.attributes, weighted=preset.uses_parts, gamma=cfg.gamma)


def build_model(spec: ModelSpec, seed: int) -> ReidModel:
    """Seeded right before construction: the 'init' weights of a run can be rebuilt exactly."""
    torch.manual_seed(seed)
    return ReidModel(spec)


@dataclass
class DataBundle:
    index: DatasetIndex
    split: Split
    train: SplitItems | None
    query: SplitItems | None
    gallery: SplitItems | None
    detections: PartDetections | None

    @property
    def labelled_test(self) -> bool:
        return bool(self.query and self.gallery and self.query.items and self.gallery.items
                    and all(it.pid >= 0 for it in self.query.items + self.gallery.items))


def load_data(root: Path | str, split_name: str, *, parts: PartsSource, detections_file: str | None, crops: str,
              size: int, train: bool = True, test: bool = True) -> DataBundle:
    ds = DatasetRoot(root)
    index = load_index(ds)
    split = ds.split(split_name)
    detections = None
    if parts == "detected":
        if not detections_file:
            raise VraiToolsError("parts 'detected' needs a part-detections file")
        path = Path(detections_file)
        detections = load_part_detections(path if path.is_absolute() else (ds.root / path if (ds.root / path).exists() else path))
    kw = {"parts": parts, "detections": detections, "crops": crops, "size": size}
    tr = build_items(index, split, "train", **kw) if train else None  # type: ignore[arg-type]
    q = build_items(index, split, "query", **kw) if test else None  # type: ignore[arg-type]
    g = build_items(index, split, "gallery", **kw) if test else None  # type: ignore[arg-type]
    return DataBundle(index, split, tr, q, g, detections)

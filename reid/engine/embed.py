"""A trained ReID run applied to in-memory crops: the one loader behind the annotator's model assistance.

``vrai-annotate --model RUN`` ranks stage-2 candidates by this run's embeddings
(:func:`load_embedder`, the contract of :mod:`annotator.matching.model`) and pre-fills
stage-3 attributes from its heads (:func:`reid.inference.load_attribute_predictor`).
Both load the model through :func:`load_run_model`:

- ``RUN`` is a run folder of ``vrai-tools train`` (its ``config.json`` gives the input
  size; ``checkpoints/best.pt`` is read when there is one, else ``checkpoints/last.pt``)
  or one checkpoint file of such a run (its resolved config is inside);
- the weights are loaded strictly into ``ReidModel(ModelSpec(**state["spec"]))``, put in
  eval mode and run under ``torch.inference_mode()``, in batches.

Crops are HxWx3 uint8 RGB arrays cut from the frames with the instance's pixel box
(:func:`vrai_tools.crops.pixel_box`, as training reads them). They go through the very
transforms evaluation uses (:func:`reid.data.transforms.eval_transforms`: resize to
S x S) and stay uint8: pixel normalisation is the model's first layer
(:mod:`reid.models.normalize`). So :meth:`Embedder.embed` returns, for the same pixels,
what :func:`reid.engine.extract.extract_features` returns as ``"avg"``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from torchvision import tv_tensors

from vrai_tools.errors import VraiToolsError

from ..config import TrainConfig, load_config, parse_config
from ..data.transforms import eval_transforms
from ..models.reid_model import ModelSpec, ReidModel, embedding
from ..runs import RunDir
from .checkpoint import load_checkpoint, model_from_checkpoint
from .setup import resolve_device

__all__ = ["Embedder", "RunModel", "crop_batch", "find_checkpoint", "load_embedder", "load_run_model"]

DEFAULT_BATCH = 32


def find_checkpoint(run: Path | str) -> Path:
    """The checkpoint a run folder is used through: ``best.pt`` when there is one, else ``last.pt``."""
    rd = RunDir(run)
    for path in (rd.best, rd.last):
        if path.is_file():
            return path
    raise VraiToolsError(f"{rd.path}: this run has no checkpoint yet (no {rd.best.name} or {rd.last.name} in "
                         f"{rd.checkpoints}); it never finished an epoch")


def _to_chw(crop: np.ndarray) -> torch.Tensor:
    a = np.asarray(crop)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise ValueError(f"a crop must be an HxWx3 uint8 RGB array, got shape {a.shape} dtype {a.dtype}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"empty crop (shape {a.shape})")
    # CHW and contiguous, as reid.data.dataset.load_crop hands the decoded crop to the transforms
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).contiguous()


def crop_batch(crops: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """(N, 3, size, size) uint8: the crops through the evaluation transforms."""
    transform = eval_transforms(size)
    return torch.stack([transform(tv_tensors.Image(_to_chw(c))).as_subclass(torch.Tensor) for c in crops])


@dataclass
class RunModel:
    """A trained ReID model ready for inference, and what it was loaded from."""

    model: ReidModel
    spec: ModelSpec
    config: TrainConfig
    checkpoint: Path
    epoch: int
    device: torch.device
    batch_size: int = DEFAULT_BATCH

    @property
    def size(self) -> int:
        return self.config.size

    @property
    def preset(self) -> str:
        return self.config.preset

    def describe(self) -> str:
        return (f"{self.checkpoint} ({self.preset}, {self.spec.backbone}, {self.size} px, "
                f"epoch {self.epoch})")

    def run(self, crops: Sequence[np.ndarray],
            pick: Callable[[Mapping[str, torch.Tensor]], Mapping[str, torch.Tensor]]) -> dict[str, np.ndarray]:
        """``pick(forward output)`` for every crop, batched, concatenated in crop order (float32 numpy)."""
        chunks: dict[str, list[torch.Tensor]] = {}
        with torch.inference_mode():
            for start in range(0, len(crops), self.batch_size):
                batch = crop_batch(crops[start:start + self.batch_size], self.size).to(self.device)
                out = self.model(batch)
                for name, value in pick(out).items():
                    chunks.setdefault(name, []).append(value.float().cpu())
        return {name: torch.cat(parts).numpy() for name, parts in chunks.items()}


def load_run_model(run: Path | str, device: str | torch.device = "cpu", batch_size: int = DEFAULT_BATCH) -> RunModel:
    """The model of a training run folder (best checkpoint, else last) or of one checkpoint file."""
    path = Path(run)
    if not path.exists():
        raise VraiToolsError(f"{path}: no such training run (expected a folder written by 'vrai-tools train')")
    if path.is_dir():
        rd = RunDir(path).require()
        cfg = load_config(rd.config)
        ckpt = find_checkpoint(rd.path)
        state = load_checkpoint(ckpt)
    else:
        ckpt = path
        state = load_checkpoint(ckpt)
        cfg = parse_config(state.get("config"), f"{ckpt} (config)")
    model = model_from_checkpoint(state, str(ckpt))
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    model.to(dev).eval().requires_grad_(False)
    return RunModel(model, model.spec, cfg, ckpt, int(state.get("epoch", 0)), dev, batch_size)


# Quarter turns averaged by default when ranking matching candidates. A drone sees a vehicle
# at any heading, and the training augmentation only rotates now and then (p 0.2): the mean
# of the four L2-normalised views is a rotation-robust descriptor. Measured with
# benchmarks/annotate_matching.py (a ResNet-18 run at 128 px): the true match at rank 1 for
# 70 % of queries with one view, 87 % with four.
ROTATIONS = 4


class Embedder:
    """``embed(crops) -> (N, D)``: the retrieval embedding (BN-neck, average pooling) of each crop,
    averaged over ``rotations`` quarter turns of it (1: the plain evaluation feature)."""

    def __init__(self, run_model: RunModel, rotations: int = ROTATIONS) -> None:
        if rotations not in (1, 2, 4):
            raise ValueError(f"rotations must be 1, 2 or 4 quarter-turn views, not {rotations}")
        self.run_model = run_model
        self.rotations = rotations

    @property
    def dim(self) -> int:
        return self.run_model.model.feat_dim

    @property
    def size(self) -> int:
        return self.run_model.size

    @property
    def checkpoint(self) -> Path:
        return self.run_model.checkpoint

    def describe(self) -> str:
        return self.run_model.describe()

    def embed(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        if len(crops) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.rotations == 1:
            return self._views(list(crops))
        step = 4 // self.rotations  # 2 views: 0 and 180 degrees
        views = [self._views([np.ascontiguousarray(np.rot90(c, k * step)) for c in crops]) for k in range(self.rotations)]
        views = [v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12) for v in views]
        return np.mean(views, axis=0).astype(np.float32)

    def _views(self, crops: list[np.ndarray]) -> np.ndarray:
        return self.run_model.run(crops, lambda out: {"avg": embedding(dict(out), "avg")})["avg"]


def load_embedder(run: Path | str, device: str = "cpu", rotations: int = ROTATIONS) -> Embedder:
    """The annotator's stage-2 contract (:mod:`annotator.matching.model`)."""
    return Embedder(load_run_model(run, device), rotations)

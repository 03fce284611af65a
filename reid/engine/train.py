"""One epoch of ReID training: a plain function over model, criterion, loader and optimizer."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import nn

from vrai_tools.errors import VraiToolsError

from .progress import TrainProgress

__all__ = ["Amp", "EpochStats", "NonFiniteLossError", "resolve_amp", "to_device", "train_one_epoch"]


class NonFiniteLossError(VraiToolsError):
    pass


@dataclass
class Amp:
    """Mixed precision and memory layout; both only take effect on CUDA."""

    dtype: torch.dtype | None = None  # autocast dtype (bfloat16 / float16), None: float32
    scaler: torch.amp.GradScaler | None = None  # float16 only: loss scaling against underflow
    channels_last: bool = False

    @property
    def name(self) -> str:
        return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.dtype, "off")  # type: ignore[arg-type]


def resolve_amp(mode: str, device: torch.device, channels_last: bool = True) -> Amp:
    cl = channels_last and device.type == "cuda"
    if device.type != "cuda" or mode == "off":
        return Amp(None, None, cl)
    bf16_ok = torch.cuda.is_bf16_supported()
    if mode == "bf16" and not bf16_ok:
        raise VraiToolsError("--amp bf16 asked for but this GPU does not support bfloat16; use fp16 or auto")
    dtype = torch.bfloat16 if mode == "bf16" or (mode == "auto" and bf16_ok) else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=True) if dtype == torch.float16 else None
    return Amp(dtype, scaler, cl)


@dataclass
class EpochStats:
    epoch: int
    loss: float
    parts: dict[str, float]
    images: int  # this process's images
    seconds: float
    data_seconds: float  # time spent waiting for the loader
    lr: float
    extra: dict[str, Any] = field(default_factory=dict)


def to_device(batch: Mapping[str, torch.Tensor], device: torch.device, channels_last: bool = False) -> dict[str, torch.Tensor]:
    out = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    if channels_last:
        out["image"] = out["image"].contiguous(memory_format=torch.channels_last)
    return out


def train_one_epoch(model: nn.Module, criterion: nn.Module, loader: Any, optimizer: torch.optim.Optimizer, *,
                    device: torch.device, epoch: int, amp: Amp | None = None, use_parts: bool = False,
                    progress: TrainProgress | None = None) -> EpochStats:
    """Train one pass over ``loader``; raises :class:`NonFiniteLossError` at the first NaN/inf loss
    (before the optimizer step, so the weights - and the last checkpoint - stay finite)."""
    amp = amp or Amp()
    model.train()
    lr = float(optimizer.param_groups[0]["lr"])
    sums: dict[str, float] = {}
    total = 0.0
    n_steps = 0
    images = 0
    data_wait = 0.0
    started = time.perf_counter()
    if progress is not None:
        progress.begin_epoch()
    t_data = time.perf_counter()
    for step, batch in enumerate(loader):
        batch = to_device(batch, device, amp.channels_last)
        data_wait += time.perf_counter() - t_data
        with torch.autocast(device.type, dtype=amp.dtype or torch.float32, enabled=amp.dtype is not None):
            out = model(batch["image"], batch["parts"] if use_parts else None,
                        batch["parts_mask"] if use_parts else None)
            loss, parts = criterion(out, batch)
        value = float(loss.detach())
        if not math.isfinite(value):
            detail = ", ".join(f"{k}={float(v):.4g}" for k, v in parts.items())
            raise NonFiniteLossError(
                f"non-finite loss ({value}) at epoch {epoch}, iteration {step + 1} [{detail}]; training stopped "
                f"before the weights were updated - lower --lr, check the data, or try --amp off")
        optimizer.zero_grad(set_to_none=True)
        if amp.scaler is not None:
            amp.scaler.scale(loss).backward()
            amp.scaler.step(optimizer)
            amp.scaler.update()
        else:
            loss.backward()
            optimizer.step()
        n_steps += 1
        total += value
        part_values = {k: float(v) for k, v in parts.items()}
        for k, v in part_values.items():
            sums[k] = sums.get(k, 0.0) + v
        images += int(batch["image"].shape[0])
        if progress is not None:
            progress.step(epoch, step, int(batch["image"].shape[0]) * progress.world_size, value, part_values, lr)
        t_data = time.perf_counter()
    if n_steps == 0:
        raise VraiToolsError(f"epoch {epoch}: the loader gave no batch")
    seconds = time.perf_counter() - started
    return EpochStats(epoch, total / n_steps, {k: v / n_steps for k, v in sums.items()}, images, seconds, data_wait, lr)


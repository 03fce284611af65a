"""ReID training checkpoints: everything ``--resume`` needs to continue exactly, no code.

One file holds the model, optimizer, scheduler and AMP-scaler states, the PK sampler's
state, the random generators' states, the finished epoch, the resolved config (plain JSON
types), the model spec and the per-epoch history that ``metrics.jsonl`` is written from.
It is written atomically (a crash mid-write leaves the previous checkpoint) and read with
``torch.load(weights_only=True)``: no pickled code runs, which is why the numpy generator
state is stored as plain lists.
"""
from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vrai_tools.errors import VraiToolsError
from vrai_tools.storage import atomic_write_bytes

from ..models.reid_model import ModelSpec, ReidModel
from ..models.weights import load_state_dict_strict

FORMAT = "vrai-reid-checkpoint"
VERSION = 1

__all__ = ["CheckpointError", "FORMAT", "capture_rng", "load_checkpoint", "model_from_checkpoint", "read_state", "restore_rng",
           "save_checkpoint", "write_state"]


class CheckpointError(VraiToolsError):
    pass


def write_state(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` into memory, then one atomic write: a crash never leaves half a checkpoint."""
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def read_state(path: Path | str, *, format: str, version: int, what: str,
               map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A checkpoint of ``format``/``version`` read with ``weights_only=True`` (no pickled code runs);
    ``what`` names the kind in errors. Shared by the ReID and part-detector checkpoints."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path}: cannot read checkpoint safely ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or state.get("format") != format:
        raise CheckpointError(f"{path}: not a {what} checkpoint (format field missing or different)")
    if state.get("version") != version:
        raise CheckpointError(f"{path}: checkpoint version {state.get('version')} is not supported (expected {version})")
    return state


def capture_rng() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()  # type: ignore[misc]
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [name, [int(k) for k in keys], int(pos), int(has_gauss), float(cached)],
        "python": random.getstate(),
    }


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def save_checkpoint(path: Path, *, model: nn.Module, epoch: int, config: dict[str, Any], spec: dict[str, Any],
                    optimizer: torch.optim.Optimizer | None = None, scheduler: Any | None = None,
                    scaler: Any | None = None, sampler: dict[str, Any] | None = None,
                    history: list[dict[str, Any]] | None = None, best: dict[str, Any] | None = None) -> None:
    state = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": int(epoch),
        "config": config,
        "spec": spec,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "sampler": sampler,
        "rng": capture_rng(),
        "history": history or [],
        "best": best,
    }
    write_state(path, state)


def load_checkpoint(path: Path | str, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    return read_state(path, format=FORMAT, version=VERSION, what="vrai-tools ReID", map_location=map_location)


def model_from_checkpoint(state: dict[str, Any], source: str) -> ReidModel:
    """The trained model a checkpoint holds: built from its spec, every weight loaded or the
    mismatch named."""
    try:
        spec = ModelSpec(**state["spec"])
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{source}: the checkpoint's model spec is missing or unknown ({e})") from None
    model = ReidModel(spec)
    load_state_dict_strict(model, state["model"], source)
    return model

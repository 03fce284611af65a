"""Training checkpoints of the part detector: everything ``--resume`` needs, nothing executable.

One file holds model, optimizer, scheduler and AMP-scaler state, the finished epoch and the
resolved config (plain JSON types), written atomically so a crash mid-write leaves the
previous checkpoint intact. Loading uses ``weights_only=True`` (no pickled code runs) and
a strict model load that names missing/unexpected keys.

Reading and writing are the ReID engine's (:mod:`reid.engine.checkpoint`); this module
only says what a detector checkpoint holds.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..engine.checkpoint import CheckpointError, read_state, write_state
from .model import load_state_dict_strict

FORMAT = "vrai-part-detector-checkpoint"
VERSION = 1

__all__ = ["CheckpointError", "load_checkpoint", "restore", "save_checkpoint"]


def save_checkpoint(path: Path, *, model: nn.Module, optimizer: torch.optim.Optimizer | None,
                    scheduler: Any | None, scaler: Any | None, epoch: int, config: dict[str, Any],
                    extra: dict[str, Any] | None = None) -> None:
    state = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": int(epoch),
        "config": config,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "extra": extra or {},
    }
    write_state(path, state)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    return read_state(path, format=FORMAT, version=VERSION, what="part-detector", map_location=map_location)


def restore(state: dict[str, Any], source: str, *, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
            scheduler: Any | None = None, scaler: Any | None = None) -> int:
    """Load the pieces into live objects; returns the epoch the checkpoint finished."""
    load_state_dict_strict(model, state["model"], source)
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler") is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    return int(state["epoch"])

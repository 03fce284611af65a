"""Training checkpoints of the part detector: everything ``--resume`` needs, nothing executable.

One file holds model, optimizer, scheduler and AMP-scaler state, the finished epoch and the
resolved config (plain JSON types), written atomically so a crash mid-write leaves the
previous checkpoint intact. Loading uses ``weights_only=True`` (no pickled code runs) and
a strict model load that names missing/unexpected keys.

(The ReID engine had no shared checkpoint module when this was written; if one appears,
this file should become a thin wrapper around it.)
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vrai_tools.errors import VraiToolsError
from vrai_tools.storage import atomic_write_bytes

from .model import load_state_dict_strict

FORMAT = "vrai-part-detector-checkpoint"
VERSION = 1

__all__ = ["CheckpointError", "load_checkpoint", "restore", "save_checkpoint"]


class CheckpointError(VraiToolsError):
    pass


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
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a part-detector checkpoint (format field missing or different)")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {state.get('version')} is not supported "
                              f"(expected {VERSION})")
    return state


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

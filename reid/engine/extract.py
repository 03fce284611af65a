"""Feature extraction for evaluation, under ``torch.inference_mode()``.

Returns, in item order, the average-pooled embedding, the weighted one (when part boxes
are given), and the attribute heads' outputs (colour/type logits, flag logits) when the
model has them. Under torchrun each rank extracts every ``world_size``-th item and the
rows are gathered on rank 0 (other ranks get None).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from vrai_tools.errors import VraiToolsError

from ..data.dataset import ReidDataset, collate
from ..data.items import ReidItem
from ..data.transforms import eval_transforms
from ..distributed import DistContext, gather_rows, shard
from ..models.reid_model import embedding
from .train import Amp, to_device

__all__ = ["extract_features"]

HEADS = ("color", "type", "flags")


@torch.inference_mode()
def extract_features(model: nn.Module, items: Sequence[ReidItem], *, size: int, device: torch.device,
                     batch_size: int = 64, workers: int = 0, with_parts: bool = False, gamma: float | None = None,
                     amp: Amp | None = None, ctx: DistContext | None = None) -> dict[str, np.ndarray] | None:
    amp = amp or Amp()
    ctx = ctx or DistContext()
    if len(items) < ctx.world_size:
        raise VraiToolsError(f"{len(items)} image(s) to evaluate on {ctx.world_size} ranks: every rank needs one")
    dataset = ReidDataset(items, eval_transforms(size))
    mine = shard(len(items), ctx)
    loader = DataLoader(Subset(dataset, mine), batch_size=batch_size, shuffle=False, num_workers=workers,
                        collate_fn=collate, pin_memory=device.type == "cuda")
    was_training = model.training
    model.eval()
    chunks: dict[str, list[torch.Tensor]] = {}
    try:
        for batch in loader:
            batch = to_device(batch, device, amp.channels_last)
            with torch.autocast(device.type, dtype=amp.dtype or torch.float32, enabled=amp.dtype is not None):
                out = model(batch["image"], batch["parts"] if with_parts else None,
                            batch["parts_mask"] if with_parts else None, gamma)
            got = {"avg": embedding(out, "avg")}
            if with_parts:
                got["weighted"] = embedding(out, "weighted")
            for h in HEADS:
                if h in out:
                    got[h] = out[h]
            for k, v in got.items():
                chunks.setdefault(k, []).append(v.float())
    finally:
        model.train(was_training)
    out_np: dict[str, np.ndarray] = {}
    for k, parts in chunks.items():
        local = torch.cat(parts)
        full = gather_rows(local, len(items), ctx)
        if full is not None:
            out_np[k] = full.cpu().numpy()
    return out_np if ctx.is_main else None


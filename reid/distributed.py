"""Multi-GPU / multi-node training through ``torchrun`` (torch DistributedDataParallel).

``torchrun --nproc_per_node N -m vrai_tools train ...`` sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`init_distributed` reads them
(``env://``) and joins the process group: NCCL on CUDA, gloo on the CPU (which is how the
tests run two processes on one machine). Without those variables everything runs in one
process and these helpers are no-ops.

Division of work: every rank trains on its own PK batch (see ``reid.data.sampler``);
gradients are averaged by DDP; only rank 0 writes files (config, checkpoints, metrics,
reports). Evaluation: each rank extracts the features of every ``world_size``-th image
and :func:`gather_rows` puts them back in order on rank 0, which computes the metrics.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from vrai_tools.errors import VraiToolsError

__all__ = ["DistContext", "barrier", "broadcast_buffers", "broadcast_object", "cleanup", "gather_rows",
           "init_distributed", "shard"]


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_type: str) -> DistContext:
    """Join the process group torchrun describes, or return a single-process context."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if device_type == "cuda" else "gloo"
    if not dist.is_available():
        raise VraiToolsError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    if not dist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        try:
            dist.init_process_group(backend=backend, init_method="env://", timeout=timedelta(minutes=30))
        except (RuntimeError, ValueError) as e:
            raise VraiToolsError(f"cannot join the torchrun process group ({backend}): {e}") from None
    return DistContext(rank, world, local_rank, backend)


def cleanup(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def broadcast_object(ctx: DistContext, obj: object) -> object:
    """Rank 0's ``obj`` on every rank (e.g. an error decided on rank 0)."""
    if not ctx.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def broadcast_buffers(module: torch.nn.Module, ctx: DistContext) -> None:
    """Give every rank rank 0's buffers (BatchNorm running statistics).

    DDP averages gradients, so parameters agree across ranks, but each rank's BatchNorm
    layers update their running statistics from its own batch; DDP only re-broadcasts
    rank 0's at the start of the next training forward. After an epoch the ranks would
    otherwise evaluate their shards with different statistics from each other and from
    the checkpoint rank 0 saves.
    """
    if not ctx.enabled:
        return
    for buf in module.buffers():
        dist.broadcast(buf, src=0)


def shard(n: int, ctx: DistContext) -> list[int]:
    """The indices this rank handles: every ``world_size``-th, starting at its rank."""
    return list(range(ctx.rank, n, ctx.world_size))


def gather_rows(local: torch.Tensor, n: int, ctx: DistContext) -> torch.Tensor | None:
    """Reassemble rows sharded by :func:`shard` into their original order on rank 0.

    ``local`` holds this rank's rows (in shard order); other ranks get None. Shards are
    padded to equal length because ``all_gather`` needs equal shapes.
    """
    if not ctx.enabled:
        return local
    per = -(-n // ctx.world_size)
    pad = torch.zeros((per, *local.shape[1:]), dtype=local.dtype, device=local.device)
    pad[: local.shape[0]] = local
    parts = [torch.empty_like(pad) for _ in range(ctx.world_size)]
    dist.all_gather(parts, pad)
    if not ctx.is_main:
        return None
    out = torch.empty((n, *local.shape[1:]), dtype=local.dtype, device=local.device)
    for r, part in enumerate(parts):
        idx = list(range(r, n, ctx.world_size))
        out[idx] = part[: len(idx)]
    return out

"""PK sampling: batches of P identities times K images (paper: 18 x 4 = 72).

Each batch takes P identities that no other rank takes at the same step; the identities
come from a seeded stream of permutations of all identities, so every identity is visited
as evenly as P allows. The K images of an identity are drawn from a seeded permutation of
its images, cycled (with repeats only when it has fewer than K images).

Everything is a function of (seed, epoch): :meth:`PKSampler.set_epoch` is the whole state,
so ``state_dict()`` holds a few integers and a resumed run sees the same batches.

Distributed: with ``world_size`` ranks, every step draws ``P * world_size`` distinct
identities from the same stream on every rank; rank r keeps the r-th group of P. Each
rank's batch is a complete P x K batch (triplets are mined within it), the identities of
one step never repeat across ranks, and P is per rank (the global batch is
``world_size * P * K``).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterator, Sequence

import torch

from vrai_tools.errors import VraiToolsError

__all__ = ["PKSampler", "SamplingError", "SeededBatches"]


class SamplingError(VraiToolsError):
    pass


_M64 = (1 << 64) - 1


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def _mix(*values: int) -> int:
    """A 63-bit seed from several integers (splitmix64 chain), stable across runs and platforms."""
    h = 0
    for v in values:
        h = _splitmix(h ^ (v & _M64))
    return h & 0x7FFFFFFFFFFFFFFF


class PKSampler:
    """A batch sampler: iterating gives lists of ``P * K`` dataset indices.

    ``labels[i]`` is the identity of item i. ``batches_per_epoch`` defaults to the number of
    images divided by the global batch (about one pass over the data per epoch).
    Raises :class:`SamplingError` when there are fewer than ``P * world_size`` identities.
    """

    def __init__(self, labels: Sequence[int], p: int, k: int, seed: int = 0, *, batches_per_epoch: int | None = None,
                 rank: int = 0, world_size: int = 1) -> None:
        if p < 1 or k < 1:
            raise SamplingError(f"P and K must be at least 1, got P={p}, K={k}")
        if not 0 <= rank < world_size:
            raise SamplingError(f"rank {rank} is outside world size {world_size}")
        groups: dict[int, list[int]] = defaultdict(list)
        for i, label in enumerate(labels):
            if label < 0:
                raise SamplingError(f"item {i} has no identity label ({label}); PK sampling needs labelled items")
            groups[int(label)].append(i)
        self.ids = sorted(groups)
        self.members = [groups[i] for i in self.ids]
        need = p * world_size
        if len(self.ids) < need:
            ranks = f" x {world_size} ranks" if world_size > 1 else ""
            raise SamplingError(
                f"PK sampling impossible: P={p}{ranks} needs {need} identities per step but the training set has "
                f"{len(self.ids)}; lower --batch-p (or use fewer ranks) or add training vehicles")
        self.p, self.k, self.seed = p, k, seed
        self.rank, self.world_size = rank, world_size
        total = len(labels)
        self.batches_per_epoch = batches_per_epoch or max(1, total // (p * k * world_size))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "epoch": self.epoch, "p": self.p, "k": self.k,
                "batches_per_epoch": self.batches_per_epoch, "world_size": self.world_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("seed", "p", "k", "batches_per_epoch", "world_size"):
            if state.get(name) != getattr(self, name):
                raise SamplingError(f"sampler state has {name}={state.get(name)}, this run has {getattr(self, name)}")
        self.epoch = int(state["epoch"])

    def __len__(self) -> int:
        return self.batches_per_epoch

    def __iter__(self) -> Iterator[list[int]]:
        yield from self._batches()

    def _batches(self) -> Iterator[list[int]]:
        g = torch.Generator().manual_seed(_mix(self.seed, self.epoch))
        n_ids = len(self.ids)
        stream: list[int] = []
        cursors = [0] * n_ids
        orders: list[list[int] | None] = [None] * n_ids
        need = self.p * self.world_size
        for _ in range(self.batches_per_epoch):
            chosen: list[int] = []
            taken: set[int] = set()
            deferred: list[int] = []
            while len(chosen) < need:
                if not stream:
                    stream = torch.randperm(n_ids, generator=g).tolist()
                    stream = deferred + stream  # deferred ones keep their turn
                    deferred = []
                ident = stream.pop(0)
                if ident in taken:
                    deferred.append(ident)
                    continue
                taken.add(ident)
                chosen.append(ident)
            stream = deferred + stream
            mine = chosen[self.rank * self.p:(self.rank + 1) * self.p]
            batch: list[int] = []
            for ident in chosen:  # every rank advances every cursor: the streams stay in step
                members = self.members[ident]
                picks = []
                for _ in range(self.k):
                    if orders[ident] is None or cursors[ident] >= len(members):
                        order = torch.randperm(len(members), generator=g).tolist()
                        # A pass that starts mid-batch puts this batch's images last: no image twice in
                        # one batch unless the identity has fewer than K, and still each once per pass.
                        orders[ident] = ([j for j in order if members[j] not in picks]
                                         + [j for j in order if members[j] in picks])
                        cursors[ident] = 0
                    picks.append(members[orders[ident][cursors[ident]]])  # type: ignore[index]
                    cursors[ident] += 1
                if ident in mine:
                    batch.extend(picks)
            yield batch


class SeededBatches:
    """Wraps a batch sampler so each index carries the seed of its augmentation.

    The seed depends on (base seed, epoch, step, rank, position in the batch) only; see
    :mod:`reid.data.dataset` for why augmentation does not use the global generator.
    """

    def __init__(self, sampler: PKSampler, seed: int) -> None:
        self.sampler = sampler
        self.seed = seed

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        s = self.sampler
        for step, batch in enumerate(s):
            yield [(i, _mix(self.seed, s.epoch, step, s.rank, pos)) for pos, i in enumerate(batch)]

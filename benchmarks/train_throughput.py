"""Training throughput of the ReID engine (images/s), CPU or GPU, AMP on/off, with and without data loading.

Every figure runs the trainer's own step (``reid.engine.train.train_one_epoch``: forward,
the preset's losses, backward, Adam) on the model a ``vrai-tools train`` run would build:

- *in memory*: PK batches decoded, transformed and collated once beforehand, already on
  the device; what the network alone sustains.
- *with loading*: the trainer's input pipeline over JPEG crops written to a temporary
  folder (``ReidDataset`` + ``PKSampler`` + ``SeededBatches`` + box-aware transforms +
  ``collate`` in a ``DataLoader`` with ``--workers`` processes, persistent as in training).
  The first (warm-up) epoch pays the workers' start; the timed one is steady state.
- *loader alone*: the same pipeline without the network: the ceiling loading allows.

AMP (``--amp on``) is the trainer's ``auto`` mode: bf16 autocast where the GPU supports it,
else fp16 with a gradient scaler; CUDA only, as in training (the CPU always runs float32).

    .venv/bin/python benchmarks/train_throughput.py --backbone resnet18 --size 128 --batch 16 --steps 4
    .venv/bin/python benchmarks/train_throughput.py --backbone resnet50 --size 352 --batch 8 --steps 3
    .venv/bin/python benchmarks/train_throughput.py --device cuda --backbone resnet50 --size 352 --batch 72 --amp both
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reid.config import TrainConfig  # noqa: E402
from reid.data import PKSampler, ReidDataset, ReidItem, SeededBatches, collate, train_transforms  # noqa: E402
from reid.engine.setup import build_model, model_spec  # noqa: E402
from reid.engine.train import Amp, resolve_amp, to_device, train_one_epoch  # noqa: E402
from reid.losses import ReidCriterion  # noqa: E402
from reid.presets import PRESETS, get_preset  # noqa: E402

IMAGES_PER_ID = 6


def synthetic_items(folder: Path, n_ids: int, size: int, seed: int = 0) -> list[ReidItem]:
    """JPEG crops (4:3, longest side ``size``, like a ``crops/s<size>`` variant), one part box each."""
    import cv2

    rng = np.random.default_rng(seed)
    w, h = size, max(8, size * 3 // 4)
    items = []
    for v in range(n_ids):
        paint = rng.integers(30, 230, 3)
        for j in range(IMAGES_PER_ID):
            img = np.clip(rng.normal(paint, 25, (h, w, 3)), 0, 255).astype(np.uint8)
            mx, my, side = int(rng.integers(0, w * 3 // 4)), int(rng.integers(0, h * 3 // 4)), max(2, size // 8)
            img[my:my + side, mx:mx + side] = 255
            path = folder / f"{v:05d}_{j}.jpg"
            cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            items.append(ReidItem(key=f"c:{len(items)}", path=str(path), from_frame=False, box=(0, 0, w, h), pid=v,
                                  label=v, camid=j % 2, color=v % 9, type=v % 7, flags=(v % 2, 1, -1, 0),
                                  parts=((float(mx), float(my), float(mx + side), float(my + side)),)))
    return items


def make_loader(items: list[ReidItem], cfg: TrainConfig, batches: int, device: torch.device) -> tuple[DataLoader, SeededBatches]:
    sampler = PKSampler([it.label for it in items], cfg.batch_p, cfg.batch_k, cfg.seed, batches_per_epoch=batches)
    seeded = SeededBatches(sampler, cfg.seed)
    dataset = ReidDataset(items, train_transforms(cfg.size, rotate_p=cfg.rotate_p, hflip_p=cfg.hflip_p))
    loader = DataLoader(dataset, batch_sampler=seeded, num_workers=cfg.workers, collate_fn=collate,  # type: ignore[arg-type]
                        pin_memory=device.type == "cuda", persistent_workers=cfg.workers > 0)
    return loader, seeded


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Bench:
    def __init__(self, cfg: TrainConfig, device: torch.device, amp: Amp, num_ids: int) -> None:
        self.cfg, self.device, self.amp = cfg, device, amp
        preset = get_preset(cfg.preset)
        self.use_parts = preset.uses_parts
        self.model = build_model(model_spec(cfg, num_ids), cfg.seed).to(device)
        if amp.channels_last:
            self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.criterion = ReidCriterion(preset.weights(), triplet_margin=cfg.triplet_margin)
        self.opt = torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad], lr=cfg.lr)

    def epoch(self, batches: object, epoch: int) -> tuple[float, float, float]:
        """(images/s, seconds per step, fraction of the time spent waiting for data)."""
        _sync(self.device)
        stats = train_one_epoch(self.model, self.criterion, batches, self.opt, device=self.device, epoch=epoch,
                                amp=self.amp, use_parts=self.use_parts)
        _sync(self.device)
        steps = stats.images / (self.cfg.batch_p * self.cfg.batch_k)
        return stats.images / stats.seconds, stats.seconds / steps, stats.data_seconds / stats.seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="resnet50", choices=["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"])
    ap.add_argument("--size", type=int, default=352, help="input side in pixels (paper: 352)")
    ap.add_argument("--batch", type=int, default=72, help="images per step, P x K with K = --k (paper: 18 x 4)")
    ap.add_argument("--k", type=int, default=4, help="images per identity in a PK batch")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per figure (after --warmup steps)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--amp", default="off", choices=["off", "on", "both"], help="mixed precision (CUDA only)")
    ap.add_argument("--preset", default="multitask+dp", choices=list(PRESETS))
    ap.add_argument("--workers", type=int, default=2, help="DataLoader worker processes for the loading figures")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice; on a busy machine 1 can be faster)")
    args = ap.parse_args()
    if args.batch % args.k:
        ap.error(f"--batch {args.batch} is not a multiple of --k {args.k}")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda but CUDA is not available")
    amps = {"off": ["off"], "on": ["auto"], "both": ["off", "auto"]}[args.amp]
    if device.type != "cuda" and amps != ["off"]:
        print("note: AMP is CUDA-only in the trainer; the CPU figures are float32", file=sys.stderr)
        amps = ["off"]
    p = args.batch // args.k
    n_ids = max(2 * p, 8)
    cfg = TrainConfig(root=".", split="bench", preset=args.preset, backbone=args.backbone, size=args.size,
                      batch_p=p, batch_k=args.k, workers=args.workers)

    with tempfile.TemporaryDirectory(prefix="reid-bench-") as tmp:
        t0 = time.perf_counter()
        items = synthetic_items(Path(tmp), n_ids, args.size)
        made = time.perf_counter() - t0
        where = f"{device}" + ("" if device.type == "cuda" else f", {torch.get_num_threads()} thread(s)")
        if device.type == "cuda":
            where += f" ({torch.cuda.get_device_name(device)})"
        print(f"{args.preset}, {args.backbone}, input {args.size}x{args.size}, batch {args.batch} (P={p} x K={args.k}), "
              f"{where}; {len(items)} synthetic JPEG crops of {n_ids} ids written in {made:.1f} s; "
              f"{args.steps} timed steps after {args.warmup} warm-up")
        print(f"| {'what':<32} | {'AMP':>4} | {'images/s':>9} | {'s/step':>7} | {'data wait':>9} |")
        print(f"|{'-' * 34}|{'-' * 6}|{'-' * 11}|{'-' * 9}|{'-' * 11}|")

        def row(what: str, amp_name: str, ips: float, per_step: float, wait: float | None) -> None:
            w = f"{wait:>8.0%}" if wait is not None else f"{'-':>8}"
            print(f"| {what:<32} | {amp_name:>4} | {ips:>9.1f} | {per_step:>7.3f} | {w:>9} |", flush=True)

        # Loader alone (no network): the ceiling of the input pipeline.
        loader, seeded = make_loader(items, cfg, args.warmup + args.steps, device)
        seeded.set_epoch(0)
        it = iter(loader)
        for _ in range(args.warmup):
            next(it)
        t0 = time.perf_counter()
        n = 0
        for batch in it:
            n += int(batch["image"].shape[0])
        dt = time.perf_counter() - t0
        row(f"loader alone ({args.workers} workers)", "-", n / dt, dt / args.steps, None)
        del it, loader

        for mode in amps:
            amp = resolve_amp(mode, device, cfg.channels_last)
            bench = Bench(cfg, device, amp, n_ids)
            # Data already in memory (and on the device): the network's own rate.
            loader, seeded = make_loader(items, cfg, args.warmup + args.steps, torch.device("cpu"))
            seeded.set_epoch(1)
            pre = [to_device(b, device, amp.channels_last) for b in loader]
            bench.epoch(pre[:args.warmup], 0)
            ips, per_step, _ = bench.epoch(pre[args.warmup:], 1)
            row("train step, data in memory", amp.name, ips, per_step, None)
            del pre, loader
            # The trainer's loader feeding the same step.
            loader, seeded = make_loader(items, cfg, args.steps, device)
            seeded.set_epoch(2)
            bench.epoch(_take(loader, args.warmup), 2)  # also starts the (persistent) workers
            seeded.set_epoch(3)
            ips, per_step, wait = bench.epoch(loader, 3)
            row(f"train step + loading ({args.workers} workers)", amp.name, ips, per_step, wait)
            del loader
        if device.type == "cuda":
            print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB")


def _take(loader: DataLoader, n: int) -> list[dict[str, torch.Tensor]]:
    out = []
    for b in loader:
        out.append(b)
        if len(out) == n:
            break
    return out


if __name__ == "__main__":
    main()

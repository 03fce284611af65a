"""Images per second of the part detector: training steps and inference, CPU or GPU, AMP on/off.

Model-only figures use random crops (aspect 2:1, one part box each), so data loading is
excluded; ``--root ROOT --split NAME`` adds a run over that split's real crops through
the same DataLoader the trainer uses (loading included). Prints one table.

    .venv/bin/python benchmarks/detector_speed.py --size 160 --fpn-channels 64 --batch 16 --threads 2
    .venv/bin/python benchmarks/detector_speed.py --device cuda --size 416 --batch 32 --amp both
    .venv/bin/python benchmarks/detector_speed.py --root demo-output/data --split demo --size 160
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reid.detection.data import PartCropDataset, collate, load_samples, split_keys  # noqa: E402
from reid.detection.model import build_detector, inference_settings, part_label, set_input_size  # noqa: E402
from vrai_tools.dataset import DatasetRoot  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_batch(n: int, size: int, label: int, device: torch.device, seed: int = 0) -> tuple[list, list]:
    g = torch.Generator().manual_seed(seed)
    images = [torch.rand(3, size // 2, size, generator=g).to(device) for _ in range(n)]
    targets = []
    for _ in range(n):
        x, y = float(torch.randint(0, size - 24, (1,), generator=g)), float(torch.randint(0, size // 2 - 24, (1,), generator=g))
        targets.append({"boxes": torch.tensor([[x, y, x + 20, y + 16]], device=device),
                        "labels": torch.tensor([label], device=device)})
    return images, targets


def time_train(model: torch.nn.Module, batches: list, device: torch.device, amp: bool, warmup: int = 2) -> float:
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    n = 0
    t0 = 0.0
    for i, (images, targets) in enumerate(batches):
        if i == warmup:
            _sync(device)
            t0, n = time.perf_counter(), 0
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
            loss = sum(model(images, targets).values())
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        n += len(images)
    _sync(device)
    return n / (time.perf_counter() - t0)


def time_infer(model: torch.nn.Module, batches: list, device: torch.device, amp: bool, warmup: int = 2) -> float:
    model.eval()
    n, t0 = 0, 0.0
    with torch.inference_mode(), inference_settings(model, score_thresh=0.25, nms_thresh=0.4, detections_per_img=3):
        for i, (images, _) in enumerate(batches):
            if i == warmup:
                _sync(device)
                t0, n = time.perf_counter(), 0
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
                model(images)
            n += len(images)
    _sync(device)
    return n / (time.perf_counter() - t0)


def time_loader_train(model: torch.nn.Module, root: Path, split: str, size: int, batch: int, workers: int,
                      device: torch.device, amp: bool, max_batches: int) -> float:
    samples = load_samples(root, split_keys(DatasetRoot(root).split(split), "train"))
    ds = PartCropDataset(samples, long_side=size, label=0, train=True, jitter=0.2)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, collate_fn=collate)
    t0 = time.perf_counter()  # includes the workers' start: what a real epoch pays too
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    n = 0
    for i, (images, targets, _) in enumerate(loader):
        if i >= max_batches:
            break
        images = [im.to(device) for im in images]
        targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
            loss = sum(model(images, targets).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += len(images)
    _sync(device)
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="fcos", choices=["fcos", "retinanet", "fasterrcnn"])
    ap.add_argument("--backbone", default="resnet18")
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--fpn-channels", type=int, default=64)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--iters", type=int, default=6, help="timed batches (after 2 warm-up batches)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--amp", default="off", choices=["off", "on", "both"], help="fp16 autocast (CUDA only)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--root", type=Path, help="also time training with real data loading from this dataset")
    ap.add_argument("--split", default=None)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    amps = {"off": [False], "on": [True], "both": [False, True]}[args.amp]
    if device.type != "cuda":
        amps = [False]
    torch.manual_seed(0)
    model = build_detector(arch=args.arch, backbone=args.backbone, min_size=args.size, max_size=args.size,
                           fpn_channels=args.fpn_channels).to(device)
    set_input_size(model, args.size)
    label = part_label(args.arch)
    batches = [random_batch(args.batch, args.size, label, device, seed=i) for i in range(args.iters + 2)]
    print(f"{args.arch}/{args.backbone}, FPN {args.fpn_channels}, input {args.size} px (crops {args.size}x{args.size // 2}), "
          f"batch {args.batch}, device {device}"
          f"{'' if device.type == 'cuda' else f', {torch.get_num_threads()} thread(s)'}")
    print(f"| {'what':<34} | {'AMP':>4} | {'images/s':>9} |")
    print(f"|{'-' * 36}|{'-' * 6}|{'-' * 11}|")
    for amp in amps:
        print(f"| {'train step (no data loading)':<34} | {'on' if amp else 'off':>4} | "
              f"{time_train(model, batches, device, amp):>9.1f} |")
        print(f"| {'inference (top-3, no data loading)':<34} | {'on' if amp else 'off':>4} | "
              f"{time_infer(model, batches, device, amp):>9.1f} |")
        if args.root:
            if not args.split:
                ap.error("--root needs --split")
            ips = time_loader_train(model, args.root, args.split, args.size, args.batch, args.workers, device, amp,
                                    args.iters)
            print(f"| {f'train with loading ({args.workers} workers)':<34} | {'on' if amp else 'off':>4} | {ips:>9.1f} |")
    if device.type == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()

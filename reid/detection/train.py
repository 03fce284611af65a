"""Training engine of the part detector: plain functions, one run folder.

``RUN/`` receives ``config.json`` (resolved), ``checkpoint.pt`` (after every epoch: model,
optimizer, scheduler, AMP scaler, epoch, config), ``metrics.jsonl`` (one line per epoch:
loss parts, learning rate, speed, and detection metrics when evaluated), and after the
last epoch ``metrics.json``, ``report.md`` and ``figure7.png``.

Exact resume: shuffling, multi-scale sizes and augmentation are all drawn from RNGs
seeded by (seed, epoch), never from state carried between epochs, so a run stopped after
epoch k and resumed follows the same path as one that never stopped.

Multi-scale training as in YOLOv3 (which the paper used): every batch is resized to a
size drawn from ``multiscale_sizes`` (paper: 320..608), evaluation uses ``size``.
"""
from __future__ import annotations

import json
import math
import random
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler

from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import VraiToolsError
from vrai_tools.progress import progress
from vrai_tools.storage import atomic_write_text

from .checkpoint import load_checkpoint, restore, save_checkpoint
from .config import DetectorTrainConfig, load_config, model_from_config, resolve_device, save_config
from .data import PartCropDataset, PartSample, check_frames, collate, load_samples, multiscale_sizes, split_keys
from .evaluate import DetectionMetrics, ImageResult, detection_metrics, metrics_markdown
from .figures import FigurePanel, pick_panels, save_figure7
from .model import count_parameters, part_label, set_input_size
from .predict import CHECKPOINT_NAME, CropPrediction, predict

EVAL_SCORE_THRESH = 0.05  # keep the low-confidence tail for AP; P/R/F apply the paper's 0.25
EVAL_MAX_DETECTIONS = 100

Log = Callable[[str], None]

__all__ = ["NonFiniteLossError", "RunFolderError", "evaluate_detector", "train_detector", "train_one_epoch"]


class NonFiniteLossError(VraiToolsError):
    """Training diverged: a loss came out NaN or infinite."""


class RunFolderError(VraiToolsError):
    pass


# --------------------------------------------------------------------------- pieces


def make_optimizer(model: nn.Module, cfg: DetectorTrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: DetectorTrainConfig,
                   iters_per_epoch: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then cosine down to 1 % of the rate; stepped every iteration."""
    total = max(1, cfg.epochs * iters_per_epoch)
    warmup = min(cfg.warmup_iters, total // 4)

    def factor(it: int) -> float:
        if it < warmup:
            return 0.001 + 0.999 * it / warmup
        t = min(1.0, (it - warmup) / max(1, total - warmup))
        return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_one_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                    scheduler: torch.optim.lr_scheduler.LRScheduler | None, scaler: torch.amp.GradScaler, *,
                    device: torch.device, epoch: int, sizes: list[int], seed: int = 0, amp: bool = False,
                    clip_grad_norm: float | None = None, quiet: bool = True,
                    label: str | None = None) -> dict[str, float]:
    """One pass over ``loader``; returns the mean of every loss part, ``loss``, ``lr`` and ``images_per_s``.

    Raises :class:`NonFiniteLossError` naming the batch and the loss parts as soon as the
    total loss is NaN or infinite (continuing would only write a broken checkpoint).
    """
    model.train()
    rng = random.Random(f"{seed}:scale:{epoch}")
    sums: dict[str, float] = {}
    n_batches = n_images = 0
    t0 = time.perf_counter()
    use_amp = amp and device.type == "cuda"
    for b, (images, targets, _) in enumerate(progress(loader, label or f"epoch {epoch}", quiet, length=len(loader))):
        set_input_size(model, rng.choice(sizes))
        images = [im.to(device, non_blocking=True) for im in images]
        targets = [{k: v.to(device, non_blocking=True) for k, v in t.items()} for t in targets]
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
            parts = model(images, targets)
        loss = sum(parts.values())
        if not torch.isfinite(loss):
            detail = ", ".join(f"{k} {v.item():.4g}" for k, v in parts.items())
            raise NonFiniteLossError(f"epoch {epoch}, batch {b + 1}: loss is {loss.item()} ({detail}); "
                                     "training diverged: lower --lr or check the part boxes")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if clip_grad_norm:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], clip_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        if scheduler is not None:
            scheduler.step()
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach())
        sums["loss"] = sums.get("loss", 0.0) + float(loss.detach())
        n_batches += 1
        n_images += len(images)
    seconds = time.perf_counter() - t0
    out = {k: v / max(1, n_batches) for k, v in sums.items()}
    out["lr"] = optimizer.param_groups[0]["lr"]
    out["images_per_s"] = n_images / seconds if seconds > 0 else 0.0
    out["seconds"] = seconds
    return out


def evaluate_detector(model: nn.Module, dataset: PartCropDataset, *, device: torch.device, nms: float,
                      batch_size: int = 32, workers: int = 0, amp: bool = False,
                      quiet: bool = True) -> tuple[list[ImageResult], list[CropPrediction]]:
    """Predictions on every crop (low threshold, up to 100 boxes) beside its ground truth, crop pixels."""
    preds = list(predict(model, dataset, device=device, score_thresh=EVAL_SCORE_THRESH, nms_thresh=nms,
                         max_detections=EVAL_MAX_DETECTIONS, batch_size=batch_size, workers=workers, amp=amp,
                         quiet=quiet, label="evaluating"))
    results = [ImageResult(p.boxes, p.scores, dataset.geometry(p.index).to_crop(dataset.samples[p.index].boxes))
               for p in preds]
    return results, preds


# --------------------------------------------------------------------------- the run


def _subset(samples: list[PartSample], limit: int | None, seed: int, what: str) -> list[PartSample]:
    if limit is None or len(samples) <= limit:
        return samples
    keep = sorted(random.Random(f"{seed}:{what}").sample(range(len(samples)), limit))
    return [samples[i] for i in keep]


def _check_run_folder(run_dir: Path, cfg: DetectorTrainConfig, resume: bool) -> dict | None:
    ckpt = run_dir / CHECKPOINT_NAME
    if not resume:
        if ckpt.exists():
            raise RunFolderError(f"{run_dir} already holds a trained detector ({CHECKPOINT_NAME}); "
                                 "pass --resume to continue it, or choose another --out")
        return None
    if not ckpt.exists():
        raise RunFolderError(f"{run_dir}: nothing to resume (no {CHECKPOINT_NAME})")
    state = load_checkpoint(ckpt)
    saved = DetectorTrainConfig.model_validate(state["config"])
    old, new = saved.semantic_dict(), cfg.semantic_dict()
    diff = sorted(k for k in old if old[k] != new.get(k))
    if diff:
        shown = ", ".join(f"{k} ({old[k]!r} -> {new.get(k)!r})" for k in diff[:5])
        raise RunFolderError(f"{run_dir}: --resume continues the saved run, but these settings differ from its "
                             f"config.json: {shown}")
    return state


def _rewrite_jsonl(path: Path, keep_up_to: int) -> None:
    """Drop lines of epochs after the checkpoint (a crash between the two writes)."""
    if not path.exists():
        return
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    kept = [ln for ln in lines if json.loads(ln).get("epoch", 0) <= keep_up_to]
    atomic_write_text(path, "".join(ln + "\n" for ln in kept))


def _append_jsonl(path: Path, record: dict) -> None:
    old = path.read_text() if path.exists() else ""
    atomic_write_text(path, old + json.dumps(record, sort_keys=True) + "\n")


def train_detector(cfg: DetectorTrainConfig, run_dir: Path | str, *, resume: bool = False, quiet: bool = False,
                   log: Log | None = None) -> DetectionMetrics:
    """Train on the split's train instances, evaluate on its query + gallery instances; see the module doc."""
    say: Log = log or (lambda s: None)
    run_dir = Path(run_dir)
    ds = DatasetRoot(cfg.root)
    manifest = ds.manifest()
    split = ds.split(cfg.split)
    label = part_label(cfg.arch)
    train_samples = _subset(load_samples(ds, split_keys(split, "train")), cfg.max_train_images,
                            cfg.seed, "train")
    test_samples = _subset(load_samples(ds, split_keys(split, "test")), cfg.max_test_images,
                           cfg.seed, "test")
    check_frames(train_samples + test_samples)
    n_pos = sum(1 for s in train_samples if s.boxes)
    if n_pos == 0:
        raise VraiToolsError(f"split {cfg.split!r}: none of its {len(split.train)} train instances has part boxes "
                             "(parts state 'done'); annotate stage 4 first")
    state = _check_run_folder(run_dir, cfg, resume)
    device = resolve_device(cfg.device)
    use_amp = cfg.amp and device.type == "cuda"

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = model_from_config(cfg, with_backbone_weights=state is None)
    model.to(device)
    sizes = multiscale_sizes(cfg.size, cfg.train_scale)
    train_ds = PartCropDataset(train_samples, long_side=max(sizes), label=label, train=True, hflip=cfg.hflip,
                               jitter=cfg.jitter, seed=cfg.seed)
    test_ds = PartCropDataset(test_samples, long_side=cfg.size, label=label)
    gen = torch.Generator()
    loader = DataLoader(train_ds, batch_size=cfg.batch_size, sampler=RandomSampler(train_ds, generator=gen),
                        num_workers=cfg.workers, collate_fn=collate, pin_memory=device.type == "cuda")
    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler(optimizer, cfg, len(loader))
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    done = 0
    if state is not None:
        done = restore(state, str(run_dir / CHECKPOINT_NAME), model=model, optimizer=optimizer, scheduler=scheduler,
                       scaler=scaler)
        _rewrite_jsonl(run_dir / "metrics.jsonl", done)
        say(f"resuming {run_dir} after epoch {done}/{cfg.epochs}")
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(run_dir / "config.json", cfg)
    total, trainable = count_parameters(model)
    say(f"{cfg.arch}/{cfg.backbone} ({trainable / 1e6:.1f}M of {total / 1e6:.1f}M parameters trainable) on {device}"
        f"{' with AMP' if use_amp else ''}; {len(train_samples)} train crops ({n_pos} with parts), "
        f"{len(test_samples)} test crops; sizes {sizes[0]}..{sizes[-1]} train, {cfg.size} test")

    provenance = dict(dataset=manifest.name, split=split.name, split_seed=split.seed, run=str(run_dir),
                      arch=cfg.arch, backbone=cfg.backbone, input_size=cfg.size)
    metrics: DetectionMetrics | None = None
    preds: list[CropPrediction] = []
    results: list[ImageResult] = []
    t_start = time.perf_counter()
    for epoch in range(done + 1, cfg.epochs + 1):
        gen.manual_seed(cfg.seed * 100_003 + epoch)
        train_ds.set_epoch(epoch)
        stats = train_one_epoch(model, loader, optimizer, scheduler, scaler, device=device, epoch=epoch, sizes=sizes,
                                seed=cfg.seed, amp=use_amp, clip_grad_norm=cfg.clip_grad_norm, quiet=quiet,
                                label=f"epoch {epoch}/{cfg.epochs}")
        record: dict[str, object] = {"epoch": epoch, **{k: round(v, 6) for k, v in stats.items()}}
        losses = ", ".join(f"{k} {v:.4f}" for k, v in stats.items()
                           if k not in ("loss", "lr", "images_per_s", "seconds"))
        elapsed = time.perf_counter() - t_start
        eta = elapsed / (epoch - done) * (cfg.epochs - epoch)
        line = (f"epoch {epoch}/{cfg.epochs}  loss {stats['loss']:.4f} ({losses})  lr {stats['lr']:.2e}  "
                f"{stats['images_per_s']:.1f} img/s  ETA {eta:.0f}s")
        last = epoch == cfg.epochs
        if last or (cfg.eval_every and epoch % cfg.eval_every == 0):
            results, preds = evaluate_detector(model, test_ds, device=device, nms=cfg.nms_threshold,
                                               batch_size=cfg.eval_batch_size, workers=cfg.workers, amp=use_amp,
                                               quiet=quiet)
            metrics = detection_metrics(results, conf=cfg.conf_threshold, iou=cfg.iou_threshold, top_k=cfg.top_k,
                                        nms_threshold=cfg.nms_threshold, epoch=epoch, **provenance)
            record.update(precision=metrics.precision, recall=metrics.recall, f_score=metrics.f_score,
                          ap50=metrics.ap50)
            line += (f"  | test P {100 * metrics.precision:.1f} R {100 * metrics.recall:.1f} "
                     f"F {100 * metrics.f_score:.1f} AP50 {100 * metrics.ap50:.1f}")
        say(line)
        _append_jsonl(run_dir / "metrics.jsonl", record)
        save_checkpoint(run_dir / CHECKPOINT_NAME, model=model, optimizer=optimizer, scheduler=scheduler,
                        scaler=scaler, epoch=epoch, config=cfg.model_dump(mode="json"))
    if metrics is None:  # resumed a finished run: evaluate what it holds
        results, preds = evaluate_detector(model, test_ds, device=device, nms=cfg.nms_threshold,
                                           batch_size=cfg.eval_batch_size, workers=cfg.workers, amp=use_amp,
                                           quiet=quiet)
        metrics = detection_metrics(results, conf=cfg.conf_threshold, iou=cfg.iou_threshold, top_k=cfg.top_k,
                                    nms_threshold=cfg.nms_threshold, epoch=max(done, cfg.epochs), **provenance)
    metrics = metrics.model_copy(update={"created": datetime.now(timezone.utc).replace(microsecond=0)})
    write_outputs(run_dir, metrics, test_ds, results, preds, cfg)
    return metrics


def write_outputs(run_dir: Path, metrics: DetectionMetrics, dataset: PartCropDataset, results: list[ImageResult],
                  preds: list[CropPrediction], cfg: DetectorTrainConfig) -> None:
    atomic_write_text(run_dir / "metrics.json", metrics.model_dump_json(indent=1) + "\n")
    panels = []
    for i in pick_panels(len(results), [len(r.gt) > 0 for r in results], cfg.figure_samples):
        p = preds[i]
        keep = p.scores >= cfg.conf_threshold
        image, _ = dataset.crop(p.index)
        panels.append(FigurePanel(image=image, gt=results[i].gt, boxes=p.boxes[keep][:cfg.top_k],
                                  scores=p.scores[keep][:cfg.top_k], title=dataset.samples[p.index].key))
    figure = None
    if panels:  # figure_samples 0: no picture wanted
        figure = "figure7.png"
        save_figure7(run_dir / figure, panels,
                     title=f"parts: ground truth (red), top-{cfg.top_k} predictions >= {cfg.conf_threshold} (green)")
    atomic_write_text(run_dir / "report.md", metrics_markdown(metrics, figure=figure))


def load_run_config(run_dir: Path) -> DetectorTrainConfig:
    return load_config(Path(run_dir) / "config.json")

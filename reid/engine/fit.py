"""``vrai-tools train``: the whole training run around :func:`train_one_epoch`.

Order of a run: join the torchrun group (if any) -> load the split -> seeded model ->
optimizer, schedule, AMP -> PK loader -> (resume: restore every state) -> per epoch:
train, step the schedule, evaluate when due, save ``last.pt`` (and ``best.pt``), rewrite
``metrics.jsonl`` from the history in the checkpoint -> report. Only rank 0 writes.

Exactness of ``--resume``: batches and augmentations are functions of (seed, epoch, step),
the model/optimizer/scheduler/scaler states are restored, so a run stopped after epoch e
and resumed ends with the same weights as one that never stopped (bit-identical on the
CPU; on CUDA with ``deterministic`` set).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from vrai_tools.errors import VraiToolsError

from ..config import TrainConfig, save_config
from ..data.dataset import ReidDataset, collate
from ..data.sampler import PKSampler, SeededBatches
from ..data.transforms import train_transforms
from ..distributed import DistContext, barrier, broadcast_buffers, broadcast_object, cleanup, init_distributed
from ..losses.criterion import ReidCriterion
from ..models.weights import load_pretrained, load_state_dict_strict
from ..presets import get_preset
from ..runs import RunDir
from .checkpoint import load_checkpoint, restore_rng, save_checkpoint
from .extract import extract_features
from .progress import TrainProgress, format_seconds
from .schedule import make_scheduler
from .scoring import score_features
from .setup import build_model, load_data, model_spec, resolve_device, seed_everything, set_determinism
from .train import resolve_amp, train_one_epoch

__all__ = ["TrainResult", "train"]

TIMING_FIELDS = ("seconds", "images_per_s", "data_seconds")


@dataclass
class TrainResult:
    run: Path
    epochs_done: int
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None


def _echo_default(text: str) -> None:
    import sys

    print(text, file=sys.stderr, flush=True)


def train(cfg: TrainConfig, out: Path | str, *, resume: bool = False, quiet: bool = False,
          stop_after: int | None = None, echo: Callable[[str], None] | None = None) -> TrainResult:
    """Train (or continue, with ``resume``) the run in ``out``.

    ``stop_after``: stop once that epoch is saved, as if the process had been killed there
    (tests of ``--resume`` use it).
    """
    cfg = cfg.resolved()
    device = resolve_device(cfg.device)
    ctx = init_distributed(device.type)
    try:
        if ctx.enabled and device.type == "cuda":
            device = torch.device("cuda", ctx.local_rank)
        say = (echo or _echo_default) if (ctx.is_main and not quiet) else (lambda _t: None)
        return _train(cfg, RunDir(out), device, ctx, resume, quiet or not ctx.is_main, stop_after, say)
    finally:
        cleanup(ctx)


def _train(cfg: TrainConfig, run: RunDir, device: torch.device, ctx: DistContext, resume: bool, quiet: bool,
           stop_after: int | None, say: Callable[[str], None]) -> TrainResult:
    problem = None
    if ctx.is_main:
        try:
            if resume:
                run.require()
                if not run.last.is_file():
                    raise VraiToolsError(f"{run.last}: no checkpoint to resume from (the run never finished an epoch); "
                                         f"delete {run.path} and start again")
            else:
                run.check_new()
        except VraiToolsError as e:
            problem = str(e)
    problem = broadcast_object(ctx, problem)
    if problem:
        raise VraiToolsError(str(problem))

    set_determinism(device, cfg.deterministic)
    seed_everything(cfg.seed)
    preset = get_preset(cfg.preset)
    data = load_data(cfg.root, cfg.split, parts=cfg.parts, detections_file=cfg.part_detections,  # type: ignore[arg-type]
                     crops=cfg.crops, size=cfg.size, test=True)
    assert data.train is not None
    train_items = data.train
    if not train_items.items:
        raise VraiToolsError(f"split {cfg.split!r} has no training images")
    spec = model_spec(cfg, len(train_items.train_ids))
    model = build_model(spec, cfg.seed)
    if cfg.pretrained:
        report = load_pretrained(model, cfg.pretrained)
        say(report.summary())
    amp = resolve_amp(cfg.amp, device, cfg.channels_last)
    model.to(device)
    if amp.channels_last:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    net: torch.nn.Module = model
    if ctx.enabled:
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    criterion = ReidCriterion(preset.weights(cfg.loss_weights), triplet_margin=cfg.triplet_margin,
                              contrastive_margin=cfg.contrastive_margin, label_smoothing=cfg.label_smoothing)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = make_scheduler(optimizer, cfg.epochs, cfg.decay_start, cfg.final_lr_factor)

    sampler = PKSampler(train_items.labels, cfg.batch_p, cfg.batch_k, cfg.seed,
                        batches_per_epoch=cfg.batches_per_epoch, rank=ctx.rank, world_size=ctx.world_size)
    batches = SeededBatches(sampler, cfg.seed)
    dataset = ReidDataset(train_items.items, train_transforms(cfg.size, rotate_p=cfg.rotate_p, hflip_p=cfg.hflip_p))
    loader = DataLoader(dataset, batch_sampler=batches, num_workers=cfg.workers, collate_fn=collate,  # type: ignore[arg-type]
                        pin_memory=device.type == "cuda", persistent_workers=cfg.workers > 0)

    history: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    start = 1
    config_json = cfg.model_dump(mode="json")
    if resume:
        state = load_checkpoint(run.last)
        saved = TrainConfig.model_validate(state["config"])
        if saved.semantic_dict() != cfg.semantic_dict():
            diff = sorted(k for k, v in cfg.semantic_dict().items() if saved.semantic_dict().get(k) != v)
            raise VraiToolsError(f"{run.last}: the checkpoint was trained with a different config ({', '.join(diff)})")
        load_state_dict_strict(model, state["model"], str(run.last))
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if amp.scaler is not None and state.get("scaler"):
            amp.scaler.load_state_dict(state["scaler"])
        sampler.load_state_dict(state["sampler"])
        restore_rng(state["rng"])
        history = list(state["history"])
        best = state.get("best")
        start = int(state["epoch"]) + 1
        say(f"resuming {run.path} after epoch {state['epoch']} of {cfg.epochs}")
    elif ctx.is_main:
        run.create()
        save_config(run.config, cfg)
    barrier(ctx)

    world = ctx.world_size
    say(f"training {cfg.preset} ({cfg.backbone}, {cfg.size}px) on {device}{f' x {world} ranks' if world > 1 else ''}: "
        f"{len(train_items.items)} images of {len(train_items.train_ids)} vehicles, P={cfg.batch_p} x K={cfg.batch_k}"
        f"{' per rank' if world > 1 else ''}, {len(sampler)} batches/epoch, amp {amp.name}, parts {cfg.parts}, "
        f"crops from {train_items.crops}")
    progress = TrainProgress(epochs=cfg.epochs, first_epoch=start, steps=len(sampler), log_every=cfg.log_every,
                             quiet=quiet, world_size=world)
    epochs_done = start - 1
    for epoch in range(start, cfg.epochs + 1):
        batches.set_epoch(epoch)
        stats = train_one_epoch(net, criterion, loader, optimizer, device=device, epoch=epoch, amp=amp,
                                use_parts=preset.uses_parts, progress=progress)
        scheduler.step()
        broadcast_buffers(model, ctx)  # every rank evaluates (and holds) the model rank 0 saves
        images = stats.images * world
        record: dict[str, Any] = {
            "kind": "epoch", "epoch": epoch, "loss": stats.loss, "parts": stats.parts, "lr": stats.lr,
            "images": images, "seconds": round(stats.seconds, 3), "data_seconds": round(stats.data_seconds, 3),
            "images_per_s": round(images / max(stats.seconds, 1e-9), 2),
        }
        history.append(record)
        due = cfg.eval_every is not None and (epoch == cfg.epochs or (cfg.eval_every > 0 and epoch % cfg.eval_every == 0))
        improved = False
        if due and data.labelled_test:
            ev = _evaluate(model, data, cfg, device, amp, ctx)
            if ev is not None:
                ev["epoch"] = epoch
                history.append(ev)
                say(f"epoch {epoch}: mAP {ev['mAP']:.2%}  CMC-1 {ev['cmc1']:.2%}  CMC-5 {ev['cmc5']:.2%}  "
                    f"CMC-10 {ev['cmc10']:.2%}  mINP {ev['mINP']:.2%}")
                if best is None or ev["mAP"] > best["mAP"]:
                    best = {"epoch": epoch, "mAP": ev["mAP"]}
                    improved = True
        if ctx.is_main:
            ckpt = dict(model=model, epoch=epoch, config=config_json, spec=model.spec.to_dict(), optimizer=optimizer,
                        scheduler=scheduler, scaler=amp.scaler, sampler=sampler.state_dict(), history=history,
                        best=best)
            save_checkpoint(run.last, **ckpt)  # type: ignore[arg-type]
            if improved:
                save_checkpoint(run.best, **ckpt)  # type: ignore[arg-type]
            run.write_metrics(history)
        say(f"epoch {epoch}/{cfg.epochs} done: loss {stats.loss:.4f}, {record['images_per_s']:.1f} img/s, "
            f"{format_seconds(stats.seconds)}; saved {run.last}")
        barrier(ctx)
        epochs_done = epoch
        if stop_after is not None and epoch >= stop_after:
            break
    if ctx.is_main and epochs_done == cfg.epochs:
        from ..reports.run_report import write_run_report

        write_run_report(run)
    return TrainResult(run.path, epochs_done, history, best)


def _evaluate(model: torch.nn.Module, data: Any, cfg: TrainConfig, device: torch.device, amp: Any,
              ctx: DistContext) -> dict[str, Any] | None:
    kw = dict(size=cfg.size, device=device, batch_size=cfg.eval_batch_size, workers=cfg.workers, amp=amp, ctx=ctx)
    started = time.perf_counter()
    q = extract_features(model, data.query.items, **kw)  # type: ignore[arg-type]
    g = extract_features(model, data.gallery.items, **kw)  # type: ignore[arg-type]
    if q is None or g is None:
        return None
    scored = score_features(q, g, data.query.items, data.gallery.items, feature="avg", metric=cfg.eval_metric,
                            samples=0)
    assert scored.rank is not None
    r = scored.rank
    out: dict[str, Any] = {"kind": "eval", "feature": "avg", "metric": cfg.eval_metric, "mAP": r.mAP,
                           "cmc1": r.cmc_at(1), "cmc5": r.cmc_at(5), "cmc10": r.cmc_at(10), "mINP": r.mINP,
                           "num_query": len(data.query.items), "num_gallery": len(data.gallery.items),
                           "seconds": round(time.perf_counter() - started, 3)}
    if scored.attributes is not None:
        out["attributes"] = scored.attributes.as_dict()
    return out

"""``vrai-tools evaluate``: a trained run on a split's query/gallery, to JSON + Markdown + PNG.

Writes, in the run folder: ``evaluations/<tag>.json`` (a validated ``schemas.ReidMetrics``
whose provenance names the dataset, split and seed, the protocol and where part boxes
came from), ``evaluations/<tag>.details.json`` (type confusion counts, labelled counts
per attribute, the ranked lists drawn), PNGs under ``plots/`` and the regenerated
``report.md``. ``<tag>`` is ``<split>-<feature>-<metric>[-g<gamma>][-<checkpoint>]``.

An imported official release hides its test identities: there are no metrics to compute,
only the EvalAI submission file (``--submission``): for each query in the release's
``query_order``, the 1000 nearest gallery images as indices into ``gallery_order``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import torch

from schemas import TYPES, MetricsProvenance, ReidMetrics
from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import VraiToolsError
from vrai_tools.storage import atomic_write_text, dump_model

from ..config import TrainConfig, load_config
from ..data.items import ReidItem
from ..models.reid_model import ReidModel
from ..models.weights import load_pretrained
from ..runs import RunDir
from .checkpoint import load_checkpoint, model_from_checkpoint
from .extract import extract_features
from .scoring import Scored, score_features
from .setup import build_model, load_data, model_spec, resolve_device
from .train import resolve_amp

__all__ = ["EvaluationOutput", "evaluate_run", "evaluation_tag", "write_submission"]

PROTOCOLS = {"vrai": "vrai-5.1", "release-holdout": "release-holdout", "release": "evalai"}
SUBMISSION_K = 1000


@dataclass
class EvaluationOutput:
    tag: str
    metrics: ReidMetrics | None
    scored: Scored
    files: list[Path] = field(default_factory=list)
    submission: Path | None = None
    epoch: int | None = None
    # The evaluated feature of every query and gallery image, in split order (for
    # ``--human-eval``: the model answers the person's trials with these).
    query_keys: list[str] = field(default_factory=list)
    gallery_keys: list[str] = field(default_factory=list)
    query_features: np.ndarray | None = None
    gallery_features: np.ndarray | None = None

    def features_by_key(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for keys, feats in ((self.gallery_keys, self.gallery_features), (self.query_keys, self.query_features)):
            if feats is not None:
                out.update(zip(keys, feats))
        return out


def evaluation_tag(split: str, feature: str, metric: str, gamma: float | None, checkpoint: str) -> str:
    tag = f"{split}-{feature}-{metric}"
    if feature == "weighted" and gamma is not None:
        tag += f"-g{gamma:g}"
    if checkpoint != "last":
        tag += f"-{checkpoint}"
    return tag


def _load_model(run: RunDir, cfg: TrainConfig, checkpoint: str | None, root: Path) -> tuple[ReidModel, str, int | None]:
    """The model to evaluate, a short name of its weights, and the epoch they finished."""
    which = checkpoint or "last"
    if which == "init":
        split = DatasetRoot(root).split(cfg.split) if DatasetRoot(root).split_path(cfg.split).exists() else None
        if split is None:
            raise VraiToolsError(f"--checkpoint init rebuilds the run's starting weights, which needs its training "
                                 f"split {cfg.split!r} in {root}")
        model = build_model(model_spec(cfg, len(split.train_vehicles)), cfg.seed)
        if cfg.pretrained:
            load_pretrained(model, cfg.pretrained)
        return model, "init", 0
    path = {"last": run.last, "best": run.best}.get(which, Path(which))
    state = load_checkpoint(path)
    model = model_from_checkpoint(state, str(path))
    name = which if which in ("last", "best") else Path(which).stem
    return model, name, int(state["epoch"])


def write_submission(path: Path, q: np.ndarray, g: np.ndarray, metric: Literal["euclidean", "cosine"]) -> None:
    """EvalAI format: ``{"reid_result": [{"query_id": i, "ans_ids": [best first...]}, ...]}``."""
    from reid.evaluation import ranked_lists_features

    k = min(SUBMISSION_K, len(g))
    ranked = ranked_lists_features(q, g, k, metric=metric)
    doc = {"reid_result": [{"query_id": i, "ans_ids": [int(x) for x in row]} for i, row in enumerate(ranked)]}
    atomic_write_text(Path(path), json.dumps(doc, separators=(",", ":")) + "\n")


def evaluate_run(root: Path | str, split_name: str, run_path: Path | str, *, feature: Literal["avg", "weighted"] = "avg",
                 metric: Literal["euclidean", "cosine"] = "euclidean", gamma: float | None = None,
                 checkpoint: str | None = None, parts_file: str | None = None, submission: Path | None = None,
                 device: str = "auto", batch_size: int = 64, workers: int = 2, samples: int = 8,
                 echo: Callable[[str], None] | None = None, write: bool = True) -> EvaluationOutput:
    say = echo or (lambda _t: None)
    run = RunDir(run_path).require()
    cfg = load_config(run.config)
    root = Path(root)
    dev = resolve_device(device)
    amp = resolve_amp(cfg.amp, dev, cfg.channels_last)
    model, ckpt_name, epoch = _load_model(run, cfg, checkpoint, root)
    model.to(dev)
    if amp.channels_last:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    weighted = feature == "weighted"
    if weighted:
        eval_parts = "detected" if parts_file else (cfg.parts if cfg.parts != "none" else "ground-truth")
        gamma = cfg.gamma if gamma is None else gamma
        if gamma < 1:
            raise VraiToolsError(f"--gamma must be at least 1 (1 = plain average), got {gamma:g}")
    else:
        eval_parts, gamma = "none", None
    data = load_data(root, split_name, parts=eval_parts, detections_file=parts_file or cfg.part_detections,  # type: ignore[arg-type]
                     crops=cfg.crops, size=cfg.size, train=False)
    assert data.query is not None and data.gallery is not None
    if not data.query.items or not data.gallery.items:
        raise VraiToolsError(f"split {split_name!r} has no query or no gallery images")
    say(f"evaluating {run.path} ({ckpt_name} weights) on {split_name}: {len(data.query.items)} queries, "
        f"{len(data.gallery.items)} gallery images, {feature} feature, {metric} distance on {dev}"
        + (f", gamma {gamma:g} with {eval_parts} parts" if weighted else ""))
    kw: dict[str, Any] = dict(size=cfg.size, device=dev, batch_size=batch_size, workers=workers, amp=amp,
                              with_parts=weighted, gamma=gamma)
    q = extract_features(model, data.query.items, **kw)
    g = extract_features(model, data.gallery.items, **kw)
    assert q is not None and g is not None
    scored = score_features(q, g, data.query.items, data.gallery.items, feature=feature, metric=metric,
                            samples=samples)
    tag = evaluation_tag(split_name, feature, metric, gamma, ckpt_name)
    result = EvaluationOutput(tag, None, scored, epoch=epoch, query_keys=[it.key for it in data.query.items],
                              gallery_keys=[it.key for it in data.gallery.items], query_features=q[feature],
                              gallery_features=g[feature])
    if submission is not None:
        write_submission(Path(submission), q[feature], g[feature], metric)
        result.submission = Path(submission)
        say(f"wrote EvalAI submission {submission} ({len(data.query.items)} queries x "
            f"{min(SUBMISSION_K, len(data.gallery.items))} answers)")
    if scored.rank is None:
        if submission is None:
            raise VraiToolsError(f"split {split_name!r} hides the identities of its test images (an official release): "
                                 f"there is nothing to score here; pass --submission OUT.json and upload it to EvalAI")
        return result
    r = scored.rank
    parts_label = eval_parts if weighted else cfg.parts
    extra: dict[str, float] = {"num_valid_queries": float(r.num_valid_queries), "size": float(cfg.size)}
    if epoch is not None:
        extra["epoch"] = float(epoch)
    if weighted and gamma is not None:
        extra["gamma"] = float(gamma)
    metrics = ReidMetrics(
        provenance=MetricsProvenance(dataset=data.index.manifest.name, split=split_name, seed=data.split.seed,
                                     protocol=PROTOCOLS[data.split.protocol], parts=parts_label,  # type: ignore[arg-type]
                                     run=run.path.name + ("" if ckpt_name == "last" else f" ({ckpt_name})")),
        feature=feature, metric=metric, mAP=r.mAP, cmc=r.cmc_dict((1, 5, 10)), mINP=r.mINP,
        num_query=len(data.query.items), num_gallery=len(data.gallery.items), skipped_queries=r.num_skipped,
        attributes=scored.attributes.as_dict() if scored.attributes is not None else {}, extra=extra,
    )
    result.metrics = metrics
    if write:
        result.files = _write_outputs(run, tag, metrics, scored, data.query.items, data.gallery.items,
                                      train_parts=cfg.parts, eval_parts=eval_parts)
    return result


def _write_outputs(run: RunDir, tag: str, metrics: ReidMetrics, scored: Scored, q_items: list[ReidItem],
                   g_items: list[ReidItem], *, train_parts: str, eval_parts: str) -> list[Path]:
    from ..reports import plots
    from ..reports.run_report import write_run_report

    run.evaluations.mkdir(parents=True, exist_ok=True)
    run.plots.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run.evaluation(tag), dump_model(metrics))
    details: dict[str, Any] = {
        "tag": tag,
        "parts": {"training": train_parts, "evaluation": eval_parts},
        "cmc": [float(x) for x in scored.rank.cmc] if scored.rank is not None else [],
        "ranked": [
            {"query": q_items[r].key, "pid": q_items[r].pid,
             "results": [{"key": g_items[j].key, "pid": g_items[j].pid, "correct": g_items[j].pid == q_items[r].pid,
                          "distance": float(scored.distances[i, c])}
                         for c, j in enumerate(scored.ranked[i]) if j >= 0]}
            for i, r in enumerate(scored.samples)
        ],
    }
    files = [run.evaluation(tag), run.details(tag)]
    if scored.attributes is not None:
        details["attributes"] = {"accuracy": {k: (None if np.isnan(v) else v) for k, v in scored.attributes.accuracy.items()},
                                 "labelled": scored.attributes.labelled}
        details["type_confusion"] = {"labels": list(TYPES), "counts": scored.type_counts.tolist()}  # type: ignore[union-attr]
        p = run.plots / f"{tag}-attributes.png"
        plots.attribute_bars(scored.attributes.accuracy, scored.attributes.labelled, p, title=f"Attribute accuracy ({tag})")
        files.append(p)
        p = run.plots / f"{tag}-type-confusion.png"
        plots.confusion_png(scored.type_counts, list(TYPES), p, title="Vehicle type confusion (rows: truth)")  # type: ignore[arg-type]
        files.append(p)
    if scored.rank is not None:
        p = run.plots / f"{tag}-cmc.png"
        plots.cmc_png(scored.rank.cmc, p, title=f"CMC ({tag})")
        files.append(p)
    if len(scored.samples) and scored.ranked.size:
        p = run.plots / f"{tag}-ranked.png"
        plots.ranked_lists_png([q_items[r] for r in scored.samples],
                               [[g_items[j] if j >= 0 else None for j in row] for row in scored.ranked], p)
        files.append(p)
    atomic_write_text(run.details(tag), json.dumps(details, indent=1, sort_keys=True) + "\n")
    write_run_report(run)
    files.append(run.report)
    return files



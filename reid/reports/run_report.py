"""``report.md`` of one run: its config, its training, and every evaluation made of it.

Regenerated (atomically) after training and after each ``vrai-tools evaluate``, from the
files in the run folder, so it never disagrees with them.
"""
from __future__ import annotations

import json
from pathlib import Path

from schemas import ReidMetrics
from vrai_tools.errors import VraiToolsError
from vrai_tools.storage import atomic_write_text, load_model

from ..config import TrainConfig, load_config
from ..engine.schedule import decay_start_epoch
from ..presets import get_preset
from ..runs import RunDir
from .plots import training_curves_png
from .tables import METRIC_HEADER, attribute_table, markdown_table, metrics_row

__all__ = ["load_evaluations", "render_run_report", "write_run_report"]


def load_evaluations(run: RunDir) -> list[tuple[str, ReidMetrics]]:
    out = []
    for tag in run.evaluation_tags():
        out.append((tag, load_model(run.evaluation(tag), ReidMetrics)))
    return out


def describe(cfg: TrainConfig) -> str:
    preset = get_preset(cfg.preset)
    parts = {"ground-truth": "**ground-truth part boxes** (the part detector was not used)",
             "detected": f"detected part boxes from `{cfg.part_detections}`", "none": "none"}[cfg.parts]
    return (f"- preset **{cfg.preset}** (paper Table 3 row \"{preset.paper_row}\": {preset.description})\n"
            f"- backbone {cfg.backbone}, input {cfg.size}x{cfg.size}, last stride {cfg.last_stride}\n"
            f"- {cfg.epochs} epochs, PK batches {cfg.batch_p} x {cfg.batch_k}, Adam lr {cfg.lr:g} "
            f"(decay from epoch {decay_start_epoch(cfg.epochs, cfg.decay_start)} to x{cfg.final_lr_factor:g}), "
            f"seed {cfg.seed}\n"
            f"- dataset `{cfg.root}`, split `{cfg.split}`; part boxes for weighted pooling: {parts}\n")


def render_run_report(run: RunDir) -> str:
    cfg = load_config(run.config)
    history = run.read_metrics()
    epochs = [r for r in history if r.get("kind") == "epoch"]
    lines = [f"# ReID run `{run.path.name}`\n", describe(cfg)]
    lines.append("## Training\n")
    if epochs:
        last = epochs[-1]
        parts = ", ".join(f"{k} {v:.4f}" for k, v in last.get("parts", {}).items())
        lines.append(f"{last['epoch']} of {cfg.epochs} epochs done; last epoch loss {last['loss']:.4f} ({parts}), "
                     f"{last.get('images_per_s', 0):.1f} images/s.\n")
        curves = run.plots / "training.png"
        training_curves_png(history, curves, title=run.path.name)
        lines.append(f"![training curves](plots/{curves.name})\n")
    else:
        lines.append("No epoch finished yet.\n")
    evaluations = load_evaluations(run)
    lines.append("## Evaluations\n")
    if not evaluations:
        lines.append(f"None yet: `vrai-tools evaluate {cfg.root} --split {cfg.split} --run {run.path}`.\n")
    else:
        rows = [[f"`{tag}`", m.provenance.run or "", *metrics_row(m)] for tag, m in evaluations]
        lines.append(markdown_table(["evaluation", "weights", *METRIC_HEADER], rows))
        lines.append("\nmAP, CMC and mINP in %. Protocol: per query, gallery images of the same vehicle from the "
                     "same camera are ignored; queries without a valid match are skipped.\n")
        with_attrs = [(tag, m.attributes) for tag, m in evaluations if m.attributes]
        if with_attrs:
            lines.append("\n### Attribute accuracy (paper Table 2, %)\n")
            lines.append(attribute_table(with_attrs))
        for tag, m in evaluations:
            pics = [p for p in ("attributes", "type-confusion", "cmc", "ranked") if (run.plots / f"{tag}-{p}.png").is_file()]
            if not pics:
                continue
            lines.append(f"\n### `{tag}`\n")
            lines.append(f"Dataset `{m.provenance.dataset}`, split `{m.provenance.split}` (seed {m.provenance.seed}), "
                         f"protocol {m.provenance.protocol}, part boxes: {m.provenance.parts}.\n")
            details = run.details(tag)
            if details.is_file():
                try:
                    d = json.loads(details.read_text())
                    lines.append(f"Part boxes at training: {d['parts']['training']}; at evaluation: "
                                 f"{d['parts']['evaluation']}.\n")
                except (OSError, ValueError, KeyError, TypeError):
                    pass
            for p in pics:
                lines.append(f"![{p}](plots/{tag}-{p}.png)\n")
    sweeps = sorted(run.path.glob("*-gamma-sweep-*.md"))
    if sweeps:
        lines.append("## γ sweep (paper Table 5)\n")
        for path in sweeps:
            body = path.read_text().split("\n", 1)[-1].strip()  # without its own '# title' line
            lines.append(f"### `{path.stem}`\n\n{body}\n")
    return "\n".join(lines)


def write_run_report(run: RunDir | Path | str) -> Path:
    run = run if isinstance(run, RunDir) else RunDir(run)
    if not run.is_run():
        raise VraiToolsError(f"{run.path}: not a training run")
    run.plots.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run.report, render_run_report(run))
    return run.report

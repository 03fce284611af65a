"""``vrai-tools report RUN...``: runs side by side, like the paper's Tables 3 and 4."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from vrai_tools.errors import VraiToolsError

from ..config import load_config
from ..runs import RunDir
from .run_report import load_evaluations
from .tables import METRIC_HEADER, attribute_table, markdown_table, metrics_row

__all__ = ["compare_runs"]


def compare_runs(paths: Sequence[Path | str], *, split: str | None = None) -> str:
    """A Markdown comparison of every evaluation of every run (optionally of one split)."""
    if not paths:
        raise VraiToolsError("give at least one run folder")
    rows: list[list[str]] = []
    attrs = []
    missing = []
    for p in paths:
        run = RunDir(p).require()
        cfg = load_config(run.config)
        evaluations = [(t, m) for t, m in load_evaluations(run) if split is None or m.provenance.split == split]
        if not evaluations:
            missing.append(str(run.path))
            continue
        for tag, m in evaluations:
            who = m.provenance.run or run.path.name
            rows.append([who, cfg.preset, cfg.backbone, str(cfg.size), f"{m.provenance.split}", *metrics_row(m)])
            if m.attributes:
                attrs.append((f"{who} ({m.feature})", m.attributes))
    out = ["# ReID runs compared\n"]
    if rows:
        out.append(markdown_table(["run", "preset", "backbone", "size", "split", *METRIC_HEADER], rows))
        out.append("\nmAP, CMC and mINP in %. Rows with feature `weighted` use weighted pooling over part "
                   "boxes (paper Table 4); the parts column says whether those boxes were detected or ground truth.\n")
    if attrs:
        out.append("\n## Attribute accuracy (%)\n")
        out.append(attribute_table(attrs))
    if missing:
        out.append("\nNot evaluated yet" + (f" on split {split}" if split else "") + ": "
                   + ", ".join(f"`{m}`" for m in missing) + "\n")
    return "\n".join(out)

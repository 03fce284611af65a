"""Markdown tables in the paper's shapes: Table 2 (attributes), Table 3/4 (ReID metrics)."""
from __future__ import annotations

from typing import Mapping, Sequence

from schemas import ReidMetrics

__all__ = ["ATTRIBUTE_COLUMNS", "attribute_table", "gamma_sweep_table", "markdown_table", "metrics_row", "pct",
           "side_by_side_table"]

ATTRIBUTE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("color_acc", "Color"), ("type_acc", "Type"), ("skylight_acc", "Skylight"), ("bumper_acc", "Bumper"),
    ("spare_tire_acc", "Spare tire"), ("luggage_rack_acc", "Luggage rack"),
)
PARTS_LABEL = {"ground-truth": "ground-truth boxes", "detected": "detected boxes", "none": "-"}


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def metrics_row(m: ReidMetrics) -> list[str]:
    gamma = m.extra.get("gamma")
    return [m.feature + (f" (γ={gamma:g})" if gamma is not None else ""), m.metric,
            PARTS_LABEL.get(m.provenance.parts, m.provenance.parts), pct(m.mAP), pct(m.cmc.get("1")),
            pct(m.cmc.get("5")), pct(m.cmc.get("10")), pct(m.mINP), f"{m.num_query} / {m.num_gallery}"]


METRIC_HEADER = ["feature", "distance", "parts", "mAP", "CMC-1", "CMC-5", "CMC-10", "mINP", "query / gallery"]


def attribute_table(rows: Sequence[tuple[str, Mapping[str, float]]]) -> str:
    header = ["", *(name for _, name in ATTRIBUTE_COLUMNS)]
    body = [[label, *(pct(acc.get(key)) for key, _ in ATTRIBUTE_COLUMNS)] for label, acc in rows]
    return markdown_table(header, body)


def side_by_side_table(columns: Sequence[tuple[str, ReidMetrics]]) -> str:
    """One column per evaluation, one row per number (ReID metrics, then attribute accuracies), in %."""
    header = ["metric (%)", *(label for label, _ in columns)]
    rows = [["mAP", *(pct(m.mAP) for _, m in columns)]]
    for k in ("1", "5", "10"):
        rows.append([f"CMC-{k}", *(pct(m.cmc.get(k)) for _, m in columns)])
    rows.append(["mINP", *(pct(m.mINP) for _, m in columns)])
    for key, name in ATTRIBUTE_COLUMNS:
        if any(key in m.attributes for _, m in columns):
            rows.append([f"{name} accuracy", *(pct(m.attributes.get(key)) for _, m in columns)])
    return markdown_table(header, rows)


def gamma_sweep_table(reference: ReidMetrics | None, weighted: Sequence[ReidMetrics]) -> str:
    """Paper Table 5: the weighted feature at each gamma (the average feature, gamma = 1, for reference)."""
    header = ["feature", "γ", "mAP", "CMC-1", "CMC-5", "CMC-10", "mINP"]

    def row(name: str, gamma: str, m: ReidMetrics) -> list[str]:
        return [name, gamma, pct(m.mAP), pct(m.cmc.get("1")), pct(m.cmc.get("5")), pct(m.cmc.get("10")),
                pct(m.mINP)]

    rows = [row("avg (reference)", "1", reference)] if reference is not None else []
    rows += [row("weighted", f"{m.extra.get('gamma', float('nan')):g}", m) for m in weighted]
    return markdown_table(header, rows)

"""Markdown tables in the paper's shapes: Table 2 (attributes), Table 3/4 (ReID metrics)."""
from __future__ import annotations

from typing import Mapping, Sequence

from schemas import ReidMetrics

__all__ = ["ATTRIBUTE_COLUMNS", "attribute_table", "markdown_table", "metrics_row", "pct"]

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

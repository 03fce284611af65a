"""A picture like the paper's Figure 7: crops with ground-truth parts (red) and top-3 predictions (green).

Matplotlib with the Agg canvas created explicitly, so it works headless and never
touches a GUI backend or pyplot's global state.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from vrai_tools.storage import atomic_write_bytes

GT_COLOR = "#e8112d"
PRED_COLOR = "#1fd655"

__all__ = ["FigurePanel", "pick_panels", "save_figure7"]


@dataclass(frozen=True)
class FigurePanel:
    image: np.ndarray  # (H, W, 3) uint8 RGB crop
    gt: np.ndarray  # (M, 4) crop pixels
    boxes: np.ndarray  # (N, 4) crop pixels, at most top-k
    scores: np.ndarray  # (N,)
    title: str = ""


def pick_panels(n_items: int, positive: Sequence[bool], count: int) -> list[int]:
    """``count`` indices spread evenly over the crops with parts (then the others): deterministic, no RNG."""
    if count <= 0:
        return []
    pos = [i for i in range(n_items) if positive[i]]
    neg = [i for i in range(n_items) if not positive[i]]
    pool = pos if len(pos) >= count else pos + neg
    if len(pool) <= count:
        return pool
    step = len(pool) / count
    return [pool[int(k * step)] for k in range(count)]


def save_figure7(path: Path, panels: Sequence[FigurePanel], *, columns: int = 4, title: str | None = None) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    n = max(1, len(panels))
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(3.0 * cols, 3.0 * rows + (0.5 if title else 0)), dpi=100)
    FigureCanvasAgg(fig)
    for k, panel in enumerate(panels):
        ax = fig.add_subplot(rows, cols, k + 1)
        ax.imshow(panel.image, interpolation="nearest")
        for x1, y1, x2, y2 in panel.gt:
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=GT_COLOR, linewidth=2))
        for (x1, y1, x2, y2), s in zip(panel.boxes, panel.scores):
            ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=PRED_COLOR, linewidth=1.5,
                                   linestyle="--"))
            ax.text(x1, max(y1 - 1, 0), f"{s:.2f}", color=PRED_COLOR, fontsize=7, va="bottom",
                    bbox={"facecolor": "black", "alpha": 0.5, "pad": 0.5, "linewidth": 0})
        ax.set_title(panel.title, fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    if not panels:
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "no test crops", ha="center", va="center")
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(Path(path), buf.getvalue())

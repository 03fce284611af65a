"""The paper's Figure 3 (attribute, parts and images-per-vehicle distributions) and Figure 4
(bounding-box resolution) drawn from :class:`~vrai_tools.stats.DatasetStats`.

Uses matplotlib's object API with the Agg canvas (no pyplot state, no display needed),
and writes PNGs atomically.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .storage import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .stats import DatasetStats

# Bar colours for the colour attribute: the colour itself, with a dark edge so White shows.
SWATCH = {
    "White": "#f4f4f4", "Black": "#202020", "Gray": "#8c8c8c", "Red": "#d62728", "Green": "#2ca02c",
    "Blue": "#1f5fd6", "Yellow": "#f2d224", "Brown": "#8c564b", "Other": "#c8a2c8", "unset": "#ffffff",
}
ACCENT = "#3b6ea8"


def _new_figure(w: float, h: float) -> "Figure":
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: "Figure", path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    atomic_write_bytes(path, buf.getvalue())


def _bars(ax: "Axes", labels: list[str], values: list[int], title: str, colors: list[str] | str = ACCENT,
          xlabel: str = "", rotate: bool = False) -> None:
    total = sum(values) or 1
    x = np.arange(len(labels))
    bars = ax.bar(x, values, color=colors, edgecolor="#333333", linewidth=0.6)
    for b, lab in zip(bars, labels):
        if lab == "unset":  # 'not annotated yet' must not read as a colour or type
            b.set_facecolor("#ffffff")
            b.set_hatch("///")
    ax.set_xticks(x, labels, rotation=35 if rotate else 0, ha="right" if rotate else "center")
    ax.set_title(title, fontsize=11)
    ax.set_ylabel("images" if "vehicle" not in title else "vehicles")
    if xlabel:
        ax.set_xlabel(xlabel)
    ax.spines[["top", "right"]].set_visible(False)
    top = max(values, default=0)
    ax.set_ylim(0, top * 1.18 + 1)
    for b, v in zip(bars, values):
        if v:
            ax.annotate(f"{100 * v / total:.0f}%", (b.get_x() + b.get_width() / 2, v), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=7.5, color="#333333")


def figure3(stats: "DatasetStats", path: Path) -> None:
    fig = _new_figure(11, 7.5)
    (a, b), (c, d) = fig.subplots(2, 2)
    colors = list(stats.color)
    _bars(a, colors, [stats.color[k] for k in colors], "(a) Colour", [SWATCH.get(k, ACCENT) for k in colors],
          rotate=True)
    types = list(stats.type)
    _bars(b, types, [stats.type[k] for k in types], "(b) Type", rotate=True)
    if stats.parts_per_image:
        ks = list(range(0, max(stats.parts_per_image) + 1))
        _bars(c, [str(k) for k in ks], [stats.parts_per_image.get(k, 0) for k in ks],
              "(c) Discriminative parts per image", xlabel="parts annotated in the image")
    else:
        c.set_title("(c) Discriminative parts per image", fontsize=11)
        c.text(0.5, 0.5, "no parts annotated yet", ha="center", va="center", transform=c.transAxes)
        c.set_axis_off()
    _images_per_vehicle(d, stats.images_per_vehicle)
    fig.suptitle(f"{stats.name}: attributes and parts (cf. VRAI Figure 3)", fontsize=12)
    _save(fig, path)


def _images_per_vehicle(ax: "Axes", hist: dict[int, int]) -> None:
    ax.set_title("(d) Images per vehicle", fontsize=11)
    if not hist:
        ax.text(0.5, 0.5, "no vehicles linked yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    top = max(hist)
    if top <= 30:  # one bar per count
        ks = list(range(1, top + 1))
        _bars(ax, [str(k) for k in ks], [hist.get(k, 0) for k in ks], "(d) Images per vehicle",
              xlabel="images of the vehicle")
        if len(ks) > 15:
            for i, lab in enumerate(ax.get_xticklabels()):
                lab.set_visible(i % 2 == 0)
        return
    width = next(w for w in (2, 5, 10, 20, 50, 100, 200, 500, 1000, 10**9) if top / w <= 16)
    n_bins = -(-top // width)
    counts = [0] * n_bins
    for k, n in hist.items():
        counts[(k - 1) // width] += n
    labels = [f"{1 + i * width}-{(i + 1) * width}" for i in range(n_bins)]
    _bars(ax, labels, counts, "(d) Images per vehicle", xlabel="images of the vehicle", rotate=True)


def figure4(stats: "DatasetStats", path: Path) -> None:
    fig = _new_figure(11, 4.4)
    a, b = fig.subplots(1, 2)
    wh = stats.bbox_wh
    if len(wh) == 0:
        for ax in (a, b):
            ax.text(0.5, 0.5, "no boxes annotated yet", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
    else:
        w, h = wh[:, 0], wh[:, 1]
        top = float(np.percentile(np.maximum(w, h), 99.5)) * 1.05 + 1
        hb = a.hexbin(w, h, gridsize=40, extent=(0, top, 0, top), mincnt=1, cmap="viridis",
                      bins="log" if len(w) > 200 else None)
        cb = fig.colorbar(hb, ax=a)
        cb.set_label("images per cell")
        a.set_xlim(0, top)
        a.set_ylim(0, top)
        a.set_aspect("equal")
        a.set_xlabel("box width (px)")
        a.set_ylabel("box height (px)")
        a.set_title("(a) Box width × height", fontsize=11)
        res = np.sqrt(w * h)
        b.hist(res, bins=min(40, max(5, len(res) // 5)), color=ACCENT, edgecolor="#333333", linewidth=0.5)
        med = float(np.median(res))
        b.axvline(med, color="#d62728", linestyle="--", linewidth=1.2)
        b.annotate(f"median {med:.0f} px", (med, 1), xycoords=("data", "axes fraction"), xytext=(5, -4),
                   textcoords="offset points", color="#d62728", fontsize=9, va="top",
                   bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
        b.set_xlabel("resolution √(width·height) (px)")
        b.set_ylabel("images")
        b.set_ylim(0, b.get_ylim()[1] * 1.12)
        b.set_title("(b) Box resolution", fontsize=11)
        b.spines[["top", "right"]].set_visible(False)
    fig.suptitle(f"{stats.name}: bounding-box resolution (cf. VRAI Figure 4)", fontsize=12)
    _save(fig, path)

"""PNG figures of a run: training curves, attribute accuracy (paper Table 2), the type
confusion matrix (Fig. 6), CMC, and ranked lists with correct/incorrect borders (Fig. 8).

matplotlib's object API on the Agg canvas (no pyplot state, no display); the ranked lists
are composed with Pillow from the crops themselves. Every PNG is written atomically.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from vrai_tools.storage import atomic_write_bytes

from ..data.items import ReidItem

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["attribute_bars", "cmc_png", "confusion_png", "ranked_lists_png", "training_curves_png"]

GREEN = (30, 170, 60)
RED = (215, 40, 40)
QUERY = (60, 100, 200)
ACCENT = "#3b6ea8"


def _figure(w: float, h: float) -> "Figure":
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: "Figure", path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(Path(path), buf.getvalue())


def attribute_bars(accuracy: Mapping[str, float], labelled: Mapping[str, int], path: Path, title: str = "") -> None:
    names = list(accuracy)
    values = [0.0 if np.isnan(accuracy[n]) else 100 * accuracy[n] for n in names]
    fig = _figure(6.4, 3.4)
    ax = fig.add_subplot()
    bars = ax.bar(names, values, color=ACCENT)
    for bar, n in zip(bars, names):
        text = "n/a" if np.isnan(accuracy[n]) else f"{100 * accuracy[n]:.1f}"
        ax.annotate(f"{text}\n(n={labelled.get(n, 0)})", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=7)
    ax.set_ylim(0, 115)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title or "Attribute accuracy")
    ax.tick_params(axis="x", labelsize=8)
    _save(fig, path)


def confusion_png(counts: np.ndarray, labels: Sequence[str], path: Path, title: str = "") -> None:
    counts = np.asarray(counts, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    norm = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    fig = _figure(5.2, 4.6)
    ax = fig.add_subplot()
    im = ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            if totals[i, 0] > 0:
                ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title or "Confusion matrix")
    _save(fig, path)


def cmc_png(cmc: np.ndarray, path: Path, title: str = "", max_rank: int = 20) -> None:
    cmc = np.asarray(cmc)[:max_rank]
    fig = _figure(4.8, 3.2)
    ax = fig.add_subplot()
    ax.plot(np.arange(1, len(cmc) + 1), 100 * cmc, marker="o", color=ACCENT, markersize=3)
    ax.set_xlabel("rank")
    ax.set_ylabel("matching rate (%)")
    ax.set_ylim(0, 101)
    ax.grid(alpha=0.3)
    ax.set_title(title or "CMC")
    _save(fig, path)


def training_curves_png(history: Sequence[Mapping[str, Any]], path: Path, title: str = "") -> None:
    epochs = [r for r in history if r.get("kind") == "epoch"]
    evals = [r for r in history if r.get("kind") == "eval"]
    fig = _figure(7.2, 3.2)
    ax = fig.add_subplot(1, 2, 1)
    x = [r["epoch"] for r in epochs]
    ax.plot(x, [r["loss"] for r in epochs], label="total", color="black")
    names = sorted({k for r in epochs for k in r.get("parts", {})})
    for n in names:
        ax.plot(x, [r["parts"].get(n, np.nan) for r in epochs], label=n, linewidth=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax2 = fig.add_subplot(1, 2, 2)
    if evals:
        ex = [r["epoch"] for r in evals]
        ax2.plot(ex, [100 * r["mAP"] for r in evals], marker="o", label="mAP")
        ax2.plot(ex, [100 * r["cmc1"] for r in evals], marker="s", label="CMC-1")
        ax2.legend(fontsize=7)
    else:
        ax2.text(0.5, 0.5, "no evaluation during training", ha="center", va="center", transform=ax2.transAxes)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("%")
    ax2.grid(alpha=0.3)
    fig.suptitle(title or "Training")
    _save(fig, path)


def _tile(item: ReidItem, size: int, border: tuple[int, int, int], width: int = 4) -> Any:
    from PIL import Image, ImageOps

    from ..data.dataset import load_crop

    img, _ = load_crop(item)
    pil = Image.fromarray(img.permute(1, 2, 0).numpy())
    pil = ImageOps.pad(pil, (size - 2 * width, size - 2 * width), color=(255, 255, 255))
    return ImageOps.expand(pil, border=width, fill=border)


def ranked_lists_png(queries: Sequence[ReidItem], results: Sequence[Sequence[ReidItem | None]], path: Path,
                     tile: int = 96) -> None:
    """One row per query: the query (blue border), then its ranked gallery images, green
    when the same vehicle, red otherwise (paper Fig. 8)."""
    from PIL import Image, ImageDraw

    k = max((len(r) for r in results), default=0)
    gap, label_h = 6, 14
    width = gap + (k + 1) * (tile + gap) + gap
    height = gap + len(queries) * (tile + label_h + gap)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for row, (q, res) in enumerate(zip(queries, results)):
        y = gap + row * (tile + label_h + gap)
        draw.text((gap, y), f"query {q.key}", fill=(0, 0, 0))
        canvas.paste(_tile(q, tile, QUERY), (gap, y + label_h))
        for col, g in enumerate(res):
            if g is None:
                continue
            x = gap + (col + 1) * (tile + gap) + gap
            ok = g.pid == q.pid
            draw.text((x, y), f"{col + 1}", fill=GREEN if ok else RED)
            canvas.paste(_tile(g, tile, GREEN if ok else RED), (x, y + label_h))
    buf = io.BytesIO()
    canvas.save(buf, format="PNG")
    atomic_write_bytes(Path(path), buf.getvalue())

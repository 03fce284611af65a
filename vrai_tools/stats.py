"""Dataset statistics in the paper's terms: Table 1 counts, Figure 3 and 4 distributions,
annotation progress and annotator time per stage.

Computing (this module) is separate from drawing (:mod:`vrai_tools.plots`) and from
writing files (:func:`write_stats`), so tests can check the numbers without pixels.
"""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from schemas import COLORS, FLAGS, STAGES, TYPES, Attributes

from .errors import VraiToolsError
from .index import DatasetIndex
from .split import summarise
from .storage import atomic_write_text

UNSET = "unset"


@dataclass
class StageTime:
    stage: str
    annotator: str
    source: str
    items: int = 0
    seconds: float = 0.0


@dataclass
class DatasetStats:
    name: str
    source: str
    counts: dict[str, Any]
    color: dict[str, int]
    type: dict[str, int]
    flags: dict[str, dict[str, int]]
    parts_per_image: dict[int, int]  # over instances whose parts stage is done (incl. 'none found')
    images_per_vehicle: dict[int, int]
    bbox_wh: np.ndarray  # (n, 2) width, height in pixels
    stages: dict[str, tuple[int, int]]  # stage -> (done, total)
    stage_time: list[StageTime]
    splits: dict[str, dict[str, int]] = field(default_factory=dict)

    def bbox_summary(self) -> dict[str, float]:
        if len(self.bbox_wh) == 0:
            return {}
        w, h = self.bbox_wh[:, 0], self.bbox_wh[:, 1]
        res = np.sqrt(w * h)
        return {
            "mean_width": round(float(w.mean()), 1), "mean_height": round(float(h.mean()), 1),
            "median_sqrt_area": round(float(np.median(res)), 1),
            "p5_sqrt_area": round(float(np.percentile(res, 5)), 1),
            "p95_sqrt_area": round(float(np.percentile(res, 95)), 1),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "source": self.source, "counts": self.counts,
            "figure3": {"color": self.color, "type": self.type, "flags": self.flags,
                        "parts_per_image": {str(k): v for k, v in sorted(self.parts_per_image.items())},
                        "images_per_vehicle": {str(k): v for k, v in sorted(self.images_per_vehicle.items())}},
            "figure4": self.bbox_summary(),
            "stages": {s: {"done": d, "total": t} for s, (d, t) in self.stages.items()},
            "annotator_time": [vars(t) | {"seconds": round(t.seconds, 2)} for t in self.stage_time],
            "splits": self.splits,
        }


def _complete(a: Attributes) -> bool:
    return (a.color is not None and a.type is not None and a.skylight is not None and a.bumper is not None
            and a.spare_tire is not None and a.luggage_rack is not None)


def compute_stats(index: DatasetIndex) -> DatasetStats:
    m = index.manifest
    recs = index.records
    n_frames = sum(len(c.frames) for c in m.clips)
    cross = index.cross_camera_vehicles()
    linked = sum(len(v.keys) for v in index.vehicles.values())
    altitudes = [r.altitude for r in recs if r.altitude is not None]
    counts: dict[str, Any] = {
        "location pairs": len(m.pairs), "clips": len(m.clips), "frames": n_frames,
        "images (instances)": len(recs), "vehicles (IDs)": len(index.vehicles),
        "vehicles seen by both cameras": len(cross),
        "vehicles seen by one camera": len(index.vehicles) - len(cross),
        "images linked to a vehicle": linked,
        "images not linked yet": len(recs) - linked,
        "images per vehicle (mean)": round(linked / len(index.vehicles), 2) if index.vehicles else 0.0,
    }
    if altitudes:
        counts["altitude range (m)"] = f"{min(altitudes):g}-{max(altitudes):g}"

    color: Counter[str] = Counter()
    vtype: Counter[str] = Counter()
    flags: dict[str, Counter[str]] = {f: Counter() for f in FLAGS}
    parts: Counter[int] = Counter()
    wh = np.empty((len(recs), 2), dtype=np.float64)
    attrs_done = parts_done = decided = 0
    for i, r in enumerate(recs):
        a = r.attributes
        color[a.color or UNSET] += 1
        vtype[a.type or UNSET] += 1
        for f in FLAGS:
            v = getattr(a, f)
            flags[f][UNSET if v is None else ("yes" if v else "no")] += 1
        if _complete(a):
            attrs_done += 1
        if r.parts.state != "todo":
            parts[len(r.parts.boxes)] += 1
            parts_done += 1
        if r.vehicle_id is not None or r.no_match:
            decided += 1
        x1, y1, x2, y2 = r.bbox
        wh[i, 0] = x2 - x1
        wh[i, 1] = y2 - y1
    per_vehicle = Counter(len(v.keys) for v in index.vehicles.values())

    stages = {
        "corners": (sum(index.frames_done.values()), n_frames),
        "matching": (decided, len(recs)),
        "attributes": (attrs_done, len(recs)),
        "parts": (parts_done, len(recs)),
    }
    splits = {}
    for name in index.root.split_names():
        try:
            split = index.root.split(name)
            s = summarise(split, index)
        except VraiToolsError:  # a broken or stale split is validate's business, not a reason to lose the stats
            continue
        splits[name] = {"seed": split.seed, "train images": s.train_images, "train IDs": s.train_ids,
                        "test images": s.test_images, "test IDs": s.test_ids, "query": s.query, "gallery": s.gallery}
    return DatasetStats(
        name=m.name, source=m.source, counts=counts,
        color={c: color[c] for c in (*COLORS, UNSET) if color[c] or c != UNSET},
        type={t: vtype[t] for t in (*TYPES, UNSET) if vtype[t] or t != UNSET},
        flags={f: {k: flags[f][k] for k in ("yes", "no", UNSET)} for f in FLAGS},
        parts_per_image=dict(sorted(parts.items())), images_per_vehicle=dict(sorted(per_vehicle.items())),
        bbox_wh=wh, stages=stages, stage_time=_stage_time(index), splits=splits,
    )


def _stage_time(index: DatasetIndex) -> list[StageTime]:
    """Seconds spent per stage and annotator, from every provenance record we keep."""
    rows: dict[tuple[str, str, str], StageTime] = {}

    def add(stage: str, p: Any) -> None:
        key = (stage, p.annotator, p.source)
        row = rows.get(key)
        if row is None:
            row = rows[key] = StageTime(stage, p.annotator, p.source)
        row.items += 1
        row.seconds += p.seconds

    for r in index.records:
        for stage, p in r.provenance.items():
            add(stage, p)
    for m in index.matchings.values():
        for t in m.tracklets:
            if t.provenance is not None:
                add("matching", t.provenance)
        for v in m.vehicles:
            if v.provenance is not None:
                add("matching", v.provenance)
    order = {s: i for i, s in enumerate(STAGES)}
    return sorted(rows.values(), key=lambda t: (order.get(t.stage, 99), t.annotator, t.source))


def _hms(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def markdown(stats: DatasetStats, figures: dict[str, str]) -> str:
    """The human summary: tables a maintainer can paste into a dataset card."""
    out = [f"# Dataset statistics: {stats.name}", "", f"Source: {stats.source}.", "",
           "## Counts (Table 1)", "", "| | |", "|---|---:|"]
    out += [f"| {k} | {v} |" for k, v in stats.counts.items()]
    if stats.splits:
        out += ["", "## Splits", "", "| split | seed | train images | train IDs | test images | test IDs | query | gallery |",
                "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, s in stats.splits.items():
            out.append(f"| {name} | {s['seed']} | {s['train images']} | {s['train IDs']} | {s['test images']} | "
                       f"{s['test IDs']} | {s['query']} | {s['gallery']} |")
    out += ["", "## Attributes and parts (Figure 3)", ""]
    if "figure3" in figures:
        out += [f"![Figure 3]({figures['figure3']})", ""]
    total = sum(stats.color.values()) or 1
    out += ["| colour | images | % |", "|---|---:|---:|"]
    out += [f"| {c} | {n} | {100 * n / total:.1f} |" for c, n in stats.color.items()]
    out += ["", "| type | images | % |", "|---|---:|---:|"]
    out += [f"| {t} | {n} | {100 * n / total:.1f} |" for t, n in stats.type.items()]
    out += ["", "| attribute | yes | no | unset |", "|---|---:|---:|---:|"]
    out += [f"| {f} | {c['yes']} | {c['no']} | {c[UNSET]} |" for f, c in stats.flags.items()]
    out += ["", "| parts per image | images |", "|---:|---:|"]
    out += [f"| {k} | {v} |" for k, v in stats.parts_per_image.items()]
    out += ["", "## Bounding-box resolution (Figure 4)", ""]
    if "figure4" in figures:
        out += [f"![Figure 4]({figures['figure4']})", ""]
    out += [f"- {k.replace('_', ' ')}: {v} px" for k, v in stats.bbox_summary().items()]
    out += ["", "## Annotation progress", "", "| stage | done | total | % |", "|---|---:|---:|---:|"]
    for stage, (done, tot) in stats.stages.items():
        unit = " frames" if stage == "corners" else ""
        out.append(f"| {stage} | {done}{unit} | {tot}{unit} | {100 * done / tot if tot else 0:.1f} |")
    out += ["", "## Annotator time per stage", ""]
    if stats.stage_time:
        out += ["| stage | annotator | source | items | time (h:mm:ss) | seconds / item |", "|---|---|---|---:|---:|---:|"]
        for t in stats.stage_time:
            per = t.seconds / t.items if t.items else 0.0
            out.append(f"| {t.stage} | {t.annotator} | {t.source} | {t.items} | {_hms(t.seconds)} | {per:.1f} |")
        by_stage: dict[str, float] = defaultdict(float)
        for t in stats.stage_time:
            by_stage[t.stage] += t.seconds
        out += ["", "Total: " + ", ".join(f"{s} {_hms(sec)}" for s, sec in by_stage.items()) + "."]
    else:
        out.append("No provenance recorded.")
    return "\n".join(out) + "\n"


def write_stats(index: DatasetIndex, out: Path, *, plots: bool = True) -> dict[str, Path]:
    """Write ``stats.json``, ``summary.md`` and the two figures into ``out``; returns the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stats = compute_stats(index)
    written: dict[str, Path] = {}
    figures: dict[str, str] = {}
    if plots:
        from .plots import figure3, figure4

        for key, fn, fname in (("figure3", figure3, "figure3_attributes.png"),
                               ("figure4", figure4, "figure4_bbox_resolution.png")):
            path = out / fname
            fn(stats, path)
            written[key] = path
            figures[key] = fname
    js = out / "stats.json"
    atomic_write_text(js, json.dumps(stats.to_json(), indent=1, sort_keys=True) + "\n")
    md = out / "summary.md"
    atomic_write_text(md, markdown(stats, figures))
    written["json"], written["markdown"] = js, md
    return written

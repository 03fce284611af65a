"""YOLO labels of the discriminative parts on instance crops (Ultralytics layout), for
training a part detector with tools outside vrai-tools.

::

    data.yaml
    images/train/<clip_id>_<n:06d>.jpg     crops (native resolution) of the split's train set
    images/val/<clip_id>_<n:06d>.jpg       crops of its query + gallery
    labels/train/<clip_id>_<n:06d>.txt     one line per part: ``0 cx cy w h`` (normalised to the crop)
    labels/val/...

Only instances whose parts stage is done are exported: ``none found`` gives an empty
label file (a true negative), ``todo`` would teach the detector that unlabelled parts are
background, so those crops are left out and counted.
"""
from __future__ import annotations

from schemas import Split

from ..crops import PixelBox, pixel_box
from ..index import DatasetIndex
from .base import ExportPlan

CLASS_NAME = "part"
SUBSETS = {"train": ("train",), "val": ("query", "gallery")}

Box = tuple[float, float, float, float]


def yolo_lines(boxes: list[Box], crop: PixelBox) -> list[str]:
    """Part boxes in frame pixels -> YOLO lines relative to the crop (clamped to it)."""
    left, top, right, bottom = crop
    w, h = right - left, bottom - top
    lines = []
    for x1, y1, x2, y2 in boxes:
        bx1, by1 = min(max(x1 - left, 0.0), w), min(max(y1 - top, 0.0), h)
        bx2, by2 = min(max(x2 - left, 0.0), w), min(max(y2 - top, 0.0), h)
        if bx2 - bx1 <= 1e-6 or by2 - by1 <= 1e-6:
            continue
        lines.append(f"0 {(bx1 + bx2) / 2 / w:.6f} {(by1 + by2) / 2 / h:.6f} {(bx2 - bx1) / w:.6f} {(by2 - by1) / h:.6f}")
    return lines


def parse_yolo(text: str, crop: PixelBox) -> list[Box]:
    """YOLO lines -> part boxes in frame pixels (the inverse of :func:`yolo_lines`)."""
    left, top, right, bottom = crop
    w, h = right - left, bottom - top
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        _, cx, cy, bw, bh = (float(v) for v in line.split())
        out.append((left + (cx - bw / 2) * w, top + (cy - bh / 2) * h, left + (cx + bw / 2) * w, top + (cy + bh / 2) * h))
    return out


def data_yaml() -> str:
    return ("# vrai-tools export: discriminative parts on vehicle crops\n"
            "path: .\ntrain: images/train\nval: images/val\n"
            f"nc: 1\nnames:\n  0: {CLASS_NAME}\n")


def plan_export(index: DatasetIndex, split: Split) -> ExportPlan:
    recs = index.split_records(split)
    plan = ExportPlan(folders=["images", "labels", "data.yaml"])
    plan.files["data.yaml"] = data_yaml().encode()
    skipped = 0
    for subset, names in SUBSETS.items():
        n_img = n_box = 0
        for name in names:
            for r in recs[name]:
                if r.parts.state == "todo":
                    skipped += 1
                    continue
                stem = f"{r.clip_id}_{r.number:06d}"
                lines = yolo_lines(list(r.parts.boxes), pixel_box(r.bbox, r.frame_size))
                plan.crops.append((r, f"images/{subset}/{stem}.jpg"))
                plan.files[f"labels/{subset}/{stem}.txt"] = ("\n".join(lines) + ("\n" if lines else "")).encode()
                n_img += 1
                n_box += len(lines)
        plan.counts[f"{subset} crops"] = n_img
        plan.counts[f"{subset} part boxes"] = n_box
    if skipped:
        plan.notes.append(f"{skipped} crop(s) left out: their parts are not annotated yet")
    return plan

"""ReID items: one flat, picklable record per image of a split, built from the dataset index.

The ReID dataset needs, per instance, where its pixels are (a crop file from ``crops/`` or
the frame to cut it from), its identity and camera, its attribute targets and its part
boxes. All of that is resolved once here, in the main process, so loader workers only
decode and transform pixels.

Targets use ``-1`` for "not annotated": colour and type are indices into
``schemas.vocab.COLORS`` / ``TYPES``, the four flags (``schemas.vocab.FLAGS`` order) are 0/1.
Losses and metrics mask ``-1`` out (see ``reid.losses.classification`` and
``reid.evaluation.attributes``).

Part boxes are kept in frame pixels, like the annotations; the dataset moves them into
the crop's pixels when it reads the crop (the crop may be a scaled ``crops/s<N>`` file).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from schemas import COLORS, FLAGS, TYPES, Attributes, PartDetections, Split
from vrai_tools.crops import INDEX_NAME, crop_rel, pixel_box, variant_name
from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import UnsafePathError, VraiToolsError
from vrai_tools.index import DatasetIndex, InstanceRecord
from vrai_tools.storage import load_model

Box = tuple[float, float, float, float]
PixelBox = tuple[int, int, int, int]
PartsSource = Literal["ground-truth", "detected", "none"]
Subset = Literal["train", "query", "gallery"]

UNSET = -1

__all__ = ["PartsSource", "ReidItem", "SplitItems", "attribute_targets", "build_items", "choose_crops",
           "load_part_detections"]


@dataclass(frozen=True, slots=True)
class ReidItem:
    key: str
    path: str  # absolute path of the image to read: a crop file, or the frame when ``from_frame``
    from_frame: bool  # True: cut ``box`` out of the image at ``path``
    box: PixelBox  # the crop's whole-pixel rectangle in the frame (vrai_tools.crops.pixel_box)
    pid: int  # vehicle id, -1 when unknown (the official release's test images)
    label: int  # dense training label 0..num_ids-1, -1 outside the training set
    camid: int  # dense camera index (one per clip: vehicles never leave their location pair)
    color: int
    type: int
    flags: tuple[int, int, int, int]
    parts: tuple[Box, ...]  # frame pixels


@dataclass
class SplitItems:
    """The items of one split subset plus the lookups that give their codes a meaning."""

    items: list[ReidItem]
    cameras: list[str]  # camid -> clip id
    train_ids: list[int]  # label -> vehicle id (the training identities, sorted)
    parts: PartsSource
    crops: str  # crop variant read, or "frames"

    @property
    def labels(self) -> list[int]:
        return [it.label for it in self.items]

    @property
    def pids(self) -> list[int]:
        return [it.pid for it in self.items]

    @property
    def camids(self) -> list[int]:
        return [it.camid for it in self.items]


def attribute_targets(attrs: Attributes) -> tuple[int, int, tuple[int, int, int, int]]:
    color = COLORS.index(attrs.color) if attrs.color is not None else UNSET
    vtype = TYPES.index(attrs.type) if attrs.type is not None else UNSET
    flags = tuple(UNSET if getattr(attrs, f) is None else int(getattr(attrs, f)) for f in FLAGS)
    return color, vtype, flags  # type: ignore[return-value]


def choose_crops(ds: DatasetRoot, preference: str, size: int) -> str | None:
    """Which ``crops/<variant>`` folder to read, or None to cut from the frames.

    ``auto``: the smallest ``s<N>`` variant with N >= ``size`` (no upscaling beyond what
    the frames give), else ``native``, else the frames. ``frames``: always cut on the fly.
    Any other value names a variant that must exist.
    """
    if preference == "frames":
        return None
    folder = ds.crops_dir
    if preference != "auto":
        if not (folder / preference / INDEX_NAME).is_file():
            raise VraiToolsError(f"{folder / preference}: no crops there; run `vrai-tools crops {ds.root}` "
                                 f"(variant {preference!r}) or use crops 'auto'/'frames'")
        return preference
    scaled: list[int] = []
    for p in folder.glob(f"s*/{INDEX_NAME}"):
        try:
            scaled.append(int(p.parent.name[1:]))
        except ValueError:
            continue
    fitting = sorted(n for n in scaled if n >= size)
    if fitting:
        return variant_name(fitting[0])
    if (folder / "native" / INDEX_NAME).is_file():
        return "native"
    return None


def _crop_boxes(ds: DatasetRoot, variant: str) -> dict[str, str]:
    """``key -> 'l,t,r,b'`` of each crop as it was cut (from the crops index signatures).

    A crop whose box differs from the current annotation is stale and is not used.
    """
    try:
        doc = json.loads((ds.crops_dir / variant / INDEX_NAME).read_text())
        crops = doc.get("crops", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {str(k): str(v).rpartition("|")[2] for k, v in crops.items()} if isinstance(crops, dict) else {}


def load_part_detections(path: Path | str) -> PartDetections:
    return load_model(Path(path), PartDetections)


def build_items(index: DatasetIndex, split: Split, subset: Subset, *, parts: PartsSource = "none",
                detections: PartDetections | None = None, crops: str = "auto", size: int = 352,
                top_k: int = 3) -> SplitItems:
    """Items of ``split.<subset>`` in split order.

    ``parts``: ``ground-truth`` takes the annotated part boxes, ``detected`` the top-``top_k``
    boxes of ``detections`` (an instance missing from the file has none), ``none`` no boxes.
    """
    if parts == "detected" and detections is None:
        raise VraiToolsError("parts 'detected' needs a part-detections file (vrai-tools detect-parts)")
    ds = index.root
    keys: Sequence[str] = getattr(split, subset)
    records: list[InstanceRecord] = index.get(keys)
    train_ids = sorted(split.train_vehicles)
    label_of = {vid: i for i, vid in enumerate(train_ids)}
    cameras = sorted({r.clip_id for r in index.records})
    cam_of = {c: i for i, c in enumerate(cameras)}
    variant = choose_crops(ds, crops, size)
    cut = _crop_boxes(ds, variant) if variant else {}
    items: list[ReidItem] = []
    for rec in records:
        if subset == "train" and rec.vehicle_id is None:
            raise VraiToolsError(f"{ds.split_path(split.name)}: train instance {rec.key!r} is not linked to a vehicle")
        box = pixel_box(rec.bbox, rec.frame_size)
        sig = f"{box[0]},{box[1]},{box[2]},{box[3]}"
        try:
            if variant and cut.get(rec.key) == sig and (ds.root / crop_rel(rec.key, _size_of(variant))).is_file():
                path, from_frame = ds.path(crop_rel(rec.key, _size_of(variant))), False
            else:
                path, from_frame = ds.path(rec.frame_file), True
        except UnsafePathError as e:
            raise VraiToolsError(f"{ds.manifest_path}: {e}") from None
        color, vtype, flags = attribute_targets(rec.attributes)
        if parts == "ground-truth":
            boxes = tuple(tuple(b) for b in rec.parts.boxes)
        elif parts == "detected":
            assert detections is not None
            scored = sorted(detections.instances.get(rec.key, []), key=lambda s: -s.score)[:top_k]
            boxes = tuple(tuple(s.box) for s in scored)
        else:
            boxes = ()
        pid = rec.vehicle_id if rec.vehicle_id is not None else UNSET
        label = label_of.get(pid, UNSET) if subset == "train" else UNSET
        items.append(ReidItem(
            key=rec.key, path=str(path), from_frame=from_frame, box=box, pid=pid, label=label,
            camid=cam_of[rec.clip_id], color=color, type=vtype, flags=flags, parts=boxes,  # type: ignore[arg-type]
        ))
    return SplitItems(items, cameras, train_ids, parts, variant or "frames")


def _size_of(variant: str) -> int | None:
    return None if variant == "native" else int(variant[1:])

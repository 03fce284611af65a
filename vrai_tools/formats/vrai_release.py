"""The official VRAI release layout.

::

    images_train/<ID:8>_<CAM:4>_<FRAME:8>.jpg
    images_test/<8 random chars>_C<cam>.jpg
    train_annotation.pkl  train_im_names; color_label, type_label, sky_label, bumper_label,
                          wheel_label (spare tire), luggage_label keyed by integer vehicle ID;
                          d_part_label keyed by image name
    test_annotation.pkl   test_im_names, query_order, gallery_order; the same labels keyed
                          by image name (test identities are hidden)

Conventions of this module (the release documents none of them):
- class labels are indices into our vocabularies (``schemas.vocab``: the paper's order),
  0-based; our pickles also carry ``label_names`` so they describe themselves. On import
  the base is detected (a 0 means 0-based, a label equal to the number of classes means
  1-based) and reported. Negative labels mean "not annotated".
- flags are 0/1; a part box is a top-left/bottom-right corner pair ``[[x1, y1], [x2, y2]]``
  in the image's pixels (a flat ``[x1, y1, x2, y2]`` is accepted too).
- ``query_order`` / ``gallery_order`` are 0-based indices into ``test_im_names`` (names,
  or 1-based indices, are accepted on import).
- camera number: kept from an imported release, else 2k-1 (A) / 2k (B) for the k-th pair.
"""
from __future__ import annotations

import random
import re
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable

from schemas import COLORS, TYPES, Attributes, Split

from ..crops import pixel_box
from ..errors import FormatError
from ..index import DatasetIndex, InstanceRecord
from . import safe_pickle
from .base import ExportPlan
from .imagewise import LooseImage, camera_numbers

TRAIN_DIR, TEST_DIR = "images_train", "images_test"
TRAIN_PKL, TEST_PKL = "train_annotation.pkl", "test_annotation.pkl"
# pickle key -> Attributes field
LABEL_KEYS: dict[str, str] = {
    "color_label": "color", "type_label": "type", "sky_label": "skylight", "bumper_label": "bumper",
    "wheel_label": "spare_tire", "luggage_label": "luggage_rack",
}
CLASS_NAMES: dict[str, tuple[str, ...]] = {"color_label": COLORS, "type_label": TYPES}
TRAIN_NAME = re.compile(r"^(\d+)_(\d+)_(\d+)\.(?:jpe?g|png)$", re.IGNORECASE)
TEST_NAME = re.compile(r"^([A-Za-z0-9]+)_C(\d+)\.(?:jpe?g|png)$", re.IGNORECASE)
NAME_CHARS = string.ascii_lowercase + string.digits

Box = tuple[float, float, float, float]


# ----------------------------------------------------------------------------- export (pure)


def train_name(vehicle_id: int, camera_no: int, frame: int) -> str:
    return f"{vehicle_id:08d}_{camera_no:04d}_{frame:08d}.jpg"


def encode_attributes(a: Attributes) -> dict[str, int]:
    """Pickle label key -> integer label, for the fields that are set."""
    out: dict[str, int] = {}
    for key, fieldname in LABEL_KEYS.items():
        v = getattr(a, fieldname)
        if v is None:
            continue
        out[key] = CLASS_NAMES[key].index(v) if key in CLASS_NAMES else int(bool(v))
    return out


def majority(attrs: Iterable[Attributes]) -> Attributes:
    """One label per vehicle (the release keeps none per image): the most frequent value of
    each field over the vehicle's images, ties to the earliest in the vocabulary."""
    counts: dict[str, Counter[Any]] = {f: Counter() for f in Attributes.model_fields}
    for a in attrs:
        for f in counts:
            v = getattr(a, f)
            if v is not None:
                counts[f][v] += 1
    order = {"color": COLORS, "type": TYPES}
    out: dict[str, Any] = {}
    for f, c in counts.items():
        if c:
            vocab = order.get(f, (False, True))
            out[f] = min(c, key=lambda v: (-c[v], vocab.index(v)))
    return Attributes(**out)


def crop_parts(rec: InstanceRecord) -> list[list[list[float]]] | None:
    """The record's part boxes in its crop's pixels as corner pairs; None when not annotated."""
    if rec.parts.state == "todo":
        return None
    left, top, right, bottom = pixel_box(rec.bbox, rec.frame_size)
    w, h = right - left, bottom - top
    out = []
    for x1, y1, x2, y2 in rec.parts.boxes:
        bx1, by1 = min(max(x1 - left, 0.0), w), min(max(y1 - top, 0.0), h)
        bx2, by2 = min(max(x2 - left, 0.0), w), min(max(y2 - top, 0.0), h)
        if bx2 - bx1 > 1e-6 and by2 - by1 > 1e-6:
            out.append([[round(bx1, 2), round(by1, 2)], [round(bx2, 2), round(by2, 2)]])
    return out


def _label_names() -> dict[str, list[str]]:
    return {k: list(v) for k, v in CLASS_NAMES.items()}


def plan_export(index: DatasetIndex, split: Split) -> ExportPlan:
    recs = index.split_records(split)
    cams = camera_numbers(index.manifest)
    plan = ExportPlan(folders=[TRAIN_DIR, TEST_DIR, TRAIN_PKL, TEST_PKL])

    train_names: dict[str, InstanceRecord] = {}
    by_vehicle: dict[int, list[Attributes]] = {}
    for r in recs["train"]:
        if r.vehicle_id is None:
            raise FormatError(f"split {split.name!r}: training instance {r.key} has no vehicle id")
        frame_no = r.video_frame if r.video_frame is not None else r.frame
        name = train_name(r.vehicle_id, cams[(r.pair_id, r.camera)], frame_no)
        if name in train_names:
            raise FormatError(f"instances {train_names[name].key} and {r.key} would both be {TRAIN_DIR}/{name}")
        train_names[name] = r
        by_vehicle.setdefault(r.vehicle_id, []).append(r.attributes)
    train_doc: dict[str, Any] = {"train_im_names": sorted(train_names)}
    vehicle_labels = {vid: encode_attributes(majority(a)) for vid, a in sorted(by_vehicle.items())}
    for key in LABEL_KEYS:
        train_doc[key] = {vid: labels[key] for vid, labels in vehicle_labels.items() if key in labels}
    train_doc["d_part_label"] = {n: p for n in sorted(train_names) if (p := crop_parts(train_names[n])) is not None}
    train_doc["label_names"] = _label_names()

    rng = random.Random(split.seed)
    test_recs = recs["query"] + recs["gallery"]
    name_of: dict[str, str] = {}
    used: set[str] = set()
    keep_names = index.manifest.source == "vrai-release"
    for r in test_recs:
        base = PurePosixPath(r.frame_file).name
        if keep_names and TEST_NAME.match(base) and base not in used:
            name = base
        else:
            cam = cams[(r.pair_id, r.camera)]
            while True:
                name = "".join(rng.choice(NAME_CHARS) for _ in range(8)) + f"_C{cam}.jpg"
                if name not in used:
                    break
        used.add(name)
        name_of[r.key] = name
    test_im_names = sorted(used)
    pos = {n: i for i, n in enumerate(test_im_names)}
    by_name = {name_of[r.key]: r for r in test_recs}
    test_doc: dict[str, Any] = {
        "test_im_names": test_im_names,
        "query_order": [pos[name_of[r.key]] for r in recs["query"]],
        "gallery_order": [pos[name_of[r.key]] for r in recs["gallery"]],
    }
    labels = {n: encode_attributes(by_name[n].attributes) for n in test_im_names}
    for key in LABEL_KEYS:
        test_doc[key] = {n: lab[key] for n, lab in labels.items() if key in lab}
    test_doc["d_part_label"] = {n: p for n in test_im_names if (p := crop_parts(by_name[n])) is not None}
    test_doc["label_names"] = _label_names()

    plan.crops = [(train_names[n], f"{TRAIN_DIR}/{n}") for n in sorted(train_names)]
    plan.crops += [(by_name[n], f"{TEST_DIR}/{n}") for n in test_im_names]
    plan.files = {TRAIN_PKL: safe_pickle.dumps(train_doc), TEST_PKL: safe_pickle.dumps(test_doc)}
    plan.counts = {"train images": len(train_names), "train IDs": len(by_vehicle), "test images": len(test_im_names),
                   "query": len(recs["query"]), "gallery": len(recs["gallery"])}
    return plan


# ----------------------------------------------------------------------------- import


@dataclass
class ReleaseContents:
    images: list[LooseImage]
    vehicle_attributes: dict[int, Attributes]
    query: list[str]
    gallery: list[str]
    notes: list[str] = field(default_factory=list)


def _dict(doc: Any, key: str, path: Path, required: bool = False) -> dict[Any, Any] | None:
    value = doc.get(key)
    if value is None:
        if required:
            raise FormatError(f"{path}: {key}: missing")
        return None
    if not isinstance(value, dict):
        raise FormatError(f"{path}: {key}: expected a dict, found {type(value).__name__}")
    return value


def _names(doc: dict[str, Any], key: str, path: Path, pattern: re.Pattern[str]) -> list[str]:
    value = doc.get(key)
    if value is None:
        raise FormatError(f"{path}: {key}: missing")
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise FormatError(f"{path}: {key}: expected a list of image names")
    names = [PurePosixPath(n.replace("\\", "/")).name for n in value]
    for n in names:
        if not pattern.match(n):
            raise FormatError(f"{path}: {key}: image name {n!r} does not look like {pattern.pattern}")
    if len(set(names)) != len(names):
        dup = next(n for n, c in Counter(names).items() if c > 1)
        raise FormatError(f"{path}: {key}: image {dup!r} is listed twice")
    return names


def detect_base(values: list[int], n_classes: int) -> tuple[int, str]:
    """0 or 1, and how we know: a label 0 means 0-based, a label n_classes means 1-based."""
    seen = [v for v in values if v >= 0]
    if not seen:
        return 0, "no labels"
    lo, hi = min(seen), max(seen)
    if lo == 0 and hi < n_classes:
        return 0, "0-based (label 0 present)"
    if lo >= 1 and hi == n_classes:
        return 1, f"1-based (label {n_classes} present)"
    if lo >= 1 and hi < n_classes:
        return 0, f"assumed 0-based (labels {lo}..{hi} fit either)"
    raise ValueError(f"labels range {lo}..{hi}, outside 0..{n_classes - 1} and 1..{n_classes}")


def _decode_class(v: Any, key: str, base: int, named: tuple[str, ...], where: str) -> str | None:
    if isinstance(v, str):
        for name in named:
            if name.lower() == v.strip().lower():
                return name
        raise FormatError(f"{where}: {v!r} is not one of {', '.join(named)}")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v:
        raise FormatError(f"{where}: label {v!r} is not an integer")
    if v < 0:
        return None
    i = int(v) - base
    if not 0 <= i < len(named):
        raise FormatError(f"{where}: label {v} is outside the {len(named)} classes")
    return named[i]


def _decode_flag(v: Any, where: str) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    if isinstance(v, (int, float)) and v < 0:
        return None
    raise FormatError(f"{where}: flag {v!r} is not 0 or 1")


def _decode_boxes(v: Any, where: str) -> list[Box]:
    if not isinstance(v, list):
        raise FormatError(f"{where}: expected a list of part boxes, found {type(v).__name__}")
    def numbers(x: Any, n: int) -> bool:
        return isinstance(x, list) and len(x) == n and all(isinstance(y, (int, float)) for y in x)

    if numbers(v, 4) or (len(v) == 2 and all(numbers(pt, 2) for pt in v)):  # one box, not wrapped in a list
        v = [v]
    out = []
    for b in v:
        flat = [x for pt in b for x in (pt if isinstance(pt, list) else [pt])] if isinstance(b, list) else None
        if flat is None or len(flat) != 4 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in flat):
            raise FormatError(f"{where}: part box {b!r} is not [[x1, y1], [x2, y2]] or [x1, y1, x2, y2]")
        x1, y1, x2, y2 = (float(x) for x in flat)
        out.append((min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)))
    return out


class _LabelDecoder:
    """Decodes the six label dicts of both pickles with one base per class field."""

    def __init__(self, docs: list[tuple[Path, dict[str, Any]]], notes: list[str]) -> None:
        self.base: dict[str, int] = {}
        for key, named in CLASS_NAMES.items():
            explicit = [d["label_names"][key] for _, d in docs
                        if isinstance(d.get("label_names"), dict) and key in d["label_names"]]
            if explicit:
                if any(list(e) != list(named) for e in explicit):
                    p = next(p for p, d in docs if isinstance(d.get("label_names"), dict))
                    raise FormatError(f"{p}: label_names.{key}: {explicit[0]} differs from {list(named)}")
                self.base[key] = 0
                notes.append(f"{key}: 0-based (label_names in the pickle)")
                continue
            values = [int(v) for p, d in docs for v in ((_dict(d, key, p) or {}).values())
                      if isinstance(v, (int, float)) and not isinstance(v, bool)]
            try:
                self.base[key], how = detect_base(values, len(named))
            except ValueError as e:
                raise FormatError(f"{docs[0][0]}: {key}: {e}") from None
            notes.append(f"{key}: {how}")

    def attributes(self, doc: dict[str, Any], label_key: Any, path: Path) -> Attributes:
        data: dict[str, Any] = {}
        for key, fieldname in LABEL_KEYS.items():
            labels = _dict(doc, key, path)
            if not labels or label_key not in labels:
                continue
            where = f"{path}: {key}[{label_key!r}]"
            v = labels[label_key]
            data[fieldname] = (_decode_class(v, key, self.base[key], CLASS_NAMES[key], where) if key in CLASS_NAMES
                               else _decode_flag(v, where))
        return Attributes(**data)


def _order(doc: dict[str, Any], key: str, names: list[str], path: Path) -> list[Any]:
    v = doc.get(key)
    if v is None:
        raise FormatError(f"{path}: {key}: missing")
    if not isinstance(v, list):
        raise FormatError(f"{path}: {key}: expected a list, found {type(v).__name__}")
    if all(isinstance(x, str) for x in v):
        known = set(names)
        bad = next((x for x in v if PurePosixPath(x).name not in known), None)
        if bad is not None:
            raise FormatError(f"{path}: {key}: {bad!r} is not in test_im_names")
        return [PurePosixPath(x).name for x in v]
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        raise FormatError(f"{path}: {key}: expected image indices or names")
    return v  # indices: resolved together with the other order list (one base for both)


def _resolve_orders(q: list[Any], g: list[Any], names: list[str], path: Path, notes: list[str]) -> tuple[list[str], list[str]]:
    """Both order lists as image names; indices share one base (a 0 means 0-based, an index
    equal to the number of test images means 1-based)."""
    out: list[list[str]] = []
    ints = [i for i in q + g if isinstance(i, int)]
    base = 1 if ints and 0 not in ints and max(ints) == len(names) else 0
    if ints:
        notes.append(f"query_order/gallery_order: {base}-based indices into test_im_names")
    for key, idx in (("query_order", q), ("gallery_order", g)):
        res = []
        for i in idx:
            if isinstance(i, str):
                res.append(i)
                continue
            j = i - base
            if not 0 <= j < len(names):
                raise FormatError(f"{path}: {key}: index {i} is outside test_im_names (0..{len(names) - 1})")
            res.append(names[j])
        if len(set(res)) != len(res):
            raise FormatError(f"{path}: {key}: lists an image twice")
        out.append(res)
    both = set(out[0]) & set(out[1])
    if both:
        raise FormatError(f"{path}: image {sorted(both)[0]!r} is in both query_order and gallery_order")
    return out[0], out[1]


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise FormatError(f"{path}: image listed in the annotation pickle is missing") from None
    except (UnidentifiedImageError, OSError) as e:
        raise FormatError(f"{path}: not a readable image ({e})") from None


def read_release(release: Path) -> ReleaseContents:
    """Read and check a release folder completely, before anything is written anywhere."""
    release = Path(release)
    if not release.is_dir():
        raise FormatError(f"{release}: not a folder")
    train_pkl, test_pkl = release / TRAIN_PKL, release / TEST_PKL
    train_dir, test_dir = release / TRAIN_DIR, release / TEST_DIR
    for p in (train_pkl, train_dir):
        if not p.exists():
            raise FormatError(f"{p}: missing; a VRAI release has {TRAIN_DIR}/ and {TRAIN_PKL} (and the test pair)")
    if test_pkl.exists() != test_dir.exists():
        have, lack = (test_pkl, test_dir) if test_pkl.exists() else (test_dir, test_pkl)
        raise FormatError(f"{lack}: missing, but {have.name} is there")

    notes: list[str] = []
    docs: list[tuple[Path, dict[str, Any]]] = []
    for p in (train_pkl, test_pkl):
        if not p.exists():
            continue
        loaded = safe_pickle.load(p)
        if loaded.encoding == "latin1":
            notes.append(f"{p.name}: Python-2 pickle, strings read as latin-1")
        doc = safe_pickle.to_plain(loaded.value)
        if not isinstance(doc, dict):
            raise FormatError(f"{p}: expected a dict at the top level, found {type(doc).__name__}")
        docs.append((p, doc))
    decoder = _LabelDecoder(docs, notes)

    train_path, train_doc = docs[0]
    names = _names(train_doc, "train_im_names", train_path, TRAIN_NAME)
    vehicle_raw: dict[str, dict[int, Any]] = {}
    for key in LABEL_KEYS:  # keys may be ints or digit strings ('00000012')
        d = _dict(train_doc, key, train_path)
        if d is None:
            notes.append(f"{TRAIN_PKL}: no {key}; that attribute stays unset")
            continue
        norm: dict[int, Any] = {}
        for k, v in d.items():
            try:
                norm[int(k)] = v
            except (TypeError, ValueError):
                raise FormatError(f"{train_path}: {key}: key {k!r} is not a vehicle id") from None
        vehicle_raw[key] = norm
    vids = sorted(set().union(*(d.keys() for d in vehicle_raw.values())))
    vehicle_attributes = {vid: decoder.attributes(vehicle_raw, vid, train_path) for vid in vids}
    train_parts = _dict(train_doc, "d_part_label", train_path) or {}
    images: list[LooseImage] = []
    for n in names:
        m = TRAIN_NAME.match(n)
        assert m is not None
        parts = train_parts.get(n)
        images.append(LooseImage(
            name=n, src=train_dir / n, size=_image_size(train_dir / n), subset="train",
            camera_no=int(m.group(2)), vehicle_id=int(m.group(1)), video_frame=int(m.group(3)),
            part_boxes=None if parts is None else _decode_boxes(parts, f"{train_path}: d_part_label[{n!r}]"),
        ))

    query: list[str] = []
    gallery: list[str] = []
    if len(docs) > 1:
        test_path, test_doc = docs[1]
        test_names = _names(test_doc, "test_im_names", test_path, TEST_NAME)
        q = _order(test_doc, "query_order", test_names, test_path)
        g = _order(test_doc, "gallery_order", test_names, test_path)
        query, gallery = _resolve_orders(q, g, test_names, test_path, notes)
        role = {n: "query" for n in query} | {n: "gallery" for n in gallery}
        test_parts = _dict(test_doc, "d_part_label", test_path) or {}
        for n in test_names:
            m = TEST_NAME.match(n)
            assert m is not None
            parts = test_parts.get(n)
            images.append(LooseImage(
                name=n, src=test_dir / n, size=_image_size(test_dir / n), subset=role.get(n, "test"),  # type: ignore[arg-type]
                camera_no=int(m.group(2)), attributes=decoder.attributes(test_doc, n, test_path),
                part_boxes=None if parts is None else _decode_boxes(parts, f"{test_path}: d_part_label[{n!r}]"),
            ))
        unused = sum(1 for n in test_names if n not in role)
        if unused:
            notes.append(f"{unused} test image(s) are in neither query_order nor gallery_order")
    else:
        notes.append(f"no {TEST_PKL}: training images only")
    return ReleaseContents(images, vehicle_attributes, query, gallery, notes)

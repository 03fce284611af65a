"""`export --format coco`: the structure pycocotools relies on, checked by hand (it is not
installed), and the labels read back from the file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from schemas import FLAGS, TYPES
from tests.dataset_factory import make_dataset
from vrai_tools.cli import cli
from vrai_tools.dataset import DatasetRoot
from vrai_tools.formats.coco import labels_from_coco, polygon_area
from vrai_tools.index import load_index


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[DatasetRoot, Path, dict]:
    tmp = tmp_path_factory.mktemp("coco")
    ds = make_dataset(tmp / "ds", pairs=2, vehicles_per_pair=6, frames=6)
    runner = CliRunner()
    assert runner.invoke(cli, ["split", str(ds.root), "--name", "s", "--seed", "2", "-q"]).exit_code == 0
    result = runner.invoke(cli, ["export", str(ds.root), "--format", "coco", "--split", "s", "--out", str(tmp / "out")])
    assert result.exit_code == 0, result.output
    return ds, tmp / "out", json.loads((tmp / "out" / "instances.json").read_text())


def test_structure_is_what_pycocotools_indexes(exported: tuple[DatasetRoot, Path, dict]) -> None:
    _, out, doc = exported
    assert set(doc) >= {"images", "annotations", "categories", "info"}
    cats = {c["id"]: c for c in doc["categories"]}
    assert [c["name"] for c in doc["categories"]] == [*TYPES, "untyped"]
    assert all(isinstance(i, int) and i >= 1 for i in cats)
    image_ids = [im["id"] for im in doc["images"]]
    assert len(set(image_ids)) == len(image_ids) and all(isinstance(i, int) for i in image_ids)
    images = {im["id"]: im for im in doc["images"]}
    for im in doc["images"]:
        path = out / im["file_name"]
        with Image.open(path) as pic:
            assert pic.size == (im["width"], im["height"])
    ann_ids = [a["id"] for a in doc["annotations"]]
    assert len(set(ann_ids)) == len(ann_ids)
    for a in doc["annotations"]:
        assert a["image_id"] in images and a["category_id"] in cats
        x, y, w, h = a["bbox"]
        im = images[a["image_id"]]
        assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= im["width"] + 1e-3 and y + h <= im["height"] + 1e-3
        assert a["iscrowd"] == 0 and a["area"] > 0
        poly = a["segmentation"][0]
        assert len(poly) == 8
        xs, ys = poly[0::2], poly[1::2]
        assert min(xs) == pytest.approx(x, abs=1e-3) and max(ys) == pytest.approx(y + h, abs=1e-3)
        assert a["area"] <= w * h + 1e-3


def test_every_box_of_an_exported_frame_is_there_with_its_labels(exported: tuple[DatasetRoot, Path, dict]) -> None:
    ds, _, doc = exported
    index = load_index(ds)
    split = ds.split("s")
    labels = labels_from_coco(doc)
    in_split = set(split.train) | set(split.query) | set(split.gallery)
    frames = {(im["clip_id"], im["frame"]) for im in doc["images"]}
    expected = {r.key for r in index.records if (r.clip_id, r.frame) in frames}
    assert set(labels) == expected
    assert in_split <= expected  # every split instance is exported
    for key, lab in labels.items():
        r = index.by_key[key]
        assert lab["bbox"] == pytest.approx(r.bbox, abs=2e-3)
        assert lab["type"] == r.attributes.type and lab["color"] == r.attributes.color
        assert all(lab[f] == getattr(r.attributes, f) for f in FLAGS)
        assert lab["vehicle_id"] == r.vehicle_id
        assert lab["subset"] == next((s for s in ("train", "query", "gallery") if key in getattr(split, s)), "none")
        assert lab["parts_state"] == r.parts.state
        assert [v for b in lab["parts"] for v in b] == pytest.approx([v for b in r.parts.boxes for v in b], abs=2e-3)
    assert any(lab["vehicle_id"] is None for lab in labels.values())  # unmatched vehicles too, as -1


def test_polygon_area() -> None:
    assert polygon_area(((0, 0), (4, 0), (4, 3), (0, 3))) == 12
    assert polygon_area(((0, 0), (2, 1), (0, 2), (-2, 1))) == 4

"""`vrai-tools crops`: naming, pixels, --size, incremental re-runs, parallel = serial, bad frames."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from schemas import Instance
from tests.dataset_factory import make_dataset
from vrai_tools.cli import cli
from vrai_tools.crops import crop_rel, make_crops, pixel_box
from vrai_tools.dataset import DatasetRoot
from vrai_tools.index import load_index


def run(*args: object) -> object:
    return CliRunner().invoke(cli, ["crops", *map(str, args)])


@pytest.fixture()
def ds(tmp_path: Path) -> DatasetRoot:
    return make_dataset(tmp_path / "ds", pairs=1, vehicles_per_pair=5, frames=5)


def test_crops_are_the_boxes_of_the_frames(ds: DatasetRoot) -> None:
    result = run(ds.root, "-j", 1)
    assert result.exit_code == 0, result.output
    index = load_index(ds)
    assert f"{len(index.records)} crop(s) written, 0 up to date, 0 removed" in result.output
    for r in index.records:
        path = ds.root / crop_rel(r.key)
        assert path.parent == ds.root / "crops" / "native" / r.clip_id
        assert path.name == f"{r.number:06d}.jpg"
        box = pixel_box(r.bbox, r.frame_size)
        crop = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
        frame = np.asarray(Image.open(ds.root / r.frame_file).convert("RGB").crop(box), dtype=np.int16)
        assert crop.shape == frame.shape == (box[3] - box[1], box[2] - box[0], 3)
        assert np.abs(crop - frame).mean() < 8  # one JPEG re-encoding (with chroma subsampling) apart


def test_size_scales_the_longest_side(ds: DatasetRoot) -> None:
    assert run(ds.root, "--size", 24, "-q", "-j", 1).exit_code == 0
    for r in load_index(ds).records:
        with Image.open(ds.root / crop_rel(r.key, 24)) as im:
            box = pixel_box(r.bbox, r.frame_size)
            assert max(im.size) == 24
            w, h = box[2] - box[0], box[3] - box[1]
            assert abs(im.width / im.height - w / h) < 0.15
    assert run(ds.root, "--size", 4).exit_code == 2  # below the minimum: a usage error


def test_reruns_are_incremental(ds: DatasetRoot) -> None:
    n = len(load_index(ds).records)
    assert make_crops(ds, workers=1).written == n
    again = make_crops(ds, workers=1)
    assert (again.written, again.skipped, again.removed) == (0, n, 0)

    # move one instance: only its crop is cut again
    ann = ds.annotations("p1-A")
    moved = ann.instances[0]
    corners = [(x + 1, y) for x, y in moved.corners]
    ann.instances[0] = Instance.from_corners(moved.key, moved.frame, corners, parts=type(moved.parts)())
    ds.save_annotations(ann)
    mtime = (ds.root / crop_rel(ann.instances[1].key)).stat().st_mtime_ns
    rep = make_crops(ds, workers=1)
    assert (rep.written, rep.skipped) == (1, n - 1)
    assert (ds.root / crop_rel(ann.instances[1].key)).stat().st_mtime_ns == mtime

    # delete one instance: its crop goes away
    gone = ann.instances.pop()
    ds.save_annotations(ann)
    rep = make_crops(ds, workers=1)
    assert (rep.written, rep.removed) == (0, 1)
    assert not (ds.root / crop_rel(gone.key)).exists()

    # a re-extracted frame (new mtime) redoes the crops of that frame only
    r = load_index(ds).records[0]
    frame = ds.root / r.frame_file
    os.utime(frame, ns=(frame.stat().st_atime_ns, frame.stat().st_mtime_ns + 10**9))
    on_frame = sum(1 for x in load_index(ds).records if x.frame_file == r.frame_file)
    assert make_crops(ds, workers=1).written == on_frame

    # a lost crop file is made again
    (ds.root / crop_rel(r.key)).unlink()
    assert make_crops(ds, workers=1).written == 1


def test_parallel_crops_equal_serial_ones(tmp_path: Path) -> None:
    a = make_dataset(tmp_path / "a", pairs=2, vehicles_per_pair=6)
    b = make_dataset(tmp_path / "b", pairs=2, vehicles_per_pair=6)
    from vrai_tools import crops as crops_mod

    make_crops(a, workers=1)
    old = crops_mod.batch_jobs
    crops_mod.batch_jobs = lambda jobs, per_batch=256: old(jobs, per_batch=8)  # several batches for 2 workers
    try:
        make_crops(b, workers=2)
    finally:
        crops_mod.batch_jobs = old
    files_a = sorted(p.relative_to(a.root) for p in (a.root / "crops").rglob("*.jpg"))
    files_b = sorted(p.relative_to(b.root) for p in (b.root / "crops").rglob("*.jpg"))
    assert files_a == files_b and files_a
    assert all((a.root / f).read_bytes() == (b.root / f).read_bytes() for f in files_a)
    ia = json.loads((a.root / "crops/native/index.json").read_text())["crops"]
    assert len(ia) == len(files_a)


def test_missing_frame_is_reported_and_the_rest_is_cut(ds: DatasetRoot) -> None:
    index = load_index(ds)
    lost = index.records[0].frame_file
    (ds.root / lost).unlink()
    result = run(ds.root, "-j", 1)
    assert result.exit_code == 1
    assert f"Error: {lost}: frame image is missing" in result.output
    on_lost = [r for r in index.records if r.frame_file == lost]
    others = [r for r in index.records if r.frame_file != lost]
    assert all((ds.root / crop_rel(r.key)).exists() for r in others)
    assert not any((ds.root / crop_rel(r.key)).exists() for r in on_lost)
    # the next run retries the failed ones only
    Image.new("RGB", index.records[0].frame_size).save(ds.root / lost)
    assert make_crops(ds, workers=1).written == len(on_lost)


def test_crops_never_touch_the_source(ds: DatasetRoot) -> None:
    before = {p: p.read_bytes() for p in ds.root.rglob("*") if p.is_file()}
    assert run(ds.root, "-q", "-j", 1).exit_code == 0
    assert all(p.read_bytes() == data for p, data in before.items())
    assert {p.relative_to(ds.root).parts[0] for p in ds.root.rglob("*") if p.is_file() and p not in before} == {"crops"}

"""`export --format market1501`: names the torchreid/fast-reid loaders parse, their evaluation
rules, and the way back through `import market1501`."""
from __future__ import annotations

import glob
import json
import os.path as osp
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.dataset_factory import make_dataset
from vrai_tools.cli import cli
from vrai_tools.dataset import DatasetRoot
from vrai_tools.index import load_index

NAME = re.compile(r"^(\d{4,})_c([12])s1_(\d{6})_(\d{2})\.jpg$")


def invoke(*args: object) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[DatasetRoot, Path]:
    tmp = tmp_path_factory.mktemp("market")
    ds = make_dataset(tmp / "ds", pairs=2, vehicles_per_pair=8, frames=8)
    assert invoke("split", ds.root, "--name", "paper", "--seed", 0, "-q").exit_code == 0
    result = invoke("export", ds.root, "--format", "market1501", "--split", "paper", "--out", tmp / "out", "-j", 1)
    assert result.exit_code == 0, result.output
    return ds, tmp / "out"


def loader_process_dir(dir_path: str, relabel: bool = False) -> list[tuple[str, int, int]]:
    """What torchreid's / fast-reid's Market1501.process_dir does with a folder, asserts included."""
    img_paths = glob.glob(osp.join(dir_path, "*.jpg"))
    pattern = re.compile(r"([-\d]+)_c(\d)")
    pid_container = set()
    for img_path in img_paths:
        pid, _ = map(int, pattern.search(img_path).groups())  # type: ignore[union-attr]
        if pid == -1:
            continue
        pid_container.add(pid)
    pid2label = {pid: label for label, pid in enumerate(pid_container)}
    data = []
    for img_path in img_paths:
        pid, camid = map(int, pattern.search(img_path).groups())  # type: ignore[union-attr]
        if pid == -1:
            continue
        assert 0 <= pid <= 1501
        assert 1 <= camid <= 6
        camid -= 1
        if relabel:
            pid = pid2label[pid]
        data.append((img_path, pid, camid))
    return data


def test_layout_and_names(exported: tuple[DatasetRoot, Path]) -> None:
    ds, out = exported
    assert sorted(p.name for p in out.iterdir()) == ["bounding_box_test", "bounding_box_train", "ids.json", "query"]
    split = ds.split("paper")
    counts = {"bounding_box_train": len(split.train), "query": len(split.query), "bounding_box_test": len(split.gallery)}
    for folder, n in counts.items():
        names = [p.name for p in (out / folder).iterdir()]
        assert len(names) == n
        assert all(NAME.match(name) for name in names), names[:3]


def test_the_stock_loaders_read_it_and_its_evaluation_is_cross_camera(exported: tuple[DatasetRoot, Path]) -> None:
    ds, out = exported
    train = loader_process_dir(str(out / "bounding_box_train"), relabel=True)
    query = loader_process_dir(str(out / "query"))
    gallery = loader_process_dir(str(out / "bounding_box_test"))
    split = ds.split("paper")
    assert len({pid for _, pid, _ in train}) == len(split.train_vehicles)
    assert sorted({pid for _, pid, _ in train}) == list(range(len(split.train_vehicles)))
    # Market evaluation ignores gallery images with the query's pid AND camera: every query
    # must keep a valid match, i.e. a gallery image of its pid from the other camera
    valid = {(pid, cam) for _, pid, cam in gallery}
    for _, pid, cam in query:
        assert (pid, 1 - cam) in valid
    train_pids = {int(Path(p).name[:4]) for p, _, _ in loader_process_dir(str(out / "bounding_box_train"))}
    assert train_pids.isdisjoint({pid for _, pid, _ in gallery})


def test_ids_json_maps_back_to_vehicles_and_cameras(exported: tuple[DatasetRoot, Path]) -> None:
    ds, out = exported
    doc = json.loads((out / "ids.json").read_text())
    index = load_index(ds)
    assert doc["split"] == "paper" and doc["format"] == "market1501"
    for rel, key in doc["images"].items():
        rec = index.by_key[key]
        m = NAME.match(Path(rel).name)
        assert m is not None
        assert doc["pids"][m.group(1)] == rec.vehicle_id
        assert m.group(2) == {"A": "1", "B": "2"}[rec.camera]
        assert int(m.group(3)) == rec.video_frame


def test_round_trip_through_import(exported: tuple[DatasetRoot, Path], tmp_path: Path) -> None:
    ds, out = exported
    back = tmp_path / "back"
    result = invoke("import", "market1501", out, "--root", back, "--copy")
    assert result.exit_code == 0, result.output
    assert "vehicle ids restored" in result.output
    imported = DatasetRoot(back)
    idx_back, idx_orig = load_index(imported), load_index(ds)
    split_back, split_orig = imported.split("market1501"), ds.split("paper")
    assert split_back.train_vehicles == split_orig.train_vehicles
    assert split_back.test_vehicles == split_orig.test_vehicles
    doc = json.loads((out / "ids.json").read_text())
    key_of_file = {Path(rel).parent.name + "__" + Path(rel).name: key for rel, key in doc["images"].items()}
    for subset in ("train", "query", "gallery"):
        got = []
        for key in getattr(split_back, subset):
            rec = idx_back.by_key[key]
            orig = idx_orig.by_key[key_of_file[Path(rec.frame_file).name]]
            got.append(orig.key)
            assert (rec.vehicle_id, rec.camera) == (orig.vehicle_id, orig.camera)
            assert rec.bbox == (0.0, 0.0, *rec.frame_size)
            assert (back / rec.frame_file).read_bytes() == (out / doc_path(doc, orig.key)).read_bytes()
        assert sorted(got) == sorted(getattr(split_orig, subset))
    assert invoke("validate", back).exit_code == 0


def doc_path(doc: dict[str, object], key: str) -> str:
    images = doc["images"]
    assert isinstance(images, dict)
    return next(rel for rel, k in images.items() if k == key)


def test_release_split_cannot_become_market(tmp_path: Path) -> None:
    from tests.test_import_vrai import make_release

    release = make_release(tmp_path)
    assert invoke("import", "vrai", release, "--root", tmp_path / "imp", "-q").exit_code == 0
    result = invoke("export", tmp_path / "imp", "--format", "market1501", "--split", "release", "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert "Market-1501 needs identities" in result.output and "--protocol vrai-release" in result.output
    assert not (tmp_path / "o").exists()

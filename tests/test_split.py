"""`vrai-tools split`: the paper's §5.1 protocol on factory datasets, and its refusals."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import Split
from tests.dataset_factory import FactoryInfo, make_dataset
from vrai_tools.cli import cli
from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import SplitError
from vrai_tools.index import DatasetIndex, load_index
from vrai_tools.split import PAPER_TEST_FRACTION, make_split, write_split
from vrai_tools.validate import validate_root


def run(*args: str) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args])


def check_protocol(split: Split, index: DatasetIndex) -> None:
    """Every rule of §5.1, checked from scratch."""
    vehicle_of = {r.key: r.vehicle_id for r in index.records}
    camera_of = {r.key: r.camera for r in index.records}
    train_v, test_v = set(split.train_vehicles), set(split.test_vehicles)
    assert not train_v & test_v
    assert train_v | test_v == set(index.cross_camera_vehicles())
    assert {vehicle_of[k] for k in split.train} == train_v
    assert {vehicle_of[k] for k in split.query + split.gallery} <= test_v
    # every image of every split vehicle is used exactly once
    for vid in train_v | test_v:
        keys = set(index.vehicles[vid].keys)
        assert keys <= set(split.train) | set(split.query) | set(split.gallery)
    gallery_cams: dict[int, set[str]] = defaultdict(set)
    for k in split.gallery:
        gallery_cams[vehicle_of[k]].add(camera_of[k])
    for q in split.query:
        other = "B" if camera_of[q] == "A" else "A"
        assert other in gallery_cams[vehicle_of[q]], f"query {q} has no gallery image from camera {other}"


def test_split_follows_the_paper_protocol(tmp_path: Path) -> None:
    info = FactoryInfo()
    ds = make_dataset(tmp_path / "ds", pairs=3, vehicles_per_pair=12, frames=10, images=False,
                      track_length=(3, 7), info=info)
    result = run("split", ds.root, "--name", "paper", "--seed", 7)
    assert result.exit_code == 0, result.output
    split = ds.split("paper")
    index = load_index(ds)
    check_protocol(split, index)
    n = len(info.cross_camera)
    assert len(split.test_vehicles) == round(PAPER_TEST_FRACTION * n)
    assert split.excluded_single_camera == len(info.single_camera)
    n_test = len(split.query) + len(split.gallery)
    assert abs(len(split.query) - 0.25 * n_test) <= 1
    linked = {k for v in index.vehicles.values() for k in v.keys}
    assert not set(info.unmatched_keys) & (set(split.train) | set(split.query) | set(split.gallery))
    assert set(info.unmatched_keys).isdisjoint(linked)
    # the counts are printed in the paper's terms
    assert f"train: {len(split.train)} images of {len(split.train_vehicles)} IDs" in result.output
    assert f"test:  {n_test} images of {len(split.test_vehicles)} IDs (query {len(split.query)}, " \
           f"gallery {len(split.gallery)})" in result.output
    assert f"left out: {len(info.single_camera)} vehicle(s) seen by one camera only" in result.output
    # and validate agrees with the split on disk
    report = validate_root(ds.root, check_files=False)
    assert report.ok, report.problems


def test_same_seed_same_bytes_other_seed_other_split(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds", pairs=2, vehicles_per_pair=10, images=False)
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        assert run("split", ds.root, "--name", name, "--seed", seed, "-q").exit_code == 0
    a, b, c = (json.loads(ds.split_path(n).read_text()) for n in "abc")
    for doc in (a, b, c):
        doc.pop("name")
    assert a == b
    assert a != c


def test_fractions_are_honoured(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds", pairs=2, vehicles_per_pair=20, frames=12, images=False, track_length=(4, 8))
    index = load_index(ds)
    split = make_split(index, "s", 1, test_fraction=0.3, query_fraction=0.4)
    check_protocol(split, index)
    assert len(split.test_vehicles) == round(0.3 * len(index.cross_camera_vehicles()))
    n_test = len(split.query) + len(split.gallery)
    assert abs(len(split.query) - 0.4 * n_test) <= 1
    assert split.test_fraction == 0.3 and split.query_fraction == 0.4


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), vehicles=st.integers(3, 9), frames=st.integers(2, 7),
       query=st.floats(0.05, 0.9), test=st.floats(0.1, 0.9))
def test_protocol_holds_for_any_dataset(tmp_path_factory: pytest.TempPathFactory, seed: int, vehicles: int,
                                        frames: int, query: float, test: float) -> None:
    root = tmp_path_factory.mktemp("prop")
    ds = make_dataset(root, pairs=1, vehicles_per_pair=vehicles, frames=frames, images=False, seed=seed,
                      track_length=(1, frames))
    index = load_index(ds)
    try:
        split = make_split(index, "p", seed, test_fraction=test, query_fraction=query)
    except SplitError as e:
        assert "split impossible" in str(e)
        return
    check_protocol(split, index)


def test_existing_split_is_kept_unless_forced(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds", images=False)
    assert run("split", ds.root, "--name", "s", "--seed", 1, "-q").exit_code == 0
    before = ds.split_path("s").read_bytes()
    result = run("split", ds.root, "--name", "s", "--seed", 2)
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {ds.split_path('s')} already exists; pass --force to replace it"
    assert ds.split_path("s").read_bytes() == before
    assert run("split", ds.root, "--name", "s", "--seed", 2, "--force", "-q").exit_code == 0
    assert ds.split("s").seed == 2


def test_split_impossible_writes_nothing(tmp_path: Path) -> None:
    # one vehicle per pair, and it is a single-camera one except in the first pair
    ds = make_dataset(tmp_path / "ds", pairs=1, vehicles_per_pair=2, images=False, single_camera_every=2)
    result = run("split", ds.root, "--name", "s", "--seed", 0)
    assert result.exit_code == 1
    assert result.output.startswith("Error: split impossible: 1 vehicle(s) seen by both cameras (1 by one camera only)")
    assert "\n" == result.output[-1] and result.output.count("\n") == 1
    assert not (ds.root / "splits").exists()


def test_no_query_possible_is_a_clear_error(tmp_path: Path) -> None:
    # every vehicle has one image per camera: nothing to spare for the query set
    ds = make_dataset(tmp_path / "ds", pairs=1, vehicles_per_pair=4, images=False, track_length=(1, 1),
                      single_camera_every=0)
    result = run("split", ds.root, "--name", "s", "--seed", 0)
    assert result.exit_code == 1
    assert "no image to spare for the query set" in result.output
    assert not (ds.root / "splits").exists()


@pytest.mark.parametrize("args, message", [
    (["--name", "bad name"], "split name 'bad name': use letters"),
    (["--name", "s", "--test-fraction", "1"], "--test-fraction must be between 0 and 1"),
    (["--name", "s", "--query-fraction", "0"], "--query-fraction must be between 0 and 1"),
    (["--name", "s", "--protocol", "vrai-release"], "--protocol vrai-release is for an imported official release"),
])
def test_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    ds = make_dataset(tmp_path / "ds", images=False)
    result = run("split", ds.root, "--seed", 0, *args)
    assert result.exit_code == 1
    assert message in result.output
    assert not (ds.root / "splits").exists()


def test_not_a_dataset(tmp_path: Path) -> None:
    result = run("split", tmp_path, "--name", "s", "--seed", 0)
    assert result.exit_code == 1
    assert "no dataset.json" in result.output


def test_write_split_is_atomic_and_deterministic(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds", images=False)
    split = make_split(load_index(ds), "s", 5)
    write_split(ds, split)
    first = ds.split_path("s").read_bytes()
    write_split(ds, split, force=True)
    assert ds.split_path("s").read_bytes() == first
    assert [p.name for p in (ds.root / "splits").iterdir()] == ["s.json"]  # no temp files left
    assert DatasetRoot(ds.root).split("s") == split


def test_index_migrates_older_files_and_words_broken_ones(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds", images=False)
    before = {r.key: r.parts for r in load_index(ds).records}
    path = ds.annotations_path("p1-A")
    doc = json.loads(path.read_text())
    doc["schema_version"] = 1  # v1 stored parts as a bare list plus parts_done
    for inst in doc["instances"]:
        parts = inst.pop("parts")
        inst["parts"] = parts["boxes"]
        inst["parts_done"] = parts["state"] != "todo"
    path.write_text(json.dumps(doc))
    after = {r.key: r.parts for r in load_index(ds).records}
    assert after == before
    path.write_text(path.read_text()[:-20])
    result = run("split", ds.root, "--name", "s", "--seed", 0)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: malformed JSON at line")

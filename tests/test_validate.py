"""`vrai-tools validate`: a valid hand-made dataset, and each bad case of the foundation issue."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from tests.handmade import load, make_handmade, snapshot, write_json
from vrai_tools.cli import cli
from vrai_tools.validate import validate_root


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return make_handmade(tmp_path / "ds")


def run_validate(root: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["validate", str(root), *args])


def test_handmade_dataset_is_valid(root: Path) -> None:
    result = run_validate(root)
    assert result.exit_code == 0, result.output
    assert "1 pairs, 2 clips, 6 frames, 12 instances, 2 vehicles (2 seen by both cameras)" in result.output
    assert "valid" in result.output
    report = validate_root(root)
    assert report.stages["corners"].done == 6 and report.stages["parts"].done == 12
    assert report.stages["attributes"].done == 12 and report.stages["matching"].done == 12


def edit(path: Path, change: Callable[[Any], None]) -> None:
    doc = load(path)
    change(doc)
    write_json(path, doc)


ANN = "annotations/p1-A.json"
MATCH = "matching/p1.json"


def _set(path: list[Any], value: Any) -> Callable[[Any], None]:
    def change(doc: Any) -> None:
        for p in path[:-1]:
            doc = doc[p]
        doc[path[-1]] = value
    return change


BAD_CASES: dict[str, tuple[str, Callable[[Any], None], str]] = {
    "unknown schema_version": (ANN, _set(["schema_version"], 99), "annotations/p1-A.json: schema_version: 99 is newer"),
    "unknown field": (ANN, _set(["instances", 0, "colour"], "Red"), "instances[0].colour: unknown field"),
    "missing field": (ANN, lambda d: d["instances"][0].pop("frame"), "instances[0].frame: required field is missing"),
    "bbox does not match corners": (ANN, _set(["instances", 0, "bbox", 2], 99.0), "is not the smallest rectangle around the corners"),
    "repeated corners": (ANN, lambda d: d["instances"][0].update(corners=[[10, 10], [10, 10], [40, 20], [10, 30]], bbox=[10, 10, 40, 30]), "corners 0 and 1 are the same point"),
    "collinear corners": (ANN, lambda d: d["instances"][0].update(corners=[[10, 10], [20, 20], [30, 30], [40, 40]], bbox=[10, 10, 40, 40]), "collinear"),
    "corners outside the frame": (ANN, lambda d: d["instances"][0].update(corners=[[100, 10], [130, 12], [128, 30], [102, 28]], bbox=[100, 10, 130, 30], parts={"state": "none", "boxes": []}), "leave the 120x80 frame"),
    "part box outside instance": (ANN, _set(["instances", 0, "parts", "boxes", 0], [0, 0, 5, 5]), "parts.boxes[0] [0.0, 0.0, 5.0, 5.0] lies outside the instance bbox"),
    "duplicate keys": (ANN, _set(["instances", 1, "key"], "p1-A:0"), "instances[1].key 'p1-A:0' is duplicated"),
    "tracklet spanning two clips": (MATCH, _set(["tracklets", 0, "instances", 1], "p1-B:2"), "spans two clips"),
    "split shares a vehicle": ("splits/s0.json", _set(["test_vehicles"], [2, 1]), "train_vehicles and test_vehicles share vehicle(s) [1]"),
    "absolute path": ("dataset.json", _set(["clips", 0, "frames", 0, "file"], "/etc/passwd"), "clips[0].frames[0].file: path '/etc/passwd' is absolute"),
    "path escaping the root": ("dataset.json", _set(["clips", 0, "frames", 0, "file"], "../outside.jpg"), "leaves the dataset root"),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_case_is_reported_without_changing_files(root: Path, case: str) -> None:
    rel, change, message = BAD_CASES[case]
    edit(root / rel, change)
    before = snapshot(root)
    result = run_validate(root)
    assert result.exit_code == 1, result.output
    assert message in result.output, result.output
    assert rel in result.output
    assert "Traceback" not in result.output
    assert snapshot(root) == before


def test_malformed_json_gives_line_and_column(root: Path) -> None:
    path = root / ANN
    text = path.read_text()
    path.write_text(text.replace('"frame": 0', '"frame": 0,,', 1))
    result = run_validate(root)
    assert result.exit_code == 1
    assert "annotations/p1-A.json: malformed JSON at line" in result.output and "column" in result.output


def test_an_unreadable_clip_file_is_one_problem_not_a_cascade(root: Path) -> None:
    """Tracklets and splits naming its instances are not also reported as missing them."""
    (root / ANN).write_text("{ not json")
    report = validate_root(root)
    problems = [str(p) for p in report.problems]
    assert len(problems) == 1 and problems[0].startswith("annotations/p1-A.json: malformed JSON"), problems


def test_vehicle_twice_in_one_frame(root: Path) -> None:
    # give vehicle 1 a second tracklet in camera A whose instance shares frame 0 with its first tracklet
    edit(root / ANN, lambda d: d["instances"].append(
        {"key": "p1-A:9", "frame": 0, "corners": [[80, 5], [110, 7], [108, 20], [82, 18]], "bbox": [80, 5, 110, 20]}))
    def change(d: Any) -> None:
        d["tracklets"].append({"id": "p1-A-t9", "clip_id": "p1-A", "instances": ["p1-A:9"]})
        d["vehicles"][0]["tracklets"].append("p1-A-t9")
    edit(root / MATCH, change)
    result = run_validate(root)
    assert result.exit_code == 1
    assert "matching/p1.json: vehicles[0]: vehicle 1 appears twice in frame 0 of clip 'p1-A'" in result.output


def test_missing_frame_image(root: Path) -> None:
    (root / "frames/p1-B/000002.jpg").unlink()
    result = run_validate(root)
    assert result.exit_code == 1
    assert "dataset.json: clips[1].frames[2].file: file 'frames/p1-B/000002.jpg' does not exist" in result.output
    assert run_validate(root, "--no-files").exit_code == 0


def test_cross_file_references(root: Path) -> None:
    edit(root / MATCH, _set(["tracklets", 0, "instances", 2], "p1-A:77"))
    edit(root / "splits/s0.json", _set(["query"], ["p1-B:1"]))
    edit(root / "splits/s0.json", _set(["gallery"], ["p1-B:3", "p1-B:5"]))
    result = run_validate(root)
    assert result.exit_code == 1
    assert "tracklets[0].instances[2]: instance 'p1-A:77' does not exist" in result.output
    assert "query 'p1-B:1' (vehicle 2) has no gallery image from camera A" in result.output


def test_instance_on_unsampled_frame(root: Path) -> None:
    edit(root / ANN, _set(["instances", 0, "frame"], 7))
    result = run_validate(root)
    assert result.exit_code == 1
    assert "instances[0].frame: p1-A:0: frame 7 is not a sampled frame of clip 'p1-A'" in result.output


def test_not_a_dataset(tmp_path: Path) -> None:
    result = run_validate(tmp_path)
    assert result.exit_code == 1
    assert "dataset.json: no dataset.json" in result.output
    assert CliRunner().invoke(cli, ["validate", str(tmp_path / "nope")]).exit_code == 2


def test_worker_processes_give_the_same_report(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At VRAI scale the clip files are checked in forked workers; the report must not change."""
    from vrai_tools import validate as validate_module

    doc = load(root / ANN)
    doc["instances"][0]["bbox"][2] = 99.0  # one problem inside a clip file, found by a worker
    write_json(root / ANN, doc)
    serial = validate_root(root)
    monkeypatch.setattr(validate_module, "PARALLEL_BYTES", 0)
    forked = validate_root(root)
    assert [str(p) for p in forked.problems] == [str(p) for p in serial.problems]
    assert any("is not the smallest rectangle" in str(p) for p in forked.problems)
    assert forked.counts == serial.counts and forked.stages == serial.stages
    assert validate_module._FORK_STATE is None  # nothing left behind for the next call

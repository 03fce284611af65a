"""Per-stage progress in the overview, computed from the files."""
from __future__ import annotations

import json
from pathlib import Path

from annotator.progress import Count, dataset_progress
from tests.handmade import load, make_handmade, write_json
from vrai_tools.dataset import DatasetRoot


def counts(root: Path) -> dict[str, dict[str, tuple[int, int]]]:
    out = {}
    for pair in dataset_progress(DatasetRoot(root)):
        for clip in pair.clips:
            out[clip.clip_id] = {k: (v.done, v.total) for k, v in clip.counts.items()} if not clip.error else clip.error
    return out


def test_a_finished_dataset_is_complete_in_every_stage(tmp_path: Path) -> None:
    root = make_handmade(tmp_path)
    assert counts(root)["p1-A"] == {"corners": (3, 3), "matching": (6, 6), "attributes": (6, 6), "parts": (6, 6)}


def test_progress_follows_each_stage_rule(tmp_path: Path) -> None:
    root = make_handmade(tmp_path)
    ann = load(root / "annotations/p1-A.json")
    ann["frames_done"] = [0]
    ann["instances"][0]["parts"] = {"state": "todo", "boxes": []}
    ann["instances"][1]["attributes"] = {"color": "Blue"}  # an override keeps it complete
    write_json(root / "annotations/p1-A.json", ann)
    matching = load(root / "matching/p1.json")
    matching["vehicles"] = [v for v in matching["vehicles"] if v["id"] == 1]  # vehicle 2 unlinked...
    matching["tracklets"][3]["no_match"] = True  # ...but its camera-B tracklet decided "no match"
    write_json(root / "matching/p1.json", matching)
    got = counts(root)
    assert got["p1-A"] == {"corners": (1, 3), "matching": (3, 6), "attributes": (3, 6), "parts": (5, 6)}
    assert got["p1-B"]["matching"] == (6, 6) and got["p1-B"]["attributes"] == (3, 6)


def test_a_broken_clip_file_is_reported_and_the_rest_still_counts(tmp_path: Path) -> None:
    root = make_handmade(tmp_path)
    (root / "annotations/p1-B.json").write_text("{ not json")
    got = counts(root)
    assert "malformed JSON" in got["p1-B"] and got["p1-A"]["corners"] == (3, 3)
    assert str(Count(1, 3)) == "1/3 (33%)" and str(Count(0, 0)) == "–"
    json.loads((root / "annotations/p1-A.json").read_text())  # untouched

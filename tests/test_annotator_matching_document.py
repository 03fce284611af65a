"""The stage-2 document without widgets: loading builds tracklets, every decision is undoable, saving."""
from __future__ import annotations

from pathlib import Path

import pytest

from annotator.autosave import write_snapshots
from annotator.document import EditRefused
from annotator.matching.document import MatchingDocument
from schemas import PairMatching
from tests.matching_fixtures import CLIP_A, CLIP_B, PAIR, PairData, make_pair_dataset
from vrai_tools.storage import load_model


def _open(root: Path, annotator: str = "tester", read_only: str = "") -> MatchingDocument:
    from vrai_tools.dataset import DatasetRoot

    ds = DatasetRoot(root)
    return MatchingDocument.load(ds, ds.manifest(), PAIR, annotator, read_only)


def _tracklet_of(doc: MatchingDocument, data: PairData, car: int, clip: str) -> str:
    key = data.keys_of(car, clip)[0]
    return next(t.id for t in doc.matching.tracklets if key in t.instances)


@pytest.fixture
def data(tmp_path: Path) -> PairData:
    return make_pair_dataset(tmp_path / "ds")


def test_opening_builds_tracklets_and_marks_them_unsaved(data: PairData, qtbot) -> None:
    doc = _open(data.root)
    assert len(doc.matching.tracklets) == 8
    assert not doc.is_saved and len(doc.sync_notes) == 2
    assert doc.undo_stack.count() == 0  # building is not an edit the annotator could undo
    assert doc.progress() == (0, 8)
    write_snapshots(doc.snapshots())
    again = _open(data.root)
    assert again.is_saved and again.sync_notes == []
    assert again.matching == load_model(data.ds.matching_path(PAIR), PairMatching)
    ro = _open(data.root, read_only="held by someone")
    with pytest.raises(EditRefused, match="read-only"):
        ro.link(_tracklet_of(ro, data, 0, CLIP_A), _tracklet_of(ro, data, 0, CLIP_B))


def test_link_undo_redo_and_provenance(data: PairData, qtbot) -> None:
    doc = _open(data.root, annotator="ann")
    red_a, red_b = _tracklet_of(doc, data, 0, CLIP_A), _tracklet_of(doc, data, 0, CLIP_B)
    blue_a, blue_b = _tracklet_of(doc, data, 1, CLIP_A), _tracklet_of(doc, data, 1, CLIP_B)
    changes: list[int] = []
    doc.matchingChanged.connect(lambda: changes.append(1))
    vid = doc.link(red_a, red_b, seconds=4.0)
    v = doc.vehicle_of(red_a)
    assert v is not None and v.id == vid and v.tracklets == sorted([red_a, red_b])
    assert v.provenance.annotator == "ann" and v.provenance.seconds == 4.0
    assert doc.tracklet(red_a).provenance.source == "human"
    vid2 = doc.link(blue_a, blue_b)
    assert vid2 == vid + 1 and doc.progress() == (4, 8)
    doc.undo_stack.undo()
    assert doc.vehicle_of(blue_a) is None and doc.vehicle_of(red_a) is not None
    doc.undo_stack.undo()
    assert doc.matching.vehicles == [] and doc.progress() == (0, 8)
    doc.undo_stack.redo()
    doc.undo_stack.redo()
    assert {v.id for v in doc.matching.vehicles} == {vid, vid2}  # redo gives the same ids back
    assert len(changes) == 6
    with pytest.raises(EditRefused, match="same clip"):
        doc.link(red_a, blue_a)


def test_constraints_no_match_uncertain_and_tracklet_edits(data: PairData, qtbot) -> None:
    doc = _open(data.root)
    red_a, red_b = _tracklet_of(doc, data, 0, CLIP_A), _tracklet_of(doc, data, 0, CLIP_B)
    green_a, white_b = _tracklet_of(doc, data, 3, CLIP_A), _tracklet_of(doc, data, 2, CLIP_B)
    doc.link(red_a, red_b)
    # the green car (camera A only) overlaps the red one in time: red's B tracklet is excluded for it
    by_id = {c.tracklet: c for c in doc.candidates(green_a, window=60)}
    assert by_id[red_b].excluded is not None and by_id[white_b].excluded is None
    with pytest.raises(EditRefused, match="same time"):
        doc.link(green_a, red_b)
    nm = doc.set_no_match(green_a, seconds=1.5)
    assert doc.tracklet(green_a).no_match and doc.vehicle_of(green_a).id == nm
    assert doc.toggle_uncertain(green_a) is True and doc.vehicle_of(green_a).uncertain
    with pytest.raises(EditRefused, match="not decided"):
        doc.set_uncertain(white_b, True)
    # split the red A tracklet, then merge it back; all undoable
    keys = list(doc.tracklet(red_a).instances)
    tail = doc.split(red_a, keys[3])
    assert doc.tracklet(red_a).instances == keys[:3] and doc.tracklet(tail).instances == keys[3:]
    assert not doc.is_decided(tail)
    doc.merge(red_a, tail)
    assert doc.tracklet(red_a).instances == keys and not doc.has_tracklet(tail)
    with pytest.raises(EditRefused, match="already has"):
        doc.move(keys[-1], green_a)
    n = doc.undo_stack.count()
    doc.dissolve(doc.vehicle_of(red_a).id)
    assert doc.vehicle_of(red_a) is None and doc.vehicle_of(red_b) is None
    assert doc.undo_stack.count() == n + 1
    while doc.undo_stack.canUndo():
        doc.undo_stack.undo()
    assert doc.matching.vehicles == [] and len(doc.matching.tracklets) == 8
    write_snapshots(doc.snapshots())
    load_model(data.ds.matching_path(PAIR), PairMatching)  # every state we pass through is a valid file


def test_vehicle_ids_never_collide_with_another_pair(data: PairData, qtbot) -> None:
    other = PairMatching.model_validate({"pair_id": "p9", "vehicles": [{"id": 500, "tracklets": []}]})
    data.ds.save_matching(other)
    doc = _open(data.root)
    vid = doc.link(_tracklet_of(doc, data, 0, CLIP_A), _tracklet_of(doc, data, 0, CLIP_B))
    assert vid == 501

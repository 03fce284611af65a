"""Stage 4 without widgets: part boxes, "none" vs "todo", proposals, undo, provenance."""
from __future__ import annotations

from pathlib import Path

import pytest

from annotator.attributes.pair import WorkClock
from annotator.autosave import write_snapshots
from annotator.document import EditRefused
from annotator.parts.controller import PartsController, Selection
from annotator.parts.document import PartsDocument
from annotator.parts.proposals import from_detections_file, load_proposals
from schemas import ClipAnnotations, PartDetections, ScoredBox
from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import VraiToolsError
from vrai_tools.storage import load_model, save_model

from .stages34_fixtures import PAIR, pair_root, stages34_template  # noqa: F401

pytestmark = pytest.mark.usefixtures("qapp")


def load(root: Path) -> PartsDocument:
    ds = DatasetRoot(root)
    return PartsDocument.load(ds, ds.manifest(), PAIR, "tester")  # type: ignore[return-value]


def inner(doc: PartsDocument, key: str, a: float = 0.2, b: float = 0.6) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = doc.instance(key).bbox
    return (x1 + a * (x2 - x1), y1 + a * (y2 - y1), x1 + b * (x2 - x1), y1 + b * (y2 - y1))


def saved(root: Path, key: str) -> ClipAnnotations:
    return load_model(root / "annotations" / f"{key.rpartition(':')[0]}.json", ClipAnnotations)


def test_boxes_none_and_todo_are_three_different_answers(pair_root: Path) -> None:
    doc = load(pair_root)
    k1, k2, k3 = doc.walk()[:3]
    assert {doc.parts(k).state for k in (k1, k2, k3)} == {"todo"}
    doc.add_box(k1, inner(doc, k1), seconds=4.0)
    doc.mark_none(k2, seconds=2.0)
    assert doc.parts(k1).state == "done" and len(doc.parts(k1).boxes) == 1
    assert doc.parts(k2).state == "none" and doc.parts(k2).boxes == []
    assert doc.parts(k3).state == "todo"
    assert doc.done_count() == 2
    # deleting the last box is not an answer: back to "todo", not "none"
    doc.add_box(k3, inner(doc, k3))
    doc.delete_boxes(k3, [0])
    assert doc.parts(k3).state == "todo"
    # "none" replaces boxes, in one undoable step
    doc.mark_none(k1)
    assert doc.parts(k1).state == "none"
    doc.undo_stack.undo()
    assert doc.parts(k1).state == "done" and len(doc.parts(k1).boxes) == 1
    write_snapshots(doc.snapshots())
    on_disk = {**saved(pair_root, k1).by_key(), **saved(pair_root, k2).by_key()}
    assert on_disk[k1].parts.state == "done" and on_disk[k2].parts.state == "none"
    assert on_disk[k1].provenance["parts"].seconds == pytest.approx(4.0)
    assert on_disk[k2].provenance["parts"].annotator == "tester"


def test_boxes_are_clamped_into_the_vehicle_box_and_tiny_ones_refused(pair_root: Path) -> None:
    doc = load(pair_root)
    key = doc.walk()[0]
    x1, y1, x2, y2 = doc.instance(key).bbox
    doc.add_box(key, (x2 - 3, y2 - 3, x2 + 50, y2 + 50))  # drawn past the crop's edge
    assert doc.parts(key).boxes == [(round(x2 - 3, 2), round(y2 - 3, 2), x2, y2)]
    with pytest.raises(EditRefused, match="1×1"):
        doc.add_box(key, (x1 + 2, y1 + 2, x1 + 2.5, y1 + 6))
    with pytest.raises(EditRefused):
        doc.add_box(key, (x2 + 5, y2 + 5, x2 + 20, y2 + 20))  # entirely outside
    write_snapshots(doc.snapshots())
    saved(pair_root, key)  # what was written passes the schema (parts inside the bbox)


def test_a_drag_is_one_undo_step(pair_root: Path) -> None:
    doc = load(pair_root)
    key = doc.walk()[0]
    doc.add_box(key, inner(doc, key, 0.1, 0.4))
    token = object()
    for step in range(1, 6):
        doc.set_box(key, 0, inner(doc, key, 0.1 + 0.02 * step, 0.4 + 0.02 * step), merge=token)
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    assert doc.parts(key).boxes == [doc.check_box(key, inner(doc, key, 0.1, 0.4))]


def test_proposals_are_accepted_or_rejected_undoably(pair_root: Path, tmp_path: Path) -> None:
    doc = load(pair_root)
    k1, k2 = doc.walk()[:2]
    det = PartDetections(detector="tiny", instances={
        k1: [ScoredBox(box=inner(doc, k1, 0.1, 0.3), score=0.9), ScoredBox(box=inner(doc, k1, 0.5, 0.7), score=0.4)],
        k2: [ScoredBox(box=inner(doc, k2), score=0.6)],
    })
    path = tmp_path / "detections.json"
    save_model(path, det)
    assert set(from_detections_file(path, [k1])) == {k1}
    doc.set_proposals(load_proposals(doc.root, path, doc.walk()))
    assert doc.proposal_count() == 3
    assert doc.snapshots() == []  # proposals are not edits: nothing to save
    p_second = doc.proposals(k1)[1]
    assert doc.accept_proposals(k1, [p_second.id]) == 1
    assert doc.parts(k1).boxes == [p_second.box] and len(doc.proposals(k1)) == 1
    assert doc.reject_proposals(k1) == 1
    assert doc.proposals(k1) == () and doc.parts(k1).state == "done"
    doc.undo_stack.undo()
    assert len(doc.proposals(k1)) == 1  # the rejected proposal is back
    doc.undo_stack.undo()
    assert len(doc.proposals(k1)) == 2 and doc.parts(k1).state == "todo"
    with pytest.raises(VraiToolsError, match="no such"):
        load_proposals(doc.root, tmp_path / "missing-run", doc.walk())


def test_keys_walk_the_vehicles_crops_and_answer_them(pair_root: Path) -> None:
    doc = load(pair_root)
    c = PartsController(doc, WorkClock())
    order = doc.walk()
    first_group = c.group
    assert c.key == order[0] and first_group is not None
    assert c.draw_box(inner(doc, order[0]))
    assert c.selection == Selection("box", 0)
    c.accept()  # no proposals, answered: next crop
    assert c.key == order[1]
    c.accept()  # not answered: stays, says what to do
    assert c.key == order[1]
    c.mark_none()  # none, and on
    assert c.key == order[2] and doc.parts(order[1]).state == "none"
    c.next_group()
    assert c.group is not None and c.group.id != first_group.id and c.key == c.group.keys[0]
    c.prev_todo()  # back to the previous vehicle's last crop still to do
    assert c.key == first_group.keys[-1]
    c.goto_key(order[0])
    c.select(Selection("box", 0))
    c.delete_selected()
    assert doc.parts(order[0]).state == "todo"
    doc.set_proposals({order[0]: [(inner(doc, order[0]), 0.8)]})
    c.accept()  # accepts every proposal, then moves on
    assert doc.parts(order[0]).state == "done" and c.key == order[1]


def test_instances_outside_any_tracklet_are_still_reachable(pair_root: Path) -> None:
    ds = DatasetRoot(pair_root)
    m = ds.matching(PAIR)
    gone = m.vehicles[-1]
    tracklets = [t for t in m.tracklets if t.id not in gone.tracklets]
    ds.save_matching(m.model_copy(update={"vehicles": m.vehicles[:-1], "tracklets": tracklets}))
    doc = load(pair_root)
    loose = [g for g in doc.groups if g.kind == "loose"]
    assert loose and all(doc.group_of(k) is g for g in loose for k in g.keys)
    assert doc.instance_count() == sum(len(ds.annotations(c).instances) for c in ("p001-A", "p001-B"))

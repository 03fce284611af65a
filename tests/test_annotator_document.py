"""The stage-1 document and its undo stack, without widgets."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from annotator.document import ClipDocument, EditRefused  # noqa: E402
from schemas import ClipAnnotations  # noqa: E402
from tests.annotator_fixtures import SynthClip, load_document, synth_clip  # noqa: E402,F401
from vrai_tools.storage import dump_model, load_model  # noqa: E402

QUAD = [(10.0, 10.0), (40.0, 12.0), (38.0, 30.0), (9.0, 28.0)]


@pytest.fixture
def doc(qapp, synth_clip: SynthClip) -> ClipDocument:
    return load_document(synth_clip.root)


def test_add_undo_redo_keeps_the_key_and_derives_the_box(doc: ClipDocument) -> None:
    seen: list[int] = []
    doc.instancesChanged.connect(seen.append)
    key = doc.add_instance(0, QUAD)
    inst = doc.instance(key)
    assert key == "p1-A:0" and inst.bbox == (9.0, 10.0, 40.0, 30.0)
    prov = inst.provenance["corners"]
    assert (prov.annotator, prov.source) == ("tester", "human")
    assert seen == [0] and not doc.is_saved
    doc.undo_stack.undo()
    assert doc.instances_on(0) == []
    doc.undo_stack.redo()
    assert doc.instance(key) == inst
    doc.undo_stack.undo()
    assert doc.add_instance(0, QUAD) == "p1-A:1"  # keys are never reused


@pytest.mark.parametrize("corners, message", [
    ([(10, 10), (10, 10), (30, 30), (5, 30)], "same point"),
    ([(10, 10), (20, 10), (30, 10), (5, 30)], "collinear"),
    ([(10, 10), (400, 10), (30, 30), (5, 30)], "outside the 320x180 frame"),
    ([(10, 10), (20, 10), (30, 30)], "4 corners"),
])
def test_bad_corners_are_refused_and_nothing_is_recorded(doc: ClipDocument, corners, message: str) -> None:
    with pytest.raises(EditRefused, match=message):
        doc.add_instance(0, corners)
    assert doc.undo_stack.count() == 0 and doc.instance_count() == 0 and doc.is_saved


def test_a_drag_and_a_run_of_nudges_each_undo_as_one_step(doc: ClipDocument) -> None:
    key = doc.add_instance(1, QUAD)
    doc.set_corners(key, [(12, 11), *QUAD[1:]], merge="drag-1")
    doc.set_corners(key, [(14, 12), *QUAD[1:]], merge="drag-1")
    for _ in range(3):
        doc.translate([key], 1, 0, merge=("nudge", key))
    assert doc.undo_stack.count() == 3  # add, drag, nudges
    assert doc.instance(key).corners[0] == (17.0, 12.0)
    doc.undo_stack.undo()
    assert doc.instance(key).corners[0] == (14.0, 12.0)
    doc.undo_stack.undo()
    assert doc.instance(key).corners == tuple(QUAD)
    doc.set_corners(key, [(20, 11), *QUAD[1:]], merge="drag-2")
    doc.set_corners(key, [(21, 11), *QUAD[1:]], merge="drag-3")  # another drag: its own step
    assert doc.undo_stack.count() == 3


def test_delete_and_undo_restore_the_exact_instance(doc: ClipDocument) -> None:
    key = doc.add_instance(2, QUAD)
    before = doc.instance(key)
    doc.delete([key])
    assert not doc.has_instance(key)
    doc.undo_stack.undo()
    assert doc.instance(key) == before


def test_proposals_accept_all_or_one_delete_and_undo(doc: ClipDocument) -> None:
    changed: list[int] = []
    doc.changed.connect(lambda: changed.append(1))
    other = [(100.0, 50.0), (140.0, 52.0), (138.0, 70.0), (99.0, 68.0)]
    doc.set_proposals(1, [(tuple(QUAD), "p1-A:7", 0.9), (tuple(other), "p1-A:8", 0.8)])
    assert len(doc.proposals_on(1)) == 2 and changed == []  # proposals are not saved data
    first, second = doc.proposals_on(1)
    doc.delete_proposals(1, [second.id])
    assert doc.proposals_on(1) == (first,) and changed == []
    doc.undo_stack.undo()
    assert doc.proposals_on(1) == (first, second)
    keys = doc.accept_proposals(1, [second.id])
    assert [doc.instance(k).corners for k in keys] == [tuple(other)]
    assert doc.instance(keys[0]).provenance["corners"].source == "carried"
    assert doc.proposals_on(1) == (first,)
    keys = doc.accept_proposals(1)
    assert len(doc.instances_on(1)) == 2 and doc.proposals_on(1) == ()
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.instances_on(1) == [] and doc.proposals_on(1) == (first, second)


def test_moving_a_proposal_corner_then_accepting_keeps_the_adjustment(doc: ClipDocument) -> None:
    doc.set_proposals(0, [(tuple(QUAD), "p1-A:3", 0.9)])
    (p,) = doc.proposals_on(0)
    doc.set_proposal_corners(0, p.id, [(5, 5), *QUAD[1:]])
    (key,) = doc.accept_proposals(0)
    assert doc.instance(key).corners[0] == (5.0, 5.0)


def test_marking_a_frame_done_shares_its_seconds_among_its_instances(doc: ClipDocument) -> None:
    a = doc.add_instance(0, QUAD)
    b = doc.add_instance(0, [(x + 100, y) for x, y in QUAD])
    doc.set_frame_done(0, True, seconds=9.0)
    assert doc.is_done(0)
    assert [doc.instance(k).provenance["corners"].seconds for k in (a, b)] == [4.5, 4.5]
    doc.set_frame_done(0, False)
    doc.set_frame_done(0, True, seconds=3.0)  # revisited: the time adds up
    assert doc.instance(a).provenance["corners"].seconds == 6.0
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.is_done(0) and doc.instance(a).provenance["corners"].seconds == 4.5
    doc.undo_stack.undo()
    assert not doc.is_done(0) and doc.instance(a).provenance["corners"].seconds == 0.0


def test_read_only_document_refuses_every_edit(qapp, synth_clip: SynthClip) -> None:
    doc = load_document(synth_clip.root, read_only="held by alice@host")
    with pytest.raises(EditRefused, match="read-only: held by alice"):
        doc.add_instance(0, QUAD)
    with pytest.raises(EditRefused):
        doc.set_frame_done(0, True)
    assert doc.undo_stack.count() == 0


def test_snapshot_is_a_valid_file_and_round_trips(doc: ClipDocument, tmp_path: Path) -> None:
    doc.add_instance(3, QUAD)
    doc.add_instance(0, [(x + 100, y) for x, y in QUAD])
    doc.set_frame_done(0, True, seconds=2.0)
    path = tmp_path / "out.json"
    path.write_text(dump_model(doc.snapshot()))
    loaded = load_model(path, ClipAnnotations)  # full validation
    assert [i.frame for i in loaded.instances] == [0, 3] and loaded.frames_done == [0]
    snap_before = doc.snapshot()
    doc.add_instance(1, QUAD)
    assert len(snap_before.instances) == 2  # a taken snapshot never changes under the writer
    reopened = ClipDocument(doc.root, doc.clip, loaded, "bob")
    assert reopened.add_instance(2, QUAD) == "p1-A:2"  # numbering continues after the saved keys

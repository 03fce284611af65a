"""Stage 1 as user actions (clicks and keys) on the controller, without widgets."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from annotator.frame_cache import FrameCache  # noqa: E402
from annotator.stages.corners.controller import ActivityClock, CornersController, Selection  # noqa: E402
from tests.annotator_fixtures import SynthClip, box_of, iou, load_document, synth_clip  # noqa: E402,F401

QUAD = [(10.0, 10.0), (40.0, 12.0), (38.0, 30.0), (9.0, 28.0)]


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def ctl(qapp, synth_clip: SynthClip):
    doc = load_document(synth_clip.root)
    cache = FrameCache(doc.root, doc.clip)
    c = CornersController(doc, cache)
    yield c
    c.close()
    cache.close()


def click_all(c: CornersController, corners) -> None:
    for x, y in corners:
        c.click(x, y)


def test_four_clicks_make_a_selected_vehicle_and_esc_cancels_a_partial_one(ctl: CornersController) -> None:
    click_all(ctl, QUAD)
    (inst,) = ctl.doc.instances_on(0)
    assert inst.bbox == (9.0, 10.0, 40.0, 30.0) and ctl.selection == Selection("instance", inst.key)
    click_all(ctl, QUAD[:3])
    assert len(ctl.draft) == 3
    ctl.cancel()
    assert ctl.draft == [] and len(ctl.doc.instances_on(0)) == 1
    ctl.cancel()
    assert ctl.selection is None


def test_degenerate_corners_are_refused_at_the_click_that_makes_them(ctl: CornersController) -> None:
    messages: list[str] = []
    ctl.message.connect(messages.append)
    click_all(ctl, [(10, 10), (20, 10), (30, 10)])  # the 3rd is on the line of the first two
    assert "collinear" in messages[-1] and len(ctl.draft) == 2
    click_all(ctl, [(40, 30), (25, 20)])  # the 4th lies on the line from corner 2 back to corner 0
    assert "collinear" in messages[-1] and len(ctl.draft) == 3 and ctl.doc.instance_count() == 0
    ctl.click(10, 30)
    assert ctl.doc.instance_count() == 1 and ctl.draft == []


def test_clicks_just_outside_snap_to_the_border_far_outside_are_refused(ctl: CornersController) -> None:
    messages: list[str] = []
    ctl.message.connect(messages.append)
    ctl.click(-200, 5)
    assert ctl.draft == [] and messages == ["click inside the frame"]
    click_all(ctl, [(-3, 2), (30, -2), (35, 20), (2, 25)])
    (inst,) = ctl.doc.instances_on(0)
    assert inst.corners[0] == (0.0, 2.0) and inst.corners[1] == (30.0, 0.0)


def test_enter_finishes_the_frame_moves_on_and_records_the_time(ctl: CornersController) -> None:
    fake = FakeTime()
    ctl.clock = ActivityClock(now=fake)
    ctl.carry_enabled = False
    for i, (x, y) in enumerate(QUAD + [(x + 60, y) for x, y in QUAD]):
        fake.t += 1.5
        ctl.click(x, y)
    fake.t += 3.0
    ctl.accept()
    assert ctl.doc.is_done(0) and ctl.frame == 1
    seconds = [i.provenance["corners"].seconds for i in ctl.doc.instances_on(0)]
    assert seconds == [7.5, 7.5]  # 8 clicks × 1.5 s + 3 s, shared by two vehicles
    fake.t += 3600  # a long break counts as at most ActivityClock.IDLE_CAP
    ctl.toggle_done()
    assert ctl.doc.is_done(1)
    ctl.toggle_done()
    assert not ctl.doc.is_done(1)


def test_carry_over_proposes_the_previous_vehicles_where_they_went(qtbot, ctl: CornersController,
                                                                   synth_clip: SynthClip) -> None:
    for _, corners in synth_clip.truth[0]:
        click_all(ctl, corners)
    ctl.accept()  # frame 0 done, on to frame 1
    assert ctl.frame == 1
    qtbot.waitUntil(lambda: not ctl.busy, timeout=5000)
    proposals = ctl.doc.proposals_on(1)
    truth = [box_of(c) for _, c in synth_clip.truth[1]]
    assert len(proposals) == len(synth_clip.truth[0]) >= 2
    for p in proposals:
        assert max(iou(box_of(p.corners), t) for t in truth) > 0.8
    ctl.accept()  # Enter accepts all of them
    assert len(ctl.doc.instances_on(1)) == len(proposals) and not ctl.doc.is_done(1)
    ctl.accept()  # Enter again: the frame is done
    assert ctl.doc.is_done(1) and ctl.frame == 2


def test_selected_proposal_alone_is_accepted_or_deleted(qtbot, ctl: CornersController,
                                                        synth_clip: SynthClip) -> None:
    for _, corners in synth_clip.truth[0]:
        click_all(ctl, corners)
    ctl.next_frame()
    qtbot.waitUntil(lambda: not ctl.busy, timeout=5000)
    n = len(ctl.doc.proposals_on(1))
    ctl.select_step(1)  # Tab: the first proposal (no instances yet)
    assert ctl.selection is not None and ctl.selection.kind == "proposal"
    ctl.delete_selected()
    assert len(ctl.doc.proposals_on(1)) == n - 1 and ctl.selection is None
    ctl.select_step(1)
    ctl.accept()
    assert len(ctl.doc.instances_on(1)) == 1 and len(ctl.doc.proposals_on(1)) == n - 2
    ctl.prev_frame()
    ctl.next_frame()  # coming back does not propose again what was deleted
    qtbot.waitUntil(lambda: not ctl.busy, timeout=5000)
    assert len(ctl.doc.proposals_on(1)) == n - 2


def test_done_frames_get_no_proposals(qtbot, ctl: CornersController) -> None:
    click_all(ctl, QUAD)
    ctl.doc.set_frame_done(1, True)
    ctl.next_frame()
    assert not ctl.busy and ctl.doc.proposals_on(1) == ()


def test_nudges_stop_at_the_border_and_undo_as_one(ctl: CornersController) -> None:
    click_all(ctl, QUAD)
    key = str(ctl.selection.id)  # type: ignore[union-attr]
    for _ in range(15):
        ctl.nudge(-1, 0)
    assert ctl.doc.instance(key).bbox[0] == 0.0  # stopped at the left border
    ctl.doc.undo_stack.undo()
    assert ctl.doc.instance(key).corners == tuple(QUAD)


def test_unfinished_frame_navigation(ctl: CornersController) -> None:
    ctl.carry_enabled = False
    ctl.doc.set_frame_done(1, True)
    ctl.doc.set_frame_done(2, True)
    ctl.next_unfinished()
    assert ctl.frame == 3
    ctl.prev_unfinished()
    assert ctl.frame == 0
    ctl.goto_frame(2)
    assert ctl.frame == 2

"""Tracklets inside a clip: the assignment solver, automatic building, and the pure corrections."""
from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from schemas import ClipAnnotations, Instance, PairMatching, Tracklet, Vehicle
from tests.matching_fixtures import CLIP_A, CLIP_B, make_pair_dataset
from vrai_tools.tracklets import (
    INFEASIBLE,
    MatchingError,
    assign,
    build_tracklets,
    build_tracks,
    hungarian,
    merge_tracklets,
    move_instance,
    split_tracklet,
    sync_with_annotations,
)


def _box(key: str, frame: int, x: float, y: float, length: float = 20.0, width: float = 10.0) -> Instance:
    return Instance.from_corners(key, frame, [(x, y), (x + length, y), (x + length, y + width), (x, y + width)])


# ----------------------------------------------------------------------------- assignment


@pytest.mark.parametrize("rows,cols", [(1, 1), (3, 3), (2, 5), (4, 4), (5, 3)])
def test_assignment_is_optimal_against_brute_force(rows: int, cols: int) -> None:
    rnd = random.Random(rows * 10 + cols)
    for _ in range(20):
        cost = [[rnd.uniform(0, 10) for _ in range(cols)] for _ in range(rows)]
        pairs = assign(cost)
        got = sum(cost[i][j] for i, j in pairs)
        n = min(rows, cols)
        assert len(pairs) == n
        if rows <= cols:
            best = min(sum(cost[i][p[i]] for i in range(rows)) for p in itertools.permutations(range(cols), rows))
        else:
            best = min(sum(cost[p[j]][j] for j in range(cols)) for p in itertools.permutations(range(rows), cols))
        assert got == pytest.approx(best)
        assert len({i for i, _ in pairs}) == n and len({j for _, j in pairs}) == n


def test_assignment_leaves_out_infeasible_pairs() -> None:
    cost = [[1.0, INFEASIBLE], [INFEASIBLE, INFEASIBLE]]
    assert assign(cost) == [(0, 0)]
    assert hungarian([]) == []
    assert assign([]) == []


# ----------------------------------------------------------------------------- building


def test_built_tracklets_follow_each_car(tmp_path: Path) -> None:
    data = make_pair_dataset(tmp_path / "ds")
    ds = data.ds
    manifest = ds.manifest()
    for clip in manifest.clips:
        ann = ds.annotations(clip.id, manifest)
        tracklets = build_tracklets(ann, [f.index for f in clip.frames], "tester")
        cars = [{data.truth[k] for k in t.instances} for t in tracklets]
        assert all(len(c) == 1 for c in cars), cars  # never two cars in one tracklet
        expected = {data.truth[i.key] for i in ann.instances}
        assert sorted(next(iter(c)) for c in cars) == sorted(expected)  # one tracklet per car
        for t in tracklets:
            frames = [ann.by_key()[k].frame for k in t.instances]
            assert frames == sorted(frames) and len(set(frames)) == len(frames)
            assert t.provenance is not None and t.provenance.source == "model"
        PairMatching(pair_id="p1", tracklets=tracklets)  # valid as a file


def test_a_missed_box_does_not_break_the_track() -> None:
    insts = [_box(f"c:{k}", k, 10 + 15 * k, 40) for k in range(6) if k != 3]
    assert build_tracks(range(6), insts) == [["c:0", "c:1", "c:2", "c:4", "c:5"]]


def test_a_new_track_follows_the_vehicle_axis_not_the_nearest_box() -> None:
    """A car seen once has no velocity yet: it drives along its long side, never sideways."""
    insts = [
        _box("c:0", 0, 10, 40),  # a car driving right, 18 px per sample
        _box("c:1", 1, 28, 40),
        _box("c:2", 1, 12, 54),  # another car, next lane, nearer to the first box
        _box("c:3", 2, 46, 40),
        _box("c:4", 2, 30, 54),
    ]
    tracks = build_tracks(range(3), insts)
    assert sorted(tracks) == [["c:0", "c:1", "c:3"], ["c:2", "c:4"]]


def test_a_car_leaving_the_picture_does_not_continue_as_the_next_one_entering() -> None:
    insts = [
        _box("c:0", 0, 100, 40), _box("c:1", 1, 120, 40), _box("c:2", 2, 138, 40),  # leaves at the right edge
        _box("c:3", 3, 140, 44),  # someone else entering right there, driving left
        _box("c:4", 4, 122, 44),
    ]
    tracks = build_tracks(range(5), insts, frame_size=(160, 96))
    assert ["c:0", "c:1", "c:2"] in tracks
    assert ["c:3", "c:4"] in tracks


def test_sync_builds_new_tracklets_and_forgets_deleted_boxes(tmp_path: Path) -> None:
    data = make_pair_dataset(tmp_path / "ds")
    ds = data.ds
    manifest = ds.manifest()
    clips = {c.id: (ds.annotations(c.id, manifest), [f.index for f in c.frames]) for c in manifest.clips}
    first, notes = sync_with_annotations(PairMatching(pair_id="p1"), clips, "tester")
    assert len(first.tracklets) == 8 and len(notes) == 2
    again, notes = sync_with_annotations(first, clips, "tester")
    assert again == first and notes == []

    # a decision exists; then stage 1 deletes every box of one linked tracklet and adds a box
    ta = next(t for t in first.tracklets if t.clip_id == CLIP_A)
    tb = next(t for t in first.tracklets if t.clip_id == CLIP_B)
    decided = first.model_copy(update={"vehicles": [Vehicle(id=7, tracklets=[ta.id, tb.id])]})
    ann_a, order_a = clips[CLIP_A]
    kept = [i for i in ann_a.instances if i.key not in set(ta.instances)]
    extra = _box(f"{CLIP_A}:99", 0, 120, 86, 20, 8)
    clips[CLIP_A] = (ClipAnnotations(clip_id=CLIP_A, image_size=ann_a.image_size, instances=[*kept, extra]), order_a)
    synced, notes = sync_with_annotations(decided, clips, "tester")
    assert ta.id not in {t.id for t in synced.tracklets}
    assert synced.vehicles == [Vehicle(id=7, tracklets=[tb.id])]  # the vehicle keeps what is left of it
    new = [t for t in synced.tracklets if t.instances == [extra.key]]
    assert len(new) == 1 and new[0].id not in {t.id for t in first.tracklets}
    assert any("removed" in n for n in notes) and any("new tracklet" in n for n in notes)
    PairMatching.model_validate(synced.model_dump())


# ----------------------------------------------------------------------------- corrections

FRAMES = {f"a:{k}": k for k in range(8)} | {f"b:{k}": k for k in range(8)}


def _matching() -> PairMatching:
    return PairMatching(pair_id="p", tracklets=[
        Tracklet(id="a.t0000", clip_id="a", instances=["a:0", "a:1", "a:2", "a:3"]),
        Tracklet(id="a.t0001", clip_id="a", instances=["a:5", "a:6"]),
        Tracklet(id="a.t0002", clip_id="a", instances=["a:4"]),
        Tracklet(id="b.t0000", clip_id="b", instances=["b:0", "b:1"]),
    ], vehicles=[Vehicle(id=3, tracklets=["a.t0000", "b.t0000"])])


def test_split_keeps_the_head_linked_and_the_tail_undecided() -> None:
    m = _matching()
    before = m.model_dump()
    out, tail = split_tracklet(m, "a.t0000", "a:2", FRAMES, "ann", 2.5)
    assert m.model_dump() == before  # pure: the input is untouched
    assert tail == "a.t0003"
    assert out.tracklet("a.t0000").instances == ["a:0", "a:1"]
    assert out.tracklet(tail).instances == ["a:2", "a:3"]
    assert out.vehicles[0].tracklets == ["a.t0000", "b.t0000"]
    assert out.tracklet("a.t0000").provenance.seconds == 2.5
    PairMatching.model_validate(out.model_dump())
    with pytest.raises(MatchingError, match="first instance"):
        split_tracklet(m, "a.t0000", "a:0", FRAMES)
    with pytest.raises(MatchingError, match="not in it"):
        split_tracklet(m, "a.t0000", "a:5", FRAMES)


def test_merge_joins_in_time_order_and_inherits_the_vehicle() -> None:
    m = _matching()
    out = merge_tracklets(m, "a.t0001", "a.t0000", FRAMES, "ann")
    assert out.tracklet("a.t0001").instances == ["a:0", "a:1", "a:2", "a:3", "a:5", "a:6"]
    assert "a.t0000" not in {t.id for t in out.tracklets}
    assert out.vehicles == [m.vehicles[0].model_copy(update={"tracklets": ["a.t0001", "b.t0000"]})]
    PairMatching.model_validate(out.model_dump())


def test_merge_refuses_what_cannot_be_one_vehicle() -> None:
    m = _matching()
    with pytest.raises(MatchingError, match="two clips"):
        merge_tracklets(m, "a.t0000", "b.t0000", FRAMES)
    clash = m.model_copy(update={"tracklets": [*m.tracklets, Tracklet(id="a.t0009", clip_id="a", instances=["a:7"])]})
    frames = {**FRAMES, "a:7": 3}  # a:7 is on frame 3, like a:3
    with pytest.raises(MatchingError, match="frame 3"):
        merge_tracklets(clash, "a.t0000", "a.t0009", frames)
    two = m.model_copy(update={"vehicles": [*m.vehicles, Vehicle(id=4, tracklets=["a.t0001"])]})
    with pytest.raises(MatchingError, match="unlink one of them first"):
        merge_tracklets(two, "a.t0000", "a.t0001", FRAMES)


def test_move_an_instance_and_drop_what_is_emptied() -> None:
    m = _matching()
    out = move_instance(m, "a:4", "a.t0001", FRAMES, "ann")
    assert out.tracklet("a.t0001").instances == ["a:4", "a:5", "a:6"]
    assert "a.t0002" not in {t.id for t in out.tracklets}
    out2 = move_instance(m, "a:3", "a.t0002", FRAMES)
    assert out2.tracklet("a.t0002").instances == ["a:3", "a:4"]
    assert out2.tracklet("a.t0000").instances == ["a:0", "a:1", "a:2"]
    with pytest.raises(MatchingError, match="clip b"):
        move_instance(m, "a:4", "b.t0000", FRAMES)
    with pytest.raises(MatchingError, match="already has"):
        move_instance(m, "a:4", "a.t0000", {**FRAMES, "a:4": 2})
    # emptying a linked tracklet takes it out of its vehicle
    solo = PairMatching(pair_id="p", tracklets=[
        Tracklet(id="a.t0000", clip_id="a", instances=["a:0"]),
        Tracklet(id="a.t0001", clip_id="a", instances=["a:5"])],
        vehicles=[Vehicle(id=1, tracklets=["a.t0000"])])
    out3 = move_instance(solo, "a:0", "a.t0001", FRAMES)
    assert out3.vehicles == [] and [t.id for t in out3.tracklets] == ["a.t0001"]

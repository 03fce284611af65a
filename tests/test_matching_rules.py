"""Matching rules: the common clock, the time window, constraint propagation, decisions, vehicle ids."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from schemas import Attributes, Clip, Frame, Instance, PairMatching, Tracklet, Vehicle
from vrai_tools import matching_rules as rules
from vrai_tools.dataset import DatasetRoot
from vrai_tools.tracklets import MatchingError


def _clip(cid: str, cam: str, n: int, offset: float = 0.0, start: datetime | None = None) -> Clip:
    frames = [Frame(index=k, timestamp=0.5 * k, file=f"frames/{cid}/{k:06d}.jpg") for k in range(n)]
    return Clip(id=cid, pair="p", camera=cam, width=100, height=100, sync_offset=offset, start_time=start,
                frames=frames)


def _inst(key: str, frame: int) -> Instance:
    return Instance.from_corners(key, frame, [(10, 10), (30, 10), (30, 20), (10, 20)])


def _ctx(offset: float = 0.0) -> rules.PairContext:
    """Camera A: 20 samples (0..9.5 s); B: 20 samples, ``offset`` seconds later on the common clock."""
    a, b = _clip("a", "A", 20), _clip("b", "B", 20, offset)
    insts = [_inst(f"{c}:{n + k}", k) for c in "ab" for n in (0, 100) for k in range(20)]  # two boxes a frame
    return rules.PairContext.build("p", {"A": a, "B": b}, insts)


def _t(tid: str, clip: str, frames: range, second: bool = False) -> Tracklet:
    """A tracklet over ``frames``; ``second``: the frame's other box (another vehicle at the same time)."""
    return Tracklet(id=tid, clip_id=clip, instances=[f"{clip}:{k + 100 * second}" for k in frames])


def _m(*tracklets: Tracklet, vehicles: list[Vehicle] | None = None) -> PairMatching:
    return PairMatching(pair_id="p", tracklets=list(tracklets), vehicles=vehicles or [])


# ----------------------------------------------------------------------------- time


def test_clock_uses_srt_time_when_both_clips_have_it_else_the_sync_offset() -> None:
    t0 = datetime(2019, 3, 4, 12, 0, 0)
    a = _clip("a", "A", 3, start=t0)
    b = _clip("b", "B", 3, offset=99.0, start=t0 + timedelta(seconds=2.25))
    clocks, source = rules.pair_clocks([a, b])
    assert source == "SRT absolute time"
    assert clocks["a"] == {0: 0.0, 1: 0.5, 2: 1.0}
    assert clocks["b"] == {0: 2.25, 1: 2.75, 2: 3.25}  # the offset is ignored when absolute times exist
    b_frames = [f.model_copy(update={"abs_time": t0.replace(tzinfo=timezone.utc) + timedelta(seconds=10 + k)})
                for k, f in enumerate(b.frames)]
    clocks, _ = rules.pair_clocks([a, b.model_copy(update={"frames": b_frames})])
    assert clocks["b"] == {0: 10.0, 1: 11.0, 2: 12.0}  # per-frame SRT time wins over start + timestamp
    clocks, source = rules.pair_clocks([_clip("a", "A", 2), _clip("b", "B", 2, offset=4.0)])
    assert source == "clip time + sync_offset"
    assert clocks["b"] == {0: 4.0, 1: 4.5}


def test_candidates_are_the_other_camera_inside_the_window() -> None:
    ctx = _ctx(offset=0.0)
    m = _m(_t("a1", "a", range(0, 4)), _t("b1", "b", range(2, 6)), _t("b2", "b", range(10, 12)),
           _t("b3", "b", range(18, 20)), _t("a2", "a", range(8, 10)))
    got = {c.tracklet: c.gap for c in rules.candidates(ctx, m, "a1", window=4.0)}
    assert got == {"b1": 0.0, "b2": 3.5}  # b3 starts 7.5 s after a1 ends; a2 is the same camera
    assert [c.tracklet for c in rules.candidates(ctx, m, "a1", window=100)] == ["b1", "b2", "b3"]
    assert {c.tracklet for c in rules.candidates(ctx, m, "a1", window=2.0)} == {"b1"}
    shifted = _ctx(offset=-5.0)  # camera B started 5 s before camera A: b2 is what A sees at 0-1.5 s
    assert {c.tracklet for c in rules.candidates(shifted, m, "a1", window=2.0)} == {"b2"}


# ----------------------------------------------------------------------------- constraints


def test_one_camera_overlap_excludes_and_links_propagate() -> None:
    ctx = _ctx()
    a1, a2 = _t("a1", "a", range(0, 5)), _t("a2", "a", range(3, 8), second=True)  # seen at the same time: two vehicles
    b1, b2 = _t("b1", "b", range(0, 6)), _t("b2", "b", range(6, 9))
    m = _m(a1, a2, b1, b2)
    m, vid = rules.link(ctx, m, "a1", "b1", new_id=5)
    assert vid == 5 and m.vehicles == [Vehicle(id=5, tracklets=["a1", "b1"], provenance=m.vehicles[0].provenance)]
    by_id = {c.tracklet: c for c in rules.candidates(ctx, m, "a2", window=100)}
    assert by_id["b1"].excluded is not None and "same time" in by_id["b1"].excluded
    assert by_id["b1"].taken_by == 5
    assert by_id["b2"].excluded is None and by_id["b2"].taken_by is None
    with pytest.raises(MatchingError, match="same time"):
        rules.link(ctx, m, "a2", "b1", new_id=6)
    assert rules.link_problem(ctx, m, "a1", "b1") is not None  # already one vehicle
    assert {c.tracklet: c.linked for c in rules.candidates(ctx, m, "a1", window=100)} == {"b1": True, "b2": False}


def test_links_are_transitive_and_join_whole_vehicles() -> None:
    ctx = _ctx()
    a1, a2 = _t("a1", "a", range(0, 3)), _t("a2", "a", range(10, 13))  # the car drives out of A and back
    b1, b2 = _t("b1", "b", range(4, 7)), _t("b2", "b", range(15, 18))
    m = _m(a1, a2, b1, b2)
    m, v1 = rules.link(ctx, m, "a1", "b1", new_id=1)
    m, v2 = rules.link(ctx, m, "a2", "b2", new_id=2)
    m = m.model_copy(update={"vehicles": [
        v.model_copy(update={"attributes": Attributes(color="Red") if v.id == 1 else Attributes(type="SUV"),
                             "uncertain": v.id == 2}) for v in m.vehicles]})
    by_id = {c.tracklet: c for c in rules.candidates(ctx, m, "a2", window=100)}
    assert by_id["b1"].taken_by == 1 and by_id["b1"].excluded is None  # taken, but still pickable
    m, joined = rules.link(ctx, m, "a2", "b1", new_id=9)
    assert joined == 1 and len(m.vehicles) == 1
    v = m.vehicles[0]
    assert v.tracklets == ["a1", "a2", "b1", "b2"]  # b2 came along: links are transitive
    assert v.attributes == Attributes(color="Red", type="SUV") and v.uncertain
    PairMatching.model_validate(m.model_dump())


def test_unlink_no_match_uncertain_and_next_undecided() -> None:
    ctx = _ctx()
    m = _m(_t("a1", "a", range(0, 3)), _t("a2", "a", range(5, 8)), _t("b1", "b", range(0, 3)),
           _t("b2", "b", range(6, 9)))
    assert rules.next_undecided(ctx, m, "A") == "a1"
    m, vid = rules.link(ctx, m, "a1", "b1", new_id=0)
    assert rules.next_undecided(ctx, m, "A") == "a2"
    assert rules.next_undecided(ctx, m, "A", after="a2") == "a2"  # wraps round to the only one left
    m, solo = rules.set_no_match(m, "a2", new_id=1, annotator="ann", seconds=3.0)
    a2 = m.tracklet("a2")
    assert a2.no_match and a2.provenance.seconds == 3.0 and a2.provenance.annotator == "ann"
    assert Vehicle(id=1, tracklets=["a2"], provenance=m.vehicles[1].provenance) in m.vehicles
    assert rules.next_undecided(ctx, m, "A") is None
    assert rules.is_decided(m, a2)
    m = rules.set_uncertain(m, "a1", True)
    assert next(v for v in m.vehicles if v.id == vid).uncertain
    with pytest.raises(MatchingError, match="not decided"):
        rules.set_uncertain(m, "b2", True)
    # unlinking one side leaves the other undecided: the vehicle recorded nothing else
    m = rules.unlink(m, "b1")
    assert [v.id for v in m.vehicles] == [1]
    assert not rules.is_decided(m, m.tracklet("a1"))
    # "no match" on a linked tracklet unlinks it first
    m, _ = rules.link(ctx, m, "a1", "b1", new_id=4)
    m, nm = rules.set_no_match(m, "b1", new_id=8)
    assert nm == 8 and m.tracklet("b1").no_match and not rules.is_decided(m, m.tracklet("a1"))
    # linking clears "no match"
    m, _ = rules.link(ctx, m, "a2", "b2", new_id=12)
    assert not m.tracklet("a2").no_match and rules.is_decided(m, m.tracklet("a2"))
    PairMatching.model_validate(m.model_dump())


def test_query_order_is_by_first_appearance() -> None:
    ctx = _ctx()
    m = _m(_t("a9", "a", range(0, 2)), _t("a1", "a", range(4, 6)), _t("a5", "a", range(1, 3), second=True))
    assert rules.query_order(ctx, m, "A") == ["a9", "a5", "a1"]
    assert rules.next_undecided(ctx, m, "A", after="a1") == "a9"
    assert rules.next_undecided(ctx, m, "A", after="a9", step=-1) == "a1"


# ----------------------------------------------------------------------------- vehicle ids


def test_new_vehicle_ids_are_unique_across_the_dataset(tmp_path: Path) -> None:
    root = DatasetRoot(tmp_path)
    (tmp_path / "matching").mkdir()
    other = {"schema_version": 1, "pair_id": "q", "tracklets": [], "vehicles": [{"id": 41, "tracklets": []}]}
    (tmp_path / "matching" / "q.json").write_text(json.dumps(other))
    (tmp_path / "matching" / "broken.json").write_text("{ not json")  # another pair's problem, not ours
    ids = rules.VehicleIds(root, "p")
    here = _m(_t("a1", "a", range(2)), vehicles=[Vehicle(id=3, tracklets=["a1"])])
    assert ids.new_id(here) == 42
    other["vehicles"].append({"id": 100, "tracklets": []})
    path = tmp_path / "matching" / "q.json"
    path.write_text(json.dumps(other))
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))  # a later save by someone else
    assert ids.new_id(here) == 101
    assert rules.VehicleIds(None, "p").new_id(here) == 4

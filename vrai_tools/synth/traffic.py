"""Who drives where and when: each vehicle's passages under the two drones.

Vehicles drive along straight lanes at their lane's speed, so a passage is one line in
time: at common-clock time ``t0`` the vehicle is at arc position ``s0`` of its lane. Most
vehicles pass under one drone and, after a travel delay, under the other (paper: two
drones at adjacent locations); some pass under only one.

Scheduling guarantees what the labels need: every placed vehicle is labelled in at least
one sampled frame of each clip it is planned for (it is placed at a sampled instant where
the labelling rule holds), vehicles of one lane never overlap (same speed, spaced by a
safe gap) and crossing roads never put two vehicles in the junction at once.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

import numpy as np

from .config import SynthError
from .flight import Camera, Flight
from .geometry import affines, labelled
from .scene import Lane, Scene
from .vehicles import VehicleSpec

__all__ = ["ClipPlan", "Passage", "passage_poses", "schedule_pair"]

BOTH_CAMERAS = 0.86  # the rest is split evenly between "A only" and "B only"
TRIES_BOTH = 80
TRIES_ONE = 80
CROSS_ROAD_WEIGHT = 0.25  # a lane of the crossing road is chosen this much less often than a main-road lane


@dataclass(frozen=True)
class ClipPlan:
    """Everything about one clip that does not depend on the vehicles."""

    clip_id: str
    pair_id: str
    camera: str
    scene: Scene
    flight: Flight
    cam: Camera
    sync_offset: float  # local clip time + sync_offset = common clock of the pair
    sample_times: tuple[float, ...]  # local times of the frames that will be sampled (predicted)
    seconds: float = 0.0  # clip length


@dataclass(frozen=True)
class Passage:
    vehicle: int
    camera: str
    lane: int
    t0: float  # common clock
    s0: float  # arc position along the lane at t0


def passage_poses(lane: Lane, p: Passage, t_common: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = p.s0 + lane.speed * (np.asarray(t_common, float) - p.t0)
    x = lane.origin[0] + s * lane.direction[0]
    y = lane.origin[1] + s * lane.direction[1]
    return x, y, np.full_like(s, lane.angle)


def _lane_s(lane: Lane, x: float, y: float) -> float:
    return (x - lane.origin[0]) * lane.direction[0] + (y - lane.origin[1]) * lane.direction[1]


@dataclass
class _Occupancy:
    """Per clip: lane entry offsets (position at t = 0 of the common clock) and junction use."""

    lanes: dict[int, list[tuple[float, float]]] = field(default_factory=dict)  # lane -> sorted (entry, length)
    junction: dict[int, list[tuple[float, float]]] = field(default_factory=dict)  # road -> [(t_in, t_out)]

    def lane_free(self, lane: Lane, entry: float, length: float) -> bool:
        items = self.lanes.get(lane.id, [])
        gap = max(2.5, 0.5 * lane.speed)
        reach = length / 2 + 6.5 + gap  # the longest vehicle is 13 m
        i = bisect.bisect_left(items, (entry - reach, -1.0))
        while i < len(items) and items[i][0] <= entry + reach:
            e, ln = items[i]
            if abs(e - entry) < (ln + length) / 2 + gap:
                return False
            i += 1
        return True

    def junction_free(self, road: int, t_in: float, t_out: float) -> bool:
        for other, spans in self.junction.items():
            if other != road and any(a < t_out + 0.6 and t_in - 0.6 < b for a, b in spans):
                return False
        return True

    def add(self, lane: Lane, entry: float, length: float, jspan: tuple[float, float] | None) -> "_Undo":
        item = (entry, length)
        bisect.insort(self.lanes.setdefault(lane.id, []), item)
        if jspan is not None:
            self.junction.setdefault(lane.road, []).append(jspan)
        return _Undo(self, lane.id, item, lane.road, jspan)


@dataclass
class _Undo:
    occ: _Occupancy
    lane: int
    item: tuple[float, float]
    road: int
    jspan: tuple[float, float] | None

    def __call__(self) -> None:
        self.occ.lanes[self.lane].remove(self.item)
        if self.jspan is not None:
            self.occ.junction[self.road].remove(self.jspan)


def _junction_span(scene: Scene, lane: Lane, entry: float, length: float) -> tuple[float, float] | None:
    """When (common clock) a vehicle on ``lane`` is inside the junction box, if there is one."""
    if scene.kind != "intersection":
        return None
    half = (3.5 + 1.5) if lane.road == 0 else (scene.lanes_per_direction * 3.5 + 1.5)  # the other road's half width
    reach = half + length / 2
    return (-reach - entry) / lane.speed, (reach - entry) / lane.speed


class _ClipState:
    """Scheduling state of one clip: occupancy, and the drone's pose at every sampled instant
    (computed once; the scheduler asks for it thousands of times)."""

    def __init__(self, plan: ClipPlan) -> None:
        self.plan = plan
        self.occ = _Occupancy()
        self.times = np.array(plan.sample_times)
        self.poses = np.stack(plan.flight.pose(self.times), axis=1)  # (n, 4): x, y, altitude, heading
        self.lane_weights = np.array([1.0 if ln.road == 0 else CROSS_ROAD_WEIGHT for ln in plan.scene.lanes])

    def pick_time(self, rng: np.random.Generator, lo: float, hi: float) -> int | None:
        """Index of a random sampled instant of this clip with local time in [lo, hi]."""
        a, b = np.searchsorted(self.times, lo, "left"), np.searchsorted(self.times, hi, "right")
        return int(a + rng.integers(b - a)) if b > a else None


def _visible(st: _ClipState, lane: Lane, spec: VehicleSpec, p: Passage, k: int) -> bool:
    plan = st.plan
    pose = st.poses[k:k + 1]
    x, y, th = passage_poses(lane, p, st.times[k:k + 1] + plan.sync_offset)
    a = affines(x, y, th, pose[:, 0], pose[:, 1], pose[:, 2], pose[:, 3], plan.cam.focal, plan.cam.centre)
    ok, _ = labelled(a, np.array([spec.length]), np.array([spec.width]), plan.cam.width, plan.cam.height)
    return bool(ok[0])


def _try_place(rng: np.random.Generator, st: _ClipState, spec: VehicleSpec, k: int) -> tuple[Passage, _Undo] | None:
    """Put ``spec`` on a lane so that it is in view (jittered around the view's centre) at
    sampled instant ``k``; lanes are tried in a weighted random order. None when every lane
    collides or would leave the vehicle unlabelled."""
    plan = st.plan
    dx, dy, h, _ = st.poses[k].tolist()
    half = min(plan.cam.half_extent(h))
    jitter = float(rng.uniform(-0.7, 0.7)) * half
    t0 = round(float(st.times[k]) + plan.sync_offset, 6)
    order = np.argsort(-rng.random(len(st.lane_weights)) ** (1.0 / st.lane_weights))  # weighted shuffle
    for li in order.tolist():
        lane = plan.scene.lanes[li]
        p = Passage(vehicle=spec.id, camera=plan.camera, lane=lane.id, t0=t0, s0=round(_lane_s(lane, dx, dy) + jitter, 6))
        entry = p.s0 - lane.speed * p.t0
        if not st.occ.lane_free(lane, entry, spec.length):
            continue
        jspan = _junction_span(plan.scene, lane, entry, spec.length)
        if jspan is not None and not st.occ.junction_free(lane.road, *jspan):
            continue
        if not _visible(st, lane, spec, p, k):
            continue
        return p, st.occ.add(lane, entry, spec.length, jspan)
    return None


def schedule_pair(rng: np.random.Generator, vehicles: list[VehicleSpec], plans: dict[str, ClipPlan],
                  seconds: float) -> list[Passage]:
    """Passages for every vehicle of a pair (``plans``: camera -> clip plan)."""
    states = {cam: _ClipState(p) for cam, p in plans.items()}
    passages: list[Passage] = []
    for spec in vehicles:
        u = float(rng.uniform())
        want = ("A", "B") if u < BOTH_CAMERAS else (("A",) if u < (1 + BOTH_CAMERAS) / 2 else ("B",))
        placed: list[Passage] | None = None
        if len(want) == 2:
            placed = _place_both(rng, spec, states, seconds)
            if placed is None:
                want = ("A",) if rng.uniform() < 0.5 else ("B",)
        if placed is None:
            placed = _place_one(rng, spec, states[want[0]], seconds)
        if placed is None:
            placed = _place_one(rng, spec, states["B" if want[0] == "A" else "A"], seconds)
        if placed is None:
            raise SynthError(f"cannot fit {len(vehicles)} vehicles into {seconds:g} s clips of pair "
                             f"{plans['A'].pair_id} without collisions: use more --seconds or fewer --vehicles-per-pair")
        passages.extend(placed)
    return passages


def _place_one(rng: np.random.Generator, spec: VehicleSpec, st: _ClipState, seconds: float) -> list[Passage] | None:
    for _ in range(TRIES_ONE):
        k = st.pick_time(rng, 0.0, seconds)
        if k is None:
            return None
        placed = _try_place(rng, st, spec, k)
        if placed is not None:
            return [placed[0]]
    return None


def _place_both(rng: np.random.Generator, spec: VehicleSpec, states: dict[str, _ClipState],
                seconds: float) -> list[Passage] | None:
    for _ in range(TRIES_BOTH):
        first, second = ("A", "B") if rng.uniform() < 0.5 else ("B", "A")
        delay = float(rng.uniform(0.12, 0.45)) * seconds
        s1, s2 = states[first], states[second]
        k1 = s1.pick_time(rng, 0.02 * seconds, 0.98 * seconds - delay)
        if k1 is None:
            continue
        t1 = float(s1.times[k1])
        target = t1 + s1.plan.sync_offset + delay - s2.plan.sync_offset  # second clip's local time
        k2 = int(np.argmin(np.abs(s2.times - target)))
        if float(s2.times[k2]) + s2.plan.sync_offset <= t1 + s1.plan.sync_offset:
            continue
        a = _try_place(rng, s1, spec, k1)
        if a is None:
            continue
        b = _try_place(rng, s2, spec, k2)
        if b is None:
            a[1]()
            continue
        return sorted([a[0], b[0]], key=lambda p: p.camera)
    return None

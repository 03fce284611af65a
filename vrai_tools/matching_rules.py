"""The rules of cross-camera matching (stage 2), Qt-free: time, constraints, decisions.

- **Time.** Every frame of a pair is placed on the pair's common clock: the SRT absolute
  time when both clips have one (the drones' clocks come from GPS), else the clip's own
  timestamp plus its ``sync_offset``. Candidates for a query are the other camera's
  tracklets whose time span comes within ``window`` seconds of the query's.
- **Constraints propagate.** A vehicle is in one place at a time, so two tracklets of one
  camera that overlap in time are never the same vehicle; links are transitive (linking
  two tracklets joins their whole vehicles), and a join that would put two overlapping
  tracklets of one camera in one vehicle is refused. A candidate whose vehicle already
  holds a tracklet of the query's camera is shown as *taken* (still pickable: the
  vehicle may have left and come back); one that cannot be linked is *excluded*.
- **Decisions** (link, unlink, no match, uncertain) are pure functions from one
  :class:`~schemas.PairMatching` to the next. A new vehicle id is unique across the
  whole dataset (the ReID split needs that), so the caller passes the ids other pairs use.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping

from schemas import Attributes, Clip, Instance, Manifest, PairMatching, Provenance, Tracklet, Vehicle

from .dataset import DatasetRoot
from .errors import VraiToolsError
from .storage import read_json
from .tracklets import MatchingError, tidy_vehicles

DEFAULT_WINDOW = 30.0  # seconds between the end of one sighting and the start of the other


# ----------------------------------------------------------------------------- time


def _ts(t: datetime) -> float:
    """Naive SRT times are read as UTC: only differences between the two clips matter."""
    return (t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)).timestamp()


def _abs_seconds(clip: Clip) -> dict[int, float] | None:
    out: dict[int, float] = {}
    for f in clip.frames:
        if f.abs_time is not None:
            out[f.index] = _ts(f.abs_time)
        elif clip.start_time is not None:
            out[f.index] = _ts(clip.start_time) + f.timestamp
        else:
            return None
    return out


def pair_clocks(clips: Iterable[Clip]) -> tuple[dict[str, dict[int, float]], str]:
    """Common-clock seconds of every frame of the pair's clips, and which clock was used."""
    clips = list(clips)
    absolute = {c.id: _abs_seconds(c) for c in clips}
    if clips and all(a for a in absolute.values()):
        epoch = min(min(a.values()) for a in absolute.values() if a)
        return ({cid: {k: round(t - epoch, 6) for k, t in a.items()} for cid, a in absolute.items() if a},
                "SRT absolute time")
    return {c.id: {f.index: f.timestamp + c.sync_offset for f in c.frames} for c in clips}, "clip time + sync_offset"


# ----------------------------------------------------------------------------- the pair


@dataclass
class PairContext:
    """What the rules need to know about a pair besides its matching file (read-only here)."""

    pair_id: str
    clips: dict[str, Clip]  # camera -> clip
    instances: dict[str, Instance]  # key -> instance, both clips
    clock: dict[str, dict[int, float]]  # clip id -> frame index -> common-clock seconds
    clock_source: str = ""
    camera_of_clip: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.camera_of_clip = {c.id: cam for cam, c in self.clips.items()}
        self.frame_of: dict[str, int] = {k: i.frame for k, i in self.instances.items()}

    @classmethod
    def build(cls, pair_id: str, clips: Mapping[str, Clip], instances: Iterable[Instance]) -> "PairContext":
        clock, source = pair_clocks(clips.values())
        return cls(pair_id, dict(clips), {i.key: i for i in instances}, clock, source)

    @classmethod
    def load(cls, root: DatasetRoot, pair_id: str, manifest: Manifest | None = None) -> "PairContext":
        m = manifest or root.manifest()
        clips = m.pair_clips(pair_id)
        if not clips:
            raise VraiToolsError(f"{root.manifest_path}: pair {pair_id!r} has no clips")
        insts = [i for c in clips.values() for i in root.annotations(c.id, m).instances]
        return cls.build(pair_id, clips, insts)

    def other(self, camera: str) -> str:
        return "B" if camera == "A" else "A"

    def camera_of(self, t: Tracklet) -> str:
        return self.camera_of_clip.get(t.clip_id, "?")

    def time_of(self, key: str) -> float:
        inst = self.instances[key]
        return self.clock[inst.key.rpartition(":")[0]][inst.frame]

    def span(self, t: Tracklet) -> tuple[float, float]:
        """First and last common-clock time of a tracklet (keys unknown to stage 1 are skipped)."""
        times = [self.time_of(k) for k in t.instances if k in self.instances]
        return (min(times), max(times)) if times else (0.0, 0.0)

    def frame_span(self, t: Tracklet) -> tuple[int, int]:
        frames = [self.frame_of[k] for k in t.instances if k in self.frame_of]
        return (min(frames), max(frames)) if frames else (-1, -1)


def overlap_in_time(ctx: PairContext, a: Tracklet, b: Tracklet) -> bool:
    """Same clip and sharing a stretch of frames: two vehicles seen at once, never one."""
    if a.clip_id != b.clip_id or a.id == b.id:
        return False
    a0, a1 = ctx.frame_span(a)
    b0, b1 = ctx.frame_span(b)
    return a0 <= b1 and b0 <= a1


def time_gap(ctx: PairContext, a: Tracklet, b: Tracklet) -> float:
    """Seconds between two sightings (0 when they overlap)."""
    a0, a1 = ctx.span(a)
    b0, b1 = ctx.span(b)
    return max(0.0, b0 - a1, a0 - b1)


# ----------------------------------------------------------------------------- state queries


def vehicle_of(m: PairMatching) -> dict[str, Vehicle]:
    return {tid: v for v in m.vehicles for tid in v.tracklets}


def is_decided(m: PairMatching, t: Tracklet, owners: Mapping[str, Vehicle] | None = None) -> bool:
    """Linked to the other camera, or marked "no match"."""
    if t.no_match:
        return True
    owners = vehicle_of(m) if owners is None else owners
    v = owners.get(t.id)
    if v is None:
        return False
    clips = {m.tracklet(tid).clip_id for tid in v.tracklets}
    return len(clips) > 1


def link_problem(ctx: PairContext, m: PairMatching, a: str, b: str) -> str | None:
    """Why tracklets ``a`` and ``b`` cannot be the same vehicle, or None when they can."""
    ta, tb = m.tracklet(a), m.tracklet(b)
    if ta.clip_id == tb.clip_id:
        return f"{a} and {b} are in the same clip (merge them instead)"
    owners = vehicle_of(m)
    va, vb = owners.get(a), owners.get(b)
    if va is not None and va is vb:
        return f"{a} and {b} are already vehicle {va.id}"
    group_a = [m.tracklet(t) for t in va.tracklets] if va else [ta]
    group_b = [m.tracklet(t) for t in vb.tracklets] if vb else [tb]
    for x in group_a:
        for y in group_b:
            if overlap_in_time(ctx, x, y):
                return (f"{x.id} and {y.id} are seen at the same time in clip {x.clip_id}: "
                        "one vehicle cannot be in two places")
    return None


@dataclass(frozen=True)
class Candidate:
    tracklet: str
    gap: float  # seconds between the sightings
    taken_by: int | None = None  # vehicle that already holds a tracklet of the query's camera
    linked: bool = False  # already the query's vehicle
    no_match: bool = False  # decided: never seen by the query's camera
    excluded: str | None = None  # why it cannot be linked (constraint)


def candidates(ctx: PairContext, m: PairMatching, query: str, window: float = DEFAULT_WINDOW) -> list[Candidate]:
    """Tracklets of the other camera within ``window`` seconds of the query, in time order.

    Excluded ones are listed too, with the reason (the view greys them out), so the
    annotator can see why an obvious look-alike is not offered.
    """
    q = m.tracklet(query)
    owners = vehicle_of(m)
    vq = owners.get(query)
    cam = ctx.camera_of(q)
    other_clip = ctx.clips[ctx.other(cam)].id if ctx.other(cam) in ctx.clips else None
    out = []
    for t in m.tracklets:
        if t.clip_id != other_clip:
            continue
        gap = time_gap(ctx, q, t)
        if gap > window:
            continue
        v = owners.get(t.id)
        linked = v is not None and v is vq
        taken = None
        if v is not None and not linked and any(m.tracklet(x).clip_id == q.clip_id for x in v.tracklets):
            taken = v.id
        problem = None if linked else link_problem(ctx, m, query, t.id)
        out.append(Candidate(t.id, gap, taken, linked, t.no_match, problem))
    out.sort(key=lambda c: (ctx.span(m.tracklet(c.tracklet))[0], c.tracklet))
    return out


# ----------------------------------------------------------------------------- vehicle ids


class VehicleIds:
    """Hands out vehicle ids unique across the dataset.

    Other pairs' files are re-read (only when their mtime changed) every time a new id is
    needed, so two annotators on two pairs collide only if both link within the same
    autosave interval; ``vrai-tools validate`` catches that rare case. Other files are read
    as raw JSON and a broken one is skipped: another pair's problem must not stop this one.
    """

    def __init__(self, root: DatasetRoot | None, pair_id: str) -> None:
        self.root = root
        self.pair_id = pair_id
        self._seen: dict[Path, tuple[float, set[int]]] = {}

    def elsewhere(self) -> set[int]:
        if self.root is None:
            return set()
        folder = self.root.root / "matching"
        used: set[int] = set()
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            if path.stem == self.pair_id:
                continue
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            cached = self._seen.get(path)
            if cached is None or cached[0] != mtime:
                try:
                    data = read_json(path)
                except VraiToolsError:
                    data = {}
                ids = {v["id"] for v in (data.get("vehicles", []) if isinstance(data, dict) else [])
                       if isinstance(v, dict) and isinstance(v.get("id"), int)}
                cached = (mtime, ids)
                self._seen[path] = cached
            used |= cached[1]
        return used

    def new_id(self, m: PairMatching, reserved: Iterable[int] = ()) -> int:
        taken = self.elsewhere() | {v.id for v in m.vehicles} | set(reserved)
        return max(taken, default=-1) + 1


# ----------------------------------------------------------------------------- decisions


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _prov(old: Provenance | None, annotator: str, seconds: float) -> Provenance:
    spent = (old.seconds if old is not None and old.source == "human" else 0.0) + seconds
    return Provenance(annotator=annotator, at=_now(), seconds=round(spent, 3), source="human")


def _sorted(m: PairMatching) -> PairMatching:
    return m.model_copy(update={
        "tracklets": sorted(m.tracklets, key=lambda t: t.id),
        "vehicles": sorted(m.vehicles, key=lambda v: v.id),
    })


def _replace_tracklets(m: PairMatching, changed: Mapping[str, Tracklet]) -> list[Tracklet]:
    return [changed.get(t.id, t) for t in m.tracklets]


def link(
    ctx: PairContext, m: PairMatching, query: str, other: str, new_id: int, annotator: str = "vrai-tools",
    seconds: float = 0.0,
) -> tuple[PairMatching, int]:
    """Same vehicle: joins the vehicles of both tracklets (or makes one with id ``new_id``).

    The joined vehicle keeps the smaller id, the attributes annotated so far (the query's
    side wins where both set one) and is uncertain if either was. Both tracklets lose
    their "no match" mark. Returns the new matching and the vehicle id.
    """
    problem = link_problem(ctx, m, query, other)
    if problem:
        raise MatchingError(problem)
    owners = vehicle_of(m)
    vq, vo = owners.get(query), owners.get(other)
    members = list(dict.fromkeys([*(vq.tracklets if vq else [query]), *(vo.tracklets if vo else [other])]))
    olds = [v for v in (vq, vo) if v is not None]
    vid = min((v.id for v in olds), default=new_id)
    attrs = Attributes()
    for v in reversed(olds):  # query's vehicle last: its values win
        attrs = v.attributes.merged_over(attrs)
    old_prov = next((v.provenance for v in olds if v.provenance is not None), None)
    joined = Vehicle(id=vid, tracklets=sorted(members), attributes=attrs,
                     uncertain=any(v.uncertain for v in olds), provenance=_prov(old_prov, annotator, seconds))
    gone = {v.id for v in olds}
    vehicles = [v for v in m.vehicles if v.id not in gone] + [joined]
    changed = {}
    for tid in (query, other):
        t = m.tracklet(tid)
        changed[tid] = t.model_copy(update={"no_match": False, "provenance": _prov(t.provenance, annotator,
                                                                                     seconds if tid == query else 0.0)})
    for tid in members:  # the whole joined vehicle is decided now
        t = changed.get(tid) or m.tracklet(tid)
        if t.no_match:
            changed[tid] = t.model_copy(update={"no_match": False})
    return _sorted(m.model_copy(update={"tracklets": _replace_tracklets(m, changed), "vehicles": vehicles})), vid


def unlink(m: PairMatching, tid: str, annotator: str = "vrai-tools", seconds: float = 0.0) -> PairMatching:
    """Take one tracklet out of its vehicle (and clear its "no match"): it is undecided again.

    The rest of the vehicle stays together if it still records a decision; a vehicle left
    with one camera's tracklets and no "no match" is dissolved (see ``tidy_vehicles``).
    """
    t = m.tracklet(tid)
    owners = vehicle_of(m)
    v = owners.get(tid)
    if v is None and not t.no_match:
        return m
    vehicles = []
    for x in m.vehicles:
        if x is v:
            rest = [r for r in x.tracklets if r != tid]
            if rest:
                vehicles.append(x.model_copy(update={"tracklets": rest, "provenance": _prov(x.provenance, annotator, seconds)}))
        else:
            vehicles.append(x)
    changed = {tid: t.model_copy(update={"no_match": False, "provenance": _prov(t.provenance, annotator, seconds)})}
    out = m.model_copy(update={"tracklets": _replace_tracklets(m, changed), "vehicles": vehicles})
    return _sorted(tidy_vehicles(out, {v.id} if v is not None else set()))


def set_no_match(
    m: PairMatching, tid: str, new_id: int, annotator: str = "vrai-tools", seconds: float = 0.0,
) -> tuple[PairMatching, int]:
    """Decide "this vehicle never appears in the other camera".

    A tracklet linked across cameras is unlinked first. The tracklet then gets a vehicle
    of its own (id ``new_id``) unless it has one already (same-camera fragments joined
    earlier), like the vehicles seen by one camera only in ``vrai-tools synth`` output:
    the attributes stage and the "uncertain" flag need a vehicle to write to.
    Every tracklet of that vehicle is marked.
    """
    owners = vehicle_of(m)
    v = owners.get(tid)
    if v is not None and len({m.tracklet(x).clip_id for x in v.tracklets}) > 1:
        m = unlink(m, tid, annotator, 0.0)
        v = None
    if v is None:
        v = Vehicle(id=new_id, tracklets=[tid], provenance=_prov(None, annotator, seconds))
        vehicles = [*m.vehicles, v]
    else:
        vehicles = [x.model_copy(update={"provenance": _prov(x.provenance, annotator, seconds)}) if x.id == v.id else x
                    for x in m.vehicles]
    changed = {}
    for x in v.tracklets:
        tx = m.tracklet(x)
        changed[x] = tx.model_copy(update={
            "no_match": True, "provenance": _prov(tx.provenance, annotator, seconds if x == tid else 0.0)})
    return _sorted(m.model_copy(update={"tracklets": _replace_tracklets(m, changed), "vehicles": vehicles})), v.id


def set_uncertain(m: PairMatching, tid: str, uncertain: bool, annotator: str = "vrai-tools") -> PairMatching:
    """Flag the decision on a tracklet's vehicle as uncertain (for review); needs a decision first."""
    v = vehicle_of(m).get(tid)
    if v is None:
        raise MatchingError(f"tracklet {tid} is not decided yet: link it or mark it 'no match' first")
    vehicles = [x.model_copy(update={"uncertain": uncertain, "provenance": _prov(x.provenance, annotator, 0.0)})
                if x.id == v.id else x for x in m.vehicles]
    return m.model_copy(update={"vehicles": vehicles})


def next_undecided(ctx: PairContext, m: PairMatching, camera: str, after: str | None = None,
                   step: int = 1) -> str | None:
    """The next undecided tracklet of ``camera`` after ``after`` in time order (wrapping), or None."""
    order = query_order(ctx, m, camera)
    if not order:
        return None
    owners = vehicle_of(m)
    start = order.index(after) if after in order else (-1 if step > 0 else 0)
    n = len(order)
    for i in range(1, n + 1):
        tid = order[(start + step * i) % n]
        if not is_decided(m, m.tracklet(tid), owners):
            return tid
    return None


def query_order(ctx: PairContext, m: PairMatching, camera: str) -> list[str]:
    """Tracklets of one camera by first appearance: the order queries are worked through."""
    clip = ctx.clips.get(camera)
    if clip is None:
        return []
    ts = [t for t in m.tracklets if t.clip_id == clip.id]
    ts.sort(key=lambda t: (ctx.span(t)[0], t.id))
    return [t.id for t in ts]

"""Tracklets inside one clip: built from the stage-1 boxes, and corrected by hand (stage 2).

Building links the boxes of consecutive sampled frames into tracks. Frames are sampled
every 0.5 s, so a car at road speed moves most of its own length between two samples
and boxes rarely overlap: linking is by *predicted position* (constant velocity from
the track's last two boxes) first and overlap second, solved per frame as a minimum-cost
assignment (a small Hungarian solver: scipy is not a dependency). A track may miss
``max_gap`` samples (an occluded or forgotten box) and still continue.

Corrections (split, merge, move one instance) are pure functions from one
:class:`~schemas.PairMatching` to a new one, so the annotator's undo stack, the
benchmark and the tests all run the same code. Inputs are never modified.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Mapping, Sequence

from schemas import ClipAnnotations, Instance, PairMatching, Provenance, Tracklet, Vehicle

from .errors import VraiToolsError

Box = tuple[float, float, float, float]
INFEASIBLE = 1e9


class MatchingError(VraiToolsError):
    """A stage-2 edit that would break a rule (tracklets of two clips merged, a frame twice, ...)."""


@dataclass(frozen=True)
class TrackerParams:
    """Gates are in units of the box diagonal, so they hold at any altitude and resolution."""

    first_gate: float = 2.2  # a track with one box: the next box may be this far from it
    gate: float = 0.5  # a moving track: this far from where it was predicted to be
    max_gap: int = 2  # samples a track may skip and continue
    size_weight: float = 0.6  # cost of a doubled/halved box area, in diagonals
    gap_cost: float = 0.35  # extra cost per skipped sample (prefer continuous tracks)
    sideways: float = 3.0  # a sideways step costs this many times a step along the vehicle


# ----------------------------------------------------------------------------- assignment


def hungarian(cost: Sequence[Sequence[float]]) -> list[int]:
    """Minimum-cost assignment of rows to columns (rows <= columns): the column of each row.

    The classic O(n²m) shortest-augmenting-path algorithm with potentials. Rows that can
    only be assigned at ``INFEASIBLE`` cost come back assigned anyway; callers gate them.
    """
    n = len(cost)
    m = len(cost[0]) if n else 0
    if n == 0:
        return []
    if n > m:
        raise ValueError(f"hungarian: {n} rows > {m} columns")
    inf = float("inf")
    u = [0.0] * (n + 1)
    v = [0.0] * (m + 1)
    p = [0] * (m + 1)  # p[j]: row (1-based) assigned to column j
    way = [0] * (m + 1)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = [inf] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0 = p[j0]
            delta, j1 = inf, 0
            row = cost[i0 - 1]
            for j in range(1, m + 1):
                if not used[j]:
                    cur = row[j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j] = cur
                        way[j] = j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while True:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
            if j0 == 0:
                break
    out = [-1] * n
    for j in range(1, m + 1):
        if p[j]:
            out[p[j] - 1] = j - 1
    return out


def assign(cost: Sequence[Sequence[float]], max_cost: float = INFEASIBLE) -> list[tuple[int, int]]:
    """Pairs (row, column) of a minimum-cost assignment, leaving out pairs costing ``max_cost`` or more."""
    n = len(cost)
    m = len(cost[0]) if n else 0
    if n == 0 or m == 0:
        return []
    if n <= m:
        cols = hungarian(cost)
        pairs = [(i, j) for i, j in enumerate(cols)]
    else:
        transposed = [[cost[i][j] for i in range(n)] for j in range(m)]
        rows = hungarian(transposed)
        pairs = [(i, j) for j, i in enumerate(rows)]
    return sorted((i, j) for i, j in pairs if j >= 0 and cost[i][j] < max_cost)


# ----------------------------------------------------------------------------- building


def _centre(b: Box) -> tuple[float, float]:
    return ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)


def _diag(b: Box) -> float:
    return max(math.hypot(b[2] - b[0], b[3] - b[1]), 1e-6)


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def long_axis(corners: Sequence[Sequence[float]]) -> tuple[float, float]:
    """Unit vector along the vehicle's longer side (the way it can drive), from its four corners."""
    cx = sum(p[0] for p in corners) / 4
    cy = sum(p[1] for p in corners) / 4
    pts = sorted(corners, key=lambda p: math.atan2(p[1] - cy, p[0] - cx))
    best = (0.0, 1.0, 0.0)
    for i in range(4):
        (x0, y0), (x1, y1) = pts[i], pts[(i + 1) % 4]
        n = math.hypot(x1 - x0, y1 - y0)
        if n > best[0]:
            best = (n, (x1 - x0) / n, (y1 - y0) / n)
    return best[1], best[2]


@dataclass
class _Track:
    keys: list[str]
    frames: list[int]  # positions in the clip's sampled-frame list
    boxes: list[Box]
    axis: tuple[float, float]  # long axis of the last box

    def predict(self, pos: int) -> tuple[tuple[float, float], bool]:
        """Predicted centre at sample position ``pos``, and whether a velocity was known."""
        cx, cy = _centre(self.boxes[-1])
        if len(self.boxes) < 2:
            return (cx, cy), False
        px, py = _centre(self.boxes[-2])
        steps = self.frames[-1] - self.frames[-2]
        vx, vy = (cx - px) / steps, (cy - py) / steps
        ahead = pos - self.frames[-1]
        return (cx + vx * ahead, cy + vy * ahead), True


def _inside_fraction(box: Box, cx: float, cy: float, size: tuple[int, int]) -> float:
    """How much of ``box``, moved to centre (cx, cy), stays inside the frame."""
    hw, hh = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
    w = max(0.0, min(cx + hw, size[0]) - max(cx - hw, 0.0))
    h = max(0.0, min(cy + hh, size[1]) - max(cy - hh, 0.0))
    return (w * h) / max(4 * hw * hh, 1e-6)


def _link_cost(track: _Track, pos: int, box: Box, p: TrackerParams, size: tuple[int, int] | None) -> float:
    last = track.boxes[-1]
    (px, py), moving = track.predict(pos)
    if moving and size is not None and _inside_fraction(last, px, py, size) < 0.5:
        return INFEASIBLE  # it has driven out of the picture; whoever enters there is someone else
    cx, cy = _centre(box)
    scale = (_diag(last) + _diag(box)) / 2
    dx, dy = cx - px, cy - py
    if moving:
        dist = math.hypot(dx, dy) / scale
    else:  # no velocity yet: vehicles drive along their long axis, not sideways
        ux, uy = track.axis
        along, across = dx * ux + dy * uy, dx * uy - dy * ux
        dist = math.hypot(along, p.sideways * across) / scale
    if dist > (p.gate if moving else p.first_gate):
        return INFEASIBLE
    area_a = max((last[2] - last[0]) * (last[3] - last[1]), 1e-6)
    area_b = max((box[2] - box[0]) * (box[3] - box[1]), 1e-6)
    growth = abs(math.log(area_b / area_a)) / math.log(2.0)
    if growth > 1.5:  # the box tripled or shrank to a third: another vehicle
        return INFEASIBLE
    skipped = pos - track.frames[-1] - 1
    return dist + p.size_weight * growth + p.gap_cost * skipped + (1.0 - iou(last, box)) * 0.1


def build_tracks(
    frame_order: Sequence[int], instances: Iterable[Instance], params: TrackerParams = TrackerParams(),
    frame_size: tuple[int, int] | None = None,
) -> list[list[str]]:
    """Instance keys grouped into tracks, each in time order; tracks sorted by their first box.

    ``frame_order`` is the clip's sampled frame indices in time order; instances on
    frames not listed there are ignored (they cannot be placed in time). With
    ``frame_size``, a track predicted to have left the picture is not continued.
    """
    position = {f: i for i, f in enumerate(frame_order)}
    by_pos: dict[int, list[Instance]] = {}
    for inst in instances:
        if inst.frame in position:
            by_pos.setdefault(position[inst.frame], []).append(inst)
    live: list[_Track] = []
    done: list[_Track] = []
    for pos in sorted(by_pos):
        dets = sorted(by_pos[pos], key=lambda i: (i.bbox[0], i.bbox[1], i.key))
        still: list[_Track] = []
        for t in live:
            (done if pos - t.frames[-1] - 1 > params.max_gap else still).append(t)
        live = still
        cost = [[_link_cost(t, pos, d.bbox, params, frame_size) for d in dets] for t in live]
        linked: set[int] = set()
        for ti, di in assign(cost):
            t, d = live[ti], dets[di]
            t.keys.append(d.key)
            t.frames.append(pos)
            t.boxes.append(d.bbox)
            t.axis = long_axis(d.corners)
            linked.add(di)
        for di, d in enumerate(dets):
            if di not in linked:
                live.append(_Track([d.key], [pos], [d.bbox], long_axis(d.corners)))
    done.extend(live)
    done.sort(key=lambda t: (t.frames[0], t.boxes[0][0], t.boxes[0][1], t.keys[0]))
    return [t.keys for t in done]


_TID = re.compile(r"^(?P<clip>.+)\.t(?P<n>[0-9]+)$")


def tracklet_id(clip_id: str, n: int) -> str:
    return f"{clip_id}.t{n:04d}"


def next_tracklet_number(matching: PairMatching, clip_id: str) -> int:
    """Numbers are never reused inside a clip, so an undone split cannot collide with a later one."""
    best = -1
    for t in matching.tracklets:
        m = _TID.match(t.id)
        if m and m.group("clip") == clip_id:
            best = max(best, int(m.group("n")))
    return best + 1


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def build_tracklets(
    ann: ClipAnnotations,
    frame_order: Sequence[int],
    annotator: str = "vrai-tools",
    start: int = 0,
    params: TrackerParams = TrackerParams(),
    keys: Iterable[str] | None = None,
) -> list[Tracklet]:
    """Automatic tracklets of one clip (``source="model"`` provenance), numbered from ``start``.

    ``keys`` restricts building to those instances (the ones no tracklet holds yet).
    """
    wanted = None if keys is None else set(keys)
    insts = [i for i in ann.instances if wanted is None or i.key in wanted]
    prov = Provenance(annotator=annotator, at=_now(), seconds=0.0, source="model")
    return [
        Tracklet(id=tracklet_id(ann.clip_id, start + n), clip_id=ann.clip_id, instances=track, provenance=prov)
        for n, track in enumerate(build_tracks(frame_order, insts, params, tuple(ann.image_size)))
    ]


def sync_with_annotations(
    matching: PairMatching,
    clips: Mapping[str, tuple[ClipAnnotations, Sequence[int]]],
    annotator: str = "vrai-tools",
    params: TrackerParams = TrackerParams(),
) -> tuple[PairMatching, list[str]]:
    """Bring the tracklets up to date with stage 1: the new matching and what changed, in words.

    Keys whose instance was deleted in stage 1 leave their tracklet (an emptied tracklet
    leaves its vehicle; an emptied vehicle is dropped). Instances no tracklet holds are
    built into new tracklets among themselves. Existing tracklets and decisions are kept.
    ``clips`` maps clip id -> (its annotations, its sampled frame indices in order).
    """
    notes: list[str] = []
    frame_of = {i.key: i.frame for ann, _ in clips.values() for i in ann.instances}
    tracklets: list[Tracklet] = []
    dropped: set[str] = set()
    for t in matching.tracklets:
        if t.clip_id not in clips:
            tracklets.append(t)
            continue
        keep = [k for k in t.instances if k in frame_of]
        keep.sort(key=lambda k: frame_of[k])
        if not keep:
            dropped.add(t.id)
            notes.append(f"tracklet {t.id} removed: its boxes were deleted in stage 1")
            continue
        if len(keep) != len(t.instances):
            notes.append(f"tracklet {t.id}: {len(t.instances) - len(keep)} deleted box(es) removed")
        tracklets.append(t if keep == list(t.instances) else t.model_copy(update={"instances": keep}))
    vehicles = _without_tracklets(matching.vehicles, dropped)
    held = {k for t in tracklets for k in t.instances}
    partial = matching.model_copy(update={"tracklets": tracklets, "vehicles": vehicles})
    for clip_id in sorted(clips):
        ann, order = clips[clip_id]
        free = [i.key for i in ann.instances if i.key not in held]
        if not free:
            continue
        start = next_tracklet_number(partial, clip_id)
        new = build_tracklets(ann, order, annotator, start, params, keys=free)
        if new:
            notes.append(f"clip {clip_id}: {len(new)} new tracklet(s) built from {len(free)} box(es)")
        tracklets.extend(new)
        partial = partial.model_copy(update={"tracklets": tracklets})
    return _sorted(partial), notes


# ----------------------------------------------------------------------------- corrections


def _sorted(m: PairMatching) -> PairMatching:
    return m.model_copy(update={
        "tracklets": sorted(m.tracklets, key=lambda t: t.id),
        "vehicles": sorted(m.vehicles, key=lambda v: v.id),
    })


def _without_tracklets(vehicles: Iterable[Vehicle], gone: set[str]) -> list[Vehicle]:
    out = []
    for v in vehicles:
        keep = [tid for tid in v.tracklets if tid not in gone]
        if keep:
            out.append(v if len(keep) == len(v.tracklets) else v.model_copy(update={"tracklets": keep}))
    return out


def _find(m: PairMatching, tid: str) -> Tracklet:
    try:
        return m.tracklet(tid)
    except KeyError:
        raise MatchingError(f"pair {m.pair_id}: no tracklet {tid!r}") from None


def _edited(t: Tracklet, annotator: str, seconds: float) -> Provenance:
    old = t.provenance
    spent = (old.seconds if old is not None and old.source == "human" else 0.0) + seconds
    return Provenance(annotator=annotator, at=_now(), seconds=round(spent, 3), source="human")


def split_tracklet(
    m: PairMatching, tid: str, at_key: str, frame_of: Mapping[str, int], annotator: str = "vrai-tools",
    seconds: float = 0.0,
) -> tuple[PairMatching, str]:
    """Cut a tracklet before ``at_key``: that instance and the later ones become a new tracklet.

    The head keeps the tracklet's id and its vehicle; the tail starts undecided (a split
    is made because the tracker joined two vehicles). Returns the new matching and the
    tail's id.
    """
    t = _find(m, tid)
    keys = list(t.instances)
    if at_key not in keys:
        raise MatchingError(f"tracklet {tid}: instance {at_key!r} is not in it")
    i = keys.index(at_key)
    if i == 0:
        raise MatchingError(f"tracklet {tid}: cannot split before its first instance {at_key!r}")
    new_id = tracklet_id(t.clip_id, next_tracklet_number(m, t.clip_id))
    prov = _edited(t, annotator, seconds)
    head = t.model_copy(update={"instances": keys[:i], "provenance": prov})
    tail = Tracklet(id=new_id, clip_id=t.clip_id, instances=sorted(keys[i:], key=lambda k: frame_of[k]),
                    provenance=prov.model_copy(update={"seconds": 0.0}))
    tracklets = [head if x.id == tid else x for x in m.tracklets] + [tail]
    return _sorted(m.model_copy(update={"tracklets": tracklets})), new_id


def merge_tracklets(
    m: PairMatching, keep: str, other: str, frame_of: Mapping[str, int], annotator: str = "vrai-tools",
    seconds: float = 0.0,
) -> PairMatching:
    """Join ``other`` into ``keep`` (one clip, no shared frame). The result keeps ``keep``'s id.

    When only one of the two belongs to a vehicle, the merged tracklet does; when both
    belong to different vehicles the merge is refused (unlink one first): joining two
    vehicles is a matching decision, not a tracklet correction.
    """
    if keep == other:
        raise MatchingError(f"cannot merge tracklet {keep} with itself")
    a, b = _find(m, keep), _find(m, other)
    if a.clip_id != b.clip_id:
        raise MatchingError(f"cannot merge {keep} and {other}: they are in two clips ({a.clip_id}, {b.clip_id})")
    shared = {frame_of[k] for k in a.instances} & {frame_of[k] for k in b.instances}
    if shared:
        raise MatchingError(
            f"cannot merge {keep} and {other}: both have a box on frame {min(shared)} (two vehicles at once)")
    owner = {tid: v for v in m.vehicles for tid in v.tracklets}
    va, vb = owner.get(keep), owner.get(other)
    if va is not None and vb is not None and va.id != vb.id:
        raise MatchingError(
            f"cannot merge {keep} (vehicle {va.id}) and {other} (vehicle {vb.id}): unlink one of them first")
    merged = a.model_copy(update={
        "instances": sorted([*a.instances, *b.instances], key=lambda k: frame_of[k]),
        "no_match": a.no_match and b.no_match,
        "provenance": _edited(a, annotator, seconds),
    })
    tracklets = [merged if x.id == keep else x for x in m.tracklets if x.id != other]
    vehicles = []
    for v in m.vehicles:
        if other in v.tracklets:
            rest = [keep if t == other else t for t in v.tracklets if t != other or keep not in v.tracklets]
            vehicles.append(v.model_copy(update={"tracklets": list(dict.fromkeys(rest))}))
        else:
            vehicles.append(v)
    out = m.model_copy(update={"tracklets": tracklets, "vehicles": vehicles})
    touched = {v.id for v in (va, vb) if v is not None}
    return _sorted(tidy_vehicles(out, touched))


def tidy_vehicles(m: PairMatching, touched: set[int]) -> PairMatching:
    """Dissolve the touched vehicles that no longer stand for a decision.

    A vehicle records a decision: its tracklets span both clips (a match), or they are
    marked ``no_match``. An edit can leave a vehicle with tracklets of one clip only and
    no such mark (its partner was unlinked, a no-match tracklet was merged with an
    undecided one): its tracklets go back to undecided, so progress counts stay honest.
    Vehicles the edit did not touch are left alone, whatever they hold.
    """
    by_id = {t.id: t for t in m.tracklets}
    keep = []
    for v in m.vehicles:
        if v.id in touched:
            ts = [by_id[t] for t in v.tracklets if t in by_id]
            if not ts or (len({t.clip_id for t in ts}) < 2 and not any(t.no_match for t in ts)):
                continue
        keep.append(v)
    return m if len(keep) == len(m.vehicles) else m.model_copy(update={"vehicles": keep})


def move_instance(
    m: PairMatching, key: str, to_tid: str, frame_of: Mapping[str, int], annotator: str = "vrai-tools",
    seconds: float = 0.0,
) -> PairMatching:
    """Move one instance into another tracklet of its clip (which must have no box on that frame).

    A tracklet emptied by the move is deleted, and so is a vehicle left without tracklets.
    """
    source = next((t for t in m.tracklets if key in t.instances), None)
    if source is None:
        raise MatchingError(f"instance {key!r} is in no tracklet of pair {m.pair_id}")
    target = _find(m, to_tid)
    if source.id == target.id:
        return m
    if target.clip_id != source.clip_id:
        raise MatchingError(f"cannot move {key} into {to_tid}: that tracklet is in clip {target.clip_id}")
    frame = frame_of[key]
    clash = next((k for k in target.instances if frame_of[k] == frame), None)
    if clash is not None:
        raise MatchingError(f"cannot move {key} into {to_tid}: it already has {clash} on frame {frame}")
    rest = [k for k in source.instances if k != key]
    moved = target.model_copy(update={
        "instances": sorted([*target.instances, key], key=lambda k: frame_of[k]),
        "provenance": _edited(target, annotator, seconds),
    })
    tracklets = []
    for t in m.tracklets:
        if t.id == target.id:
            tracklets.append(moved)
        elif t.id == source.id:
            if rest:
                tracklets.append(t.model_copy(update={"instances": rest}))
        else:
            tracklets.append(t)
    vehicles = m.vehicles if rest else _without_tracklets(m.vehicles, {source.id})
    return _sorted(m.model_copy(update={"tracklets": tracklets, "vehicles": list(vehicles)}))

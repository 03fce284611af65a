"""The synthetic world is shaped like VRAI and hard enough to learn from: every type and
colour, look-alikes that differ only by their marks, drones at different heights and
headings that move, vehicles seen by one camera or both, entering and leaving the frame.

Checked on a metadata-only dataset (the labels and the world are the same with or without
pixels; ``test_synth_pictures`` checks the pixels against them)."""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from schemas import COLORS, FLAGS, TYPES, ClipAnnotations
from vrai_tools.dataset import DatasetRoot
from vrai_tools.storage import load_model
from vrai_tools.synth import SynthConfig, generate, load_truth
from vrai_tools.synth.config import ALTITUDE_RANGE
from vrai_tools.synth.pipeline import MIN_ALTITUDE_GAP, build_pair
from vrai_tools.synth.vehicles import make_catalog, sample_vehicle

CONFIG = SynthConfig(pairs=6, vehicles_per_pair=40, seconds=40, seed=2, video=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[DatasetRoot, dict]:
    root = generate(tmp_path_factory.mktemp("world") / "ds", CONFIG)
    return root, load_truth(root.root)


def test_every_type_colour_and_attribute_occurs(world: tuple[DatasetRoot, dict]) -> None:
    vehicles = world[1]["vehicles"]
    assert {v["attributes"]["type"] for v in vehicles} == set(TYPES)
    assert {v["attributes"]["color"] for v in vehicles} == set(COLORS)
    for flag in FLAGS:  # each attribute is drawn on some vehicles and absent on others
        share = sum(bool(v["attributes"][flag]) for v in vehicles) / len(vehicles)
        assert 0.02 < share < 0.98, flag


def _visible_features(layers: list, px_per_m: float = 40.0) -> Counter[str]:
    """Pixels of each attribute's layers left showing once every layer is painted in order."""
    pts = np.concatenate([ly.poly for ly in layers])
    lo = pts.min(axis=0)
    size = np.ceil((pts.max(axis=0) - lo) * px_per_m).astype(int) + 2
    top = np.full((size[1], size[0]), -1, np.int32)
    for k, ly in enumerate(layers):
        cv2.fillPoly(top, [np.round((ly.poly - lo) * px_per_m).astype(np.int32)], k)
    ids, counts = np.unique(top[top >= 0], return_counts=True)
    shown: Counter[str] = Counter()
    for k, n in zip(ids, counts):
        if layers[k].feature:
            shown[layers[k].feature] += int(n)
    return shown


def test_the_four_attributes_are_drawn_where_they_are_labelled() -> None:
    catalog = make_catalog(np.random.default_rng([CONFIG.seed, 0]))
    rng = np.random.default_rng(11)
    seen: Counter[str] = Counter()
    for vid in range(300):
        spec = sample_vehicle(rng, catalog, vid)
        flags = {f for f in FLAGS if spec.attributes()[f]}
        shown = _visible_features(spec.layers)
        assert set(shown) == flags, (vid, spec.type, flags, dict(shown))
        assert all(n >= 20 for n in shown.values()), (vid, dict(shown))  # not hidden under later layers
        seen.update(flags)
    assert set(seen) == set(FLAGS)


def test_types_have_their_own_shapes_and_sizes() -> None:
    catalog = make_catalog(np.random.default_rng([CONFIG.seed, 0]))
    size = {t: np.mean([m.length * m.width for m in models]) for t, models in catalog.models.items()}
    assert set(size) == set(TYPES)
    assert size["Bus"] > size["Sedan"] and size["Lorry"] > size["Sedan"] and size["Truck"] > size["Hatchback"]
    assert size["Sedan"] > size["Hatchback"]
    shapes = {(round(m.length, 2), round(m.width, 2), m.stations) for models in catalog.models.values() for m in models}
    assert len(shapes) == sum(len(ms) for ms in catalog.models.values())  # no two models share a shape


def test_look_alikes_differ_only_by_their_marks(world: tuple[DatasetRoot, dict]) -> None:
    by_pair: dict[str, list[dict]] = defaultdict(list)
    for v in world[1]["vehicles"]:
        by_pair[v["pair"]].append(v)
    same_type_colour = exact = 0
    for vs in by_pair.values():
        groups = Counter((v["attributes"]["type"], v["attributes"]["color"]) for v in vs)
        same_type_colour += sum(n for n in groups.values() if n > 1)
        looks: dict[str, list[dict]] = defaultdict(list)
        for v in vs:
            looks[v["look"]].append(v)
        for twins in (g for g in looks.values() if len(g) > 1):
            exact += len(twins)
            marks = [tuple((m["kind"], tuple(m["local_box"])) for m in v["marks"]) for v in twins]
            assert len(set(marks)) == len(marks), "exact look-alikes must differ by their marks"
    n = len(world[1]["vehicles"])
    assert same_type_colour > 0.5 * n  # colour + type alone cannot tell most vehicles apart
    assert exact > 0.1 * n  # and many are identical but for their marks (paper, Figure 1)


def test_parts_none_where_a_vehicle_has_no_mark(world: tuple[DatasetRoot, dict]) -> None:
    root, truth = world
    marks = {v["id"]: len(v["marks"]) for v in truth["vehicles"]}
    states: Counter[str] = Counter()
    for clip in root.manifest().clips:
        ann = load_model(root.annotations_path(clip.id), ClipAnnotations)
        by_key = {i["key"]: i for i in truth["clips"][clip.id]["instances"]}
        for inst in ann.instances:
            t = by_key[inst.key]
            states[inst.parts.state] += 1
            assert [list(b) for b in inst.parts.boxes] == t["parts"]
            if inst.parts.state == "none":
                assert not t["parts"]
            if marks[t["vehicle"]] == 0:
                assert inst.parts.state == "none"
    share_none = states["none"] / sum(states.values())
    assert set(states) == {"done", "none"} and 0.03 < share_none < 0.15  # paper: ~8 %


def test_most_vehicles_are_seen_by_both_cameras_some_by_one(world: tuple[DatasetRoot, dict]) -> None:
    cameras = Counter(len(v["cameras"]) for v in world[1]["vehicles"])
    n = sum(cameras.values())
    assert cameras[2] > 0.7 * n and cameras[1] > 0
    seen_a = {v["id"] for v in world[1]["vehicles"] if "A" in v["cameras"]}
    seen_b = {v["id"] for v in world[1]["vehicles"] if "B" in v["cameras"]}
    assert seen_a - seen_b and seen_b - seen_a  # single-camera vehicles on both sides


def test_vehicles_enter_and_leave_at_the_frame_borders(world: tuple[DatasetRoot, dict]) -> None:
    root, truth = world
    w, h = CONFIG.width, CONFIG.height
    partial = 0
    for clip in truth["clips"].values():
        for inst in clip["instances"]:
            x0, y0, x1, y1 = inst["bbox"]
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            if inst["visible"] < 1.0:
                partial += 1
                assert min(x0, y0) <= 0.5 or x1 >= w - 0.5 or y1 >= h - 0.5, inst["key"]
    assert partial > 0
    # a vehicle's tracklet starts or ends at a border: its first or last box touches one
    touching = 0
    tracks: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for cid, clip in truth["clips"].items():
        for inst in clip["instances"]:
            tracks[cid, inst["vehicle"]].append(inst)
    for insts in tracks.values():
        ends = [min(insts, key=lambda i: i["frame"]), max(insts, key=lambda i: i["frame"])]
        touching += any(e["visible"] < 1.0 for e in ends)
    assert touching > 0.3 * len(tracks)


def test_the_drones_fly_differently_and_move() -> None:
    catalog = make_catalog(np.random.default_rng([CONFIG.seed, 0]))
    t = np.linspace(0, CONFIG.seconds, 401)
    modes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for index in range(CONFIG.pairs):
        w = build_pair(CONFIG, catalog, index)
        poses = {k: plan.flight.pose(t) for k, plan in w.plans.items()}
        for letter, (x, y, alt, psi) in poses.items():
            flight = w.plans[letter].flight
            modes[flight.mode] += 1
            kinds[w.plans[letter].scene.kind] += 1
            assert ALTITUDE_RANGE[0] <= alt.min() and alt.max() <= ALTITUDE_RANGE[1]
            moved = float(np.hypot(x - x[0], y - y[0]).max())
            turned = math.degrees(float(np.ptp(psi)))
            assert moved > 0.05 or turned > 0.1  # even a hover wobbles in the wind
            if flight.mode == "cruise":
                assert moved > 5.0
            if flight.mode == "rotate":
                assert turned > 10.0
        assert np.abs(poses["A"][2] - poses["B"][2]).min() >= MIN_ALTITUDE_GAP
        heading_gap = (w.plans["A"].flight.heading - w.plans["B"].flight.heading) % (2 * math.pi)
        assert math.radians(20) < heading_gap < math.radians(340)
    assert set(modes) == {"hover", "cruise", "rotate"}
    assert set(kinds) == {"road", "intersection", "parking"}

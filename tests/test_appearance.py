"""The built-in appearance descriptor: rectified colour, folded layout, shape, and ranking."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from schemas import Instance, PairMatching
from tests.matching_fixtures import CLIP_A, CLIP_B, make_pair_dataset
from vrai_tools import appearance as ap
from vrai_tools.matching_rules import PairContext, candidates
from vrai_tools.tracklets import sync_with_annotations


def _rotated(cx: float, cy: float, length: float, width: float, angle: float) -> list[tuple[float, float]]:
    c, s = math.cos(angle), math.sin(angle)
    return [(cx + x * c - y * s, cy + x * s + y * c)
            for x, y in ((-length / 2, -width / 2), (length / 2, -width / 2), (length / 2, width / 2),
                         (-length / 2, width / 2))]


def _scene(colour: tuple[int, int, int], angle: float, length: float = 40, width: float = 18,
           road: tuple[int, int, int] = (100, 100, 100)) -> tuple[np.ndarray, Instance]:
    img = np.full((120, 160, 3), road, np.uint8)
    corners = _rotated(80, 60, length, width, angle)
    cv2.fillPoly(img, [np.round(np.array(corners)).astype(np.int32)], colour)
    return img, Instance.from_corners("c:0", 0, corners)


def test_footprint_ignores_click_order_and_rotation() -> None:
    corners = _rotated(50, 50, 40, 16, 0.7)
    for order in ([0, 1, 2, 3], [2, 0, 3, 1], [3, 2, 1, 0]):
        length, width, _ = ap.footprint([corners[i] for i in order])
        assert length == pytest.approx(40, abs=1e-3) and width == pytest.approx(16, abs=1e-3)


def test_rectified_crop_is_the_vehicle_not_the_road() -> None:
    img, inst = _scene((200, 30, 30), angle=0.6)
    rect = ap.rectify(img, inst.corners)
    assert rect.shape == (ap.RECT_WIDTH, ap.RECT_LENGTH, 3)
    core = rect[4:-4, 6:-6].reshape(-1, 3).mean(axis=0)
    assert core[0] > 180 and core[1] < 60  # red paint, no grey road
    # the axis-aligned box of the same diagonal car is largely road
    x1, y1, x2, y2 = (int(v) for v in inst.bbox)
    assert img[y1:y2, x1:x2].reshape(-1, 3).mean(axis=0)[1] > 60


def test_same_paint_is_similar_whatever_the_heading() -> None:
    red1 = ap.describe(*_scene((200, 30, 30), 0.2))
    red2 = ap.describe(*_scene((190, 35, 25), 2.3, road=(90, 95, 90)))
    blue = ap.describe(*_scene((30, 60, 200), 0.2))
    white = ap.describe(*_scene((235, 235, 235), 0.2))
    grey = ap.describe(*_scene((128, 128, 128), 0.2, road=(60, 60, 60)))
    assert ap.similarity(red1, red2) > 0.9
    assert ap.similarity(red1, red2) > ap.similarity(red1, blue) + 0.3
    assert ap.similarity(white, grey) < ap.similarity(white, white) - 0.3  # achromatic bins tell them apart
    for a in (red1, blue, white):
        assert np.linalg.norm(a.colour) == pytest.approx(1.0)


def test_shape_terms_separate_a_bus_from_a_car_of_the_same_colour() -> None:
    car = ap.describe(*_scene((230, 230, 230), 0.3, length=36, width=16))
    bus = ap.describe(*_scene((230, 230, 230), 0.3, length=70, width=20))
    car2 = ap.describe(*_scene((230, 230, 230), 1.9, length=37, width=16))
    assert ap.similarity(car, car2) > ap.similarity(car, bus) + 0.1


def test_metric_length_compares_two_altitudes() -> None:
    img, inst = _scene((200, 30, 30), 0.0, length=40)
    low = ap.describe(img, inst, altitude=30.0)
    img2, inst2 = _scene((200, 30, 30), 0.0, length=20)  # seen from twice as high: half as long in pixels
    high = ap.describe(img2, inst2, altitude=60.0)
    assert low.metric_length == pytest.approx(high.metric_length, rel=0.02)
    assert ap.describe(img, inst).metric_length is None


def test_rank_is_stable_and_best_first() -> None:
    red = ap.describe(*_scene((200, 30, 30), 0.2))
    cands = {"b": ap.describe(*_scene((30, 60, 200), 0.2)), "a": red, "c": red}
    order = [tid for tid, _ in ap.rank(red, cands)]
    assert order == ["a", "c", "b"]  # equal scores: by id, so the list never flickers
    emb = {"x": np.array([1.0, 0.0]), "y": np.array([0.6, 0.8])}
    assert [t for t, _ in ap.cosine_rank(np.array([0.0, 2.0]), emb)] == ["y", "x"]


def test_store_ranks_every_true_match_first_and_reports_missing_frames(tmp_path: Path) -> None:
    data = make_pair_dataset(tmp_path / "ds")
    ds = data.ds
    manifest = ds.manifest()
    ctx = PairContext.load(ds, "p1", manifest)
    clips = {c.id: (ds.annotations(c.id, manifest), [f.index for f in c.frames]) for c in ctx.clips.values()}
    m, _ = sync_with_annotations(PairMatching(pair_id="p1"), clips)
    store = ap.InstanceStore(ds, ctx.clips.values(), ctx.instances)
    car_of = {t.id: data.truth[t.instances[0]] for t in m.tracklets}
    desc = {t.id: store.tracklet(t.instances) for t in m.tracklets}
    checked = 0
    for t in m.tracklets:
        if t.clip_id != CLIP_A:
            continue
        ranked = ap.rank(desc[t.id], {c.tracklet: desc[c.tracklet] for c in candidates(ctx, m, t.id)})
        partner = [x for x in car_of if x.startswith(CLIP_B) and car_of[x] == car_of[t.id]]
        if partner:
            assert ranked[0][0] == partner[0]
            checked += 1
    assert checked == 3
    key = data.keys_of(0, CLIP_A)[0]
    assert store.crop(key) is None or store.crop(key).shape[2] == 3
    (tmp_path / "ds" / "frames" / CLIP_A / "000007.jpg").unlink()
    fresh = ap.InstanceStore(ds, ctx.clips.values(), ctx.instances)
    on_7 = [k for k, i in ctx.instances.items() if k.startswith(CLIP_A) and i.frame == 7]
    assert sorted(fresh.load(on_7)) == sorted(on_7)
    assert fresh.descriptor(on_7[0]) is None

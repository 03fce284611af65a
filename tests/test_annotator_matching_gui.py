"""End to end: the real main window on the matching stage, driven by keys and clicks, checked on disk."""
from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import QPoint, Qt

from annotator.matching.keys import SCOPE
from annotator.matching.view import MatchingView
from tests.annotator_fixtures import annotator_env, open_window  # noqa: F401  (fixture)
from tests.matching_fixtures import CLIP_A, CLIP_B, PAIR, PairData, make_pair_dataset, read_matching

KEYS = {str(k): getattr(Qt.Key, f"Key_{k}") for k in range(10)}


@pytest.fixture
def data(tmp_path: Path) -> PairData:
    return make_pair_dataset(tmp_path / "ds")


def _open(qtbot, data: PairData):
    window = open_window(qtbot, data.root, PAIR, "tester", "--stage", SCOPE)
    view = window.views[SCOPE]
    assert isinstance(view, MatchingView)
    qtbot.waitUntil(lambda: view.ranked is not None, timeout=10000)
    return window, view


def _car(data: PairData, view: MatchingView, tid: str) -> int:
    return data.truth[view.doc.tracklet(tid).instances[0]]


def _press(qtbot, view: MatchingView, key: str) -> None:
    qtbot.waitUntil(lambda: view.ranked is not None, timeout=10000)
    qtbot.keyClick(view, KEYS[key] if key in KEYS else getattr(Qt.Key, f"Key_{key}"))


def test_match_a_pair_by_keys_and_find_it_on_disk(qtbot, annotator_env, data: PairData) -> None:
    window, view = _open(qtbot, data)
    assert view.camera == "A" and view.query is not None
    seen = set()
    while view.query is not None and view.query not in seen:
        q = view.query
        seen.add(q)
        car = _car(data, view, q)
        qtbot.waitUntil(lambda: view.ranked is not None, timeout=10000)
        pickable = [t for t in view.ranked if view.cands[t].excluded is None]
        partners = [t for t in pickable if _car(data, view, t) == car]
        if partners:
            # the built-in descriptor puts the true match first, numbered 1 on screen
            assert pickable.index(partners[0]) == 0
            assert view.rows[partners[0]].number.text() == "1"
            _press(qtbot, view, "1")
        else:
            _press(qtbot, view, "N")
        qtbot.waitUntil(lambda: view.doc.is_decided(q))
        if view.doc.next_undecided("A") is None:
            break
    assert view.doc.next_undecided("A") is None
    _press(qtbot, view, "S")  # swap: queries from camera B; only the yellow car is left
    assert view.camera == "B" and _car(data, view, view.query) == 4
    _press(qtbot, view, "0")
    qtbot.waitUntil(lambda: view.doc.progress() == (8, 8))
    window.close()  # flushes the autosave and releases the lock

    saved = read_matching(data.root)
    tracklet_car = {t["id"]: data.truth[t["instances"][0]] for t in saved["tracklets"]}
    vehicles = {frozenset(tracklet_car[t] for t in v["tracklets"]): v for v in saved["vehicles"]}
    assert set(vehicles) == {frozenset({c}) for c in range(5)}  # one vehicle per car, no mix-ups
    for v in saved["vehicles"]:
        clips = {t.rpartition(".")[0] for t in v["tracklets"]}
        car = tracklet_car[v["tracklets"][0]]
        assert clips == ({CLIP_A, CLIP_B} if car in (0, 1, 2) else {CLIP_A} if car == 3 else {CLIP_B})
        assert v["provenance"]["annotator"] == "tester" and v["provenance"]["source"] == "human"
    no_match = {tracklet_car[t["id"]] for t in saved["tracklets"] if t["no_match"]}
    assert no_match == {3, 4}
    assert not (data.root / "matching" / f"{PAIR}.json.lock").exists()


def test_undo_brings_the_query_back_and_review_lists_vehicles(qtbot, annotator_env, data: PairData) -> None:
    window, view = _open(qtbot, data)
    first = view.query
    if not any(_car(data, view, t) == _car(data, view, first) for t in view.ranked):
        _press(qtbot, view, "Space")  # start on a car that camera B saw too
        first = view.query
    _press(qtbot, view, "1")
    qtbot.waitUntil(lambda: view.query != first)
    assert view.doc.is_decided(first)
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: view.query == first)
    assert not view.doc.is_decided(first)
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: view.doc.is_decided(first))
    view.query = first
    view._show_query()
    _press(qtbot, view, "Q")  # uncertain
    assert view.doc.vehicle_of(first).uncertain

    _press(qtbot, view, "R")
    assert view.pages.currentIndex() == 1
    assert view.review.list.count() == 1
    view.review.uncertainOnly.setChecked(True)
    assert view.review.list.count() == 1
    _press(qtbot, view, "U")  # in review: dissolve the selected vehicle
    qtbot.waitUntil(lambda: view.review.list.count() == 0)
    assert not view.doc.is_decided(first)
    _press(qtbot, view, "R")
    assert view.pages.currentIndex() == 0
    window.close()
    assert read_matching(data.root)["vehicles"] == []


def test_click_a_crop_split_the_query_then_link_by_click(qtbot, annotator_env, data: PairData) -> None:
    window, view = _open(qtbot, data)
    q = view.query
    keys = list(view.doc.tracklet(q).instances)
    qtbot.waitUntil(lambda: all(view.service.image(k) is not None for k in view.query_strip.keys), timeout=10000)
    rects = dict(view.query_strip._rects())  # the crops on screen, each drawn whole
    assert all(view.query_strip.rect().contains(r.toRect()) for r in rects.values())
    target = next(k for k in keys[2:] if k in rects)  # a crop after the second, as drawn
    cut = keys.index(target)
    qtbot.mouseClick(view.query_strip, Qt.MouseButton.LeftButton, pos=rects[target].center().toPoint())
    assert view.query_strip.selected == target
    _press(qtbot, view, "K")
    assert view.doc.tracklet(q).instances == keys[:cut]
    tail = next(t.id for t in view.doc.matching.tracklets if t.instances == keys[cut:])
    assert tail in view.neighbour_rows  # offered back for a merge
    _press(qtbot, view, "M")
    assert view.doc.tracklet(q).instances == keys
    qtbot.waitUntil(lambda: view.ranked is not None)
    best = next(t for t in view.ranked if view.cands[t].excluded is None)
    row = view.rows[best]
    qtbot.mouseClick(row, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    qtbot.waitUntil(lambda: view.doc.vehicle_of(q) is not None)
    assert best in view.doc.vehicle_of(q).tracklets
    window.close()
    assert any(q in v["tracklets"] for v in read_matching(data.root)["vehicles"])


def test_second_instance_opens_the_pair_read_only(qtbot, annotator_env, data: PairData) -> None:
    window, view = _open(qtbot, data)
    other, other_view = _open(qtbot, data)
    assert other_view.doc.read_only and not view.doc.read_only
    _press(qtbot, other_view, "1")
    assert other_view.doc.matching.vehicles == []  # refused, with a message, nothing written
    other.close()
    window.close()

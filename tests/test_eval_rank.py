"""evaluate_rank / ranked_lists against the protocol written out plainly, on hand-built cases."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from reid.evaluation import EvaluationError, Relevance, evaluate_rank, ranked_lists
from reid.evaluation.rank import match_positions


def brute_force(dist, q_pids, g_pids, q_cams, g_cams, max_rank=50):
    """The protocol with python loops: stable sort, drop same id + same camera, score."""
    nq, ng = len(dist), len(dist[0])
    length = min(max_rank, ng)
    aps, inps, cmcs = [], [], []
    for i in range(nq):
        # ascending distance, NaN last, equal distances in gallery order
        order = sorted(range(ng), key=lambda j: (math.isnan(dist[i][j]), 0 if math.isnan(dist[i][j]) else dist[i][j], j))
        hits = []
        for j in order:
            if q_cams is not None and g_pids[j] == q_pids[i] and g_cams[j] == q_cams[i]:
                continue
            hits.append(g_pids[j] == q_pids[i])
        if not any(hits):
            continue
        found, precisions, last = 0, [], 0
        for pos, hit in enumerate(hits):
            if hit:
                found += 1
                precisions.append(found / (pos + 1))
                last = pos
        aps.append(sum(precisions) / found)
        inps.append(found / (last + 1))
        first = hits.index(True)
        cmcs.append([1.0 if r >= first else 0.0 for r in range(length)])
    if not aps:
        return None
    cmc = [sum(c[r] for c in cmcs) / len(cmcs) for r in range(length)]
    return {"mAP": sum(aps) / len(aps), "cmc": cmc, "mINP": sum(inps) / len(inps), "valid": len(aps)}


def assert_matches_reference(dist, q_pids, g_pids, q_cams, g_cams, max_rank=50):
    ref = brute_force(np.asarray(dist).tolist(), list(q_pids), list(g_pids),
                      None if q_cams is None else list(q_cams), None if g_cams is None else list(g_cams), max_rank)
    if ref is None:
        with pytest.raises(EvaluationError, match="no query"):
            evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams, max_rank)
        return None
    got = evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams, max_rank)
    assert got.mAP == pytest.approx(ref["mAP"], abs=1e-12)
    assert got.mINP == pytest.approx(ref["mINP"], abs=1e-12)
    np.testing.assert_allclose(got.cmc, ref["cmc"], atol=1e-12)
    assert got.num_valid_queries == ref["valid"]
    assert got.num_skipped == len(q_pids) - ref["valid"]
    return got


def test_hand_computed_single_query():
    # query: vehicle 1, camera 0. Gallery 2 is junk (same vehicle, same camera).
    dist = np.array([[0.1, 0.2, 0.05, 0.4, 0.3]], dtype=np.float32)
    g_pids = [1, 2, 1, 1, 3]
    g_cams = [1, 1, 0, 1, 0]
    r = evaluate_rank(dist, [1], g_pids, [0], g_cams, max_rank=5)
    # valid ranking: g0 (hit), g1, g4, g3 (hit) -> hits at positions 0 and 3
    assert r.mAP == pytest.approx((1 / 1 + 2 / 4) / 2)
    assert r.mINP == pytest.approx(2 / 4)
    assert r.cmc.tolist() == [1.0, 1.0, 1.0, 1.0, 1.0]
    assert r.num_valid_queries == 1 and r.num_skipped == 0
    assert r.per_query_ap.tolist() == [pytest.approx(0.75)]


def test_ties_are_broken_by_gallery_index():
    # all distances equal: the ranking is the gallery order
    dist = np.ones((2, 4), dtype=np.float32)
    g_pids = [2, 1, 2, 1]
    g_cams = [1, 1, 1, 1]
    r = evaluate_rank(dist, [1, 2], g_pids, [0, 0], g_cams, max_rank=4)
    # query pid 1: hits at 1 and 3; query pid 2: hits at 0 and 2
    ap1 = (1 / 2 + 2 / 4) / 2
    ap2 = (1 / 1 + 2 / 3) / 2
    assert r.per_query_ap.tolist() == [pytest.approx(ap1), pytest.approx(ap2)]
    assert r.cmc.tolist() == [0.5, 1.0, 1.0, 1.0]
    assert r.mINP == pytest.approx((2 / 4 + 2 / 3) / 2)
    assert_matches_reference(dist, [1, 2], g_pids, [0, 0], g_cams, max_rank=4)


def test_tie_between_match_and_junk_and_non_match():
    # g0 non-match, g1 junk, g2 match, g3 non-match, all at the same distance as the match
    dist = np.array([[2.0, 2.0, 2.0, 2.0, 1.0]])
    got = assert_matches_reference(dist, [7], [5, 7, 7, 6, 6], [0], [1, 0, 1, 1, 1], max_rank=5)
    # valid order: g4 (1.0), g0, g2 (hit), g3 -> hit at position 2
    assert got.mAP == pytest.approx(1 / 3)
    assert got.cmc.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]


def test_skipped_queries_are_counted_and_excluded():
    dist = np.array([[0.3, 0.1, 0.2], [0.1, 0.2, 0.3], [0.5, 0.4, 0.3]], dtype=np.float32)
    q_pids = [1, 9, 2]  # vehicle 9 is not in the gallery
    q_cams = [0, 0, 0]
    g_pids = [1, 2, 2]
    g_cams = [1, 0, 0]  # vehicle 2 only seen by the query's own camera -> skipped
    r = assert_matches_reference(dist, q_pids, g_pids, q_cams, g_cams)
    assert r.num_valid_queries == 1 and r.num_skipped == 2
    assert np.isnan(r.per_query_ap[1]) and np.isnan(r.per_query_ap[2])
    # query 0: junk none, ranking g1, g2, g0 -> hit at 2
    assert r.mAP == pytest.approx(1 / 3)


def test_single_gallery_image():
    r = assert_matches_reference(np.array([[0.7]]), [3], [3], [0], [1], max_rank=50)
    assert r.cmc.tolist() == [1.0] and r.mAP == 1.0 and r.mINP == 1.0


def test_single_gallery_match_far_down_the_list():
    rng = np.random.default_rng(3)
    dist = rng.random((1, 300))
    g_pids = np.arange(300) + 10
    g_pids[123] = 5
    dist[0, 123] = np.sort(dist[0])[40]  # 41st smallest -> position 40
    r = assert_matches_reference(dist, [5], g_pids, [0], np.ones(300, int), max_rank=50)
    assert r.mAP == pytest.approx(1 / 41) and r.mINP == pytest.approx(1 / 41)
    assert r.cmc[39] == 0.0 and r.cmc[40] == 1.0


def test_without_camera_ids_nothing_is_filtered():
    dist = np.array([[0.3, 0.1, 0.2]])
    # with cameras: g1 (same camera) is junk -> g2, g0 (hit); without: g1 (hit), g2, g0 (hit)
    with_cams = evaluate_rank(dist, [1], [1, 1, 2], [0], [1, 0, 1])
    without = evaluate_rank(dist, [1], [1, 1, 2], None, None)
    assert with_cams.mAP == 0.5 and with_cams.cmc.tolist() == [0.0, 1.0, 1.0]
    assert without.mAP == pytest.approx((1 + 2 / 3) / 2) and without.cmc.tolist() == [1.0, 1.0, 1.0]
    assert_matches_reference(dist, [1], [1, 1, 2], None, None)


def test_short_valid_list_counts_as_hit_up_to_max_rank():
    # 3 gallery images, one junk: valid list of 2, cmc has 3 = min(max_rank, gallery) entries
    dist = np.array([[0.1, 0.2, 0.3]])
    r = evaluate_rank(dist, [1], [1, 2, 1], [0], [0, 1, 1], max_rank=10)
    assert r.cmc.tolist() == [0.0, 1.0, 1.0]


def test_nan_distances_rank_last():
    dist = np.array([[np.nan, 0.5, 0.2, np.nan], [0.1, np.nan, 0.3, 0.2]])
    assert_matches_reference(dist, [1, 2], [1, 2, 3, 1], [0, 0], [1, 1, 1, 1])


def test_string_ids_and_torch_input():
    dist = torch.tensor([[0.3, 0.1, 0.2]])
    r = evaluate_rank(dist, ["a"], ["b", "a", "a"], ["c1"], ["c2", "c2", "c1"])
    assert r.mAP == 1.0


def test_ids_of_different_kinds_are_refused():
    with pytest.raises(EvaluationError, match="not of the same kind"):
        evaluate_rank(np.zeros((1, 1)), [1], ["1"], None, None)


def test_all_queries_skipped_is_an_error():
    with pytest.raises(EvaluationError, match="no query has a valid match"):
        evaluate_rank(np.zeros((1, 2)), [1], [2, 3], [0], [0, 1])


@pytest.mark.parametrize(
    ("shape", "q", "g", "message"),
    [((2, 3), [1], [1, 2, 3], "expected \\(1, 3\\)"), ((1, 3), [1], [1, 2], "expected \\(1, 2\\)")],
)
def test_shape_mismatch_is_an_error(shape, q, g, message):
    with pytest.raises(EvaluationError, match=message):
        evaluate_rank(np.zeros(shape), q, g, None, None)


def test_camera_ids_must_come_in_pairs():
    with pytest.raises(EvaluationError, match="both"):
        evaluate_rank(np.zeros((1, 1)), [1], [1], [0], None)


def test_result_helpers():
    r = evaluate_rank(np.array([[0.2, 0.1]]), [1], [1, 2], [0], [1, 1], max_rank=2)
    assert r.cmc_at(1) == 0.0 and r.cmc_at(2) == 1.0 and r.cmc_at(10) == 1.0
    assert r.summary((1, 2)) == {"mAP": 0.5, "mINP": 0.5, "rank1": 0.0, "rank2": 1.0}
    assert r.cmc_dict((1, 5)) == {"1": 0.0, "5": 1.0}
    with pytest.raises(EvaluationError):
        r.cmc_at(0)


def test_blocks_of_many_rows_match_reference():
    # more rows than one block, integer distances -> many ties across all code paths
    rng = np.random.default_rng(0)
    dist = rng.integers(0, 6, (150, 40)).astype(np.float32)
    q_pids, g_pids = rng.integers(0, 8, 150), rng.integers(0, 8, 40)
    q_cams, g_cams = rng.integers(0, 2, 150), rng.integers(0, 2, 40)
    assert_matches_reference(dist, q_pids, g_pids, q_cams, g_cams, max_rank=10)


@st.composite
def problems(draw):
    nq = draw(st.integers(1, 12))
    ng = draw(st.integers(1, 30))
    ids = draw(st.integers(1, 6))
    integer = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dist = rng.integers(0, 4, (nq, ng)).astype(np.float32) if integer else rng.random((nq, ng), dtype=np.float32)
    if draw(st.booleans()):
        dist[rng.random((nq, ng)) < 0.1] = np.nan
    cams = draw(st.booleans())
    return (
        dist,
        rng.integers(0, ids, nq),
        rng.integers(0, ids, ng),
        rng.integers(0, 2, nq) if cams else None,
        rng.integers(0, 2, ng) if cams else None,
    )


@settings(max_examples=80, deadline=None)
@given(problems(), st.integers(1, 40))
def test_random_problems_match_reference(problem, max_rank):
    assert_matches_reference(*problem, max_rank=max_rank)


@settings(max_examples=80, deadline=None)
@given(problems())
def test_sorting_and_counting_paths_agree(problem):
    dist, q_pids, g_pids, q_cams, g_cams = problem
    rel = Relevance.build(q_pids, g_pids, q_cams, g_cams)
    rows = np.arange(len(q_pids))
    by_sort = match_positions(dist, rows, rel, strategy="sort")
    by_count = match_positions(dist, rows, rel, strategy="count")
    by_auto = match_positions(np.asfortranarray(dist), rows, rel, strategy="auto")  # gallery-major layout
    by_count_f = match_positions(np.asfortranarray(dist), rows, rel, strategy="count")
    for got in (by_count, by_auto, by_count_f):
        np.testing.assert_array_equal(got[0], by_sort[0])
        np.testing.assert_array_equal(got[1], by_sort[1])


@pytest.mark.parametrize("layout", ["C", "F"])
def test_rows_with_many_candidates_take_the_counting_path(layout):
    # matches far down long rows (a weak model): "auto" counts instead of sorting
    rng = np.random.default_rng(7)
    dist = rng.integers(0, 50, (6, 3000)).astype(np.float32)  # many exact ties
    q_pids = np.arange(6)
    g_pids = rng.integers(10, 1000, 3000)  # distractors ...
    g_pids[rng.choice(3000, 24, replace=False)] = np.repeat(np.arange(6), 4)  # ... and 4 images per query id
    q_cams, g_cams = rng.integers(0, 2, 6), rng.integers(0, 2, 3000)
    rel = Relevance.build(q_pids, g_pids, q_cams, g_cams)
    block = np.asarray(dist, order=layout)
    auto = match_positions(block, np.arange(6), rel, strategy="auto")
    by_sort = match_positions(dist, np.arange(6), rel, strategy="sort")
    np.testing.assert_array_equal(auto[0], by_sort[0])
    np.testing.assert_array_equal(auto[1], by_sort[1])
    assert_matches_reference(dist, q_pids, g_pids, q_cams, g_cams)


def reference_lists(dist, k, q_pids=None, g_pids=None, q_cams=None, g_cams=None):
    out = np.full((len(dist), k), -1)
    for i, row in enumerate(dist):
        order = np.argsort(row, kind="stable")
        if q_pids is not None:
            order = [j for j in order if not (g_pids[j] == q_pids[i] and g_cams[j] == q_cams[i])]
        out[i, : min(k, len(order))] = order[:k]
    return out


@settings(max_examples=60, deadline=None)
@given(problems(), st.integers(1, 30))
def test_ranked_lists_match_stable_argsort(problem, k):
    dist, q_pids, g_pids, q_cams, g_cams = problem
    k = min(k, dist.shape[1])
    np.testing.assert_array_equal(ranked_lists(dist, k), reference_lists(dist, k))
    if q_cams is not None:
        np.testing.assert_array_equal(
            ranked_lists(dist, k, q_pids, g_pids, q_cams, g_cams),
            reference_lists(dist, k, q_pids, g_pids, q_cams, g_cams),
        )


def test_ranked_lists_pad_with_minus_one_and_check_k():
    dist = np.array([[0.1, 0.2, 0.3]])
    # two of three gallery images are junk for this query
    lists = ranked_lists(dist, 3, [1], [1, 1, 2], [0], [0, 0, 1])
    assert lists.tolist() == [[2, -1, -1]]
    with pytest.raises(EvaluationError, match="k must be"):
        ranked_lists(dist, 4)
    with pytest.raises(EvaluationError, match="together"):
        ranked_lists(dist, 1, [1], [1, 1, 2])

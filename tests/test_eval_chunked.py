"""evaluate_features (tiles of queries, no full matrix) against the protocol written out plainly."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import reid.evaluation.chunked as chunked
from reid.evaluation import (
    EvaluationError,
    evaluate_features,
    evaluate_rank,
    pairwise_distances,
    ranked_lists,
    ranked_lists_features,
)


@pytest.fixture(autouse=True)
def _small_tiles(monkeypatch):
    """Several tiles (and a zero-padded last one) even on tiny problems; one thread."""
    monkeypatch.setattr(chunked, "TILE_QUERIES", 4)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def brute_force(dist, q_pids, g_pids, q_cams, g_cams, max_rank=50):
    """The protocol with python loops (stable sort; same id + same camera ignored)."""
    length = min(max_rank, len(g_pids))
    aps, inps, cmcs = [], [], []
    for i, row in enumerate(dist):
        order = sorted(range(len(row)), key=lambda j: (row[j], j))
        hits = [g_pids[j] == q_pids[i] for j in order
                if q_cams is None or not (g_pids[j] == q_pids[i] and g_cams[j] == q_cams[i])]
        if not any(hits):
            continue
        found, precisions = 0, []
        for pos, hit in enumerate(hits):
            if hit:
                found += 1
                precisions.append(found / (pos + 1))
                last = pos
        aps.append(sum(precisions) / found)
        inps.append(found / (last + 1))
        cmcs.append([float(r >= hits.index(True)) for r in range(length)])
    if not aps:
        return None
    return sum(aps) / len(aps), np.mean(cmcs, axis=0), sum(inps) / len(inps)


def numpy_distances(qf, gf, metric):
    qf, gf = np.asarray(qf, np.float64), np.asarray(gf, np.float64)
    if metric == "cosine":
        qf = qf / np.maximum(np.linalg.norm(qf, axis=1, keepdims=True), 1e-12)
        gf = gf / np.maximum(np.linalg.norm(gf, axis=1, keepdims=True), 1e-12)
        return 1 - qf @ gf.T
    return ((qf[:, None, :] - gf[None, :, :]) ** 2).sum(-1)


@st.composite
def feature_problems(draw):
    nq, ng, dim = draw(st.integers(1, 11)), draw(st.integers(1, 25)), draw(st.integers(1, 6))
    ids = draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # small integer features: squared Euclidean distances are exact integers, so ties are
    # frequent and every float32 evaluation order gives the same numbers
    qf = rng.integers(-2, 3, (nq, dim)).astype(np.float32)
    gf = rng.integers(-2, 3, (ng, dim)).astype(np.float32)
    if draw(st.booleans()):
        gf[rng.integers(0, ng)] = qf[0]  # an exact duplicate: distance 0
    cams = draw(st.booleans())
    return (qf, gf, rng.integers(0, ids, nq), rng.integers(0, ids, ng),
            rng.integers(0, 2, nq) if cams else None, rng.integers(0, 2, ng) if cams else None)


@settings(max_examples=60, deadline=None)
@given(feature_problems(), st.integers(1, 30))
def test_integer_features_match_reference(problem, max_rank):
    qf, gf, q_pids, g_pids, q_cams, g_cams = problem
    exact = numpy_distances(qf, gf, "euclidean")
    np.testing.assert_array_equal(pairwise_distances(qf, gf), exact)
    ref = brute_force(exact.tolist(), list(q_pids), list(g_pids),
                      None if q_cams is None else list(q_cams), None if g_cams is None else list(g_cams), max_rank)
    if ref is None:
        with pytest.raises(EvaluationError):
            evaluate_features(qf, gf, q_pids, g_pids, q_cams, g_cams, max_rank=max_rank)
        return
    got = evaluate_features(qf, gf, q_pids, g_pids, q_cams, g_cams, max_rank=max_rank)
    assert got.mAP == pytest.approx(ref[0], abs=1e-6)
    np.testing.assert_allclose(got.cmc, ref[1], atol=1e-6)
    assert got.mINP == pytest.approx(ref[2], abs=1e-6)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_float_features_equal_evaluate_rank_on_the_same_distances(metric):
    rng = np.random.default_rng(1)
    qf = rng.standard_normal((37, 16)).astype(np.float32)
    gf = rng.standard_normal((90, 16)).astype(np.float32)
    q_pids, g_pids = rng.integers(0, 12, 37), rng.integers(0, 12, 90)
    q_cams, g_cams = rng.integers(0, 2, 37), rng.integers(0, 2, 90)
    dist = pairwise_distances(qf, gf, metric)
    np.testing.assert_allclose(dist, numpy_distances(qf, gf, metric), atol=1e-4)
    a = evaluate_features(qf, gf, q_pids, g_pids, q_cams, g_cams, metric=metric, max_rank=20)
    b = evaluate_rank(dist, q_pids, g_pids, q_cams, g_cams, max_rank=20)
    ref = brute_force(dist.tolist(), list(q_pids), list(g_pids), list(q_cams), list(g_cams), 20)
    assert a.mAP == b.mAP and a.mINP == b.mINP
    np.testing.assert_array_equal(a.cmc, b.cmc)
    np.testing.assert_array_equal(a.per_query_ap, b.per_query_ap)
    assert a.mAP == pytest.approx(ref[0], abs=1e-6) and a.mINP == pytest.approx(ref[2], abs=1e-6)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_distances_do_not_depend_on_which_queries_come_along(metric):
    rng = np.random.default_rng(2)
    qf = rng.standard_normal((30, 64)).astype(np.float32)
    gf = rng.standard_normal((50, 64)).astype(np.float32)
    full = pairwise_distances(qf, gf, metric)
    for lo, hi in [(0, 1), (3, 9), (5, 30)]:
        np.testing.assert_array_equal(pairwise_distances(qf[lo:hi], gf, metric), full[lo:hi])


def test_torch_and_float64_inputs_give_the_same_result():
    rng = np.random.default_rng(4)
    qf = rng.standard_normal((9, 8))
    gf = rng.standard_normal((20, 8))
    q_pids, g_pids = rng.integers(0, 4, 9), rng.integers(0, 4, 20)
    a = evaluate_features(qf, gf, q_pids, g_pids)
    b = evaluate_features(torch.from_numpy(qf).float(), torch.from_numpy(gf).float(),
                          torch.from_numpy(q_pids), torch.from_numpy(g_pids))
    assert a.mAP == b.mAP and np.array_equal(a.cmc, b.cmc)


def test_good_features_are_ranked_perfectly():
    # every image sits on its vehicle's centre plus tiny noise: each query finds its own vehicle first
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((10, 32)).astype(np.float32) * 10
    g_pids = np.repeat(np.arange(10), 3)
    q_pids = np.arange(10)
    gf = centres[g_pids] + 0.01 * rng.standard_normal((30, 32)).astype(np.float32)
    qf = centres[q_pids] + 0.01 * rng.standard_normal((10, 32)).astype(np.float32)
    for metric in ("euclidean", "cosine"):
        r = evaluate_features(qf, gf, q_pids, g_pids, metric=metric)
        assert r.mAP == pytest.approx(1.0) and r.cmc[0] == 1.0 and r.mINP == pytest.approx(1.0)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_ranked_lists_from_features_equal_those_from_distances(metric):
    rng = np.random.default_rng(6)
    qf = rng.integers(-1, 2, (13, 5)).astype(np.float32)
    gf = rng.integers(-1, 2, (40, 5)).astype(np.float32)
    q_pids, g_pids = rng.integers(0, 5, 13), rng.integers(0, 5, 40)
    q_cams, g_cams = rng.integers(0, 2, 13), rng.integers(0, 2, 40)
    dist = pairwise_distances(qf, gf, metric)
    np.testing.assert_array_equal(ranked_lists_features(qf, gf, 7, metric=metric), ranked_lists(dist, 7))
    np.testing.assert_array_equal(
        ranked_lists_features(qf, gf, 40, q_pids, g_pids, q_cams, g_cams, metric=metric),
        ranked_lists(dist, 40, q_pids, g_pids, q_cams, g_cams),
    )
    if metric == "euclidean":
        np.testing.assert_array_equal(ranked_lists(dist, 7), np.argsort(dist, axis=1, kind="stable")[:, :7])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"qf": np.zeros((2, 3)), "gf": np.zeros((4, 5))}, "dimension 3"),
        ({"qf": np.full((2, 3), np.nan)}, "qf contains NaN"),
        ({"qf": np.zeros(3)}, "2-D"),
        ({"metric": "manhattan"}, "metric must be"),
        ({"q_pids": [1, 2, 3]}, "qf has 2 rows but there are 3 query ids"),
    ],
)
def test_bad_inputs_give_readable_errors(kwargs, message):
    args = {"qf": np.zeros((2, 3)), "gf": np.ones((4, 3)), "q_pids": [1, 2], "g_pids": [1, 2, 1, 2]}
    args.update(kwargs)
    with pytest.raises(EvaluationError, match=message):
        evaluate_features(**args)

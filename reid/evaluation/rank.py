"""The standard ReID ranking protocol (mAP, CMC, mINP), computed by counting instead of sorting.

Protocol (Market-1501 style, as in the VRAI paper §5.1): for each query, gallery images of
the same vehicle *and* the same camera are ignored ("junk"); the other gallery images of
the same vehicle are its true matches. A query with no true match is skipped and counted.
For a valid query whose matches sit at 0-based positions p_1 < ... < p_R of its ranked
list (junk removed):

* AP   = mean over m of  m / (p_m + 1)          (precision at each correct hit)
* CMC  : cmc[k] = 1 if p_1 <= k                 (averaged over valid queries; cmc[0] = rank-1)
* INP  = R / (p_R + 1)                          (mINP, Ye et al. 2021)

Ties: the ranked list is the *stable* ascending sort of the row's distances, so two gallery
items at exactly the same distance are ordered by gallery index (``np.argsort(row,
kind="stable")``). NaN distances rank after every number (as numpy sorts them).

Why counting: AP only needs the positions of a query's few true matches, and the
position of a match is the number of valid gallery items that sort before it. One
vectorised comparison against the row's farthest match finds, for a usable model, a
handful of candidates per row, which are then sorted exactly; rows where the candidates
are many fall back to one comparison pass per distinct match distance. Neither needs the
full argsort (``O(G log G)`` per row, plus an int64 copy of the whole matrix).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vrai_tools.errors import VraiToolsError

#: Rows of a precomputed distance matrix handled together: 64 x 55,753 fp32 = 14 MB stays in cache.
BLOCK_ROWS = 64


class EvaluationError(VraiToolsError, ValueError):
    """Inputs that cannot be evaluated (mismatched lengths, no valid query, ...)."""


@dataclass(frozen=True)
class RankResult:
    """Metrics of one ranking evaluation. ``per_query_ap`` is NaN for skipped queries."""

    mAP: float
    cmc: np.ndarray
    mINP: float
    num_valid_queries: int
    num_skipped: int
    per_query_ap: np.ndarray = field(repr=False)

    def cmc_at(self, rank: int) -> float:
        """CMC at a 1-based rank (``cmc_at(1)`` is rank-1 accuracy)."""
        if rank < 1:
            raise EvaluationError(f"rank must be >= 1, got {rank}")
        return float(self.cmc[min(rank, len(self.cmc)) - 1])

    def cmc_dict(self, ranks: Iterable[int] = (1, 5, 10)) -> dict[str, float]:
        """``{"1": rank-1, "5": ..., "10": ...}``, the shape of ``ReidMetrics.cmc``."""
        return {str(r): self.cmc_at(r) for r in ranks}

    def summary(self, ranks: Iterable[int] = (1, 5, 10)) -> dict[str, float]:
        """Flat dict for reports and the ``ReidMetrics`` schema (``cmc`` keys are ranks)."""
        out: dict[str, float] = {"mAP": self.mAP, "mINP": self.mINP}
        for r in ranks:
            out[f"rank{r}"] = self.cmc_at(r)
        return out


@dataclass(frozen=True)
class Relevance:
    """Per query, the gallery indices of its true matches and of its junk, as CSR arrays.

    Ids are recoded to dense integers once so every later comparison is a cheap int op.
    Without camera ids nothing is junk (the official release's test set has none).
    """

    q_pid: np.ndarray
    g_pid: np.ndarray
    q_cam: np.ndarray | None
    g_cam: np.ndarray | None
    match_ptr: np.ndarray
    match_idx: np.ndarray
    junk_ptr: np.ndarray
    junk_idx: np.ndarray

    @property
    def num_query(self) -> int:
        return len(self.q_pid)

    @property
    def num_gallery(self) -> int:
        return len(self.g_pid)

    @classmethod
    def build(
        cls,
        q_pids: Any,
        g_pids: Any,
        q_camids: Any | None = None,
        g_camids: Any | None = None,
    ) -> Relevance:
        q_pid, g_pid = _recode(_as_1d(q_pids, "q_pids"), _as_1d(g_pids, "g_pids"))
        if (q_camids is None) != (g_camids is None):
            raise EvaluationError("give both q_camids and g_camids, or neither")
        q_cam = g_cam = None
        if q_camids is not None:
            q_cam, g_cam = _recode(_as_1d(q_camids, "q_camids"), _as_1d(g_camids, "g_camids"))
            if len(q_cam) != len(q_pid):
                raise EvaluationError(f"q_camids has {len(q_cam)} entries, q_pids {len(q_pid)}")
            if len(g_cam) != len(g_pid):
                raise EvaluationError(f"g_camids has {len(g_cam)} entries, g_pids {len(g_pid)}")

        nq = len(q_pid)
        order = np.argsort(g_pid, kind="stable")  # equal ids keep ascending gallery index
        sorted_pid = g_pid[order]
        lo = np.searchsorted(sorted_pid, q_pid, side="left")
        hi = np.searchsorted(sorted_pid, q_pid, side="right")
        counts = hi - lo
        rows = np.repeat(np.arange(nq), counts)
        starts = np.cumsum(counts) - counts
        gidx = order[lo[rows] + np.arange(len(rows)) - starts[rows]]
        if q_cam is not None and g_cam is not None:
            junk = g_cam[gidx] == q_cam[rows]
        else:
            junk = np.zeros(len(rows), dtype=bool)
        match_ptr = _ptr(np.bincount(rows[~junk], minlength=nq))
        junk_ptr = _ptr(np.bincount(rows[junk], minlength=nq))
        return cls(q_pid, g_pid, q_cam, g_cam, match_ptr, gidx[~junk], junk_ptr, gidx[junk])

    def num_matches(self) -> np.ndarray:
        return np.diff(self.match_ptr)


@dataclass
class MetricsAccumulator:
    """Per-query AP, first-hit and last-hit positions, filled block by block."""

    ap: np.ndarray
    first: np.ndarray
    last: np.ndarray

    @classmethod
    def empty(cls, nq: int) -> MetricsAccumulator:
        return cls(np.full(nq, np.nan), np.full(nq, -1, np.int64), np.full(nq, -1, np.int64))

    def add(self, qrows: np.ndarray, match_rows: np.ndarray, positions: np.ndarray) -> None:
        """``match_rows``/``positions``: local row and 0-based rank of every match, sorted
        by row then position."""
        if len(positions) == 0:
            return
        b = len(qrows)
        counts = np.bincount(match_rows, minlength=b)
        start = _ptr(counts)
        hit = np.arange(len(positions)) - start[match_rows] + 1  # m in m / (p_m + 1)
        prec = np.bincount(match_rows, weights=hit / (positions + 1.0), minlength=b)
        has = counts > 0
        q = qrows[has]
        self.ap[q] = prec[has] / counts[has]
        self.first[q] = positions[start[:-1][has]]
        self.last[q] = positions[start[1:][has] - 1]

    def result(self, rel: Relevance, max_rank: int) -> RankResult:
        valid = self.first >= 0
        n_valid = int(valid.sum())
        if n_valid == 0:
            raise EvaluationError("no query has a valid match in the gallery")
        length = max(1, min(max_rank, rel.num_gallery))
        first = self.first[valid]
        hits = np.bincount(np.minimum(first, length), minlength=length + 1)[:length]
        cmc = np.cumsum(hits) / n_valid
        inp = rel.num_matches()[valid] / (self.last[valid] + 1.0)
        return RankResult(
            mAP=float(np.mean(self.ap[valid])),
            cmc=cmc,
            mINP=float(np.mean(inp)),
            num_valid_queries=n_valid,
            num_skipped=int(rel.num_query - n_valid),
            per_query_ap=self.ap,
        )


def evaluate_rank(
    distmat: Any,
    q_pids: Any,
    g_pids: Any,
    q_camids: Any | None,
    g_camids: Any | None,
    max_rank: int = 50,
) -> RankResult:
    """mAP / CMC / mINP of a precomputed (num_query x num_gallery) distance matrix.

    Pass ``q_camids=g_camids=None`` to disable same-camera filtering. ``cmc`` has
    ``min(max_rank, num_gallery)`` entries; a valid query whose list ends before that
    counts as a hit at every later rank. Ties are ordered by gallery index (see module doc).
    The matrix may be a ``np.memmap``; it is read once, ``BLOCK_ROWS`` rows at a time.
    """
    rel = Relevance.build(q_pids, g_pids, q_camids, g_camids)
    dist = _to_numpy(distmat)
    check_distmat_shape(dist, rel)
    acc = MetricsAccumulator.empty(rel.num_query)
    for r0, block in _row_blocks(dist, BLOCK_ROWS):
        qrows = np.arange(r0, r0 + len(block))
        acc.add(qrows, *match_positions(block, qrows, rel))
    return acc.result(rel, max_rank)


def check_distmat_shape(dist: np.ndarray, rel: Relevance) -> None:
    if dist.ndim != 2 or dist.shape != (rel.num_query, rel.num_gallery):
        raise EvaluationError(
            f"distmat has shape {dist.shape}, expected ({rel.num_query}, {rel.num_gallery}) "
            "= (len(q_pids), len(g_pids))"
        )
    if not (np.issubdtype(dist.dtype, np.floating) or np.issubdtype(dist.dtype, np.integer)):
        raise EvaluationError(f"distmat must be numeric, got dtype {dist.dtype}")


def _row_blocks(dist: np.ndarray, rows: int) -> Iterator[tuple[int, np.ndarray]]:
    for r0 in range(0, dist.shape[0], rows):
        block = np.ascontiguousarray(dist[r0 : r0 + rows])
        if not np.issubdtype(block.dtype, np.floating):
            block = block.astype(np.float64)  # exact for integers below 2**53
        yield r0, block


#: A row whose candidates (items no farther than its farthest match) exceed this many per
#: match is cheaper to count pass by pass than to sort.
_SORT_LIMIT_PER_MATCH_FRACTION = 1 / 96


def match_positions(
    block: np.ndarray, qrows: np.ndarray, rel: Relevance, strategy: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """0-based ranks of the true matches of the queries ``qrows`` whose distance rows are
    ``block``, shape (len(qrows), num_gallery), C-contiguous or the transpose of a
    C-contiguous gallery-major array (what the features path produces).

    ``strategy`` ("auto", "sort" or "count") picks how rows are resolved; all give the
    same numbers, "auto" the fastest. Returns ``(local_row, position)`` sorted by row,
    then position.
    """
    if strategy not in ("auto", "sort", "count"):
        raise ValueError(f"unknown strategy {strategy!r}")
    if not (block.flags.c_contiguous or block.T.flags.c_contiguous):
        block = np.ascontiguousarray(block)
    b, g = block.shape
    m0, m1 = rel.match_ptr[qrows], rel.match_ptr[qrows + 1]
    n_match = m1 - m0
    mrow = np.repeat(np.arange(b), n_match)
    mval = block[mrow, rel.match_idx[_ranges(m0, n_match)]]

    has = n_match > 0
    far = np.full(b, -np.inf, dtype=block.dtype)
    np.fmax.at(far, mrow, mval)  # NaN match distances are resolved by the plain sort
    nan_rows = np.zeros(b, dtype=bool)
    nan_rows[mrow[np.isnan(mval)]] = True

    # Candidates: items no farther than the row's farthest match; only they can precede it.
    cand = _at_most(block, far)
    dense = np.zeros(b, dtype=bool)
    if strategy == "count":
        dense = has & ~nan_rows
    elif strategy == "auto":
        limit = np.maximum(256, (n_match * g * _SORT_LIMIT_PER_MATCH_FRACTION).astype(np.int64))
        in_memory_order = cand if cand.flags.c_contiguous else cand.T
        if np.count_nonzero(in_memory_order) > limit.min():  # else no row can be over its limit
            dense = has & ~nan_rows & (_row_counts(cand) > limit)
    slow = has & nan_rows
    excluded = ~has | dense | slow
    if excluded.any():
        _clear_rows(cand, excluded)

    out = [_sorted_candidates(block, cand, qrows, rel)]
    other = np.flatnonzero(dense | slow)
    if len(other):
        rows = contiguous_rows(block, other)
        for row, r in zip(rows, other):
            q = qrows[r]
            matches = rel.match_idx[rel.match_ptr[q] : rel.match_ptr[q + 1]]
            junk = rel.junk_idx[rel.junk_ptr[q] : rel.junk_ptr[q + 1]]
            counter = _positions_by_sort if slow[r] else _positions_by_counting
            pos = counter(row, matches, junk)
            out.append((np.full(len(pos), r, dtype=np.int64), pos))
    local = np.concatenate([r for r, _ in out])
    pos = np.concatenate([p for _, p in out])
    order = np.lexsort((pos, local))
    return local[order], pos[order]


# The helpers below accept a (rows x gallery) array that is C-contiguous or the transpose of
# a C-contiguous array, and always walk memory in order (strided walks are 10x slower).


def _at_most(block: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """``block <= limit[:, None]``; gallery-major blocks are compared as (gallery x rows)
    so the per-row limit broadcasts along memory (2x faster than numpy's own choice)."""
    if block.flags.c_contiguous:
        return np.less_equal(block, limit[:, None])
    return np.less_equal(block.T, limit[None, :]).T


def _row_counts(mask: np.ndarray) -> np.ndarray:
    if mask.flags.c_contiguous:
        return np.array([np.count_nonzero(row) for row in mask], dtype=np.int64)
    # gallery-major: add the bytes of whole gallery slabs at once, in uint16 (no overflow
    # below 65,536 rows per slab), which is ~3x faster than a bool -> int64 reduction
    by_gallery = mask.T.view(np.uint8)
    counts = np.zeros(mask.shape[0], dtype=np.int64)
    for g0 in range(0, by_gallery.shape[0], 32768):
        counts += np.add.reduce(by_gallery[g0 : g0 + 32768], axis=0, dtype=np.uint16)
    return counts


def _clear_rows(mask: np.ndarray, rows: np.ndarray) -> None:
    if mask.flags.c_contiguous:
        mask[rows] = False
    else:
        np.logical_and(mask.T, ~rows[None, :], out=mask.T)


def _nonzero(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a 2-D mask, via the much faster 1-D scan."""
    if mask.flags.c_contiguous:
        return np.divmod(np.flatnonzero(mask), mask.shape[1])
    cols, rows = np.divmod(np.flatnonzero(mask.T), mask.shape[0])
    return rows, cols


def contiguous_rows(block: np.ndarray, rows: np.ndarray) -> np.ndarray:
    if block.flags.c_contiguous:
        return block[rows]
    # Gallery-major: transpose slab by slab so each slab stays in cache (2x faster than
    # one strided copy, which misses the cache on every element).
    src = block.T
    out = np.empty((len(rows), src.shape[0]), dtype=block.dtype)
    every = len(rows) == src.shape[1]
    for g0 in range(0, src.shape[0], 1024):
        slab = src[g0 : g0 + 1024]
        out[:, g0 : g0 + 1024] = (slab if every else slab[:, rows]).T
    return out


def _sorted_candidates(
    block: np.ndarray, cand: np.ndarray, qrows: np.ndarray, rel: Relevance
) -> tuple[np.ndarray, np.ndarray]:
    """Exact ranks of the matches when every item that can precede them is in ``cand``."""
    rr, cc = _nonzero(cand)
    if len(rr) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    vals = block[rr, cc]
    q = qrows[rr]
    same = rel.g_pid[cc] == rel.q_pid[q]
    if rel.q_cam is not None and rel.g_cam is not None:
        keep = ~(same & (rel.g_cam[cc] == rel.q_cam[q]))
        rr, cc, vals, same = rr[keep], cc[keep], vals[keep], same[keep]
    # (row, distance, gallery index): equal distances keep gallery order, as in a stable argsort
    order = np.lexsort((cc, vals, rr))
    rr, same = rr[order], same[order]
    start = np.searchsorted(rr, np.arange(len(qrows)))
    pos = np.arange(len(rr)) - start[rr]
    return rr[same].astype(np.int64), pos[same].astype(np.int64)


def _positions_by_counting(row: np.ndarray, matches: np.ndarray, junk: np.ndarray) -> np.ndarray:
    """Ranks of ``matches`` in the stable order of ``row`` without ``junk``: two counting
    passes (``<`` and ``==``) per distinct match distance, nothing else over the row."""
    s = row[matches]
    order = np.argsort(s, kind="stable")
    s, j = s[order], matches[order]
    jv = row[junk]
    pos = np.empty(len(s), dtype=np.int64)
    values = s.tolist()
    a = 0
    while a < len(values):
        c = 1
        while a + c < len(values) and values[a + c] == values[a]:
            c += 1
        v = s[a]  # numpy scalar of the row's dtype: compared exactly
        before = np.count_nonzero(row < v)
        equal = np.count_nonzero(row == v)
        if len(jv):
            before -= np.count_nonzero(jv < v)
            equal -= np.count_nonzero(jv == v)
        if equal == c:  # only matches sit at this distance: they keep gallery order
            pos[a : a + c] = before + np.arange(c)
        else:  # a non-match ties with a match: count the valid ones with smaller index
            tied = np.flatnonzero(row == v)
            tied = tied[~np.isin(tied, junk)]
            pos[a : a + c] = before + np.searchsorted(tied, j[a : a + c])
        a += c
    return pos


def _positions_by_sort(row: np.ndarray, matches: np.ndarray, junk: np.ndarray) -> np.ndarray:
    """The plain definition; used only for rows with NaN match distances."""
    valid = np.ones(len(row), dtype=bool)
    valid[junk] = False
    kept = np.flatnonzero(valid)
    ranked = kept[np.argsort(row[kept], kind="stable")]
    is_match = np.zeros(len(row), dtype=bool)
    is_match[matches] = True
    return np.flatnonzero(is_match[ranked]).astype(np.int64)


def ranked_lists(
    distmat: Any,
    k: int,
    q_pids: Any | None = None,
    g_pids: Any | None = None,
    q_camids: Any | None = None,
    g_camids: Any | None = None,
) -> np.ndarray:
    """The ``k`` best gallery indices per query, best first, shape (num_query, k).

    Same order as the evaluation protocol (stable ties). Junk (same id and same camera) is
    left out when all four id arrays are given; with none (official release test set) the
    lists are plain nearest neighbours. Rows with fewer than ``k`` valid items end in -1.
    """
    dist = _to_numpy(distmat)
    if dist.ndim != 2:
        raise EvaluationError(f"distmat must be 2-D, got shape {dist.shape}")
    rel = optional_relevance(dist.shape, q_pids, g_pids, q_camids, g_camids)
    out = np.empty((dist.shape[0], k), dtype=np.int64)
    for r0, block in _row_blocks(dist, BLOCK_ROWS):
        out[r0 : r0 + len(block)] = topk_block(block, np.arange(r0, r0 + len(block)), k, rel)
    return out


def optional_relevance(
    shape: tuple[int, ...], q_pids: Any, g_pids: Any, q_camids: Any, g_camids: Any
) -> Relevance | None:
    given = [x is not None for x in (q_pids, g_pids, q_camids, g_camids)]
    if not any(given):
        return None
    if not all(given):
        raise EvaluationError("junk filtering needs q_pids, g_pids, q_camids and g_camids together")
    rel = Relevance.build(q_pids, g_pids, q_camids, g_camids)
    if tuple(shape) != (rel.num_query, rel.num_gallery):
        raise EvaluationError(
            f"distances have shape {tuple(shape)}, expected ({rel.num_query}, {rel.num_gallery})"
        )
    return rel


def topk_block(block: np.ndarray, qrows: np.ndarray, k: int, rel: Relevance | None) -> np.ndarray:
    """Exact stable top-k of each row of ``block`` (junk excluded when ``rel`` is given)."""
    b, g = block.shape
    if k < 1 or k > g:
        raise EvaluationError(f"k must be between 1 and the gallery size {g}, got {k}")
    work = block
    if rel is not None:
        work = block.copy()
        j0, j1 = rel.junk_ptr[qrows], rel.junk_ptr[qrows + 1]
        jrow = np.repeat(np.arange(b), j1 - j0)
        work[jrow, rel.junk_idx[_ranges(j0, j1 - j0)]] = np.inf
    kth = np.partition(work, k - 1, axis=1)[:, k - 1]
    out = np.full((b, k), -1, dtype=np.int64)
    cand = np.less_equal(work, kth[:, None])
    rr, cc = _nonzero(cand)
    if rel is not None:
        q = qrows[rr]
        keep = ~((rel.g_pid[cc] == rel.q_pid[q]) & (rel.g_cam[cc] == rel.q_cam[q]))  # type: ignore[index]
        rr, cc = rr[keep], cc[keep]
    order = np.lexsort((cc, block[rr, cc], rr))
    rr, cc = rr[order], cc[order]
    pos = np.arange(len(rr)) - np.searchsorted(rr, np.arange(b))[rr]
    keep = pos < k
    out[rr[keep], pos[keep]] = cc[keep]
    # Fewer than k found: a short valid list, or NaNs (never <= anything). Sort plainly.
    for r in np.flatnonzero(np.bincount(rr, minlength=b) < k):
        valid = np.ones(g, dtype=bool)
        if rel is not None:
            q = qrows[r]
            valid[rel.junk_idx[rel.junk_ptr[q] : rel.junk_ptr[q + 1]]] = False
        kept = np.flatnonzero(valid)
        best = kept[np.argsort(block[r, kept], kind="stable")][:k]  # NaNs last
        out[r, : len(best)] = best
    return out


def _to_numpy(values: Any) -> np.ndarray:
    """numpy arrays (and memmaps) pass through; torch tensors are detached and moved to CPU."""
    if isinstance(values, np.ndarray):
        return values
    if hasattr(values, "detach"):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def _as_1d(values: Any, name: str) -> np.ndarray:
    arr = _to_numpy(values)
    if arr.ndim != 1:
        raise EvaluationError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _recode(q: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map query and gallery labels onto shared dense int64 codes."""
    if _is_numeric(q) != _is_numeric(g):  # concatenating would turn 1 into "1" and match it
        raise EvaluationError(f"query ids ({q.dtype}) and gallery ids ({g.dtype}) are not of the same kind")
    try:
        _, codes = np.unique(np.concatenate([q, g]), return_inverse=True)
    except TypeError as exc:  # e.g. ints mixed with strings
        raise EvaluationError(f"ids of query and gallery are not comparable: {exc}") from exc
    codes = codes.astype(np.int64).reshape(-1)
    return codes[: len(q)], codes[len(q) :]


def _is_numeric(a: np.ndarray) -> bool:
    return bool(np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_)


def _ptr(counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` for each (s, n), vectorised."""
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(starts - offsets, lengths) + np.arange(total)

"""ReID evaluation at full VRAI test size: our chunked evaluator vs the naive full argsort.

    .venv/bin/python benchmarks/eval_scale.py                      # full size, naive at 0.25
    .venv/bin/python benchmarks/eval_scale.py --naive-scale 1      # naive at full size (>10 GB)
    .venv/bin/python benchmarks/eval_scale.py --queries 2000 --gallery 7000 --ids 850

Each method runs in a fresh subprocess that first builds the same seeded problem, then
resets the kernel's peak-RSS counter (``/proc/self/clear_refs``), so "extra MB" is the
peak resident memory above the inputs (torch allocations included, which tracemalloc
would miss). Methods:

* ``matmul_*`` the bare float32 product that any evaluator needs, alone: the full matrix
               at once in both operand orders (``qg``: q @ g.T, ``gq``: g @ q.T), and
               ``tiles``: our own tiled distances with no evaluation; the fastest of the
               three is the baseline;
* ``features`` ``evaluate_features``: features -> metrics, never holding the matrix;
* ``distmat``  ``evaluate_rank`` on a precomputed matrix (its input, the matrix, is not
               counted as extra);
* ``naive``    full matrix + full ``argsort`` + match matrix + per-query loop (the usual
               Python evaluator), at ``--naive-scale`` of the problem; ``ours@scale``
               is ``evaluate_features`` on that same smaller problem, and the table gives
               the largest difference between their metrics.

The ids follow the VRAI split: ``--ids`` test vehicles, each with gallery images in both
cameras and queries whose camera always has a gallery image of the other camera.
Features are an id centre plus per-image and per-camera noise (``--noise``), which gives
mAP in the range of trained models; ``--random`` uses pure noise (worst case: every
match lands mid-list).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class Problem:
    qf: np.ndarray
    gf: np.ndarray
    q_pids: np.ndarray
    g_pids: np.ndarray
    q_cams: np.ndarray
    g_cams: np.ndarray


def make_problem(
    queries: int, gallery: int, dim: int, ids: int, noise: float, random: bool, seed: int
) -> Problem:
    """A seeded problem with VRAI's id structure (see module doc)."""
    rng = np.random.default_rng(seed)
    if gallery < 2 * ids or queries < ids:
        raise SystemExit("need at least 2 gallery images and 1 query per id")
    extra = rng.integers(0, ids, gallery - 2 * ids)
    g_pids = np.sort(np.concatenate([np.arange(ids), np.arange(ids), extra]))
    g_cams = np.empty(gallery, np.int64)
    starts = np.searchsorted(g_pids, np.arange(ids))
    g_cams[:] = rng.integers(0, 2, gallery)
    g_cams[starts] = 0  # every id has both cameras in the gallery
    g_cams[starts + 1] = 1
    q_pids = np.sort(np.concatenate([np.arange(ids), rng.integers(0, ids, queries - ids)]))
    q_cams = rng.integers(0, 2, queries)
    perm_g, perm_q = rng.permutation(gallery), rng.permutation(queries)
    g_pids, g_cams, q_pids, q_cams = g_pids[perm_g], g_cams[perm_g], q_pids[perm_q], q_cams[perm_q]

    def features(pids: np.ndarray, cams: np.ndarray) -> np.ndarray:
        x = rng.standard_normal((len(pids), dim), dtype=np.float32)
        if random:
            return x
        x *= noise
        x += centres[pids]
        x += cam_shift[cams]
        return x

    centres = rng.standard_normal((ids, dim), dtype=np.float32)
    cam_shift = (0.5 * rng.standard_normal((2, dim))).astype(np.float32)
    qf = features(q_pids, q_cams)
    gf = features(g_pids, g_cams)
    return Problem(qf, gf, q_pids, g_pids, q_cams, g_cams)


def naive_evaluate(distmat: np.ndarray, p: Problem, max_rank: int = 50) -> dict[str, Any]:
    """The usual evaluator: full stable argsort, a match matrix, a loop over queries."""
    indices = np.argsort(distmat, axis=1, kind="stable")
    matches = (p.g_pids[indices] == p.q_pids[:, None]).astype(np.int32)
    aps, inps, cmcs = [], [], []
    for i in range(len(p.q_pids)):
        order = indices[i]
        keep = ~((p.g_pids[order] == p.q_pids[i]) & (p.g_cams[order] == p.q_cams[i]))
        raw = matches[i][keep]
        if not raw.any():
            continue
        cum = raw.cumsum()
        hit_pos = np.flatnonzero(raw)
        inps.append(cum[hit_pos[-1]] / (hit_pos[-1] + 1.0))
        cmc = (cum >= 1).astype(np.float64)[:max_rank]
        cmcs.append(np.pad(cmc, (0, max_rank - len(cmc)), constant_values=1.0))
        aps.append(float(np.sum(cum[hit_pos] / (hit_pos + 1.0)) / raw.sum()))
    cmc_mean = np.mean(cmcs, axis=0)
    length = min(max_rank, distmat.shape[1])
    return {"mAP": float(np.mean(aps)), "cmc": cmc_mean[:length].tolist(), "mINP": float(np.mean(inps))}


# ---------------------------------------------------------------- worker side

def _proc_status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _cpu_seconds() -> float:
    """User + system time of all this process's threads (less sensitive to a busy machine
    than wall time, though OpenMP threads that spin while waiting count too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker(method: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from reid.evaluation import evaluate_features, evaluate_rank, pairwise_distances
    from reid.evaluation.chunked import distance_tiles

    scale = args.naive_scale if method in ("naive", "ours_at_scale") else 1.0
    p = make_problem(
        max(1, round(args.queries * scale)), max(1, round(args.gallery * scale)), args.dim,
        max(1, round(args.ids * scale)), args.noise, args.random, args.seed,
    )
    qt, gt = torch.from_numpy(p.qf), torch.from_numpy(p.gf)
    out: dict[str, Any] = {"method": method, "queries": len(p.q_pids), "gallery": len(p.g_pids)}
    distmat = None
    if method == "distmat":
        distmat = pairwise_distances(p.qf, p.gf)
    base = _proc_status("VmRSS")
    exact_peak = _reset_peak()
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    if method == "matmul_qg":
        torch.mm(qt, gt.T)
    elif method == "matmul_gq":
        torch.mm(gt, qt.T)
    elif method == "matmul_tiles":
        for _ in distance_tiles(p.qf, p.gf):
            pass
    elif method in ("features", "ours_at_scale"):
        r = evaluate_features(p.qf, p.gf, p.q_pids, p.g_pids, p.q_cams, p.g_cams)
        out.update(mAP=r.mAP, cmc=r.cmc.tolist(), mINP=r.mINP, skipped=r.num_skipped)
    elif method == "distmat":
        r = evaluate_rank(distmat, p.q_pids, p.g_pids, p.q_cams, p.g_cams)
        out.update(mAP=r.mAP, cmc=r.cmc.tolist(), mINP=r.mINP, skipped=r.num_skipped)
    elif method == "naive":
        out.update(naive_evaluate(pairwise_distances(p.qf, p.gf), p))
    else:
        raise SystemExit(f"unknown method {method}")
    out["seconds"] = time.perf_counter() - t0
    out["cpu_seconds"] = _cpu_seconds() - cpu0
    peak = _proc_status("VmHWM")
    out["extra_mb"] = (peak - base) / 2**20 if exact_peak else float("nan")
    return out


# ---------------------------------------------------------------- driver side

def run_method(method: str, argv: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, *argv, "--worker", method]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"method": method, "error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=15747)
    ap.add_argument("--gallery", type=int, default=55753)
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--ids", type=int, default=6720)
    ap.add_argument("--noise", type=float, default=2.4, help="per-image noise / id spread")
    ap.add_argument("--random", action="store_true", help="pure-noise features (worst case)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--naive-scale", type=float, default=0.25,
                    help="fraction of the problem the naive evaluator gets")
    ap.add_argument("--methods",
                    default="matmul_qg,matmul_gq,matmul_tiles,features,distmat,naive,ours_at_scale")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args)))
        return

    passthrough = [a for a in (argv if argv is not None else sys.argv[1:])]
    kind = "random" if args.random else f"noise {args.noise}"
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; problem {args.queries} x "
          f"{args.gallery}, dim {args.dim}, {args.ids} ids, {kind} features", flush=True)
    results: dict[str, dict[str, Any]] = {}
    for method in args.methods.split(","):
        res = run_method(method, passthrough)
        results[method] = res
        if "error" in res:
            print(f"{method:>14}: FAILED {res['error']}", flush=True)
            continue
        metrics = ""
        if "mAP" in res:
            metrics = f"  mAP {res['mAP']:.4f} r1 {res['cmc'][0]:.4f} mINP {res['mINP']:.4f}"
        print(f"{method:>14}: {res['queries']:>6} x {res['gallery']:<6} {res['seconds']:8.2f} s "
              f"(cpu {res['cpu_seconds']:7.2f} s)  extra {res['extra_mb']:7.0f} MB{metrics}", flush=True)

    bare = ("matmul_qg", "matmul_gq", "matmul_tiles")
    base = [results[m]["seconds"] for m in bare if "seconds" in results.get(m, {})]
    if base and "seconds" in results.get("features", {}):
        print(f"features / fastest bare matmul: {results['features']['seconds'] / min(base):.3f}x")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (timings are only comparable on an idle machine)")
    a, b = results.get("naive", {}), results.get("ours_at_scale", {})
    if "mAP" in a and "mAP" in b:
        diff = max(abs(a["mAP"] - b["mAP"]), abs(a["mINP"] - b["mINP"]),
                   float(np.max(np.abs(np.subtract(a["cmc"], b["cmc"])))))
        print(f"naive vs ours at scale {args.naive_scale}: max metric difference {diff:.2e}; "
              f"time {a['seconds']:.2f} s vs {b['seconds']:.2f} s; "
              f"extra memory {a['extra_mb']:.0f} MB vs {b['extra_mb']:.0f} MB")


if __name__ == "__main__":
    main()

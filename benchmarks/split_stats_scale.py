"""Time and peak memory of `split` and `stats` on a VRAI-sized dataset (metadata only).

Builds 13,022 vehicles seen by both cameras with ~137k instances over 20 location pairs
(the paper's Table 1 sizes) with ``tests.dataset_factory.make_dataset(images=False)``,
then runs each step in a fresh process so its peak RSS is its own.

    .venv/bin/python benchmarks/split_stats_scale.py [--keep DIR]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PAIRS, VEHICLES = 20, 13_022
FRAMES_PER_CLIP = 625  # 25,000 frames in all

STEP = """
import resource, sys, time
t0 = time.perf_counter()
from vrai_tools.index import load_index
index = load_index({root!r})
t1 = time.perf_counter()
{body}
t2 = time.perf_counter()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{name:<28} load {{t1 - t0:6.2f}} s + work {{t2 - t1:6.2f}} s = {{t2 - t0:6.2f}} s, peak RSS {{peak:5.0f}} MiB  ({{len(index.records)}} instances)")
"""

SPLIT = """
from vrai_tools.split import make_split, summarise, write_split
split = make_split(index, "bench", 0)
write_split(index.root, split, force=True)
s = summarise(split, index)
"""

STATS = """
from vrai_tools.stats import write_stats
write_stats(index, {out!r}, plots={plots})
"""


def generate(root: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.dataset_factory import make_dataset

    t = time.perf_counter()
    per_pair = -(-VEHICLES // PAIRS)
    make_dataset(root, pairs=PAIRS, vehicles_per_pair=per_pair, frames=FRAMES_PER_CLIP, images=False,
                 size=(1920, 1080), track_length=(3, 8), single_camera_every=0)
    print(f"generated in {time.perf_counter() - t:.1f} s")


def step(name: str, root: Path, body: str) -> None:
    code = STEP.format(root=str(root), body=body, name=name)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="vrai-split-stats-"))
    if not (root / "dataset.json").exists():
        generate(root)
    step("load_index only", root, "pass")
    step("split (library)", root, SPLIT)
    step("stats, numbers only", root, STATS.format(out=str(root / "stats-out"), plots=False))
    step("stats with both figures", root, STATS.format(out=str(root / "stats-out"), plots=True))
    for argv in (["split", str(root), "--name", "bench-cli", "--seed", "1", "--force"],
                 ["stats", str(root), "--out", str(root / "stats-cli"), "-q"]):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "vrai_tools", *argv], check=True)
        print(f"`vrai-tools {argv[0]}` command, wall: {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()

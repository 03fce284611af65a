"""Time and peak memory of `vrai-tools validate --no-files` on a VRAI-sized dataset (metadata only).

Generates 25,000 frames, 137,613 instances and 13,022 vehicles (the paper's Table 1 sizes)
into a temporary folder, then runs validate in a fresh process so its peak RSS is its own.

    .venv/bin/python benchmarks/validate_scale.py [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FRAMES, INSTANCES, VEHICLES, PAIRS = 25_000, 137_613, 13_022, 20
W, H = 1920, 1080


def generate(root: Path, seed: int = 0) -> None:
    rnd = random.Random(seed)
    frames_per_clip = FRAMES // (2 * PAIRS)
    per_pair = VEHICLES // PAIRS + 1
    inst_per_vehicle_cam = INSTANCES / (VEHICLES * 2)
    clips, made, vid = [], 0, 0
    attrs = {"color": "White", "type": "Sedan", "skylight": False, "bumper": True, "spare_tire": False, "luggage_rack": False}
    for p in range(PAIRS):
        pid = f"p{p:02d}"
        tracklets, vehicles = [], []
        n_veh = min(per_pair, VEHICLES - vid)
        for cam in "AB":
            cid = f"{pid}-{cam}"
            clips.append({"id": cid, "pair": pid, "camera": cam, "width": W, "height": H, "fps": 30.0,
                          "frames": [{"index": k, "timestamp": k * 0.5, "file": f"frames/{cid}/{k:06d}.jpg",
                                      "altitude": 40.0} for k in range(frames_per_clip)]})
            insts, n = [], 0
            for v in range(n_veh):
                count = max(1, round(rnd.gauss(inst_per_vehicle_cam, 1.5)))
                start = rnd.randrange(0, frames_per_clip - count)
                keys = []
                x, y = rnd.uniform(0, W - 300), rnd.uniform(0, H - 300)
                for f in range(start, start + count):
                    c = [[x, y + 3], [x + 200, y], [x + 203, y + 100], [x + 3, y + 103]]
                    insts.append({"key": f"{cid}:{n}", "frame": f, "corners": c, "bbox": [x, y, x + 203, y + 103],
                                  "parts": {"state": "done", "boxes": [[x + 20, y + 20, x + 60, y + 50]]}})
                    keys.append(f"{cid}:{n}")
                    n += 1
                tracklets.append({"id": f"{cid}-t{v}", "clip_id": cid, "instances": keys})
            made += n
            (root / "annotations").mkdir(parents=True, exist_ok=True)
            (root / "annotations" / f"{cid}.json").write_text(json.dumps(
                {"schema_version": 2, "clip_id": cid, "image_size": [W, H], "instances": insts}))
        for v in range(n_veh):
            vehicles.append({"id": vid, "tracklets": [f"{pid}-A-t{v}", f"{pid}-B-t{v}"], "attributes": attrs})
            vid += 1
        (root / "matching").mkdir(parents=True, exist_ok=True)
        (root / "matching" / f"{pid}.json").write_text(json.dumps(
            {"schema_version": 1, "pair_id": pid, "tracklets": tracklets, "vehicles": vehicles}))
    (root / "dataset.json").write_text(json.dumps({"schema_version": 1, "name": "vrai-scale",
                                                    "pairs": [{"id": f"p{p:02d}"} for p in range(PAIRS)], "clips": clips}))
    print(f"generated {sum(len(c['frames']) for c in clips)} frames, {made} instances, {vid} vehicles")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="vrai-scale-"))
    if not (root / "dataset.json").exists():
        generate(root)
    code = (
        "import resource, sys, time\n"
        "t = time.perf_counter()\n"
        "from vrai_tools.validate import validate_root\n"
        f"r = validate_root({str(root)!r}, check_files=False)\n"
        "dt = time.perf_counter() - t\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(f'validate: {dt:.2f} s (including imports), peak RSS {peak:.0f} MiB, '"
        "f'{r.counts[\"instances\"]} instances, {r.counts[\"vehicles\"]} vehicles, {len(r.problems)} problems')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vrai_tools", "validate", str(root), "--no-files"], check=True)
    print(f"`vrai-tools validate --no-files` command, wall: {time.perf_counter() - t:.2f} s")


if __name__ == "__main__":
    main()

"""The two README pictures of ``vrai-tools synth``, written into a folder given on the command line.

    .venv/bin/python docs/pictures_synth.py OUT_DIR [--seed 0] [--keep-dataset DIR]

``synth_frame.png``: one synthetic frame with its ground truth drawn (the four corners an
annotator clicks in green, the derived box in yellow, discriminative parts in magenta,
vehicle ids). ``synth_lookalikes.png``: crops of look-alike vehicles (same model, colour
shade and attributes; only their marks differ) from camera A and camera B of their pair.
The dataset they come from is generated into a temporary folder (or ``--keep-dataset``).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from picture_tools import save_png  # noqa: E402

from vrai_tools.synth import SynthConfig, generate, load_truth  # noqa: E402

CELL = 150


def frame_picture(root: Path, truth: dict, out: Path) -> None:
    clips = truth["clips"]
    best = max(((cid, c["instances"]) for cid, c in sorted(clips.items())),
               key=lambda kv: max(np.bincount([i["frame"] for i in kv[1]] or [0])))
    cid, insts = best
    counts = np.bincount([i["frame"] for i in insts])
    frame = int(np.argmax(counts))
    img = cv2.imread(str(root / "frames" / cid / f"{frame:06d}.jpg"))
    for inst in (i for i in insts if i["frame"] == frame):
        x1, y1, x2, y2 = (int(round(v)) for v in inst["bbox"])
        cv2.rectangle(img, (x1, y1), (x2, y2), (0, 220, 255), 1, cv2.LINE_AA)
        pts = np.round(np.array(inst["corners"]) * 16).astype(np.int32)
        cv2.polylines(img, [pts], True, (60, 230, 60), 2, cv2.LINE_AA, 4)
        for c in inst["corners"]:
            cv2.circle(img, (int(round(c[0] * 16)), int(round(c[1] * 16))), 3 * 16, (60, 230, 60), -1, cv2.LINE_AA, 4)
        for b in inst["parts"]:
            cv2.rectangle(img, (int(b[0]), int(b[1])), (int(round(b[2])), int(round(b[3]))), (255, 60, 255), 1)
        cv2.putText(img, str(inst["vehicle"]), (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                    cv2.LINE_AA)
    save_png(img, out)
    print(f"wrote {out} ({cid} frame {frame}, {int(counts[frame])} vehicles, {out.stat().st_size // 1000} KB)")


def _crop(root: Path, cid: str, inst: dict) -> np.ndarray:
    img = cv2.imread(str(root / "frames" / cid / f"{inst['frame']:06d}.jpg"))
    x1, y1, x2, y2 = inst["bbox"]
    crop = img[int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))]
    k = (CELL - 10) / max(crop.shape[:2])
    crop = cv2.resize(crop, (max(1, round(crop.shape[1] * k)), max(1, round(crop.shape[0] * k))),
                      interpolation=cv2.INTER_CUBIC if k > 1 else cv2.INTER_AREA)
    cell = np.full((CELL, CELL, 3), 245, np.uint8)
    y, x = (CELL - crop.shape[0]) // 2, (CELL - crop.shape[1]) // 2
    cell[y:y + crop.shape[0], x:x + crop.shape[1]] = crop
    return cell


def lookalike_picture(root: Path, truth: dict, out: Path, rows: int = 5, per_camera: int = 2) -> None:
    by_vehicle: dict[int, dict[str, list[tuple[str, dict]]]] = defaultdict(lambda: defaultdict(list))
    for cid, c in truth["clips"].items():
        for inst in c["instances"]:
            if inst["visible"] >= 1.0:
                by_vehicle[inst["vehicle"]][c["camera"]].append((cid, inst))
    groups: dict[str, list[dict]] = defaultdict(list)
    for v in truth["vehicles"]:
        seen = by_vehicle.get(v["id"], {})
        if all(len(seen.get(cam, [])) >= per_camera for cam in "AB"):
            groups[v["look"]].append(v)
    look, members = max(sorted(groups.items()), key=lambda kv: len(kv[1]))
    members = members[:rows]
    grid = []
    for v in members:
        cells = []
        for cam in "AB":
            found = by_vehicle[v["id"]][cam]
            pick = [found[round(k * (len(found) - 1) / max(1, per_camera - 1))] for k in range(per_camera)]
            cells.extend(_crop(root, cid, inst) for cid, inst in pick)
        row = np.hstack(cells)
        label = np.full((CELL, 110, 3), 255, np.uint8)
        cv2.putText(label, f"id {v['id']}", (8, CELL // 2 - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(label, f"{len(v['marks'])} marks", (8, CELL // 2 + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (60, 60, 60),
                    1, cv2.LINE_AA)
        grid.append(np.hstack([label, row]))
    body = np.vstack(grid)
    head = np.full((40, body.shape[1], 3), 255, np.uint8)
    for k, cam in enumerate("AB"):
        x = 110 + k * per_camera * CELL + per_camera * CELL // 2 - 40
        cv2.putText(head, f"camera {cam}", (x, 27), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    save_png(np.vstack([head, body]), out)
    a = members[0]["attributes"]
    print(f"wrote {out} ({len(members)} look-alikes: {a['color']} {a['type']}, model {look.split('/')[0]})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="folder for the two PNG files")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep-dataset", type=Path, help="generate the dataset here (kept) instead of a temporary folder")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep_dataset or Path(tmp) / "synth"
        generate(root, SynthConfig(pairs=3, vehicles_per_pair=40, seconds=30, seed=args.seed))
        truth = load_truth(root)
        frame_picture(root, truth, args.out / "synth_frame.png")
        lookalike_picture(root, truth, args.out / "synth_lookalikes.png")


if __name__ == "__main__":
    main()

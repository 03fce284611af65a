"""Frame extraction speed against merely decoding the video (issue 4 target: within 1.1x).

Makes a synthetic 1080p clip (textured background panning under moving "vehicles", so the
codec has real work), then times, best of ``--repeat`` runs each:

  decode (grab)  ``while cap.grab()``: every frame decoded, none converted - the floor
  decode (read)  ``while cap.read()``: decode + BGR conversion of every frame, what
                 "decoding a video with OpenCV" usually means
  extract        :func:`vrai_tools.frames.sample_video` at ``--every`` (JPEGs written)

    .venv/bin/python benchmarks/extract_speed.py [--seconds 15] [--every 0.5s] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vrai_tools.frames import parse_every, sample_video  # noqa: E402


def make_clip(path: Path, seconds: float, fps: int, width: int, height: int, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 255, (height // 8, (width + 400) // 8, 3), dtype=np.uint8),
                      (width + 400, height), interpolation=cv2.INTER_CUBIC)
    cars = [(int(rng.integers(0, width)), int(rng.integers(0, height)), int(rng.integers(-12, 12)),
             int(rng.integers(-8, 8)), tuple(int(c) for c in rng.integers(0, 255, 3))) for _ in range(40)]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise SystemExit("cannot write MP4 with OpenCV's mp4v encoder")
    n = int(round(seconds * fps))
    for i in range(n):
        x0 = (i * 2) % 400
        frame = np.ascontiguousarray(base[:, x0:x0 + width])
        for cx, cy, vx, vy, color in cars:
            x, y = (cx + vx * i) % width, (cy + vy * i) % height
            cv2.rectangle(frame, (x, y), (x + 90, y + 45), color, -1)
        cv2.putText(frame, f"{i:05d}", (40, 120), cv2.FONT_HERSHEY_SIMPLEX, 3, (255, 255, 255), 6)
        writer.write(frame)
    writer.release()
    return n


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - start[0], time.process_time() - start[1]


def time_grab(path: Path) -> tuple[tuple[float, float], int]:
    t = _clock()
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return _since(t), n


def time_read(path: Path) -> tuple[tuple[float, float], int]:
    t = _clock()
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    n = 0
    while True:
        ok, _ = cap.read()
        if not ok:
            break
        n += 1
    cap.release()
    return _since(t), n


def time_extract(path: Path, every: float, work: Path) -> tuple[tuple[float, float], int]:
    out = work / "frames"
    shutil.rmtree(out, ignore_errors=True)
    t = _clock()
    r = sample_video(path, out, every, skip_existing=False)
    dt = _since(t)
    if r.error:
        raise SystemExit(r.error)
    return dt, len(r.frames)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--every", default="0.5s")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--video", type=Path, help="time this video instead of a synthetic clip")
    args = ap.parse_args()
    every = parse_every(args.every)
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="vrai-bench-") as tmp:
        work = Path(tmp)
        if args.video:
            clip = args.video
        else:
            clip = work / "synthetic.mp4"
            t = time.perf_counter()
            n = make_clip(clip, args.seconds, args.fps, width, height)
            print(f"made {clip.name}: {n} frames {width}x{height} @ {args.fps} fps, "
                  f"{clip.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t:.1f} s")
        time_grab(clip)  # warm the page cache and the decoder libraries
        results: dict[str, list[tuple[float, float]]] = {"decode (grab)": [], "decode (read)": [], "extract": []}
        counts: dict[str, int] = {}
        timers = {"decode (grab)": time_grab, "decode (read)": time_read,
                  "extract": lambda p: time_extract(p, every, work)}
        for _ in range(args.repeat):  # interleaved, so load from other processes hits all three alike
            for name, fn in timers.items():
                dt, counts[name] = fn(clip)
                results[name].append(dt)
        best = {k: min(w for w, _ in v) for k, v in results.items()}
        print(f"on {os.cpu_count()} CPU(s), best and median of {args.repeat} interleaved runs; "
              f"cpu = process CPU seconds, all threads")
        print(f"{'':16}{'best s':>9}{'median s':>10}{'cpu s':>8}  frames")
        for k, v in results.items():
            med = sorted(w for w, _ in v)[len(v) // 2]
            cpu = min(c for _, c in v)
            what = f"{counts[k]} decoded" if k != "extract" else f"{counts[k]} JPEGs (every {every:g} s)"
            print(f"{k:16}{best[k]:9.3f}{med:10.3f}{cpu:8.3f}  {what}")
        print(f"extract / decode (grab) = {best['extract'] / best['decode (grab)']:.3f}x")
        print(f"extract / decode (read) = {best['extract'] / best['decode (read)']:.3f}x   (target <= 1.10x)")

if __name__ == "__main__":
    main()

"""How long ``vrai-tools synth`` takes for the issue's two sizes, and where a frame's time goes.

1. ``synth OUT --pairs 2 --seconds 60 --resolution 1280x720`` (real MP4s, frames sampled
   back from them, labels), ``--runs`` times in a fresh process each: wall and CPU seconds.
2. ``synth OUT --no-video --pairs 34 --vehicles-per-pair 383 --seconds 600 --every 1s``
   (VRAI-sized metadata), likewise.
3. One clip's frames drawn, encoded and decoded in this process (single-threaded OpenCV,
   as in the workers): milliseconds per frame for each step.

    .venv/bin/python benchmarks/synth_speed.py [--runs 3] [--skip-metadata] [--frames 300]

The machine is shared: run it idle, and read the spread between runs as the noise.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VIDEO = ["--pairs", "2", "--seconds", "60", "--resolution", "1280x720"]
METADATA = ["--no-video", "--pairs", "34", "--vehicles-per-pair", "383", "--seconds", "600", "--every", "1s"]
CLI = [sys.executable, "-m", "vrai_tools", "synth"]


def timed_runs(args: list[str], runs: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each run; CPU is the child processes' user + system time."""
    out = []
    for i in range(runs):
        with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run([*CLI, str(Path(tmp) / "ds"), *args, "-q"], check=True)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(f"  run {i + 1}: {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
        out.append((wall, cpu))
    return out


def summary(name: str, results: list[tuple[float, float]], goal: float) -> None:
    walls = [w for w, _ in results]
    verdict = "met" if statistics.median(walls) < goal else "MISSED"
    print(f"{name}: median {statistics.median(walls):.1f} s (range {min(walls):.1f}-{max(walls):.1f} s), "
          f"CPU {min(c for _, c in results):.0f}-{max(c for _, c in results):.0f} s; goal < {goal:.0f} s: {verdict}")


def per_frame(frames: int) -> None:
    import cv2
    import numpy as np

    from vrai_tools.synth import SynthConfig
    from vrai_tools.synth.pipeline import clip_renderer

    cv2.setNumThreads(1)
    r = clip_renderer(SynthConfig(pairs=2, seconds=60), "p001-A")
    steps: dict[str, float] = {}

    def clock(name: str, fn, *a):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        out = fn(*a)
        steps[name] = steps.get(name, 0.0) + time.perf_counter() - t
        return out

    with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
        path = str(Path(tmp) / "clip.mp4")
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (1280, 720))
        for i in range(frames):
            frame = clock("frame drawn", r.render, i)
            clock("MP4 encoding", writer.write, np.ascontiguousarray(frame))
        writer.release()
        cap = cv2.VideoCapture(path)
        for _ in range(frames):
            clock("MP4 decoding (grab)", cap.grab)
        cap.release()
        for i in range(frames):  # alone, its data stays in cache: a lower bound of its share above
            clock("  of which the ground, alone", r._background, r.time(i), r.look.gain_at(r.time(i)))
    print(f"per frame, 1280x720, one clip, {frames} frames:")
    for name in ("frame drawn", "  of which the ground, alone", "MP4 encoding", "MP4 decoding (grab)"):
        total = steps[name]
        print(f"  {name:34s} {1000 * total / frames:6.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--skip-metadata", action="store_true")
    args = ap.parse_args()
    print("synth " + " ".join(VIDEO), flush=True)
    summary("2 pairs x 60 s at 1280x720", timed_runs(VIDEO, args.runs), 60.0)
    if not args.skip_metadata:
        print("synth " + " ".join(METADATA), flush=True)
        summary("VRAI-sized metadata", timed_runs(METADATA, args.runs), 60.0)
    per_frame(args.frames)


if __name__ == "__main__":
    main()

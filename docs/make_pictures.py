"""Every README picture, made afresh: ``make screenshots`` (or ``.venv/bin/python docs/make_pictures.py``).

    .venv/bin/python docs/make_pictures.py [OUT_DIR] [--only NAME ...]

Runs each picture script in a process of its own (its own Qt application, its own
temporary dataset), offscreen, into OUT_DIR (default ``docs/img``), then checks that
every picture it promised is there and small enough for the README (under 500 KB).

  screenshots.py           annotate-overview.png, annotate-stage1.png
  screenshot_matching.py   annotate-matching.png, annotate-matching-review.png
  screenshot_stages34.py   stage3_attributes.png, stage4_parts.png, human_eval.png
  pictures_synth.py        synth_frame.png, synth_lookalikes.png
  pictures_stats.py        stats_figure3.png, stats_figure4.png
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
LIMIT = 500_000  # bytes

SCRIPTS: dict[str, tuple[str, ...]] = {
    "screenshots.py": ("annotate-overview.png", "annotate-stage1.png"),
    "screenshot_matching.py": ("annotate-matching.png", "annotate-matching-review.png"),
    "screenshot_stages34.py": ("stage3_attributes.png", "stage4_parts.png", "human_eval.png"),
    "pictures_synth.py": ("synth_frame.png", "synth_lookalikes.png"),
    "pictures_stats.py": ("stats_figure3.png", "stats_figure4.png"),
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, nargs="?", default=DOCS / "img", help="folder for the pictures (default docs/img)")
    p.add_argument("--only", nargs="+", choices=sorted(SCRIPTS), metavar="SCRIPT",
                   help=f"run only these scripts ({', '.join(SCRIPTS)})")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "MPLBACKEND": os.environ.get("MPLBACKEND", "Agg")}
    problems: list[str] = []
    for script in args.only or list(SCRIPTS):
        start = time.perf_counter()
        print(f"== {script}", flush=True)
        done = subprocess.run([sys.executable, str(DOCS / script), str(args.out)], env=env)
        if done.returncode:
            problems.append(f"{script} failed (exit {done.returncode})")
            continue
        for name in SCRIPTS[script]:
            path = args.out / name
            if not path.is_file():
                problems.append(f"{script} did not write {path}")
            elif path.stat().st_size >= LIMIT:
                problems.append(f"{path} is {path.stat().st_size // 1000} KB (limit {LIMIT // 1000} KB)")
        print(f"   {time.perf_counter() - start:.0f} s", flush=True)
    for problem in problems:
        print(f"make_pictures: error: {problem}", file=sys.stderr)
    if not problems:
        for name in sorted(n for names in SCRIPTS.values() for n in names):
            path = args.out / name
            if path.exists():
                print(f"{path}  {path.stat().st_size // 1000} KB")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

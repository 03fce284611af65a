"""``vrai-annotate --detector RUN|FILE``: the stage-4 option, parsed by the app and read by the view."""
from __future__ import annotations

import argparse
from pathlib import Path

DETECTOR: Path | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detector", type=Path, metavar="RUN|FILE",
                        help="stage 4: part proposals from a trained detector run, or from a detections file "
                             "written by `vrai-tools detect-parts` (Enter accepts, R rejects)")


def apply(args: argparse.Namespace) -> None:
    global DETECTOR
    DETECTOR = getattr(args, "detector", None)

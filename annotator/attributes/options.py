"""``vrai-annotate --model RUN``: the stage-3 option, parsed by the app and read by the view.

The shell builds stage views without arguments, so the option is kept here, set once
at start-up by :func:`apply`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

MODEL_RUN: Path | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, metavar="RUN",
                        help="stage 3: pre-fill attributes from this trained multi-task run (proposals; Enter accepts)")


def apply(args: argparse.Namespace) -> None:
    global MODEL_RUN
    MODEL_RUN = getattr(args, "model", None)

"""``vrai-annotate --model RUN``: parsed by the app, read by the stage-3 view.

One option for stages 2 and 3, declared here once: the same trained ReID run ranks the
matching candidates (:mod:`annotator.matching.options` reads ``args.model`` too) and
pre-fills the attributes. The shell builds stage views without arguments, so the
option is kept here, set once at start-up by :func:`apply`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

MODEL_RUN: Path | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, metavar="RUN",
                        help="a trained ReID run (`vrai-tools train`): stage 2 ranks the candidates by its features, "
                             "stage 3 pre-fills attributes from its heads (proposals; Enter accepts)")


def apply(args: argparse.Namespace) -> None:
    global MODEL_RUN
    MODEL_RUN = getattr(args, "model", None)

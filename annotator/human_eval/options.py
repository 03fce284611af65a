"""``vrai-annotate ROOT --human-eval --split NAME [--queries 100] [--seed S] [--results FILE]``.

The app adds these options to its parser (:func:`add_arguments`) and, when
``--human-eval`` is given, opens :func:`create_window` instead of the annotation shell.
A results file that exists is resumed (it must be the same test: split, seed and
number of queries); a new one is created with seeded trials.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Mapping

from PyQt6.QtCore import QSettings

from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import VraiToolsError
from vrai_tools.human_eval import DEFAULT_QUERIES, check_same_test, default_results_path, load_results, new_results
from vrai_tools.index import load_index
from vrai_tools.storage import FileLock


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("human-performance test (paper §5.6, Table 6)")
    g.add_argument("--human-eval", action="store_true",
                   help="pick which of two same-attribute candidates is the query's vehicle, with ← and →")
    g.add_argument("--split", metavar="NAME", help="split whose query and gallery sets the test draws from")
    g.add_argument("--queries", type=int, metavar="N", default=DEFAULT_QUERIES,
                   help=f"number of queries (default {DEFAULT_QUERIES})")
    g.add_argument("--seed", type=int, metavar="S", default=0,
                   help="seed of the query sample and candidate order (default 0)")
    g.add_argument("--results", type=Path, metavar="FILE",
                   help="results file (default ROOT/human-eval/<split>-seed<S>-<annotator>.json); resumed if it exists")


def create_window(args: argparse.Namespace, root: DatasetRoot, annotator: str,
                  bindings: Mapping[str, tuple[str, ...]] | None = None, settings: QSettings | None = None):
    """The test window, its results file created or resumed and locked; raises VraiToolsError."""
    from .document import HumanEvalDocument
    from .window import HumanEvalWindow

    if not args.split:
        names = root.split_names()
        raise VraiToolsError(f"--human-eval needs --split NAME (splits here: {', '.join(names) or 'none'})")
    if args.queries < 1:
        raise VraiToolsError(f"--queries must be at least 1, got {args.queries}")
    path = Path(args.results) if args.results else default_results_path(root, args.split, args.seed, annotator)
    lock = FileLock(path, user=annotator).acquire()
    try:
        index = load_index(root)
        if path.exists():
            results = load_results(path)  # a corrupt file is refused, never overwritten
            check_same_test(results, path, split=args.split, seed=args.seed, queries=args.queries)
        else:
            results = new_results(root, args.split, queries=args.queries, seed=args.seed, annotator=annotator,
                                  index=index)
        doc = HumanEvalDocument(path, results, annotator)
        return HumanEvalWindow(root, index, doc, lock, bindings, settings)
    except BaseException:
        lock.release()
        raise

"""The ReID run that ranks stage 2's candidates: ``vrai-annotate --model RUN``.

Stages 2 and 3 share the one ``--model`` option (declared by
:mod:`annotator.attributes.options`): the same trained run ranks the matching candidates
and pre-fills the attributes. The app sets it once at start-up with :func:`apply`; the
``VRAI_ANNOTATE_MODEL`` environment variable is the fallback.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

MODEL_ENV = "VRAI_ANNOTATE_MODEL"
MODEL_RUN: Path | None = None


def set_model_run(run: Path | str | None) -> None:
    """Rank with that ReID model (loaded on first use, off the UI thread); ``None``: the built-in descriptor."""
    global MODEL_RUN
    MODEL_RUN = Path(run) if run else None


def model_run() -> Path | None:
    if MODEL_RUN is not None:
        return MODEL_RUN
    env = os.environ.get(MODEL_ENV)
    return Path(env) if env else None


def apply(args: argparse.Namespace) -> None:
    set_model_run(getattr(args, "model", None))

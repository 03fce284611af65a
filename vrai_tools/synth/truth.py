"""``ROOT/synth_truth.json``: the complete ground truth of a synthetic dataset, whatever
``--annotate`` said.

Benchmarks of the annotation tools act as an annotator who knows the truth: they read
the corners, parts and identities from here even when the dataset's own annotation
files were left empty (``--annotate none``). Layout (compact JSON, sorted keys)::

    {"format": "vrai-tools-synth-truth", "version": 1,
     "config": {... the SynthConfig ...},
     "vehicles": [{"id": 0, "pair": "p001", "attributes": {"color": "White", "type": "Sedan", ...},
                   "model": "sedan-0", "rgb": [236, 236, 232], "look": "sedan-0/White/236,236,232/0010",
                   "marks": [{"kind": "windscreen_sticker", "local_box": [x0, y0, x1, y1]}, ...],
                   "cameras": ["A", "B"]}, ...],
     "clips": {"p001-A": {"pair": "p001", "camera": "A", "scene": {...}, "flight": {...}, "look": {...},
                          "passages": [{"vehicle": 0, "lane": 2, "t0": 3.5, "s0": -1.2}, ...],
                          "instances": [{"key": "p001-A:0", "frame": 0, "vehicle": 0,
                                         "corners": [[x, y] x 4], "bbox": [x1, y1, x2, y2],
                                         "parts": [[x1, y1, x2, y2], ...], "part_marks": [0, 2],
                                         "visible": 1.0}, ...]}}}

Instance keys are the ones the annotation files use when the corners stage is filled;
corners go front-left, front-right, rear-right, rear-left; ``part_marks`` says which of the
vehicle's marks each part box shows; ``look`` is equal for look-alikes (same model, colour
shade and attribute flags: only the marks tell them apart). ``local_box`` is in metres in
the vehicle's frame (x forward, y right). Lighting of each clip (``look``: gain, white
balance, ...) is what the pixel-level tests undo to check colours.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import DatasetFileError
from ..storage import atomic_write_text
from .outdir import TRUTH

__all__ = ["FORMAT", "load_truth", "write_truth"]

FORMAT = "vrai-tools-synth-truth"


def write_truth(root: Path, doc: dict[str, Any]) -> None:
    atomic_write_text(root / TRUTH, json.dumps({"format": FORMAT, "version": 1, **doc}, sort_keys=True,
                                               separators=(",", ":"), ensure_ascii=False) + "\n")


def load_truth(root: Path | str) -> dict[str, Any]:
    path = Path(root) / TRUTH
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetFileError(path, "no synthetic ground truth here (not a vrai-tools synth output)") from None
    except (OSError, ValueError) as e:
        raise DatasetFileError(path, f"cannot read: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DatasetFileError(path, f"not a {FORMAT} file", "format")
    if doc.get("version") != 1:
        raise DatasetFileError(path, f"version {doc.get('version')!r} is not understood (expected 1)", "version")
    return doc

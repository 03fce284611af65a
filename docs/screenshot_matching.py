"""README screenshots of stage 2 (cross-camera matching), rendered offscreen.

    .venv/bin/python docs/screenshot_matching.py OUT_DIR [--resolution 1280x720] [--seconds 12]

Builds a synthetic pair in a temporary folder (``vrai-tools synth --annotate corners``),
opens it as ``vrai-annotate ROOT --pair p001 --stage matching`` does, links a few
vehicles through the view's own key handlers, and saves ``annotate-matching.png``
(the query, its frame and the best candidate's, the ranked candidates) and
``annotate-matching-review.png`` (review mode) into OUT_DIR.
Needs no display; never touches your settings or your data.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from picture_tools import grab, open_app, private_settings, spin  # noqa: E402


def make_dataset(root: Path, resolution: tuple[int, int], seconds: float) -> str:
    """The pair's id."""
    from vrai_tools.synth import SynthConfig, generate

    ds = generate(root, SynthConfig(pairs=1, vehicles_per_pair=14, seconds=seconds, width=resolution[0],
                                    height=resolution[1], seed=11, annotate=frozenset({"corners"}), workers=2))
    return ds.manifest().pairs[0].id


def take_screenshots(out: Path, resolution: tuple[int, int] = (1280, 720), seconds: float = 12.0) -> list[Path]:
    from PyQt6.QtWidgets import QApplication

    from annotator.matching.view import MatchingView

    app = QApplication.instance() or QApplication([sys.argv[0]])  # noqa: F841  (kept alive while in use)
    with tempfile.TemporaryDirectory() as tmp:
        private_settings(Path(tmp) / "config")
        root = Path(tmp) / "ds"
        pair = make_dataset(root, resolution, seconds)
        window = open_app(root, "--pair", pair, "--stage", "matching")
        view = window.views["matching"]
        assert isinstance(view, MatchingView) and window.current_stage == "matching", window.statusBar().currentMessage()
        ready = lambda: view.ranked is not None  # noqa: E731
        for _ in range(2):  # two decisions, so the list shows a linked ("taken") vehicle
            spin(ready)
            view.pick_1()
        spin(ready)
        view.toggle_context()
        keys = list(view.query_strip.keys) + [k for r in view.rows.values() for k in r.strip.keys]
        spin(lambda: all(view.service.image(k) is not None for k in keys)
             and view.context_query.image is not None and view.context_cand.image is not None)
        paths = [grab(window, out / "annotate-matching.png")]
        view.toggle_context()
        view.toggle_review()
        review_keys = [k for r in view.review.rows.values() for k in r.strip_a.keys + r.strip_b.keys]
        spin(lambda: all(view.service.image(k) is not None for k in review_keys))
        window.statusBar().showMessage("Review: every vehicle of the pair, both cameras side by side; "
                                       "Enter opens one, U dissolves it")
        paths.append(grab(window, out / "annotate-matching-review.png"))
        window.close()
    return paths


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="folder for the PNG files")
    p.add_argument("--resolution", default="1280x720", help="synthetic video size (default 1280x720)")
    p.add_argument("--seconds", type=float, default=12.0, help="clip length (default 12)")
    args = p.parse_args()
    w, h = (int(x) for x in args.resolution.lower().split("x"))
    for path in take_screenshots(args.out, (w, h), args.seconds):
        print(f"wrote {path} ({path.stat().st_size // 1000} KB)")


if __name__ == "__main__":
    main()

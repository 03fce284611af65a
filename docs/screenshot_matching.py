"""README screenshots of stage 2 (cross-camera matching), rendered offscreen.

    .venv/bin/python docs/screenshot_matching.py OUT_DIR [--resolution 1280x720]

Builds a synthetic pair in a temporary folder (``vrai-tools synth --annotate corners``),
opens it in the matching view, links a few vehicles through the view's own key handlers,
and saves ``annotate-matching.png`` (query and ranked candidates) and
``annotate-matching-review.png`` (review mode) into OUT_DIR with ``QWidget.grab()``.
Needs no display; never touches your settings or your data.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SIZE = (1400, 860)


def _spin(cond, timeout: float = 30.0) -> None:
    from PyQt6.QtTest import QTest

    end = time.perf_counter() + timeout
    while not cond() and time.perf_counter() < end:
        QTest.qWait(10)


def make_dataset(root: Path, resolution: tuple[int, int], seconds: float) -> None:
    try:
        from vrai_tools.synth import SynthConfig, generate  # type: ignore[attr-defined]
    except ImportError:
        from vrai_tools.synth.config import SynthConfig
        from vrai_tools.synth.generate import generate
    generate(root, SynthConfig(pairs=1, vehicles_per_pair=14, seconds=seconds, width=resolution[0],
                               height=resolution[1], seed=11, annotate=frozenset({"corners"}), workers=1))


def take_screenshots(out: Path, resolution: tuple[int, int] = (1280, 720), seconds: float = 12.0) -> list[Path]:
    from PyQt6.QtWidgets import QApplication

    from annotator.matching.document import MatchingDocument
    from annotator.matching.view import MatchingView
    from vrai_tools.dataset import DatasetRoot

    app = QApplication.instance() or QApplication([])
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        make_dataset(root, resolution, seconds)
        ds = DatasetRoot(root)
        manifest = ds.manifest()
        doc = MatchingDocument.load(ds, manifest, manifest.pairs[0].id, "screenshot")
        view = MatchingView()
        view.resize(*SIZE)
        view.set_document(doc)
        view.show()
        ready = lambda: view.ranked is not None  # noqa: E731
        for _ in range(2):  # two decisions, so the list shows a linked ("taken") vehicle
            _spin(ready)
            view.pick_1()
        _spin(ready)
        view.toggle_context()
        keys = list(view.query_strip.keys) + [k for r in view.rows.values() for k in r.strip.keys]
        _spin(lambda: all(view.service.image(k) is not None for k in keys)
              and view.context_query.image is not None and view.context_cand.image is not None)
        app.processEvents()
        paths = [out / "annotate-matching.png", out / "annotate-matching-review.png"]
        view.grab().save(str(paths[0]))
        view.toggle_context()
        view.toggle_review()
        review_keys = [k for r in view.review.rows.values() for k in r.strip_a.keys + r.strip_b.keys]
        _spin(lambda: all(view.service.image(k) is not None for k in review_keys))
        app.processEvents()
        view.grab().save(str(paths[1]))
        view.clear_document()
        view.close()
        doc.deleteLater()
    return paths


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="folder for the PNG files")
    p.add_argument("--resolution", default="1280x720", help="synthetic video size (default 1280x720)")
    p.add_argument("--seconds", type=float, default=12.0, help="clip length (default 12)")
    args = p.parse_args()
    w, h = (int(x) for x in args.resolution.lower().split("x"))
    for path in take_screenshots(args.out, (w, h), args.seconds):
        print(path)


if __name__ == "__main__":
    main()

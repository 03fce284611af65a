"""README screenshots of vrai-annotate: the overview and stage 1, rendered offscreen.

    .venv/bin/python docs/screenshots.py OUT_DIR

Builds a small synthetic dataset in a temporary folder (``vrai-tools synth`` when
available), annotates a few frames through the app's own controller, and saves
``annotate-overview.png`` and ``annotate-stage1.png`` into OUT_DIR with
``QWidget.grab()``. Needs no display; never touches your settings.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SIZE = (1280, 800)


def _dataset(root: Path, resolution: tuple[int, int], seconds: float) -> dict[int, list]:
    """Frame -> truth corners of the first clip."""
    try:
        try:
            from vrai_tools.synth import SynthConfig, generate  # type: ignore[attr-defined]
        except ImportError:
            from vrai_tools.synth.config import SynthConfig
            from vrai_tools.synth.generate import generate
        from vrai_tools.synth.truth import load_truth
    except ImportError:
        from tests.annotator_fixtures import make_clip_dataset

        clip = make_clip_dataset(root, frames=int(seconds * 2), vehicles=10, size=resolution, seed=3)
        return {k: [c for _, c in v] for k, v in clip.truth.items()}
    generate(root, SynthConfig(pairs=2, vehicles_per_pair=10, seconds=seconds, width=resolution[0],
                               height=resolution[1], seed=3, annotate=frozenset(), workers=1))
    truth: dict[int, list] = {}
    clip_id = sorted(load_truth(root)["clips"])[0]
    for inst in load_truth(root)["clips"][clip_id]["instances"]:
        truth.setdefault(inst["frame"], []).append([tuple(p) for p in inst["corners"]])
    return truth


def _spin(cond, timeout: float = 20.0) -> None:
    from PyQt6.QtTest import QTest

    end = time.perf_counter() + timeout
    while not cond() and time.perf_counter() < end:
        QTest.qWait(5)


def take_screenshots(out: Path, resolution: tuple[int, int] = (1280, 720), seconds: float = 6.0) -> list[Path]:
    """Both pictures in ``out``; smaller ``resolution``/``seconds`` make a quick smoke test."""
    from PyQt6.QtWidgets import QApplication

    from annotator.app import create_window, parse_args
    from annotator.settings import CONFIG_DIR_ENV
    from annotator.stages.corners.controller import Selection

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault(CONFIG_DIR_ENV, str(Path(tmp) / "config"))
        root = Path(tmp) / "ds"
        truth = _dataset(root, resolution, seconds)
        window = create_window(parse_args([str(root), "--annotator", "demo"])[0])
        window.resize(*SIZE)
        window.show()
        overview = window.overview
        _spin(lambda: not overview.loading and overview.tree.topLevelItemCount() > 0)
        clip_id = overview.tree.topLevelItem(0).child(0).text(0)
        # some work done, so the overview shows progress
        window.open_target("corners", clip_id)
        view = window.views["corners"]
        c = view.controller
        for frame in (0, 1):
            _spin(lambda: not c.busy)
            c.doc.accept_proposals(c.frame)
            for corners in truth.get(frame, []):
                if all(max(abs(a - b) for p, q in zip(i.corners, corners) for a, b in zip(p, q)) > 4
                       for i in c.doc.instances_on(frame)):
                    for x, y in corners:
                        c.click(x, y)
            c.accept()
        window.show_overview()
        _spin(lambda: not overview.loading)
        overview.tree.setCurrentItem(overview.clip_row(clip_id))
        shots = [out / "annotate-overview.png", out / "annotate-stage1.png"]
        window.grab().save(str(shots[0]))
        # stage 1 on the next frame: vehicles carried over as proposals, one accepted, one selected
        window.open_target("corners", clip_id)
        view = window.views["corners"]
        c = view.controller
        _spin(lambda: not c.busy and view.shown_frame == c.frame)
        proposals = c.doc.proposals_on(c.frame)
        if proposals:
            c.doc.accept_proposals(c.frame, [proposals[0].id])
        if len(proposals) > 1:
            c.select(Selection("proposal", proposals[1].id))
        shapes = [i.corners for i in c.doc.instances_on(c.frame)] + [p.corners for p in proposals]
        if shapes:  # zoom in on the traffic: cars are small in a whole 720p frame
            from PyQt6.QtCore import QPointF

            xs = [x for s in shapes for x, _ in s]
            ys = [y for s in shapes for _, y in s]
            view.canvas.zoom(1.8)
            view.canvas.centerOn(QPointF((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2))
        _spin(lambda: c.doc.is_saved)
        window.statusBar().showMessage("Enter accepts the dashed proposals carried over from the previous frame")
        app.processEvents()
        window.grab().save(str(shots[1]))
        window.close()
    return shots


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for path in take_screenshots(Path(sys.argv[1])):
        print(path)

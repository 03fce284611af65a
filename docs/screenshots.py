"""README screenshots of vrai-annotate: the overview and stage 1, rendered offscreen.

    .venv/bin/python docs/screenshots.py OUT_DIR

Builds a small synthetic dataset in a temporary folder (``vrai-tools synth``), opens it
as ``vrai-annotate ROOT`` does, annotates a few frames through the app's own controller,
and saves ``annotate-overview.png`` (pairs, clips, per-stage progress, a button per
stage) and ``annotate-stage1.png`` (vehicles carried over from the previous frame as
proposals) into OUT_DIR. Needs no display; never touches your settings.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from picture_tools import SIZE, grab, open_app, private_settings, spin  # noqa: E402

OVERVIEW_SIZE = (1100, 480)


def _dataset(root: Path, resolution: tuple[int, int], seconds: float) -> dict[int, list]:
    """Frame -> truth corners of the first clip."""
    from vrai_tools.synth import SynthConfig, generate, load_truth

    generate(root, SynthConfig(pairs=2, vehicles_per_pair=10, seconds=seconds, width=resolution[0],
                               height=resolution[1], seed=3, annotate=frozenset(), workers=2))
    truth: dict[int, list] = {}
    clips = load_truth(root)["clips"]
    for inst in clips[sorted(clips)[0]]["instances"]:
        truth.setdefault(inst["frame"], []).append([tuple(p) for p in inst["corners"]])
    return truth


def take_screenshots(out: Path, resolution: tuple[int, int] = (1280, 720), seconds: float = 6.0) -> list[Path]:
    """Both pictures in ``out``; smaller ``resolution``/``seconds`` make a quick smoke test."""
    from PyQt6.QtCore import QPointF
    from PyQt6.QtWidgets import QApplication

    from annotator.stages.corners.controller import Selection

    out = Path(out)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    with tempfile.TemporaryDirectory() as tmp:
        private_settings(Path(tmp) / "config")
        root = Path(tmp) / "my-dataset"
        truth = _dataset(root, resolution, seconds)
        window = open_app(root)
        overview = window.overview
        spin(lambda: not overview.loading and overview.tree.topLevelItemCount() > 0)
        clip_id = overview.tree.topLevelItem(0).child(0).text(0)
        # some work done, so the overview shows progress
        window.open_target("corners", clip_id)
        c = window.views["corners"].controller
        for frame in (0, 1):
            spin(lambda: not c.busy)
            c.doc.accept_proposals(c.frame)
            for corners in truth.get(frame, []):
                if all(max(abs(a - b) for p, q in zip(i.corners, corners) for a, b in zip(p, q)) > 4
                       for i in c.doc.instances_on(frame)):
                    for x, y in corners:
                        c.click(x, y)
            c.accept()
        window.show_overview()
        spin(lambda: not overview.loading)
        overview.tree.setCurrentItem(overview.clip_row(clip_id))
        window.resize(*OVERVIEW_SIZE)  # a few rows: a shorter window
        shots = [grab(window, out / "annotate-overview.png")]
        window.resize(*SIZE)
        # stage 1 on the next frame: vehicles carried over as proposals (dashed), one accepted, one selected
        window.open_target("corners", clip_id)
        view = window.views["corners"]
        c = view.controller
        spin(lambda: not c.busy and view.shown_frame == c.frame)
        proposals = c.doc.proposals_on(c.frame)
        shapes = [i.corners for i in c.doc.instances_on(c.frame)] + [p.corners for p in proposals]
        if shapes:  # zoom in on the traffic: cars are small in a whole 720p frame
            xs = [x for s in shapes for x, _ in s]
            ys = [y for s in shapes for _, y in s]
            centre = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2)
            view.canvas.zoom(1.8)
            view.canvas.centerOn(QPointF(*centre))

            def off_centre(p) -> float:
                return sum((x - centre[0]) ** 2 + (y - centre[1]) ** 2 for x, y in p.corners)

            # select the proposal nearest the middle (drawn yellow), accept the next nearest (green)
            near = sorted(proposals, key=off_centre)
            if len(near) > 1:
                c.doc.accept_proposals(c.frame, [near[1].id])
            if near:
                c.select(Selection("proposal", near[0].id))
        spin(lambda: c.doc.is_saved)
        window.statusBar().showMessage("Enter accepts the dashed proposals carried over from the previous frame")
        app.processEvents()
        shots.append(grab(window, out / "annotate-stage1.png"))
        window.close()
    return shots


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for path in take_screenshots(Path(sys.argv[1])):
        print(f"wrote {path} ({path.stat().st_size // 1000} KB)")

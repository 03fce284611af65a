"""Stage 4 end to end: drawing a part with the mouse on the real window, keys, proposals, the saved files."""
from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import QPoint, QPointF, Qt
from PyQt6.QtTest import QTest

from annotator.parts import options
from annotator.parts.view import PartsView
from schemas import ClipAnnotations, PartDetections, ScoredBox
from vrai_tools.storage import load_model, save_model

from .annotator_fixtures import annotator_env  # noqa: F401
from .stages34_fixtures import open_stage_window, pair_root, press, stages34_template  # noqa: F401

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("annotator_env")]


def drag(widget, start: QPointF, end: QPointF, steps: int = 6) -> None:
    """A left-button drag as a hand makes it: press, several moves, release."""
    a, b = start.toPoint(), end.toPoint()
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for i in range(1, steps + 1):
        p = QPoint(a.x() + (b.x() - a.x()) * i // steps, a.y() + (b.y() - a.y()) * i // steps)
        QTest.mouseMove(widget, p)
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)


def saved(root: Path, key: str):
    return load_model(root / "annotations" / f"{key.rpartition(':')[0]}.json", ClipAnnotations).by_key()[key]


def test_drawing_a_part_answering_none_and_undo(qtbot, monkeypatch, pair_root: Path) -> None:
    window = open_stage_window(qtbot, monkeypatch, pair_root, "parts")
    view = window.views["parts"]
    assert isinstance(view, PartsView)
    c = view.controller
    first = c.key
    group = c.group
    qtbot.waitUntil(lambda: view.crops.get(first) is not None, timeout=5000)
    assert set(view.others.tiles) == set(group.keys)  # the vehicle's other crops, beside
    x1, y1, x2, y2 = view.doc.instance(first).bbox
    w, h = x2 - x1, y2 - y1
    start = view.canvas.frame_point_to_view(x1 + 0.25 * w, y1 + 0.3 * h)
    end = view.canvas.frame_point_to_view(x1 + 0.6 * w, y1 + 0.7 * h)
    drag(view.canvas.viewport(), start, end)
    boxes = view.doc.parts(first).boxes
    assert len(boxes) == 1
    bx1, by1, bx2, by2 = boxes[0]
    tol = 1.5 / view.canvas.scale_factor() + 0.05 * w  # a screen pixel or two at this zoom
    assert abs(bx1 - (x1 + 0.25 * w)) < tol and abs(by2 - (y1 + 0.7 * h)) < tol

    press(qtbot, window, "D")  # next crop
    second = c.key
    assert second == group.keys[1]
    press(qtbot, window, "N")  # no discriminative part, and on to the third
    assert view.doc.parts(second).state == "none" and c.key == group.keys[2]
    press(qtbot, window, "A", "A")
    assert c.key == first
    # select the drawn part by clicking inside it, move it by dragging, then undo the move in one step
    centre = view.canvas.frame_point_to_view((bx1 + bx2) / 2, (by1 + by2) / 2)
    QTest.mouseClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     centre.toPoint())
    assert c.selection is not None and c.selection.kind == "box"
    drag(view.canvas.viewport(), centre, centre + QPointF(-8, -6))
    assert view.doc.parts(first).boxes[0] != boxes[0]
    press(qtbot, window, "Ctrl+Z")
    assert view.doc.parts(first).boxes[0] == boxes[0]

    window.save_now()
    assert saved(pair_root, first).parts.boxes == [boxes[0]]
    assert saved(pair_root, second).parts.state == "none"
    assert saved(pair_root, group.keys[2]).parts.state == "todo"
    assert "parts" in saved(pair_root, first).provenance
    press(qtbot, window, "Del")  # the selected part goes; the crop is "todo" again, not "none"
    window.close()
    assert saved(pair_root, first).parts.state == "todo"


def test_detector_proposals_from_a_detections_file(qtbot, monkeypatch, pair_root: Path, tmp_path: Path) -> None:
    from vrai_tools.dataset import DatasetRoot

    ds = DatasetRoot(pair_root)
    ann = {i.key: i for c in ("p001-A", "p001-B") for i in ds.annotations(c).instances}

    def inner(key: str, a: float, b: float) -> tuple[float, float, float, float]:
        x1, y1, x2, y2 = ann[key].bbox
        return (x1 + a * (x2 - x1), y1 + a * (y2 - y1), x1 + b * (x2 - x1), y1 + b * (y2 - y1))

    keys = sorted(ann)
    det = PartDetections(detector="tiny", instances={k: [ScoredBox(box=inner(k, 0.1, 0.4), score=0.9),
                                                         ScoredBox(box=inner(k, 0.5, 0.8), score=0.3)] for k in keys})
    path = tmp_path / "parts.json"
    save_model(path, det)
    window = open_stage_window(qtbot, monkeypatch, pair_root, "parts", "--detector", str(path))
    assert options.DETECTOR == path  # the app's own --detector option
    view = window.views["parts"]
    qtbot.waitUntil(lambda: view.doc.proposal_count() == 2 * len(keys), timeout=5000)
    c = view.controller
    first = c.key
    press(qtbot, window, "Return")  # accept both, next crop
    assert len(view.doc.parts(first).boxes) == 2 and c.key != first
    second = c.key
    press(qtbot, window, "R")  # reject them; the crop stays to do
    assert view.doc.proposals(second) == () and view.doc.parts(second).state == "todo"
    window.close()
    got = saved(pair_root, first).parts.boxes
    assert [list(b) for b in got] == [pytest.approx(list(inner(first, a, b)), abs=0.01) for a, b in ((0.1, 0.4), (0.5, 0.8))]
    assert saved(pair_root, second).parts.state == "todo"

"""End-to-end: the real window, mouse clicks on the canvas, keys, and the saved file."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PyQt6.QtCore import QPoint, Qt  # noqa: E402
from PyQt6.QtGui import QImage  # noqa: E402
from PyQt6.QtWidgets import QMessageBox  # noqa: E402

from annotator.main_window import MainWindow  # noqa: E402
from schemas import ClipAnnotations  # noqa: E402
from tests.annotator_fixtures import (  # noqa: E402,F401
    SynthClip,
    annotator_env,
    box_of,
    iou,
    open_window,
    synth_clip,
)
from vrai_tools.storage import FileLock, load_model  # noqa: E402

pytestmark = pytest.mark.gui


def viewport_point(window: MainWindow, x: float, y: float) -> QPoint:
    return window.views["corners"].canvas.scene_to_viewport(x, y).toPoint()


def click_image(qtbot, window: MainWindow, x: float, y: float) -> None:
    canvas = window.views["corners"].canvas
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=viewport_point(window, x, y))


def key(qtbot, window: MainWindow, k: Qt.Key, mods: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(window.views["corners"].canvas, k, mods)


def saved(root: Path) -> ClipAnnotations:
    return load_model(root / "annotations" / "p1-A.json", ClipAnnotations)


def test_click_corners_carry_over_undo_redo_and_the_saved_file(qtbot, annotator_env, synth_clip: SynthClip) -> None:
    win = open_window(qtbot, synth_clip.root)
    view = win.views["corners"]
    c, doc = view.controller, win.doc
    assert c is not None and doc is not None and not doc.read_only
    truth0 = synth_clip.truth[0]
    for _, corners in truth0:
        for x, y in corners:
            click_image(qtbot, win, x, y)
    got = doc.instances_on(0)
    assert len(got) == len(truth0)
    for inst, (_, corners) in zip(got, truth0):  # viewport pixels are finer than image pixels here
        assert max(abs(a - b) for p, q in zip(inst.corners, corners) for a, b in zip(p, q)) < 0.5
    key(qtbot, win, Qt.Key.Key_Return)  # no proposals on frame 0: done, next frame
    assert doc.is_done(0) and c.frame == 1
    qtbot.waitUntil(lambda: not c.busy and len(doc.proposals_on(1)) == len(truth0), timeout=5000)
    key(qtbot, win, Qt.Key.Key_Return)  # accept all proposals
    carried = doc.instances_on(1)
    truth1 = [box_of(t) for _, t in synth_clip.truth[1]]
    assert len(carried) == len(truth0) and all(max(iou(i.bbox, t) for t in truth1) > 0.8 for i in carried)
    key(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert doc.instances_on(1) == [] and len(doc.proposals_on(1)) == len(truth0)
    key(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(doc.instances_on(1)) == len(truth0)
    qtbot.waitUntil(lambda: doc.is_saved, timeout=5000)  # the 2 s promise is timed in test_annotator_autosave
    on_disk = saved(synth_clip.root)
    assert on_disk.frames_done == [0] and len(on_disk.instances) == 2 * len(truth0)
    sources = sorted(i.provenance["corners"].source for i in on_disk.instances)
    assert sources == ["carried"] * len(truth0) + ["human"] * len(truth0)
    assert win.save_label.text() == "all changes saved"


def test_drag_a_corner_and_nudge_with_keys(qtbot, annotator_env, synth_clip: SynthClip) -> None:
    win = open_window(qtbot, synth_clip.root)
    doc, canvas = win.doc, win.views["corners"].canvas
    quad = [(40.0, 40.0), (100.0, 44.0), (96.0, 80.0), (38.0, 76.0)]
    for x, y in quad:
        click_image(qtbot, win, x, y)
    (inst,) = doc.instances_on(0)
    start, end = viewport_point(win, 96, 80), viewport_point(win, 110, 90)
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(canvas.viewport(), pos=(start + end) / 2)
    qtbot.mouseMove(canvas.viewport(), pos=end)
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=end)
    moved = doc.instance(inst.key)
    assert abs(moved.corners[2][0] - 110) < 0.5 and abs(moved.corners[2][1] - 90) < 0.5
    assert moved.bbox[2] == moved.corners[2][0]  # the box follows the corners
    for _ in range(3):
        key(qtbot, win, Qt.Key.Key_Right)
    key(qtbot, win, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    x0, y0 = inst.corners[0]
    assert doc.instance(inst.key).corners[0] == pytest.approx((x0 + 3, y0 + 10))
    key(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the run of nudges, as one step
    assert doc.instance(inst.key).corners[2] == moved.corners[2]
    key(qtbot, win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # the drag
    assert doc.instance(inst.key).corners == inst.corners
    key(qtbot, win, Qt.Key.Key_Delete)
    assert doc.instances_on(0) == []


def test_second_window_on_the_same_clip_is_read_only_and_says_who_holds_it(
        qtbot, annotator_env, synth_clip: SynthClip) -> None:
    first = open_window(qtbot, synth_clip.root, annotator="alice")
    first.doc.add_instance(0, [(10, 10), (40, 12), (38, 30), (9, 28)])
    assert first.autosaver.flush() is None
    before = (synth_clip.root / "annotations" / "p1-A.json").read_bytes()
    second = open_window(qtbot, synth_clip.root, annotator="bob")
    assert second.doc.read_only and not first.doc.read_only
    assert "being edited by alice@" in second.lock_label.text() and second.lock_label.isVisible()
    assert "[read-only]" in second.windowTitle()
    for x, y in [(60, 60), (90, 62), (88, 80), (59, 78)]:
        click_image(qtbot, second, x, y)
    assert second.doc.instance_count() == 1 and "read-only" in second.statusBar().currentMessage()
    second.close()
    assert (synth_clip.root / "annotations" / "p1-A.json").read_bytes() == before
    assert FileLock(synth_clip.root / "annotations" / "p1-A.json").holder()["user"] == "alice"
    first.close()
    assert FileLock(synth_clip.root / "annotations" / "p1-A.json").holder() is None


@pytest.mark.parametrize("answer", [QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No])
def test_a_stale_lock_is_broken_only_after_confirmation(qtbot, annotator_env, synth_clip: SynthClip,
                                                         monkeypatch: pytest.MonkeyPatch, answer) -> None:
    target = synth_clip.root / "annotations" / "p1-A.json"
    code = f"from vrai_tools.storage import FileLock; FileLock({str(target)!r}, user='ghost').acquire()"
    subprocess.run([sys.executable, "-c", code], check=True)  # exits holding the lock: a crash
    asked: list[str] = []

    def question(parent, title, text, *args):
        asked.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    win = open_window(qtbot, synth_clip.root)
    assert len(asked) == 1 and "ghost" in asked[0]
    if answer == QMessageBox.StandardButton.Yes:
        assert not win.doc.read_only and FileLock(target).holder()["user"] == "tester"
    else:
        assert win.doc.read_only and FileLock(target).holder()["user"] == "ghost"


def test_a_corrupt_clip_file_is_refused_and_left_untouched(qtbot, annotator_env, synth_clip: SynthClip) -> None:
    path = synth_clip.root / "annotations" / "p1-A.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"schema_version": 2, "clip_id": "p1-A", "image_size": [320, 180], "instances": [{"key": 5}]}')
    before = path.read_bytes()
    win = open_window(qtbot, synth_clip.root)
    assert win.doc is None and win.stack.currentWidget() is win.overview
    assert "p1-A.json" in win.overview.message.text() and "instances[0]" in win.overview.message.text()
    assert not FileLock(path).holder()
    win.close()
    assert path.read_bytes() == before


def test_overview_shows_progress_and_opens_a_clip(qtbot, annotator_env, synth_clip: SynthClip) -> None:
    win = open_window(qtbot, synth_clip.root, None)
    ov = win.overview
    qtbot.waitUntil(lambda: not ov.loading and ov.clip_row("p1-A") is not None, timeout=5000)
    assert ov.clip_row("p1-A").text(3) == "0/4 (0%)"
    ov.tree.setCurrentItem(ov.clip_row("p1-A"))
    ov.buttons["corners"].click()
    assert win.current_stage == "corners" and win.doc is not None
    win.doc.set_frame_done(0, True)
    qtbot.keyClick(win.views["corners"].canvas, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert win.doc is None and win.stack.currentWidget() is ov  # closed, saved, unlocked
    qtbot.waitUntil(lambda: not ov.loading and ov.clip_row("p1-A").text(3) == "1/4 (25%)", timeout=5000)


def test_zoom_fit_and_pan(qtbot, annotator_env, synth_clip: SynthClip) -> None:
    win = open_window(qtbot, synth_clip.root)
    canvas = win.views["corners"].canvas
    fitted = canvas.scale_factor()
    key(qtbot, win, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    key(qtbot, win, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert canvas.scale_factor() == pytest.approx(fitted * 1.25 ** 2)
    bar = canvas.horizontalScrollBar()
    value = bar.value()
    start = QPoint(canvas.viewport().width() // 2, canvas.viewport().height() // 2)
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.MiddleButton, pos=start)
    qtbot.mouseMove(canvas.viewport(), pos=start + QPoint(-60, 0))
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.MiddleButton, pos=start + QPoint(-60, 0))
    assert bar.value() == value + 60
    qtbot.keyPress(canvas, Qt.Key.Key_Space)  # space + left drag pans too
    qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(canvas.viewport(), pos=start + QPoint(40, 0))
    qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=start + QPoint(40, 0))
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    assert bar.value() == value + 20
    assert win.doc.instance_count() == 0 and win.views["corners"].controller.draft == []  # no corner clicked
    key(qtbot, win, Qt.Key.Key_F)
    assert canvas.scale_factor() == pytest.approx(fitted)


def test_help_lists_every_key_and_keymap_file_applies(qtbot, annotator_env, synth_clip: SynthClip,
                                                      tmp_path: Path) -> None:
    keymap = tmp_path / "keys.toml"
    keymap.write_text('[keys]\n"corners.next_frame" = "N"\n')
    win = open_window(qtbot, synth_clip.root, "p1-A", "tester", "--keymap", str(keymap))
    win.show_shortcuts()
    dialog = win._shortcuts
    assert dialog is not None
    every_key = {k for keys in win.bindings.values() for k in keys}
    assert every_key <= dialog.keys_listed() and "N" in dialog.keys_listed()
    c = win.views["corners"].controller
    key(qtbot, win, Qt.Key.Key_N)
    assert c.frame == 1
    key(qtbot, win, Qt.Key.Key_D)  # no longer bound
    assert c.frame == 1


def test_screenshot_script_writes_both_pictures(qtbot, annotator_env, tmp_path: Path) -> None:
    import runpy

    script = runpy.run_path(str(Path(__file__).parents[1] / "docs" / "screenshots.py"))
    written = script["take_screenshots"](tmp_path / "shots", resolution=(320, 180), seconds=3.0)
    assert sorted(p.name for p in written) == ["annotate-overview.png", "annotate-stage1.png"]
    sizes = (script["OVERVIEW_SIZE"], script["SIZE"])
    for path, least, (w, h) in zip(sorted(written), (4, 30), sizes):  # stage 1 shows a frame: many colours
        image = QImage(str(path))
        assert image.width() == w and h <= image.height() <= h + 60  # (the window's least height may be more)
        assert len({image.pixel(x, y) for x in range(0, w, 20) for y in range(0, h, 20)}) >= least
        assert path.stat().st_size < 500_000


def test_frame_navigation_keys(qtbot, annotator_env, synth_clip: SynthClip, monkeypatch: pytest.MonkeyPatch) -> None:
    from PyQt6.QtWidgets import QInputDialog

    win = open_window(qtbot, synth_clip.root)
    c, doc = win.views["corners"].controller, win.doc
    key(qtbot, win, Qt.Key.Key_D)
    key(qtbot, win, Qt.Key.Key_D)
    key(qtbot, win, Qt.Key.Key_A)
    assert c.frame == 1
    monkeypatch.setattr(QInputDialog, "getInt", staticmethod(lambda *a, **k: (3, True)))
    key(qtbot, win, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert c.frame == 3
    doc.set_frame_done(0, True)
    doc.set_frame_done(1, True)
    key(qtbot, win, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)  # previous unfinished: 2
    assert c.frame == 2
    key(qtbot, win, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # mark done
    assert doc.is_done(2) and win.views["corners"].frame_bar.states[:3] == ["done"] * 3


def test_a_failed_save_shows_in_the_status_bar_and_keeps_the_edit(qtbot, annotator_env, synth_clip: SynthClip) -> None:
    win = open_window(qtbot, synth_clip.root)
    (synth_clip.root / "annotations" / "p1-A.json").mkdir(parents=True)  # every write now fails
    for x, y in [(60, 60), (90, 62), (88, 80), (59, 78)]:
        click_image(qtbot, win, x, y)
    qtbot.waitUntil(lambda: win.save_label.text().startswith("NOT SAVED"), timeout=3000)
    assert "p1-A.json" in win.save_label.text() and not win.doc.is_saved and win.doc.instance_count() == 1
    (synth_clip.root / "annotations" / "p1-A.json").rmdir()
    key(qtbot, win, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # save now
    assert win.doc.is_saved and win.save_label.text() == "all changes saved"
    assert len(saved(synth_clip.root).instances) == 1

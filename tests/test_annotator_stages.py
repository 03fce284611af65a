"""The shell's own registration of the four stages and the human test, through the real command line."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PyQt6.QtCore import Qt

from annotator.actions import ACTIONS, APP, OWN_WINDOW, normalize_key, resolve_bindings
from annotator.app import main, parse_args
from annotator.stages import STAGES
from vrai_tools.human_eval import load_results

from .annotator_fixtures import annotator_env, open_window  # noqa: F401
from .stages34_fixtures import PAIR, eval_root, eval_template, pair_root, stages34_template  # noqa: F401

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("annotator_env")]

FOUR = ["corners", "matching", "attributes", "parts"]
TARGET = Qt.ItemDataRole.UserRole  # (unit, id) of an overview row


def test_the_shell_lists_the_four_stages_in_order(qtbot, pair_root: Path) -> None:
    from annotator.attributes.view import AttributesView
    from annotator.matching.view import MatchingView
    from annotator.parts.view import PartsView
    from annotator.stages.corners.view import CornersView

    assert [s.id for s in STAGES] == FOUR
    assert [s.unit for s in STAGES] == ["clip", "pair", "pair", "pair"]
    window = open_window(qtbot, pair_root, None)
    kinds = (CornersView, MatchingView, AttributesView, PartsView)
    assert list(window.views) == FOUR
    assert all(isinstance(window.views[s], k) for s, k in zip(FOUR, kinds))
    assert list(window.overview.buttons) == FOUR
    window.close()


def test_builtin_keymap_has_no_duplicate_in_a_scope_nor_over_an_app_key() -> None:
    resolve_bindings()  # the start-up check itself
    keys: dict[str, list[str]] = {}  # scope -> every key bound in it, in Qt's spelling
    for a in ACTIONS:
        keys.setdefault(a.scope, []).extend(normalize_key(k, a.id) for k in a.keys)
    assert set(keys) == {APP, *FOUR, *OWN_WINDOW}
    for scope, bound in keys.items():
        assert len(bound) == len(set(bound)), f"{scope}: a key bound twice"
    app_keys = set(keys[APP])
    for scope in FOUR:
        assert not app_keys & set(keys[scope]), f"{scope} reuses an app key"
    # the check is meaningful: a stage key over an app key, or twice in one stage, is refused
    from annotator.actions import KeymapError

    for overrides in ({"matching.swap": ("Ctrl+S",)}, {"attributes.toggle_bumper": ("S",)},
                      {"parts.fit": ("F1",)}, {"human_eval.left": ("Right",)}):
        with pytest.raises(KeymapError):
            resolve_bindings(overrides)
    # two stages may share a key; the human test's own window has no app keys
    assert resolve_bindings({"parts.fit": ("W",)})["parts.fit"] == ("W",)
    assert resolve_bindings()["human_eval.undo"] == ("Ctrl+Z",)


def test_help_shortcuts_lists_every_stage_and_the_human_test(qtbot, pair_root: Path) -> None:
    window = open_window(qtbot, pair_root, None)
    window.action("app.shortcuts").trigger()
    dialog = window._shortcuts
    assert dialog is not None and dialog.isVisible()
    where = {dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())}
    assert {"Everywhere", *(s.title for s in STAGES), "Human test (--human-eval)"} <= where
    listed = dialog.keys_listed()
    for a in ACTIONS:
        assert set(window.bindings[a.id]) <= listed, a.id
    actions = {dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())}
    assert "Same vehicle as candidate 1" in actions and "Toggle bumper" in actions and "Draw a part box" in actions
    dialog.close()
    window.close()


def test_the_overview_opens_each_stage(qtbot, pair_root: Path) -> None:
    window = open_window(qtbot, pair_root, None)
    overview = window.overview
    tree = overview.tree
    qtbot.waitUntil(lambda: not overview.loading and tree.topLevelItemCount() > 0, timeout=10000)
    pair_row = tree.topLevelItem(0)
    pair_id, clip_id = pair_row.data(0, TARGET)[1], pair_row.child(0).data(0, TARGET)[1]
    tree.setCurrentItem(pair_row)
    assert not overview.buttons["corners"].isEnabled()  # stage 1 needs a clip
    # stage 1 on a clip; stages 2-4 on a pair, picked by its row or by one of its clips
    for spec, pick, target in zip(STAGES, ("clip", "pair", "clip", "pair"), (clip_id, pair_id, pair_id, pair_id)):
        top = tree.topLevelItem(0)  # rebuilt by every refresh
        tree.setCurrentItem(top if pick == "pair" else top.child(0))
        button = overview.buttons[spec.id]
        assert button.isEnabled() and spec.title in button.text()
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert (window.current_stage, window.current_target) == (spec.id, target), overview.message.text()
        assert window.stack.currentWidget() is window.views[spec.id]
        assert window.views[spec.id].doc is window.doc and not window.doc.read_only
        writes = {pair_root / "matching" / f"{pair_id}.json"} if spec.id in ("matching", "attributes") else set()
        writes |= {pair_root / "annotations" / f"{c}.json" for c in (clip_id, clip_id[:-1] + "B")
                   if spec.id in ("attributes", "parts") or c == clip_id and spec.id == "corners"}
        assert set(pair_root.rglob("*.lock")) == {p.with_name(p.name + ".lock") for p in writes}  # what it writes, locked
        assert spec.title in window.windowTitle()
        # only this stage's menus and keys are live
        live = {a.scope for a in ACTIONS if a.id in window.actions_by_id and window.action(a.id).isEnabled()}
        assert live == {APP, spec.id}
        wiring = window.views[spec.id]._wiring
        assert wiring._links  # the view recorded what it hooked up to the document...
        window.action("app.overview").trigger()
        assert window.doc is None and window.stack.currentWidget() is overview
        assert not wiring._links and not wiring._owned  # ...and undid all of it on closing
        qtbot.waitUntil(lambda: not overview.loading and tree.topLevelItemCount() > 0, timeout=10000)
    assert not list(pair_root.rglob("*.lock"))  # every lock given back
    window.close()


def test_a_pair_on_the_command_line_opens_in_matching(qtbot, pair_root: Path) -> None:
    window = open_window(qtbot, pair_root, PAIR)
    assert window.current_stage == "matching" and window.current_target == PAIR
    window.close()


def test_one_model_option_serves_matching_and_attributes(qtbot, monkeypatch, pair_root: Path,
                                                        tmp_path: Path) -> None:
    from annotator.app import create_window
    from annotator.attributes import options as attribute_options
    from annotator.matching import options as matching_options

    monkeypatch.setattr(attribute_options, "MODEL_RUN", None)
    monkeypatch.setattr(matching_options, "MODEL_RUN", None)
    run = tmp_path / "runs" / "mt"
    window = create_window(parse_args([str(pair_root), "--annotator", "t", "--model", str(run)])[0])
    qtbot.addWidget(window)
    assert matching_options.model_run() == run and attribute_options.MODEL_RUN == run
    window.close()


def test_help_shows_every_option_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for option in ("--clip", "--pair", "--stage", "--annotator", "--keymap", "--model", "--detector",
                   "--human-eval", "--split", "--queries", "--seed", "--results"):
        assert option in out, option
    assert "examples:" in out and "--human-eval --split" in out and "--stage parts --detector" in out
    assert ", ".join(FOUR) in " ".join(out.split())  # the --stage help, however it is wrapped


@pytest.mark.parametrize("argv, message", [
    (["--stage", "nope"], "invalid choice: 'nope' (choose from 'corners', 'matching', 'attributes', 'parts')"),
    (["--human-eval", "--clip", "p001-A"], "--human-eval opens the test window"),
    (["--split", "s0"], "--split only applies to the human test: add --human-eval"),
    (["--modle", "x"], "unrecognized arguments: --modle"),
])
def test_bad_usage_is_refused_with_the_choices(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as done:
        parse_args([str(tmp_path), *argv])
    assert done.value.code == 2
    assert message in capsys.readouterr().err


def test_human_eval_opens_from_the_command_line_and_saves_answers(qtbot, eval_root: Path, tmp_path: Path) -> None:
    from PyQt6.QtTest import QTest

    from annotator.app import create_window
    from annotator.human_eval.window import HumanEvalWindow

    keymap = tmp_path / "keys.toml"
    keymap.write_text('[keys]\n"human_eval.left" = ["Left", "J"]\n')
    results = tmp_path / "me.json"
    argv = [str(eval_root), "--annotator", "tester", "--human-eval", "--split", "s0", "--queries", "3",
            "--results", str(results), "--keymap", str(keymap)]
    window = create_window(parse_args(argv)[0])
    qtbot.addWidget(window)
    assert isinstance(window, HumanEvalWindow)
    assert [k.toString() for k in window.actions_by_id["human_eval.left"].shortcuts()] == ["Left", "J"]
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.waitUntil(lambda: window._shown_at is not None, timeout=10000)
    QTest.keyClick(window, Qt.Key.Key_J)
    qtbot.waitUntil(lambda: window.doc.answered() == 1)
    window.close()
    saved = load_results(results)
    assert saved.split == "s0" and len(saved.trials) == 3
    assert [t.answer for t in saved.trials].count("left") == 1
    assert not results.with_name(results.name + ".lock").exists()


def test_human_eval_without_a_split_names_the_splits(qapp, eval_root: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(eval_root), "--annotator", "t", "--human-eval"]) == 1
    assert "--human-eval needs --split NAME (splits here: s0)" in capsys.readouterr().err


def test_the_vrai_annotate_program_opens_the_human_test(eval_root: Path, tmp_path: Path, annotator_env: Path) -> None:
    """The installed console script, as a user types it, offscreen: it starts, writes its results file, stays up."""
    program = Path(sys.executable).with_name("vrai-annotate")
    if not program.exists():
        pytest.skip(f"{program} is not installed")
    results = tmp_path / "run.json"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "VRAI_ANNOTATE_CONFIG_DIR": str(annotator_env)}
    proc = subprocess.Popen([str(program), str(eval_root), "--annotator", "tester", "--human-eval", "--split", "s0",
                             "--queries", "4", "--results", str(results)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 60
        while not results.exists() and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.1)
        assert proc.poll() is None, f"vrai-annotate exited {proc.returncode}: {proc.communicate()[1]}"
        assert results.exists(), "no results file after 60 s"
        assert len(load_results(results).trials) == 4
    finally:
        proc.kill()
        proc.communicate()

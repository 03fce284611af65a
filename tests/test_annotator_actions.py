"""The one action table: handlers exist, keymap files override keys, duplicates are refused."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from annotator.actions import (  # noqa: E402
    ACTIONS,
    APP,
    OWN_WINDOW,
    KeymapError,
    load_keymap,
    resolve_bindings,
    shortcuts_markdown,
)
from annotator.app import main  # noqa: E402
from annotator.main_window import MainWindow  # noqa: E402
from annotator.stages import STAGES  # noqa: E402
from tests.annotator_fixtures import annotator_env, synth_clip  # noqa: E402,F401


def test_default_table_has_unique_ids_keys_and_real_handlers() -> None:
    assert len({a.id for a in ACTIONS}) == len(ACTIONS)
    bindings = resolve_bindings()
    assert bindings["corners.next_frame"] == ("D",) and bindings["app.redo"][0] == "Ctrl+Shift+Z"
    from annotator.attributes.view import AttributesView
    from annotator.human_eval.window import HumanEvalWindow
    from annotator.matching.view import MatchingView
    from annotator.parts.view import PartsView
    from annotator.stages.corners.view import CornersView

    owners = {APP: MainWindow, "corners": CornersView, "matching": MatchingView, "attributes": AttributesView,
              "parts": PartsView, "human_eval": HumanEvalWindow}
    assert set(owners) == {APP, *(s.id for s in STAGES), *OWN_WINDOW}
    for a in ACTIONS:
        assert a.scope in owners, a.id
        assert callable(getattr(owners[a.scope], a.handler, None)), f"{a.id}: no handler {a.handler}"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "keys.toml"
    path.write_text(text)
    return path


def test_the_keymap_example_in_help_is_valid(tmp_path: Path) -> None:
    from annotator.app import EXAMPLE

    text = EXAMPLE[EXAMPLE.index("[keys]"):]
    bindings = resolve_bindings(load_keymap(write(tmp_path, text)))
    assert bindings["corners.next_frame"] == ("D", "PgDown") and bindings["corners.fit"] == ()


def test_keymap_file_rebinds_and_unbinds(tmp_path: Path) -> None:
    path = write(tmp_path, '[keys]\n"corners.next_frame" = ["N", "PgDown"]\n"corners.fit" = ""\n')
    bindings = resolve_bindings(load_keymap(path), source=str(path))
    assert bindings["corners.next_frame"] == ("N", "PgDown") and bindings["corners.fit"] == ()


@pytest.mark.parametrize("text, message", [
    ('[keys]\n"corners.fit" = "D"\n', "key 'D' is bound to both 'corners.next_frame' and 'corners.fit'"),
    ('[keys]\n"corners.fit" = "ctrl+z"\n', "key 'Ctrl+Z' is bound to both 'app.undo' and 'corners.fit'"),
    ('[keys]\n"corners.fit" = "Delete"\n', "key 'Del' is bound to both"),  # same key, other spelling
    ('[keys]\n"corners.nope" = "X"\n', "unknown action 'corners.nope'"),
    ('[keys]\n"corners.fit" = "Ctrl+Banana"\n', "'Ctrl+Banana' is not a single key"),
    ('[keys]\n"corners.fit" = 3\n', "keys.corners.fit: expected a key or a list of keys"),
    ('[keys\n', "not a valid TOML file"),
])
def test_bad_keymaps_are_refused_with_a_clear_message(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(KeymapError) as err:
        resolve_bindings(load_keymap(path), source=str(path))
    assert message in str(err.value) and str(path) in str(err.value)


def test_two_stages_may_share_a_key_but_not_with_the_app() -> None:
    from annotator.actions import ActionSpec

    table = [ActionSpec("app.x", "x", ("X",), "x"), ActionSpec("s1.a", "a", ("A",), "a", "s1"),
             ActionSpec("s2.a", "a", ("A",), "a", "s2")]
    assert resolve_bindings(actions=table)["s2.a"] == ("A",)
    with pytest.raises(KeymapError):
        resolve_bindings({"s1.a": ("X",)}, actions=table)


def test_app_refuses_to_start_with_a_duplicate_key(qapp, tmp_path: Path, annotator_env: Path, synth_clip,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '[keys]\n"corners.zoom_in" = "A"\n')
    code = main([str(synth_clip.root), "--annotator", "t", "--keymap", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "vrai-annotate: error:" in err and "'A' is bound to both 'corners.prev_frame' and 'corners.zoom_in'" in err


def test_app_refuses_a_folder_that_is_not_a_dataset(qapp, tmp_path: Path, annotator_env: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path), "--annotator", "t"]) == 1
    assert "no dataset.json" in capsys.readouterr().err


def test_markdown_table_lists_every_action() -> None:
    text = shortcuts_markdown(resolve_bindings())
    for a in ACTIONS:
        assert a.text in text
    assert "`Ctrl+Shift+Z`" in text


def test_annotator_name_is_asked_once_then_remembered(annotator_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from annotator.settings import ANNOTATOR_ENV, app_settings, resolve_annotator

    asked: list[int] = []

    def ask() -> str:
        asked.append(1)
        return "  carol "

    assert resolve_annotator(None, app_settings(), ask) == "carol" and len(asked) == 1
    assert resolve_annotator(None, app_settings(), ask) == "carol" and len(asked) == 1  # remembered
    assert (annotator_env / "vrai-annotate.ini").is_file()  # in the folder tests point it at
    monkeypatch.setenv(ANNOTATOR_ENV, "dave")
    assert resolve_annotator(None, app_settings(), ask) == "dave"
    assert resolve_annotator("erin", app_settings(), ask) == "erin" and len(asked) == 1
    assert resolve_annotator(None, app_settings(), lambda: None) == "dave"


def test_a_remembered_keymap_that_is_gone_falls_back_to_the_built_in_keys(
        qapp, tmp_path: Path, annotator_env: Path, synth_clip, capsys: pytest.CaptureFixture[str]) -> None:
    from annotator.app import create_window, parse_args

    path = write(tmp_path, '[keys]\n"corners.next_frame" = "N"\n')
    window = create_window(parse_args([str(synth_clip.root), "--annotator", "t", "--keymap", str(path)])[0])
    assert window.bindings["corners.next_frame"] == ("N",)
    window.close()
    window = create_window(parse_args([str(synth_clip.root), "--annotator", "t"])[0])  # remembered
    assert window.bindings["corners.next_frame"] == ("N",)
    window.close()
    path.unlink()
    window = create_window(parse_args([str(synth_clip.root), "--annotator", "t"])[0])
    assert window.bindings["corners.next_frame"] == ("D",) and "is gone" in capsys.readouterr().err
    window.close()

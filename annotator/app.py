"""``vrai-annotate ROOT``: the annotation app's entry point.

The stages' own options are declared by their ``options`` modules and applied once
here, before any view is built (the shell builds views without arguments):
``--model RUN`` (one option for stages 2 and 3: a trained ReID run ranks the matching
candidates and pre-fills the attributes), ``--detector`` (stage 4), and the
human-performance test's ``--human-eval --split --queries --seed --results``, which opens
the test window instead of the annotation shell.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PyQt6.QtWidgets import QApplication, QInputDialog, QMainWindow

from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import VraiToolsError

from .actions import KeymapError, load_keymap, resolve_bindings
from .attributes import options as attribute_options
from .human_eval import options as human_eval_options
from .matching import options as matching_options
from .parts import options as part_options
from .settings import APPLICATION, ORGANISATION, app_settings, resolve_annotator

EXAMPLE = """examples:
  vrai-annotate my-dataset                                  # overview of pairs and clips, progress per stage
  vrai-annotate my-dataset --clip p001-A                    # stage 1 (corners → box) on one clip
  vrai-annotate my-dataset --pair p001                      # stage 2 (cross-camera matching) on a pair
  vrai-annotate my-dataset --pair p001 --model runs/mt      # ... candidates ranked by a trained ReID run
  vrai-annotate my-dataset --pair p001 --stage attributes --model runs/mt
                                                            # stage 3, attributes pre-filled by that run
  vrai-annotate my-dataset --pair p001 --stage parts --detector runs/parts
                                                            # stage 4, with the detector's part proposals
  vrai-annotate my-dataset --human-eval --split main        # the paper's human test: 100 queries, ← or →
  vrai-annotate my-dataset --human-eval --split main --queries 50 --seed 1 --results me.json
  vrai-annotate my-dataset --keymap my-keys.toml            # with your own keys (F1 lists them)

keymap file (TOML; ids and default keys: Help → Shortcuts):
  [keys]
  "corners.next_frame" = ["D", "PgDown"]
  "corners.prev_frame" = ["A", "PgUp"]
  "corners.fit" = ""                             # unbound
  "human_eval.left" = ["Left", "J"]
"""


# Qt's own command-line options (QGuiApplication, QApplication), which Qt also accepts with two dashes.
QT_OPTIONS = frozenset({
    "platform", "platformpluginpath", "platformtheme", "plugin", "qmljsdebugger", "qwindowgeometry",
    "qwindowicon", "qwindowtitle", "reverse", "session", "style", "stylesheet", "widgetcount", "display",
    "geometry", "dialogs", "nograb", "dograb", "sync"})


def _stage_ids() -> tuple[str, ...]:
    from .stages import STAGE_IDS  # the views' modules; imported only once the app really starts

    return STAGE_IDS


def build_parser() -> argparse.ArgumentParser:
    stages = _stage_ids()
    p = argparse.ArgumentParser(
        prog="vrai-annotate",
        description="Annotate a vrai-tools dataset in four stages: 1 corners → box, 2 cross-camera matching,\n"
                    "3 attributes, 4 discriminative parts; or run the human-performance test (--human-eval).",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", type=Path, help="dataset root (the folder holding dataset.json)")
    p.add_argument("--clip", "--pair", dest="clip", metavar="ID",
                   help="open this clip (stage 1) or location pair (stages 2–4) straight away")
    p.add_argument("--stage", choices=stages, metavar="STAGE",
                   help=f"stage to open --clip/--pair in: {', '.join(stages)} "
                        "(default: corners for a clip, matching for a pair)")
    p.add_argument("--annotator", help="your name, stored with every edit (asked once and remembered otherwise)")
    p.add_argument("--keymap", type=Path, metavar="FILE", help="TOML file overriding keys (remembered for next time)")
    g = p.add_argument_group("model assistance")
    attribute_options.add_arguments(g)  # --model: one option for stages 2 and 3
    part_options.add_arguments(g)
    human_eval_options.add_arguments(p)
    return p


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    """Our options, and whatever is left for Qt (e.g. ``-platform offscreen``); exits 2 on bad usage."""
    p = build_parser()
    args, rest = p.parse_known_args(argv)
    if args.human_eval and (args.clip or args.stage):
        p.error("--human-eval opens the test window: it takes no --clip/--pair or --stage")
    if not args.human_eval:
        given = [o for o, v in (("--split", args.split), ("--results", args.results)) if v is not None]
        if given:
            p.error(f"{' and '.join(given)} only appl{'y' if len(given) > 1 else 'ies'} to the human test: "
                    "add --human-eval")
    stray = [a for a in rest if a.startswith("--") and a[2:].partition("=")[0] not in QT_OPTIONS]
    if stray:  # a mistyped option of ours must not be handed to Qt and silently ignored
        p.error(f"unrecognized arguments: {' '.join(stray)}")
    return args, rest


def apply_options(args: argparse.Namespace) -> None:
    """Hand the stage options to the stages (module state the views read when a document opens)."""
    matching_options.apply(args)
    attribute_options.apply(args)
    part_options.apply(args)


def _ask_name() -> str | None:
    name, ok = QInputDialog.getText(None, "vrai-annotate", "Your name (stored with every annotation you make):")
    return name if ok else None


def _default_stage(root: DatasetRoot, target: str) -> str:
    from .stages import STAGES

    unit = "pair" if target in {p.id for p in root.manifest().pairs} else "clip"
    return next(s.id for s in STAGES if s.unit == unit)


def create_window(args: argparse.Namespace) -> QMainWindow:
    """Everything ``main`` does except the event loop (the test driver starts the app this way).

    The annotation shell (:class:`MainWindow`), or with ``--human-eval`` the test window.
    Views are imported here, not at module level, so ``--help`` stays fast.
    """
    from .main_window import MainWindow
    from .stages import stage

    if args.stage is not None:
        try:
            stage(args.stage)
        except KeyError as e:
            raise VraiToolsError(f"--stage: {e.args[0]}") from None
    settings = app_settings()
    keymap = args.keymap
    remembered = str(settings.value("keymap") or "")
    if keymap is None and remembered:
        if Path(remembered).is_file():
            keymap = Path(remembered)
        else:  # moved or deleted since: say so, and carry on with the built-in keys
            print(f"vrai-annotate: warning: remembered keymap {remembered} is gone; using the built-in keys",
                  file=sys.stderr)
            settings.remove("keymap")
    overrides = load_keymap(keymap) if keymap else {}
    bindings = resolve_bindings(overrides, source=str(keymap) if keymap else "built-in keymap")
    if args.keymap:
        settings.setValue("keymap", str(args.keymap.resolve()))
    root = DatasetRoot(args.root)
    root.manifest()  # refuse a folder that is not a dataset before asking anything
    annotator = resolve_annotator(args.annotator, settings, _ask_name)
    if annotator is None:
        raise VraiToolsError("no annotator name given (use --annotator NAME)")
    apply_options(args)
    if getattr(args, "human_eval", False):
        return human_eval_options.create_window(args, root, annotator, bindings, settings)
    window = MainWindow(root, annotator, bindings, settings, overview=not args.clip)
    if args.clip and not window.open_target(args.stage or _default_stage(root, args.clip), args.clip):
        window.show_overview()  # the reason is on screen; the overview lets the user pick another
    return window


def main(argv: list[str] | None = None) -> int:
    args, qt_args = parse_args(argv)
    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    try:
        window = create_window(args)
    except KeymapError as e:
        print(f"vrai-annotate: error: {e}", file=sys.stderr)
        return 2
    except VraiToolsError as e:
        print(f"vrai-annotate: error: {e}", file=sys.stderr)
        return 1
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

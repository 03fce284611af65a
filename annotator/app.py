"""``vrai-annotate ROOT``: the annotation app's entry point."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PyQt6.QtWidgets import QApplication, QInputDialog

from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import VraiToolsError

from .actions import KeymapError, load_keymap, resolve_bindings
from .settings import APPLICATION, ORGANISATION, app_settings, resolve_annotator

EXAMPLE = """example:
  vrai-annotate my-dataset                       # overview of pairs and clips
  vrai-annotate my-dataset --clip p01-A          # straight to stage 1 on one clip
  vrai-annotate my-dataset --keymap my-keys.toml # with your own keys (F1 lists them)

keymap file (TOML; ids and default keys: Help → Shortcuts):
  [keys]
  "corners.next_frame" = ["D", "PgDown"]
  "corners.prev_frame" = ["A", "PgUp"]
  "corners.fit" = ""                             # unbound
"""


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    """Our options, and whatever is left for Qt (e.g. ``-platform offscreen``)."""
    p = argparse.ArgumentParser(
        prog="vrai-annotate",
        description="Annotate a vrai-tools dataset: corners → box, cross-camera matching, attributes, parts.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", type=Path, help="dataset root (the folder holding dataset.json)")
    p.add_argument("--clip", help="open this clip straight away")
    p.add_argument("--stage", default="corners", help="stage to open --clip in (default: corners)")
    p.add_argument("--annotator", help="your name, stored with every edit (asked once and remembered otherwise)")
    p.add_argument("--keymap", type=Path, help="TOML file overriding keys (remembered for next time)")
    return p.parse_known_args(argv)


def _ask_name() -> str | None:
    name, ok = QInputDialog.getText(None, "vrai-annotate", "Your name (stored with every annotation you make):")
    return name if ok else None


def create_window(args: argparse.Namespace):  # -> MainWindow; imported lazily so --help needs no display
    """Everything ``main`` does except the event loop (the test driver starts the app this way)."""
    from .main_window import MainWindow

    from .stages import stage

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
    window = MainWindow(root, annotator, bindings, settings)
    if args.clip:
        window.open_target(args.stage, args.clip)
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

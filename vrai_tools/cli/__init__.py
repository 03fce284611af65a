"""The ``vrai-tools`` command line: a thin skin over library functions.

Commands live one per module (``cli/<name>_cmd.py`` exposing ``command``) and are
imported only when invoked, so ``vrai-tools --help`` starts fast and the dataset tools
never load torch.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from .. import __version__
from ..errors import VraiToolsError

# command name -> module under vrai_tools.cli, in the order --help lists them
COMMANDS: dict[str, str] = {
    "synth": "synth_cmd",
    "extract-frames": "extract_frames_cmd",
    "validate": "validate_cmd",
    "split": "split_cmd",
    "stats": "stats_cmd",
    "crops": "crops_cmd",
    "export": "export_cmd",
    "import": "import_cmd",
    "train": "train_cmd",
    "train-detector": "train_detector_cmd",
    "detect-parts": "detect_parts_cmd",
    "evaluate": "evaluate_cmd",
    "report": "report_cmd",
    "demo": "demo_cmd",
}


def _available(name: str) -> bool:
    return importlib.util.find_spec(f"{__name__}.{COMMANDS[name]}") is not None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [n for n in COMMANDS if _available(n)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module = importlib.import_module(f"{__name__}.{COMMANDS[cmd_name]}")
        return module.command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except VraiToolsError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vrai-tools")
def cli() -> None:
    """Vehicle re-identification from drone video, after VRAI (ICCV 2019).

    Dataset tools, training and evaluation over one dataset root
    (see README.md for the layout). Run `vrai-tools COMMAND --help` for examples.
    """


def main() -> None:
    cli(prog_name="vrai-tools")

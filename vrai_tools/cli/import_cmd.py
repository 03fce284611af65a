"""``vrai-tools import vrai RELEASE_DIR --root ROOT`` (and ``import market1501``)."""
from __future__ import annotations

from pathlib import Path

import click


def _run(fmt: str, source: Path, root: Path, copy: bool, quiet: bool) -> None:
    from ..formats.importing import import_dataset

    report = import_dataset(fmt, source, root, copy=copy, quiet=quiet)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if not quiet:
        c = report.counts
        click.echo(f"{report.root}: {c['images']} images in {c['clips']} clips of {c['pairs']} camera pair(s), "
                   f"{c['vehicles']} vehicles; split {'release' if fmt == 'vrai' else fmt!r}: "
                   f"train {c['train images']}, query {c['query']}, gallery {c['gallery']}")


@click.group("import")
def command() -> None:
    """Create a dataset root from a released dataset (no videos: each image becomes a frame
    whose single instance covers the whole image).

    \b
    Examples:
      vrai-tools import vrai ~/data/VRAI --root vrai-release
      vrai-tools import market1501 market-export --root from-market
    """


@command.command("vrai")
@click.argument("release_dir", type=click.Path(path_type=Path))
@click.option("--root", required=True, type=click.Path(path_type=Path), help="New (or empty) dataset root.")
@click.option("--copy", is_flag=True, help="Copy the images [default: hard-link them when possible].")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def vrai(release_dir: Path, root: Path, copy: bool, quiet: bool) -> None:
    """Import the official VRAI release at RELEASE_DIR.

    Reads images_train/, images_test/, train_annotation.pkl and test_annotation.pkl with
    a restricted unpickler (data only: a pickle naming any other global is refused,
    nothing executed). Vehicle ID and camera come from the train file names; test images
    become unlabeled query/gallery entries in the official order (split 'release').
    Says whether class labels were 0- or 1-based.

    \b
    Example:
      vrai-tools import vrai ~/data/VRAI --root vrai-release
      vrai-tools split vrai-release --name holdout --seed 0 --protocol vrai-release
    """
    _run("vrai", release_dir, root, copy, quiet)


@command.command("market1501")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--root", required=True, type=click.Path(path_type=Path), help="New (or empty) dataset root.")
@click.option("--copy", is_flag=True, help="Copy the images [default: hard-link them when possible].")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def market1501(folder: Path, root: Path, copy: bool, quiet: bool) -> None:
    """Import a Market-1501-style folder (e.g. one written by `vrai-tools export --format market1501`).

    Identities and cameras come from the file names (ids.json, when present, restores
    the original vehicle ids); the folders give the split 'market1501'.

    \b
    Example:
      vrai-tools import market1501 market-export --root from-market
    """
    _run("market1501", folder, root, copy, quiet)

"""``vrai-tools split ROOT --name NAME --seed S``."""
from __future__ import annotations

from pathlib import Path

import click


@click.command("split")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", required=True, help="Split name: written to ROOT/splits/NAME.json.")
@click.option("--seed", required=True, type=int, help="Random seed; the same seed gives the same split.")
@click.option("--test-fraction", type=float, default=None,
              help="Fraction of the eligible vehicles put in the test set "
                   "[default: 6720/13022 as in the paper; 0.1 with --protocol vrai-release].")
@click.option("--query-fraction", type=float, default=0.25, show_default=True,
              help="Fraction of the test images used as queries.")
@click.option("--protocol", type=click.Choice(["vrai", "vrai-release"]), default="vrai", show_default=True,
              help="vrai: the paper's §5.1 split. vrai-release: for an imported official release, hold out "
                   "training IDs for local evaluation (the release hides its test IDs).")
@click.option("--force", is_flag=True, help="Replace an existing split of that name.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def command(root: Path, name: str, seed: int, test_fraction: float | None, query_fraction: float,
            protocol: str, force: bool, quiet: bool) -> None:
    """Divide the vehicles of ROOT into disjoint train and test sets (paper §5.1).

    Test images are split about 25 % query / 75 % gallery so that every query has a
    gallery image of its vehicle from the other camera; vehicles seen by one camera only
    are left out and counted. Deterministic for a seed. Refuses to replace an existing
    split unless --force.

    \b
    Examples:
      vrai-tools split my-dataset --name paper --seed 0
      vrai-tools split vrai-release --name holdout --seed 0 --protocol vrai-release
    """
    from ..dataset import DatasetRoot
    from ..index import load_index
    from ..split import make_split, summarise, write_split

    ds = DatasetRoot(root)
    index = load_index(ds)
    split = make_split(index, name, seed, test_fraction=test_fraction, query_fraction=query_fraction,
                       protocol=protocol)  # type: ignore[arg-type]
    write_split(ds, split, force=force)
    if not quiet:
        click.echo(f"{ds.split_path(name)}: protocol {split.protocol}, seed {seed}, "
                   f"test fraction {split.test_fraction:.4f}")
        for line in summarise(split, index).lines():
            click.echo("  " + line)

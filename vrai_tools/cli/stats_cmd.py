"""``vrai-tools stats ROOT --out DIR``."""
from __future__ import annotations

from pathlib import Path

import click


@click.command("stats")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for summary.md, stats.json and the PNG figures (created; files replaced).")
@click.option("--no-plots", is_flag=True, help="Skip the PNG figures (numbers only).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def command(root: Path, out: Path, no_plots: bool, quiet: bool) -> None:
    """Dataset statistics in the VRAI paper's terms.

    Writes summary.md (Table 1-style counts, splits, attribute and part tables,
    annotation progress and annotator time per stage), stats.json (the same numbers),
    figure3_attributes.png (colour, type, parts per image, images per vehicle) and
    figure4_bbox_resolution.png (bounding-box resolution). Reads ROOT only.

    \b
    Example:
      vrai-tools stats my-dataset --out my-dataset-stats
    """
    from ..index import load_index
    from ..stats import write_stats

    index = load_index(root)
    written = write_stats(index, out, plots=not no_plots)
    if not quiet:
        c = len(index.records), len(index.vehicles), len(index.cross_camera_vehicles())
        click.echo(f"{root}: {c[0]} images, {c[1]} vehicles ({c[2]} seen by both cameras)")
        for path in written.values():
            click.echo(f"  wrote {path}")

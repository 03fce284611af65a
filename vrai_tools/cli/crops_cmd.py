"""``vrai-tools crops ROOT [--size N] [--jobs N]``."""
from __future__ import annotations

from pathlib import Path

import click


@click.command("crops")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path))
@click.option("--size", type=click.IntRange(min=8), default=None,
              help="Scale each crop so its LONGEST side is N pixels (aspect ratio kept, no padding) "
                   "[default: native resolution].")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Processes cutting crops at once [default: number of CPUs].")
@click.option("--jpeg-quality", type=click.IntRange(1, 100), default=95, show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def command(root: Path, size: int | None, jobs: int | None, jpeg_quality: int, quiet: bool) -> None:
    """Cut every instance's box out of its frame into ROOT/crops/ (for training and viewing).

    Crops are named crops/<variant>/<clip_id>/<n:06d>.jpg for instance <clip_id>:<n>,
    <variant> being 'native' or 's<N>' with --size N. A crop is the instance bbox widened
    to whole pixels. Incremental: crops whose frame and box did not change are kept,
    crops of deleted instances are removed. Crops are derived data: delete crops/ at will.

    \b
    Examples:
      vrai-tools crops my-dataset
      vrai-tools crops my-dataset --size 352 -j 8
    """
    from ..crops import make_crops

    report = make_crops(root, size, workers=jobs, quality=jpeg_quality, quiet=quiet)
    if not quiet:
        click.echo(f"{report.folder}: {report.written} crop(s) written, {report.skipped} up to date, "
                   f"{report.removed} removed")
    if report.problems:
        shown = report.problems[:10]
        more = f"\n... and {len(report.problems) - 10} more" if len(report.problems) > 10 else ""
        raise click.ClickException("\n".join(shown) + more)

"""``vrai-tools export ROOT --format FORMAT --split NAME --out DIR``."""
from __future__ import annotations

from pathlib import Path

import click

from ..formats import EXPORT_FORMATS


@click.command("export")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", required=True, type=click.Choice(EXPORT_FORMATS),
              help="market1501: torchreid/fast-reid folders. vrai: the official VRAI release layout. "
                   "coco: frames with vehicle boxes. yolo-parts: crops with YOLO labels of the parts.")
@click.option("--split", "split_name", required=True, help="Name of a split in ROOT/splits/ (see `vrai-tools split`).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder (new or empty).")
@click.option("--force", is_flag=True, help="Write into a non-empty --out, replacing this format's folders and files there.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Processes cutting crops at once [default: number of CPUs].")
@click.option("--jpeg-quality", type=click.IntRange(1, 100), default=95, show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def command(root: Path, fmt: str, split_name: str, out: Path, force: bool, jobs: int | None,
            jpeg_quality: int, quiet: bool) -> None:
    """Write the images and labels of a split of ROOT in an external format.

    \b
    market1501  bounding_box_train/, query/, bounding_box_test/ named
                {pid:04d}_c{cam}s1_{frame:06d}_{k:02d}.jpg, plus ids.json (pid -> vehicle id)
    vrai        images_train/, images_test/, train_annotation.pkl, test_annotation.pkl
    coco        images/<clip>/..., instances.json (category = type; attributes, vehicle id)
    yolo-parts  images/{train,val}/, labels/{train,val}/, data.yaml

    Output is deterministic (sorted, no timestamps). Nothing is left behind on failure.

    \b
    Examples:
      vrai-tools export my-dataset --format market1501 --split paper --out market
      vrai-tools export my-dataset --format vrai --split paper --out vrai-layout
    """
    from ..formats.exporting import export_dataset

    report = export_dataset(root, fmt, split_name, out, force=force, workers=jobs, quality=jpeg_quality, quiet=quiet)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if not quiet:
        counts = ", ".join(f"{k} {v}" for k, v in report.counts.items())
        click.echo(f"{report.out}: {fmt} export of split {split_name!r}: {counts}")

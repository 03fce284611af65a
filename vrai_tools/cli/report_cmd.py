"""``vrai-tools report RUN...``: runs side by side (paper Tables 3 and 4)."""
from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("runs", nargs=-1, required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--split", help="Only evaluations on this split  [default: every evaluation of every run]")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the Markdown to FILE instead of printing it.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
def command(runs: tuple[Path, ...], split: str | None, out: Path | None, force: bool) -> None:
    """Compare training runs: one Markdown table of every evaluation of every RUN
    (preset, backbone, size, feature, distance, part boxes, mAP, CMC-1/5/10, mINP), like
    the paper's Tables 3 and 4, and their attribute accuracies (Table 2).

    Reads only the runs' evaluations/*.json: evaluate each run first with
    `vrai-tools evaluate`.

    \b
    Examples:
      vrai-tools report runs/triplet runs/multitask runs/dp --split s0
      vrai-tools report runs/* --out comparison.md
    """
    from reid.reports.compare import compare_runs
    from vrai_tools.storage import atomic_write_text

    if out is not None and out.exists() and not force:
        raise click.UsageError(f"{out} exists; pass --force to replace it")
    text = compare_runs(list(runs), split=split)
    if out is None:
        click.echo(text, nl=False)
        return
    atomic_write_text(out, text)
    click.echo(f"wrote {out} ({len(runs)} run(s))")

"""``vrai-tools validate ROOT``."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..validate import validate_root


@click.command("validate")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path))
@click.option("--no-files", is_flag=True, help="Skip checking that frame images and videos exist (metadata-only datasets).")
@click.option("--max-problems", default=50, show_default=True, help="Print at most this many problems (0: all).")
@click.option("-q", "--quiet", is_flag=True, help="Print problems only, no summary.")
def command(root: Path, no_files: bool, max_problems: int, quiet: bool) -> None:
    """Check a dataset root: every file against its schema and the rules across files.

    Never modifies a file. Exit 0 when valid, 1 when not.

    \b
    Example:
      vrai-tools validate my-dataset
    """
    if not root.is_dir():
        raise click.UsageError(f"{root} is not a directory")
    report = validate_root(root, check_files=not no_files)
    if not quiet and report.counts:
        c = report.counts
        click.echo(
            f"{root}: {c['pairs']} pairs, {c['clips']} clips, {c['frames']} frames, "
            f"{c['instances']} instances, {c['vehicles']} vehicles ({c['cross-camera vehicles']} seen by both cameras)"
        )
        for stage, prog in report.stages.items():
            unit = "frames" if stage == "corners" else "instances"
            click.echo(f"  {stage:<11} {prog.done:>7} / {prog.total:<7} {unit} done, {prog.pending} pending")
    shown = report.problems if max_problems <= 0 else report.problems[:max_problems]
    for problem in shown:
        click.echo(str(problem), err=True)
    if len(shown) < len(report.problems):
        click.echo(f"... and {len(report.problems) - len(shown)} more problem(s)", err=True)
    if report.ok:
        if not quiet:
            click.echo("valid")
        return
    click.echo(f"{len(report.problems)} problem(s) found", err=True)
    sys.exit(1)

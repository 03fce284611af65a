"""``vrai-tools demo``: synthetic data to an evaluated ReID model in a few minutes on a CPU."""
from __future__ import annotations

from pathlib import Path

import click

_PRESETS = ["triplet", "contrastive", "id", "triplet+id", "multitask", "multitask+dp"]


@click.command("demo")
@click.option("--out", "out", default="demo-output", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for everything the demo makes (new or empty, or an earlier demo to continue).")
@click.option("--preset", type=click.Choice(_PRESETS), default="multitask", show_default=True,
              help="Loss recipe (paper Table 3). multitask+dp also trains the part detector and uses its boxes.")
@click.option("--epochs", type=click.IntRange(min=1), help="ReID training epochs  [default: 8; 3 with --quick]")
@click.option("--quick", is_flag=True, help="A smaller dataset at 64 px (about a minute; what the tests run).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--threads", type=click.IntRange(min=1),
              help="CPU threads for torch  [default: the cores the load average leaves free]")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or per-epoch lines; stage headers and the table.")
def command(out: Path, preset: str, epochs: int | None, quick: bool, seed: int, threads: int | None,
            quiet: bool) -> None:
    """Run the whole pipeline on a small synthetic dataset and compare the untrained model
    with the trained one.

    Steps: `synth` (4 location pairs x 2 drones) -> `split` -> `crops` ->
    [multitask+dp: `train-detector` -> `detect-parts`] -> `train` (ResNet-18 at 128 px)
    -> `evaluate` of the run's untrained starting weights and of the trained model.
    Prints both side by side and where the report and plots are. About 4 minutes on a
    2-core CPU (about 7 with multitask+dp, which also trains the detector); the demo fails
    unless the trained model beats the untrained one.

    Rerunning with the same --out and options continues: finished steps are reused and an
    interrupted training resumes. Other options on the same --out, or a folder that is
    not a demo's, are refused (nothing is overwritten); delete the folder to start over.

    \b
    Examples:
      vrai-tools demo                         # what `make demo` runs
      vrai-tools demo --out demo-dp --preset multitask+dp
      vrai-tools demo --out /tmp/d --quick
    """
    from reid.demo import DemoError, DemoSettings, run_demo

    settings = DemoSettings(preset=preset, epochs=epochs, quick=quick, seed=seed)

    def say(text: str) -> None:
        if quiet and text.startswith("  "):
            return
        click.echo(text, err=True)

    r = run_demo(out, settings, echo=say, quiet=quiet, threads=threads)
    u, t = r.untrained, r.trained
    click.echo("")
    click.echo(f"Query/gallery of split 'demo': {u.num_query} queries, {u.num_gallery} gallery images "
               f"(test vehicles never seen in training); part boxes: {r.parts}")
    click.echo("")
    click.echo(r.table)
    click.echo(f"trained vs untrained: mAP {100 * u.mAP:.1f} % -> {100 * t.mAP:.1f} %, "
               f"CMC-1 {100 * u.cmc['1']:.1f} % -> {100 * t.cmc['1']:.1f} %")
    click.echo(f"summary: {r.summary}")
    click.echo(f"report:  {r.report}")
    click.echo(f"plots:   {r.report.parent / 'plots'}/ ({len(r.plots)} PNG: training curves, CMC, ranked lists, "
               "attribute accuracy, type confusion)")
    click.echo(f"done in {r.seconds:.0f} s")
    if t.mAP <= u.mAP:
        raise DemoError(f"the trained model is not better than the untrained one (mAP {100 * t.mAP:.1f} % vs "
                        f"{100 * u.mAP:.1f} %): something is wrong with training; see {r.report}")

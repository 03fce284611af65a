"""``vrai-tools evaluate ROOT --run RUN``: a trained run on a split's query/gallery."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from reid.runs import RunDir

SWEEP_GAMMAS = (1.1, 1.3, 1.5, 1.7, 1.9)  # paper Table 5


def _rel(path: Path, run: Path) -> str:
    try:
        return str(path.relative_to(run))
    except ValueError:
        return str(path)


def _written(files: list[Path], run: Path) -> list[str]:
    """Where the outputs went, one line per kind."""
    lines = []
    js = [f for f in files if f.suffix == ".json"]
    pngs = [f for f in files if f.suffix == ".png"]
    md = [f for f in files if f.suffix == ".md"]
    if js:
        lines.append(f"  metrics: {', '.join(str(f) for f in js)}")
    if pngs:
        lines.append(f"  plots:   {run / 'plots'}/ ({', '.join(f.name for f in pngs)})")
    if md:
        lines.append(f"  report:  {', '.join(str(f) for f in md)}")
    return lines


@click.command("evaluate")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path))
@click.option("--run", "run_path", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder of `vrai-tools train`.")
@click.option("--split", help="Split whose query/gallery images are scored  [default: the run's split]")
@click.option("--feature", type=click.Choice(["avg", "weighted"]),
              help="avg: global average pooling; weighted: weighted pooling over part boxes, paper Table 4  "
                   "[default: weighted for multitask+dp runs, else avg]")
@click.option("--metric", type=click.Choice(["euclidean", "cosine"]), default="euclidean", show_default=True)
@click.option("--gamma", type=float, help="Weight inside part boxes (weighted feature)  [default: the run's, 1.3]")
@click.option("--gamma-sweep", is_flag=True,
              help="The weighted feature at gamma 1.1, 1.3, 1.5, 1.7, 1.9 (paper Table 5) beside the avg feature; "
                   "one Markdown table, also written into the run folder.")
@click.option("--checkpoint", default="last", show_default=True,
              help="last, best, init (the run's untrained starting weights) or a checkpoint file.")
@click.option("--parts", "parts_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A `vrai-tools detect-parts` file: part boxes for the weighted feature "
                   "[default: the run's detections, else ground truth].")
@click.option("--submission", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the EvalAI submission file (an imported official release: its test identities are hidden).")
@click.option("--human-eval", "human_eval", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="A results file of `vrai-annotate --human-eval`: the person beside the model on the same trials "
                   "(paper Table 6).")
@click.option("--force", is_flag=True, help="Replace the --submission file if it exists.")
@click.option("--batch-size", default=64, show_default=True, type=click.IntRange(min=1))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=0), help="Data loader processes.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N")
@click.option("--samples", default=8, show_default=True, type=click.IntRange(min=0),
              help="Queries drawn as ranked lists (paper Fig. 8).")
@click.option("-q", "--quiet", is_flag=True, help="Only the results.")
def command(root: Path, run_path: Path, split: str | None, feature: str | None, metric: str, gamma: float | None,
            gamma_sweep: bool, checkpoint: str, parts_file: Path | None, submission: Path | None,
            human_eval: Path | None, force: bool, batch_size: int, workers: int, device: str, samples: int,
            quiet: bool) -> None:
    """Score a run on a split: mAP, CMC-1/5/10, mINP and attribute accuracy (paper Tables 2-4).

    Results go into the run folder: evaluations/<tag>.json (schemas.ReidMetrics, with
    where the numbers come from), evaluations/<tag>.details.json, PNGs under plots/
    (attribute accuracy, type confusion, CMC, ranked lists) and the regenerated report.md.

    \b
    Examples:
      vrai-tools evaluate my-dataset --split s0 --run runs/mt18
      vrai-tools evaluate my-dataset --run runs/dp --feature weighted --parts parts-s0.json
      vrai-tools evaluate my-dataset --run runs/dp --gamma-sweep
      vrai-tools evaluate my-dataset --run runs/mt18 --checkpoint init      # the untrained baseline
      vrai-tools evaluate my-dataset --run runs/mt18 --human-eval my-dataset/human-eval/s0-seed0-ann.json
      vrai-tools evaluate vrai-release --split official --run runs/r50 --submission answer.json
    """
    from reid.config import load_config
    from reid.engine.evaluate import evaluate_run
    from reid.presets import get_preset
    from reid.runs import RunDir

    if not root.is_dir():
        raise click.UsageError(f"{root} is not a directory")
    if gamma_sweep:
        for name, value in (("--gamma", gamma), ("--submission", submission), ("--human-eval", human_eval)):
            if value is not None:
                raise click.UsageError(f"--gamma-sweep and {name} do not go together")
        if feature == "avg":
            raise click.UsageError("--gamma-sweep evaluates the weighted feature; leave out --feature avg")
    if feature == "avg" and (gamma is not None or parts_file is not None):
        raise click.UsageError(f"{'--gamma' if gamma is not None else '--parts'} applies to the weighted feature "
                               "only (--feature weighted)")
    if submission is not None and submission.exists() and not force:
        raise click.UsageError(f"{submission} exists; pass --force to replace it")

    run = RunDir(run_path).require()
    cfg = load_config(run.config)
    split = split or cfg.split
    if feature is None:
        feature = "weighted" if (gamma_sweep or gamma is not None or parts_file is not None
                                 or get_preset(cfg.preset).uses_parts) else "avg"
    results = None
    if human_eval is not None:
        from vrai_tools.human_eval import HumanEvalError, load_results

        results = load_results(human_eval)
        if results.split != split:
            raise HumanEvalError(f"{human_eval}: split: the test was made on split {results.split!r}, "
                                 f"not {split!r} (pass --split {results.split})")

    def say(text: str) -> None:
        if not quiet:
            click.echo(text, err=True)

    kw: dict[str, Any] = dict(metric=metric, checkpoint=checkpoint, parts_file=str(parts_file) if parts_file else None,
                              device=device, batch_size=batch_size, workers=workers, samples=samples, echo=say)
    if gamma_sweep:
        _sweep(root, split, run, kw)
        return

    out = evaluate_run(root, split, run.path, feature=feature, gamma=gamma, submission=submission,  # type: ignore[arg-type]
                       **kw)
    m = out.metrics
    if m is None:
        click.echo(f"{split}: the test identities are hidden (official release); no metrics. "
                   f"Upload {out.submission} to EvalAI.")
        return
    from reid.reports.tables import side_by_side_table

    weights = checkpoint if checkpoint in ("last", "best", "init") else Path(checkpoint).stem
    label = f"{run.path.name} ({weights}" + (f", epoch {out.epoch})" if out.epoch is not None else ")")
    gamma_text = f", γ {m.extra['gamma']:g}" if "gamma" in m.extra else ""
    click.echo(f"{out.tag}: split {m.provenance.split} (seed {m.provenance.seed}, protocol {m.provenance.protocol}), "
               f"{m.feature} feature{gamma_text}, {m.metric} distance, part boxes {m.provenance.parts}; "
               f"{m.num_query} queries, {m.num_gallery} gallery images"
               + (f", {m.skipped_queries} queries without a valid match skipped" if m.skipped_queries else ""))
    click.echo("")
    click.echo(side_by_side_table([(label, m)]))
    click.echo("wrote:")
    for line in _written(out.files, run.path):
        click.echo(line)
    if out.submission is not None:
        click.echo(f"  EvalAI submission: {out.submission}")
    if results is not None and human_eval is not None:
        from vrai_tools.human_eval import human_vs_model

        hv = human_vs_model(human_eval, features=out.features_by_key(), metric=metric)  # type: ignore[arg-type]
        click.echo("")
        click.echo(hv.markdown(model_name=f"Model ({label}, {m.feature} feature)"), nl=False)
        if hv.answered < hv.trials:
            all_acc = hv.as_dict()["model_accuracy_all_trials"]
            click.echo(f"(the model on all {hv.trials} trials of the file: {100 * float(all_acc):.1f} %)")  # type: ignore[arg-type]


def _sweep(root: Path, split: str, run: "RunDir", kw: dict[str, Any]) -> None:
    """Paper Table 5: one evaluation per gamma (no per-gamma files), one table written into the run."""
    from reid.engine.evaluate import evaluate_run, evaluation_tag
    from reid.reports.run_report import write_run_report
    from reid.reports.tables import gamma_sweep_table
    from vrai_tools.errors import VraiToolsError
    from vrai_tools.storage import atomic_write_text

    reference = evaluate_run(root, split, run.path, feature="avg", write=False, **kw)
    if reference.metrics is None:
        raise VraiToolsError(f"split {split!r} hides the identities of its test images: a gamma sweep needs "
                             "labelled query/gallery images")
    rows = []
    for g in SWEEP_GAMMAS:
        rows.append(evaluate_run(root, split, run.path, feature="weighted", gamma=g, write=False, **kw).metrics)
    m0 = reference.metrics
    ckpt = str(kw["checkpoint"])
    parts = rows[0].provenance.parts if rows[0] is not None else "?"
    tag = evaluation_tag(split, "gamma-sweep", str(kw["metric"]), None,
                         ckpt if ckpt in ("last", "best", "init") else Path(ckpt).stem)
    title = (f"Weighted feature vs gamma (paper Table 5): run `{run.path.name}` ({ckpt} weights), split `{split}` "
             f"(seed {m0.provenance.seed}), {kw['metric']} distance, {parts} part boxes; "
             f"{m0.num_query} queries, {m0.num_gallery} gallery images. mAP, CMC and mINP in %.")
    table = gamma_sweep_table(m0, [r for r in rows if r is not None])
    path = run.path / f"{tag}.md"
    atomic_write_text(path, f"# γ sweep `{tag}`\n\n{title}\n\n{table}")
    write_run_report(run)
    click.echo(title)
    click.echo("")
    click.echo(table)
    click.echo(f"wrote {path} (and {run.report})")

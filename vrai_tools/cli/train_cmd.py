"""``vrai-tools train ROOT --split NAME --out RUN``: a ReID model (paper §4–5.1)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

# Option name -> TrainConfig field. Every option defaults to None, so only the options the
# user gave override a --config file, which overrides the config's own defaults.
_FIELDS = {
    "split": "split", "preset": "preset", "backbone": "backbone", "epochs": "epochs", "size": "size",
    "batch_p": "batch_p", "batch_k": "batch_k", "batches_per_epoch": "batches_per_epoch", "lr": "lr",
    "gamma": "gamma", "parts": "parts", "part_detections": "part_detections", "crops": "crops",
    "pretrained": "pretrained", "seed": "seed", "device": "device", "amp": "amp", "workers": "workers",
    "eval_every": "eval_every", "eval_metric": "eval_metric", "last_stride": "last_stride",
}
_PRESETS = ["triplet", "contrastive", "id", "triplet+id", "multitask", "multitask+dp"]
_BACKBONES = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


def _given(ctx: click.Context, options: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, field in _FIELDS.items():
        if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT:
            value = options[name]
            out[field] = str(value) if isinstance(value, Path) else value
    return out


def _local_file(value: str | None) -> str | None:
    """A file given on the command line is stored absolute when it exists from here, so the
    run folder does not depend on the directory train was started in (a name relative to
    the dataset root is kept as given)."""
    if value is None:
        return None
    p = Path(value)
    return str(p.resolve()) if p.exists() else value


@click.command("train")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path))
@click.option("--split", help="Split name (ROOT/splits/NAME.json): trains on its train vehicles.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder (new or empty; with --resume an existing run): config.json, checkpoints/, "
                   "metrics.jsonl, plots/, report.md.")
@click.option("--preset", type=click.Choice(_PRESETS), help="Loss recipe, a row of the paper's Table 3  "
              "[default: multitask]")
@click.option("--backbone", type=click.Choice(_BACKBONES), help="torchvision ResNet (resnet18 for CPU runs)  "
              "[default: resnet50]")
@click.option("--epochs", type=click.IntRange(min=1), help="[default: 300]")
@click.option("--size", type=click.IntRange(min=32, max=2048), help="Square input size in px  [default: 352]")
@click.option("--batch-p", type=click.IntRange(min=1), help="Vehicles per PK batch  [default: 18]")
@click.option("--batch-k", type=click.IntRange(min=1), help="Images per vehicle in a batch  [default: 4]")
@click.option("--batches-per-epoch", type=click.IntRange(min=1),
              help="[default: about one pass over the training images]")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Adam learning rate  [default: 1e-3]")
@click.option("--gamma", type=click.FloatRange(min=1), help="Weight inside part boxes for weighted pooling  "
              "[default: 1.3]")
@click.option("--parts", type=click.Choice(["auto", "ground-truth", "detected", "none"]),
              help="Part boxes for the weighted pooling (multitask+dp); auto: detected when --part-detections "
                   "is given, else the ground truth  [default: auto]")
@click.option("--part-detections", type=click.Path(dir_okay=False),
              help="A `vrai-tools detect-parts` file: train with detected part boxes.")
@click.option("--crops", help="auto, frames, native or s<N> (a `vrai-tools crops --size N` folder)  [default: auto]")
@click.option("--pretrained", type=click.Path(dir_okay=False, exists=True),
              help="Local state dict (torchvision ImageNet ResNet or a ReID checkpoint) to start from; "
                   "nothing is ever downloaded.")
@click.option("--seed", type=click.IntRange(min=0), help="[default: 0]")
@click.option("--device", help="auto, cpu, cuda, cuda:N  [default: auto]")
@click.option("--amp", type=click.Choice(["auto", "bf16", "fp16", "off"]), help="Mixed precision on CUDA  "
              "[default: auto]")
@click.option("--workers", type=click.IntRange(min=0), help="Data loader processes  [default: 2]")
@click.option("--eval-every", type=click.IntRange(min=0),
              help="Evaluate query/gallery every N epochs (0: after the last epoch only)  [default: 0]")
@click.option("--no-eval", is_flag=True, help="Never evaluate during training (run `vrai-tools evaluate` later).")
@click.option("--eval-metric", type=click.Choice(["euclidean", "cosine"]), help="[default: euclidean]")
@click.option("--last-stride", type=click.Choice(["1", "2"]), help="2: 352 px -> 11 x 11 map (paper)  [default: 2]")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="JSON file of any TrainConfig fields (see RUN/config.json); options given here override it.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from checkpoints/last.pt with its saved "
              "config (options that change what it computes are refused).")
@click.option("-q", "--quiet", is_flag=True, help="No per-step or per-epoch lines.")
@click.pass_context
def command(ctx: click.Context, root: Path, out: Path, no_eval: bool, config_file: Path | None, resume: bool,
            quiet: bool, **options: Any) -> None:
    """Train a ReID model on a split: PK batches, the preset's losses, a checkpoint every epoch.

    Defaults are the paper's (§5.1): ResNet-50 at 352 x 352, 18 x 4 PK batches, Adam 1e-3
    decayed from epoch 151 of 300, batch-hard triplet margin 0.3. Options override a
    --config FILE, which overrides the defaults; the resolved config is saved as
    RUN/config.json. An existing run is never overwritten: continue it with --resume.

    \b
    Examples:
      # a CPU-sized run
      vrai-tools train my-dataset --split s0 --preset multitask --backbone resnet18 \\
          --size 128 --epochs 20 --out runs/mt18
      # with detected part boxes (see `vrai-tools detect-parts`)
      vrai-tools train my-dataset --split s0 --preset multitask+dp \\
          --part-detections parts-s0.json --out runs/dp
      # continue after an interruption
      vrai-tools train my-dataset --out runs/mt18 --resume
    """
    from reid.config import check_resume, load_config, parse_config, read_partial
    from reid.engine.fit import train
    from reid.presets import get_preset
    from reid.runs import RunDir

    if not root.is_dir():
        raise click.UsageError(f"{root} is not a directory")
    if no_eval and options["eval_every"] is not None:
        raise click.UsageError("--no-eval and --eval-every contradict each other; give one")
    given = _given(ctx, options)
    if "last_stride" in given:
        given["last_stride"] = int(given["last_stride"])
    if no_eval:
        given["eval_every"] = None
    for name in ("part_detections", "pretrained"):
        if name in given:
            given[name] = _local_file(given[name])
    given["root"] = str(root.resolve())

    if resume:
        if config_file:
            raise click.UsageError("--resume uses the run's own config.json; leave out --config")
        run = RunDir(out).require()
        saved = load_config(run.config)
        check_resume(saved, given, run.path)
        # Only runtime fields (root, device, workers, ...) may differ; check_resume refused the rest.
        cfg = parse_config({**saved.model_dump(mode="json"), **given}, run.config)
    else:
        base = dict(read_partial(config_file)) if config_file else {}
        base.update(given)
        if not base.get("split"):
            raise click.UsageError("--split is required (the split to train on)")
        cfg = parse_config(base, config_file or "command-line options")

    if cfg.part_detections and not get_preset(cfg.preset).uses_parts:
        raise click.UsageError(f"--part-detections feeds the weighted pooling of the multitask+dp preset; preset "
                               f"{cfg.preset!r} does not use part boxes")

    def say(text: str) -> None:
        click.echo(text, err=True)

    result = train(cfg, out, resume=resume, quiet=quiet, echo=say)
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun only rank 0 reports (and writes)
        return
    cfg = cfg.resolved()
    evals = [r for r in result.history if r.get("kind") == "eval"]
    click.echo(f"{out}: {result.epochs_done} of {cfg.epochs} epochs of {cfg.preset} ({cfg.backbone}, {cfg.size} px, "
               f"parts {cfg.parts})")
    if evals:
        e = evals[-1]
        click.echo(f"  epoch {e['epoch']} on {cfg.split}: mAP {100 * e['mAP']:.2f} %, CMC-1 {100 * e['cmc1']:.2f} %, "
                   f"CMC-5 {100 * e['cmc5']:.2f} %, CMC-10 {100 * e['cmc10']:.2f} %, mINP {100 * e['mINP']:.2f} % "
                   f"({e['feature']} feature)")
    run = RunDir(out)
    click.echo(f"  wrote {run.config}, {run.last}" + (f", {run.best}" if run.best.is_file() else "")
               + f", {run.metrics}, {run.report}")
    click.echo(f"  next: vrai-tools evaluate {root} --split {cfg.split} --run {out}")

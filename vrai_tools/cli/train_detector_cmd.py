"""``vrai-tools train-detector ROOT --split NAME --out RUN``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

# Option name -> config field; None defaults so only options the user gave override a config.
_FIELDS = {
    "split": "split", "epochs": "epochs", "size": "size", "backbone": "backbone", "arch": "arch",
    "batch_size": "batch_size", "lr": "lr", "fpn_channels": "fpn_channels", "eval_every": "eval_every",
    "workers": "workers", "seed": "seed", "device": "device", "weights_backbone": "weights_backbone",
    "max_train_images": "max_train_images", "max_test_images": "max_test_images",
}


@click.command("train-detector")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path))
@click.option("--split", "split", help="Split name (splits/NAME.json): trains on its train instances, "
              "evaluates on its query + gallery instances.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Run folder: config.json, checkpoint.pt, metrics.jsonl, metrics.json, report.md, figure7.png.")
@click.option("--epochs", type=click.IntRange(min=1), help="Epochs  [default: 30]")
@click.option("--size", type=click.IntRange(min=32), help="Test input size in px (longer side of the crop); "
              "training sizes span 0.77x..1.46x of it, the paper's 320..608 around 416  [default: 416]")
@click.option("--backbone", type=click.Choice(["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]),
              help="torchvision ResNet  [default: resnet18]")
@click.option("--arch", type=click.Choice(["fcos", "retinanet", "fasterrcnn"]),
              help="torchvision detector  [default: fcos]")
@click.option("--batch-size", type=click.IntRange(min=1), help="[default: 16]")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="AdamW learning rate  [default: 1e-3]")
@click.option("--fpn-channels", type=click.IntRange(min=64),
              help="FPN and head width, a multiple of 32 (smaller for CPU)  [default: 256]")
@click.option("--eval-every", type=click.IntRange(min=0), help="Also evaluate every N epochs (0: after the last only)")
@click.option("--workers", type=click.IntRange(min=0), help="Data loader processes  [default: 2]")
@click.option("--seed", type=int, help="[default: 0]")
@click.option("--device", help="auto, cpu, cuda, cuda:N  [default: auto]")
@click.option("--weights-backbone", type=click.Path(dir_okay=False, exists=True),
              help="Local ResNet state dict to start from (nothing is ever downloaded).")
@click.option("--max-train-images", type=click.IntRange(min=1), help="Seeded subset of the train crops (quick runs).")
@click.option("--max-test-images", type=click.IntRange(min=1), help="Seeded subset of the test crops (quick runs).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="JSON file of config fields (see RUN/config.json); options given here override it.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its checkpoint, with its saved config.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or per-epoch lines.")
@click.pass_context
def command(ctx: click.Context, root: Path, out: Path, config_file: Path | None, resume: bool, quiet: bool,
            **options: Any) -> None:
    """Train the one-class discriminative-part detector (paper §4.2) on a split.

    Crops of the split's train instances with annotated parts (state 'done'; 'none'
    instances are negatives, 'todo' ones are left out), multi-scale training, a
    checkpoint after every epoch, AMP on CUDA. Evaluated at the paper's settings
    (confidence 0.25, NMS 0.4, IoU 0.5): precision, recall, F-score and AP@0.5.

    \b
    Example (a CPU-sized run):
      vrai-tools train-detector my-dataset --split s0 --out runs/parts \\
          --size 160 --fpn-channels 128 --epochs 20
      vrai-tools train-detector my-dataset --out runs/parts --resume
    """
    from reid.detection.config import load_config, parse_config
    from reid.detection.train import train_detector
    from vrai_tools.storage import read_json

    if not root.is_dir():
        raise click.UsageError(f"{root} is not a directory")
    given = {field: options[name] for name, field in _FIELDS.items()
             if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT}
    if resume and config_file:
        raise click.UsageError("--resume uses the run's own config.json; leave out --config")
    if resume:
        saved = out / "config.json"
        if not saved.is_file():
            raise click.UsageError(f"--resume: {saved} not found (nothing to resume)")
        base = load_config(saved).model_dump(mode="json")
    elif config_file:
        base = dict(read_json(config_file))
    else:
        base = {}
    base.update(given)
    base["root"] = str(root.resolve())
    if not base.get("split"):
        raise click.UsageError("--split is required (the split to train on)")
    cfg = parse_config(base, config_file or "command-line options")
    say = (lambda s: None) if quiet else click.echo
    m = train_detector(cfg, out, resume=resume, quiet=quiet, log=say)
    click.echo(f"test: precision {100 * m.precision:.2f} %, recall {100 * m.recall:.2f} %, "
               f"F-score {100 * m.f_score:.2f} %, AP@0.5 {100 * m.ap50:.2f} % "
               f"({m.num_images} crops, {m.num_gt} part boxes; conf {m.conf_threshold}, NMS {m.nms_threshold}, "
               f"IoU {m.iou_threshold})")
    click.echo(f"wrote {out / 'metrics.json'}, {out / 'report.md'}, {out / 'figure7.png'}")

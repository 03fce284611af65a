"""``vrai-tools detect-parts ROOT --detector RUN --out FILE``."""
from __future__ import annotations

from pathlib import Path

import click


@click.command("detect-parts")
@click.argument("root", type=click.Path(file_okay=False, path_type=Path))
@click.option("--detector", required=True, type=click.Path(exists=True, path_type=Path),
              help="Run folder of `vrai-tools train-detector` (or its checkpoint.pt).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Part-detections JSON file to write.")
@click.option("--split", help="Only the instances of this split (train + query + gallery); default: every instance.")
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(min=1))
@click.option("--top-k", type=click.IntRange(min=1), help="Boxes kept per instance  [default: the run's, 3]")
@click.option("--conf", type=click.FloatRange(0, 1), help="Confidence threshold  [default: the run's, 0.25]")
@click.option("--size", type=click.IntRange(min=32), help="Input size  [default: the size the run was tested at]")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N")
@click.option("--workers", default=0, show_default=True, type=click.IntRange(min=0), help="Data loader processes.")
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def command(root: Path, detector: Path, out: Path, split: str | None, batch_size: int, top_k: int | None,
            conf: float | None, size: int | None, device: str, workers: int, force: bool, quiet: bool) -> None:
    """Detect discriminative parts: the top-3 boxes per instance, for the weighted pooling.

    Boxes are written in frame pixels (like the ground-truth parts), clipped to each
    instance's bbox, with their scores; confidence 0.25 and NMS 0.4 as in the paper.

    \b
    Example:
      vrai-tools detect-parts my-dataset --detector runs/parts --split s0 --out parts-s0.json
    """
    from reid.detection.predict import detect_parts
    from vrai_tools.storage import save_model

    if not root.is_dir():
        raise click.UsageError(f"{root} is not a directory")
    if out.exists() and not force:
        raise click.UsageError(f"{out} exists; pass --force to replace it")
    dets = detect_parts(root, detector, split=split, batch_size=batch_size, device=device, conf=conf, top_k=top_k,
                        size=size, workers=workers, quiet=quiet)
    save_model(out, dets)
    n = len(dets.instances)
    with_boxes = sum(1 for v in dets.instances.values() if v)
    boxes = sum(len(v) for v in dets.instances.values())
    click.echo(f"{n} instances, {with_boxes} with at least one part ({boxes} boxes) -> {out}")

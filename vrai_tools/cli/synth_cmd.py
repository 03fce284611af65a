"""``vrai-tools synth``: a synthetic two-drone dataset with complete ground truth."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import click

from ..errors import VraiToolsError
from ..frames import parse_every
from ..progress import progress


@click.command("synth")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--pairs", type=click.IntRange(min=1), default=1, show_default=True, help="Location pairs (two clips each).")
@click.option("--vehicles-per-pair", type=click.IntRange(min=1), default=20, show_default=True,
              help="Vehicles driving through each pair's locations.")
@click.option("--seconds", type=click.FloatRange(min=1, max=3600), default=20.0, show_default=True,
              help="Length of every clip.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Same arguments and seed: same dataset (byte-identical JSON, identical frames).")
@click.option("--resolution", default="1280x720", show_default=True, help="Video size WIDTHxHEIGHT.")
@click.option("--fps", type=click.FloatRange(min=1, max=240), default=30.0, show_default=True)
@click.option("--every", "every_text", default="0.5s", show_default=True,
              help="Frame sampling interval, as for extract-frames: '0.5s', '500ms', '2fps'.")
@click.option("--annotate", "annotate_text", default="all", show_default=True,
              help="Stages filled from the ground truth: all, none, or a comma list of "
                   "corners,matching,attributes,parts (any of them needs corners).")
@click.option("--no-video", is_flag=True,
              help="Metadata only: manifest (frames listed), SRT, annotations and truth; no MP4 and no images.")
@click.option("--srt-dialect", type=click.Choice(["p4", "bracketed"]), default="p4", show_default=True,
              help="Telemetry sidecar layout: Phantom 4 (one block per second) or per-frame bracketed.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Clips rendered at once, each in its own process [default: number of CPUs].")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def command(out: Path, pairs: int, vehicles_per_pair: int, seconds: float, seed: int, resolution: str, fps: float,
            every_text: str, annotate_text: str, no_video: bool, srt_dialect: str, jobs: int | None, quiet: bool) -> None:
    """Render a synthetic VRAI-like dataset into OUT: two drones per location pair, real MP4s
    with DJI .SRT telemetry, frames sampled from them, and ground-truth labels.

    OUT gets dataset.json, videos/<clip>.mp4 + .SRT, frames/<clip>/<k>.jpg, the annotation
    stages asked for (annotations/, matching/), synth_truth.json (the full ground truth,
    whatever --annotate says) and synth.json (what made it). OUT must be new, empty, or an
    earlier synth output nobody has edited since: anything else is refused, never overwritten.

    \b
    Examples:
      # a small dataset for tests (a few seconds)
      vrai-tools synth tiny --pairs 1 --vehicles-per-pair 6 --seconds 4 --resolution 320x180
      # raw clips to annotate by hand in vrai-annotate
      vrai-tools synth raw --pairs 2 --seconds 60 --annotate none
      # VRAI-sized metadata for scale benchmarks (13,022 vehicles, no images)
      vrai-tools synth big --no-video --pairs 34 --vehicles-per-pair 383 --seconds 600 --every 1s
    """
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    from ..synth import SynthConfig, SynthError, parse_annotate, parse_resolution, run

    try:
        every = parse_every(every_text)
    except VraiToolsError as e:
        raise click.BadParameter(str(e), param_hint="'--every'") from None
    try:
        width, height = parse_resolution(resolution)
        annotate = parse_annotate(annotate_text)
        config = SynthConfig(pairs=pairs, vehicles_per_pair=vehicles_per_pair, seconds=seconds, seed=seed, width=width,
                             height=height, fps=fps, every=every, annotate=annotate, video=not no_video,
                             srt_dialect=srt_dialect, workers=jobs)  # type: ignore[arg-type]
    except (SynthError, VraiToolsError) as e:
        raise click.UsageError(str(e)) from None

    def bar(ticks: Iterator[None], total: int, label: str) -> None:
        for _ in progress(ticks, label, quiet=quiet, length=total or None):
            pass

    report = run(out, config, progress=bar)
    if quiet:
        return
    stages = ", ".join(s for s in ("corners", "matching", "attributes", "parts") if s in config.annotate) or "none"
    media = "no video (--no-video)" if no_video else f"{report.clips} MP4 + SRT"
    click.echo(f"{out}: {report.pairs} pair(s), {report.clips} clips ({media}), {report.frames} frames, "
               f"{report.instances} instances, {report.vehicles} vehicles ({report.cross_camera} seen by both cameras)")
    click.echo(f"  annotated: {stages}; full ground truth in {out / 'synth_truth.json'}")
    click.echo(f"  done in {report.seconds:.1f} s")

"""``vrai-tools extract-frames``: sample drone videos into a dataset root."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import click

from ..errors import VraiToolsError
from ..frames import parse_every
from ..progress import progress


def _parse_clip_spec(spec: str) -> tuple[Path, str, str, None]:
    pair, sep1, rest = spec.partition(":")
    camera, sep2, video = rest.partition(":")
    if not (sep1 and sep2 and pair and video) or camera not in ("A", "B"):
        raise click.UsageError(f"--clip {spec!r}: write PAIR:CAMERA:VIDEO, CAMERA being A or B")
    return Path(video), pair, camera, None


@click.command("extract-frames")
@click.argument("videos", nargs=-1, type=click.Path(path_type=Path))
@click.option("--root", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Dataset root (created with its dataset.json when absent).")
@click.option("--every", "every_text", default="0.5s", show_default=True,
              help="Sampling interval by presentation time: '0.5s', '500ms' or '2fps'.")
@click.option("--pair", help="Location pair the VIDEOS belong to.")
@click.option("--camera", "cameras", multiple=True, type=click.Choice(["A", "B"]),
              help="Camera of each VIDEO, once per video, in order.")
@click.option("--clip-id", "clip_ids", multiple=True,
              help="Clip id of each VIDEO, once per video, in order (default: the file name without extension).")
@click.option("--clip", "clip_specs", multiple=True, metavar="PAIR:CAMERA:VIDEO",
              help="Instead of VIDEOS/--pair/--camera: one clip per option, any number of pairs.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Videos decoded at once, each in its own process [default: number of CPUs].")
@click.option("--jpeg-quality", type=click.IntRange(1, 100), default=95, show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def command(videos: tuple[Path, ...], root: Path, every_text: str, pair: str | None, cameras: tuple[str, ...],
            clip_ids: tuple[str, ...], clip_specs: tuple[str, ...], jobs: int | None, jpeg_quality: int,
            quiet: bool) -> None:
    """Sample frames from drone VIDEOS every 0.5 s (by timestamp) and register them in ROOT.

    JPEGs go to ROOT/frames/<clip_id>/<k:06d>.jpg; dataset.json records the pair, the
    clip (video, fps, size, duration, start time) and every frame's timestamp, plus
    altitude, GPS and clock time from a DJI .SRT sidecar of the same basename. A video
    outside ROOT is hard-linked (or copied) into ROOT/videos/. Re-running skips what is
    on disk and never duplicates entries. A truncated video keeps its decodable frames
    and exits 1 saying where decoding stopped.

    \b
    Examples:
      # the two drones of one location pair
      vrai-tools extract-frames DJI_0012.MP4 DJI_0345.MP4 --root my-dataset \\
          --pair crossing1 --camera A --camera B
      # many pairs at once, four videos decoded in parallel
      vrai-tools extract-frames --root my-dataset -j 4 \\
          --clip crossing1:A:a/DJI_0012.MP4 --clip crossing1:B:b/DJI_0345.MP4 \\
          --clip crossing2:A:a/DJI_0013.MP4 --clip crossing2:B:b/DJI_0346.MP4
    """
    # FFmpeg's own log lines ("partial file", "Error at MB") would bury our one-line messages,
    # which already say where decoding stopped. Set before the first video is opened, inherited
    # by the worker processes; a user who wants them sets the variable.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    from ..extract import extract_clips, plan_jobs

    try:
        every = parse_every(every_text)
    except VraiToolsError as e:
        raise click.BadParameter(str(e), param_hint="--every") from None
    if clip_specs:
        if videos or pair or cameras or clip_ids:
            raise click.UsageError("--clip replaces VIDEOS, --pair, --camera and --clip-id; do not mix them")
        items = [_parse_clip_spec(s) for s in clip_specs]
    else:
        if not videos:
            raise click.UsageError("give VIDEOS with --pair and --camera, or --clip PAIR:CAMERA:VIDEO")
        if not pair:
            raise click.UsageError("--pair is required with VIDEOS")
        if len(cameras) != len(videos):
            raise click.UsageError(f"give --camera once per video: {len(videos)} video(s), "
                                   f"{len(cameras)} --camera")
        if clip_ids and len(clip_ids) != len(videos):
            raise click.UsageError(f"give --clip-id once per video or not at all: {len(videos)} video(s), "
                                   f"{len(clip_ids)} --clip-id")
        items = [(v, pair, c, clip_ids[i] if clip_ids else None) for i, (v, c) in enumerate(zip(videos, cameras))]

    planned = plan_jobs(items)

    def bar(ticks: Iterator[None], total: int) -> None:
        for _ in progress(ticks, "Decoding", quiet=quiet, length=total or None):
            pass

    report = extract_clips(root, planned, every, workers=jobs, jpeg_quality=jpeg_quality, progress=bar)
    for o in report.outcomes:
        for w in o.warnings:
            click.echo(f"warning: {w}", err=True)
        if quiet:
            continue
        for n in o.notes:
            click.echo(n)
        if o.clip is not None:
            c = o.clip
            tel = f", telemetry from {c.telemetry}" if c.telemetry else ""
            fps = f" at {c.fps:g} fps" if c.fps else ""
            click.echo(f"{c.id} (pair {c.pair}, camera {c.camera}): {len(c.frames)} frames "
                       f"({o.written} written, {o.skipped} already on disk), {c.width}x{c.height}{fps}, "
                       f"{c.duration or 0:.1f} s{tel}")
    if not quiet:
        click.echo(f"{root / 'dataset.json'} " + ("updated" if report.manifest_written else "unchanged"))
    problems = report.problems
    if problems:
        raise click.ClickException("\n".join(problems))

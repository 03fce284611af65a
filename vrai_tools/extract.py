"""Register drone videos in a dataset: sample frames, read telemetry, update ``dataset.json``.

The expensive part (decoding) runs one video per process; the manifest is read once and
written once, atomically, by the parent while it holds the manifest's edit lock, so a
crash leaves either the old ``dataset.json`` or the new one, and two runs never
interleave their edits. Re-running is cheap and changes nothing: JPEGs already on disk
are kept, a clip that is already registered is updated in place, never duplicated.
"""
from __future__ import annotations

import math
import os
import re
import shutil
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Sequence

from schemas import Clip, Frame, LocationPair, Manifest
from schemas.base import ID_PATTERN

from .dataset import DatasetRoot
from .errors import VideoError, VraiToolsError
from .frames import SampleResult, sample_video
from .storage import FileLock, dump_model
from .telemetry import Telemetry, parse_srt, sidecar_for
from .workers import Ticks, run_jobs

__all__ = ["ClipJob", "ClipOutcome", "ExtractError", "ExtractReport", "clip_id_from_path", "extract_clips",
           "plan_jobs"]

Camera = Literal["A", "B"]


class ExtractError(VraiToolsError):
    """The requested extraction conflicts with the dataset or cannot start."""


@dataclass(frozen=True)
class ClipJob:
    video: Path
    pair: str
    camera: Camera
    clip_id: str


@dataclass
class ClipOutcome:
    job: ClipJob
    clip: Clip | None = None  # None: nothing registered (``fatal`` says why)
    written: int = 0
    skipped: int = 0
    decoded: int = 0
    error: str | None = None  # truncated/corrupt: frames kept, where decoding stopped
    fatal: str | None = None
    notes: list[str] = field(default_factory=list)  # what we did besides sampling (video copied...)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ExtractReport:
    outcomes: list[ClipOutcome]
    manifest_written: bool

    @property
    def problems(self) -> list[str]:
        return [o.fatal or o.error or "" for o in self.outcomes if o.fatal or o.error]


def clip_id_from_path(video: Path) -> str:
    """A clip id from the file stem, made to fit our identifier rules (``DJI 0001(1)`` -> ``DJI_0001_1``)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(video).stem).strip("_")
    stem = re.sub(r"^[^A-Za-z0-9]+", "", stem)
    if not stem:
        raise ExtractError(f"{video}: cannot make a clip id from this file name; give one with --clip-id")
    return stem


def _valid_id(value: str, what: str) -> str:
    if not re.match(ID_PATTERN, value):
        raise ExtractError(f"{what}: {value!r} may contain only letters, digits, '_', '-', '.' "
                           f"and must start with a letter or digit")
    return value


def plan_jobs(items: Sequence[tuple[Path, str, str, str | None]]) -> list[ClipJob]:
    """``(video, pair, camera, clip_id or None)`` -> checked jobs. Refuses what can only end badly
    (a missing video, two clips with one id, two videos for one camera of a pair) before any work."""
    jobs: list[ClipJob] = []
    seen_ids: dict[str, Path] = {}
    seen_cams: dict[tuple[str, str], Path] = {}
    seen_videos: dict[Path, str] = {}
    for video, pair, camera, clip_id in items:
        video = Path(video)
        if not video.exists():
            raise ExtractError(f"{video}: video not found")
        if not video.is_file():
            raise ExtractError(f"{video}: not a file")
        if camera not in ("A", "B"):
            raise ExtractError(f"{video}: camera must be A or B, got {camera!r}")
        pair = _valid_id(pair, f"{video}: pair")
        cid = _valid_id(clip_id, f"{video}: clip id") if clip_id else clip_id_from_path(video)
        if cid in seen_ids:
            raise ExtractError(f"{video}: clip id {cid!r} is also the clip id of {seen_ids[cid]}; "
                               f"give distinct ids with --clip-id")
        if (pair, camera) in seen_cams:
            raise ExtractError(f"{video}: pair {pair!r} camera {camera} is also given to {seen_cams[(pair, camera)]}")
        real = video.resolve()
        if real in seen_videos:
            raise ExtractError(f"{video}: the same video is given twice (clips {seen_videos[real]!r} and {cid!r})")
        seen_ids[cid], seen_cams[(pair, camera)], seen_videos[real] = video, video, cid
        jobs.append(ClipJob(video=video, pair=pair, camera=camera, clip_id=cid))  # type: ignore[arg-type]
    return jobs


# --------------------------------------------------------------------------- worker side

def _rel_inside(root: Path, path: Path) -> str | None:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        if os.path.samefile(a, b):
            return True
        sa, sb = a.stat(), b.stat()
    except OSError:
        return False
    return sa.st_size == sb.st_size and int(sa.st_mtime) == int(sb.st_mtime)


def _bring_inside(root: Path, src: Path, dest_rel: str, notes: list[str]) -> str:
    """A path inside ``root`` for ``src``: itself when inside, else a hard link (or a copy
    across file systems) under ``videos/``. Recorded paths never leave the dataset root."""
    rel = _rel_inside(root, src)
    if rel is not None:
        return rel
    dest = root / dest_rel
    if dest.exists():
        if _same_file(src, dest):
            return dest_rel
        raise ExtractError(f"{src}: {dest} already exists and is a different file; "
                           f"move it away or choose another clip id with --clip-id")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        try:
            os.link(src, tmp)
            how = "hard-linked"
        except OSError:
            shutil.copy2(src, tmp)
            how = "copied"
        os.replace(tmp, dest)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ExtractError(f"{src}: cannot copy into {dest}: {e.strerror}") from None
    notes.append(f"{src} is outside the dataset root: {how} to {dest_rel}")
    return dest_rel


def _video_dest(job: ClipJob) -> str:
    return f"videos/{job.clip_id}{job.video.suffix}"


def _frames_with_telemetry(clip_id: str, result: SampleResult, tel: Telemetry | None,
                           warnings: list[str]) -> list[Frame]:
    frames = []
    dropped = 0
    for s in result.frames:
        kw: dict[str, Any] = {}
        rec = tel.at(s.timestamp) if tel is not None else None
        if rec is not None:
            kw["altitude"] = rec.altitude
            if rec.latitude is not None and rec.longitude is not None:
                if -90 <= rec.latitude <= 90 and -180 <= rec.longitude <= 180:
                    kw["latitude"], kw["longitude"] = rec.latitude, rec.longitude
                else:
                    dropped += 1
            if rec.abs_time is not None:  # the record's clock plus how far into the record we are
                kw["abs_time"] = rec.abs_time + timedelta(seconds=s.timestamp - rec.start)
        frames.append(Frame(index=s.index, timestamp=s.timestamp, file=DatasetRoot.frame_rel(clip_id, s.index),
                            video_frame=s.video_frame, **kw))
    if dropped:
        warnings.append(f"clip {clip_id}: {dropped} frame(s) had GPS outside ±90/±180 in the telemetry; left out")
    return frames


def _run_job(job: ClipJob, root_s: str, every: float, jpeg_quality: int) -> ClipOutcome:
    """Everything for one clip; runs in a worker process. Returns, never raises, so the
    parent can register the other clips whatever happens to this one."""
    root = Path(root_s)
    out = ClipOutcome(job=job)
    tick = Ticks()
    try:
        tel: Telemetry | None = None
        srt = sidecar_for(job.video)
        if srt is not None:
            try:
                tel = parse_srt(srt)
                out.warnings.extend(tel.warnings)
                if not tel.records:
                    tel = None
            except VraiToolsError as e:
                out.warnings.append(f"telemetry ignored: {e}")
                srt, tel = None, None
        video_rel = _bring_inside(root, job.video, _video_dest(job), out.notes)
        srt_rel = None
        if srt is not None:
            srt_rel = _bring_inside(root, srt, f"videos/{job.clip_id}{srt.suffix}", out.notes)
        ds = DatasetRoot(root)
        result = sample_video(job.video, ds.frames_dir(job.clip_id), every, jpeg_quality=jpeg_quality,
                              skip_existing=True, on_frame=tick)
        out.written, out.skipped, out.decoded, out.error = result.written, result.skipped, result.decoded, result.error
        out.warnings.extend(result.warnings)
        if not result.frames:
            out.fatal = result.error or f"{job.video}: no frame could be decoded"
            return out
        start_time = None
        if tel is not None:
            for r in tel.records:
                if r.abs_time is not None:
                    start_time = r.abs_time - timedelta(seconds=r.start)
                    break
        out.clip = Clip(
            id=job.clip_id, pair=job.pair, camera=job.camera, video=video_rel, telemetry=srt_rel,
            fps=result.fps, width=result.width, height=result.height, duration=result.duration,
            start_time=start_time,
            frames=_frames_with_telemetry(job.clip_id, result, tel, out.warnings),
        )
    except VraiToolsError as e:
        out.fatal = str(e)
    except OSError as e:
        out.fatal = f"{job.video}: {e.strerror or e}"
    finally:
        tick.finish(out.decoded)
    return out


# --------------------------------------------------------------------------- parent side


def _probe(video: Path) -> int:
    """Open the video before any work (so an unreadable one changes nothing); its frame count."""
    import cv2

    cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise VideoError(f"{video}: cannot open as a video (corrupt, truncated before its index, or not a video)")
        n = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        return int(n) if n and math.isfinite(n) and n > 0 else 0
    finally:
        cap.release()


def _check_against_manifest(manifest: Manifest, jobs: list[ClipJob], root: Path, every: float) -> None:
    if manifest.sample_every is not None and manifest.clips and abs(manifest.sample_every - every) > 1e-9:
        raise ExtractError(f"{root / DatasetRoot.MANIFEST}: sample_every: this dataset samples every "
                           f"{manifest.sample_every:g} s; refusing to add frames every {every:g} s")
    by_id = {c.id: c for c in manifest.clips}
    for job in jobs:
        old = by_id.get(job.clip_id)
        if old is not None:
            if (old.pair, old.camera) != (job.pair, job.camera):
                raise ExtractError(f"{job.video}: clip {job.clip_id!r} is already registered as pair {old.pair!r} "
                                   f"camera {old.camera}; give another id with --clip-id")
            video_rel = _rel_inside(root, job.video) or _video_dest(job)
            if old.video is not None and old.video != video_rel:
                raise ExtractError(f"{job.video}: clip {job.clip_id!r} is already registered from video "
                                   f"{old.video!r}; give another id with --clip-id")
            continue
        other = manifest.pair_clips(job.pair).get(job.camera)
        if other is not None:
            raise ExtractError(f"{job.video}: pair {job.pair!r} camera {job.camera} already has clip {other.id!r}")


def _merge(manifest: Manifest, clip: Clip) -> None:
    if not any(p.id == clip.pair for p in manifest.pairs):
        manifest.pairs.append(LocationPair(id=clip.pair))
        manifest.pairs.sort(key=lambda p: p.id)
    for i, c in enumerate(manifest.clips):
        if c.id == clip.id:
            clip.sync_offset = c.sync_offset  # set by a maintainer; sampling must not undo it
            manifest.clips[i] = clip
            return
    manifest.clips.append(clip)
    manifest.clips.sort(key=lambda c: (c.pair, c.camera, c.id))


def _result(future: Future[ClipOutcome], job: ClipJob) -> ClipOutcome:
    try:
        return future.result()
    except Exception as e:  # a worker process died (out of memory, killed): report it like any failure
        return ClipOutcome(job=job, fatal=f"{job.video}: extraction failed: {type(e).__name__}: {e}")


def extract_clips(root: Path, jobs: Sequence[ClipJob], every: float = 0.5, *, workers: int | None = None,
                  jpeg_quality: int = 95, progress: Callable[[Iterator[None], int], None] | None = None
                  ) -> ExtractReport:
    """Sample and register ``jobs`` in the dataset at ``root`` (created when absent).

    ``progress(ticks, total)`` consumes one tick per decoded frame (draw a bar with it);
    by default the ticks are simply consumed. Clips that fail entirely are left out and
    reported in their outcome; the others are registered.
    """
    root = Path(root)
    jobs = list(jobs)
    if not jobs:
        raise ExtractError("no video given")
    if root.exists() and not root.is_dir():
        raise ExtractError(f"{root}: the dataset root is not a folder")
    ds = DatasetRoot(root)
    manifest = ds.manifest() if ds.exists() else None  # a broken manifest stops us before any work
    if manifest is not None:
        _check_against_manifest(manifest, jobs, root, every)
    total = sum(_probe(j.video) for j in jobs)

    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(ds.manifest_path)
    lock.acquire(break_stale=True)
    try:
        if ds.exists():  # re-read under the lock: another run may have finished meanwhile
            manifest = ds.manifest()
            _check_against_manifest(manifest, jobs, root, every)
        n_workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
        bar = None if progress is None else (lambda ticks: progress(ticks, total))
        futures = run_jobs(partial(_run_job, root_s=str(root), every=every, jpeg_quality=jpeg_quality), jobs,
                           n_workers, bar)
        outcomes = [_result(f, j) for f, j in zip(futures, jobs)]

        registered = [o.clip for o in outcomes if o.clip is not None]
        written = False
        if registered:
            new = manifest.model_copy(deep=True) if manifest is not None else Manifest(name=root.resolve().name,
                                                                                        sample_every=every)
            if not new.clips:
                new.sample_every = every
            for clip in registered:
                _merge(new, clip)
            try:  # cross-references checked before writing, never after
                new = Manifest.model_validate(new.model_dump())
            except ValueError as e:
                raise ExtractError(f"{ds.manifest_path}: the updated manifest would be invalid: {e}") from None
            if manifest is None or dump_model(new) != dump_model(manifest):
                ds.save_manifest(new)
                written = True
        return ExtractReport(outcomes=outcomes, manifest_written=written)
    finally:
        lock.release()

"""Instance crops: cut from the frames, derived and rebuildable, never the source of truth.

Naming: ``crops/<variant>/<clip_id>/<n:06d>.jpg`` for instance key ``<clip_id>:<n>``;
``<variant>`` is ``native`` (the box at the frame's own resolution) or ``s<N>`` (the
crop scaled so its *longest side* is N pixels, aspect ratio kept, never padded or
stretched — ReID transforms decide how to square it).

A crop is the instance's bbox (the smallest axis-aligned rectangle around the four
clicked corners, as in the paper), widened to whole pixels (floor of the top-left,
ceiling of the bottom-right) and clamped to the frame.

``crops/<variant>/index.json`` remembers, per key, a signature of what the crop was cut
from (frame file, its size and mtime, the pixel box). A re-run cuts only crops whose
signature changed or whose file is missing, and deletes crops of instances that no
longer exist. The same cutting code serves the exporters (:func:`run_jobs`).
"""
from __future__ import annotations

import json
import math
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .dataset import DatasetRoot
from .errors import UnsafePathError, VraiToolsError
from .index import DatasetIndex, InstanceRecord, load_index
from .progress import progress
from .storage import atomic_write_text, temp_beside

PixelBox = tuple[int, int, int, int]
INDEX_NAME = "index.json"
JPEG_SUFFIXES = (".jpg", ".jpeg")


def variant_name(size: int | None) -> str:
    return "native" if size is None else f"s{size}"


def crop_rel(key: str, size: int | None = None) -> str:
    """Where the crop of ``key`` lives, relative to the dataset root."""
    clip, _, n = key.rpartition(":")
    return f"crops/{variant_name(size)}/{clip}/{int(n):06d}.jpg"


def pixel_box(bbox: tuple[float, float, float, float], frame_size: tuple[int, int]) -> PixelBox:
    """The whole-pixel rectangle holding ``bbox``, inside the frame, at least 1x1."""
    w, h = frame_size
    x1, y1, x2, y2 = bbox
    left = min(max(int(math.floor(x1 + 1e-6)), 0), w - 1)
    top = min(max(int(math.floor(y1 + 1e-6)), 0), h - 1)
    right = max(min(int(math.ceil(x2 - 1e-6)), w), left + 1)
    bottom = max(min(int(math.ceil(y2 - 1e-6)), h), top + 1)
    return left, top, right, bottom


def scaled_size(box: PixelBox, size: int | None) -> tuple[int, int]:
    """Crop width, height after scaling the longest side to ``size`` (unchanged for None)."""
    w, h = box[2] - box[0], box[3] - box[1]
    if size is None:
        return w, h
    s = size / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))


# ----------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class CropItem:
    box: PixelBox
    dest: str  # absolute path of the JPEG to write


@dataclass(frozen=True)
class CropJob:
    """Every crop of one frame: the frame is decoded once."""

    frame: str  # absolute path
    frame_rel: str  # for messages
    items: tuple[CropItem, ...]
    size: int | None = None
    quality: int = 95


@dataclass
class JobResult:
    job: CropJob
    done: list[str] = field(default_factory=list)  # dest paths written
    problem: str | None = None


def _replace(path: Path, data: bytes) -> None:
    """Write-then-rename, without the fsync of storage.atomic_write_bytes: crops are
    rebuildable, and an fsync per crop would dominate at 137k crops."""
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def run_job(job: CropJob) -> JobResult:
    import io

    from PIL import Image

    result = JobResult(job)
    try:
        img = Image.open(job.frame)
        img.load()
    except FileNotFoundError:
        result.problem = f"{job.frame_rel}: frame image is missing ({len(job.items)} crop(s) not made)"
        return result
    except OSError as e:
        result.problem = f"{job.frame_rel}: cannot read the frame image ({e})"
        return result
    full = (0, 0, img.width, img.height)
    raw = None
    if img.mode != "RGB":
        img = img.convert("RGB")
    for item in job.items:
        if item.box == full and job.size is None and job.frame.lower().endswith(JPEG_SUFFIXES):
            # The instance is the whole image (an imported release): copy the bytes, no re-encoding loss.
            if raw is None:
                raw = Path(job.frame).read_bytes()
            _replace(Path(item.dest), raw)
        else:
            crop = img.crop(item.box)
            if job.size is not None:
                crop = crop.resize(scaled_size(item.box, job.size), Image.Resampling.LANCZOS)
            buf = io.BytesIO()
            crop.save(buf, format="JPEG", quality=job.quality)
            _replace(Path(item.dest), buf.getvalue())
        result.done.append(item.dest)
    return result


def batch_jobs(jobs: list[CropJob], per_batch: int = 256) -> list[list[CropJob]]:
    """Group frame jobs so a worker process gets a few hundred crops per round trip."""
    batches: list[list[CropJob]] = []
    current: list[CropJob] = []
    n = 0
    for job in jobs:
        current.append(job)
        n += len(job.items)
        if n >= per_batch:
            batches.append(current)
            current, n = [], 0
    if current:
        batches.append(current)
    return batches


def _run_batch(batch: list[CropJob]) -> list[JobResult]:
    return [run_job(j) for j in batch]


def iter_results(jobs: list[CropJob], workers: int | None = None) -> Iterator[JobResult]:
    """Run crop jobs in ``workers`` processes (None: one per CPU; 1: in this process),
    yielding each frame's result as it completes (so a progress bar can follow)."""
    workers = workers or os.cpu_count() or 1
    batches = batch_jobs(jobs)
    if workers <= 1 or len(batches) <= 1:
        for batch in batches:
            yield from _run_batch(batch)
        return
    with ProcessPoolExecutor(max_workers=min(workers, len(batches))) as pool:
        futures = [pool.submit(_run_batch, b) for b in batches]
        for fut in as_completed(futures):
            yield from fut.result()


def run_jobs(jobs: list[CropJob], workers: int | None = None, label: str = "Cropping",
             quiet: bool = True) -> list[JobResult]:
    """All results; a progress bar over frames unless ``quiet``."""
    return list(progress(iter_results(jobs, workers), label, quiet=quiet, length=len(jobs)))


def plan_jobs(ds: DatasetRoot, records: Iterable[InstanceRecord], dest: Callable[[InstanceRecord], Path],
              size: int | None = None, quality: int = 95) -> list[CropJob]:
    """One job per frame holding the crops of ``records`` (frame order kept)."""
    by_frame: dict[str, list[CropItem]] = {}
    for r in records:
        by_frame.setdefault(r.frame_file, []).append(CropItem(pixel_box(r.bbox, r.frame_size), str(dest(r))))
    jobs = []
    for rel, items in by_frame.items():
        try:
            frame = ds.path(rel)
        except UnsafePathError as e:
            raise VraiToolsError(f"{ds.manifest_path}: {e}") from None
        jobs.append(CropJob(str(frame), rel, tuple(items), size, quality))
    return jobs


# ----------------------------------------------------------------------------- the crops command


@dataclass
class CropsReport:
    folder: Path
    written: int = 0
    skipped: int = 0
    removed: int = 0
    problems: list[str] = field(default_factory=list)


def _signature(rec: InstanceRecord, stat: tuple[int, int] | None) -> str:
    box = pixel_box(rec.bbox, rec.frame_size)
    mtime, nbytes = stat or (0, 0)
    return f"{rec.frame_file}|{nbytes}|{mtime}|{box[0]},{box[1]},{box[2]},{box[3]}"


def make_crops(root: DatasetRoot | Path | str, size: int | None = None, *, workers: int | None = None,
               quality: int = 95, index: DatasetIndex | None = None, quiet: bool = True) -> CropsReport:
    """Bring ``crops/<variant>/`` up to date with the annotations (incremental)."""
    ds = root if isinstance(root, DatasetRoot) else DatasetRoot(root)
    if size is not None and size < 8:
        raise VraiToolsError(f"--size must be at least 8 pixels, got {size}")
    index = index or load_index(ds)
    folder = ds.crops_dir / variant_name(size)
    index_path = folder / INDEX_NAME
    old = _read_crop_index(index_path, size, quality)
    stats: dict[str, tuple[int, int] | None] = {}
    new: dict[str, str] = {}
    todo: list[InstanceRecord] = []
    report = CropsReport(folder)
    for rec in index.records:
        if rec.frame_file not in stats:
            try:
                s = os.stat(ds.root / rec.frame_file)
                stats[rec.frame_file] = (s.st_mtime_ns, s.st_size)
            except OSError:
                stats[rec.frame_file] = None
        sig = _signature(rec, stats[rec.frame_file])
        new[rec.key] = sig
        if old.get(rec.key) == sig and (ds.root / crop_rel(rec.key, size)).is_file():
            report.skipped += 1
        else:
            todo.append(rec)
    for key in sorted(old.keys() - new.keys()):  # instances deleted since the last run
        try:
            (ds.root / crop_rel(key, size)).unlink()
            report.removed += 1
        except FileNotFoundError:
            pass
    jobs = plan_jobs(ds, todo, lambda r: ds.root / crop_rel(r.key, size), size, quality)
    made: set[str] = set()
    try:
        for r in progress(iter_results(jobs, workers), "Cropping frames", quiet=quiet, length=len(jobs)):
            made.update(r.done)
            if r.problem:
                report.problems.append(r.problem)
    finally:  # also on Ctrl-C: what was cut stays known, the next run resumes from there
        keep = {key: sig for key, sig in new.items()
                if old.get(key) == sig or str(ds.root / crop_rel(key, size)) in made}
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(index_path, json.dumps({"size": size, "quality": quality, "crops": keep},
                                                 sort_keys=True, separators=(",", ":")) + "\n")
    report.written = len(made)
    return report


def _read_crop_index(path: Path, size: int | None, quality: int) -> dict[str, str]:
    """The previous run's signatures; anything unreadable or made with other settings means 'redo all'."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("size") != size or doc.get("quality") != quality:
        return {}
    crops = doc.get("crops")
    return {str(k): str(v) for k, v in crops.items()} if isinstance(crops, dict) else {}


def copy_or_link(src: Path, dest: Path) -> None:
    """Hard-link ``src`` to ``dest`` when both are on one filesystem, else copy it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)

"""``generate(out, SynthConfig(...))``: a complete synthetic dataset root.

Order of work: the world of every pair is drawn from the seed (vehicles, scenes, flights,
light, who passes where and when) in the parent process; then each clip is rendered to an
MP4 and sampled by :func:`vrai_tools.frames.sample_video` - one process per clip - and the
parent writes the SRT sidecars, the manifest, the labels of the frames that were actually
sampled, the ground-truth sidecar and the ``synth.json`` marker. Random numbers come from
generators seeded by (seed, purpose, pair, camera), never from the number of workers, so
any worker count gives the same dataset.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from schemas import Clip, LocationPair, Manifest

from .. import __version__
from ..dataset import DatasetRoot
from ..storage import atomic_write_text
from ..telemetry import parse_srt, write_srt
from ..workers import Ticks, run_jobs
from .config import SynthConfig, SynthError
from .flight import Camera, Flight, make_flight, telemetry_records
from .labels import SampledFrameRef, TruthInstance, build_annotations, build_matching, clip_instances
from .look import Look, make_look
from .metadata import frames_with_telemetry, predicted_samples
from .outdir import GENERATOR, MARKER, check_replaceable, commit, file_hashes, tmp_dir
from .scene import LANE_WIDTH, make_scene
from .traffic import ClipPlan, Passage, schedule_pair
from .truth import write_truth
from .vehicles import Catalog, VehicleSpec, make_catalog, sample_vehicle

__all__ = ["PairWorld", "SynthReport", "build_pair", "clip_renderer", "generate", "run"]

if TYPE_CHECKING:
    from .render import ClipRenderer

Progress = Callable[[Iterator[None], int, str], None]  # (ticks, total, label)
MIN_ALTITUDE_GAP = 8.0  # metres between the two drones of a pair, at every moment
PROCESS_THRESHOLD = 200_000_000  # pixels x frames of all clips above which clips render in parallel processes
METADATA_PROCESS_THRESHOLD = 500_000  # pairs x vehicles x seconds above which --no-video pairs run in processes

# purposes of the seeded generators: (seed, PURPOSE, pair, camera)
_CATALOG, _PAIR, _VEHICLES, _TRAFFIC, _RENDER = 0, 1, 2, 3, 4


@dataclass
class PairWorld:
    id: str
    index: int
    start: datetime  # wall-clock time camera A starts recording (DJI files hold local time)
    vehicles: dict[int, VehicleSpec]
    plans: dict[str, ClipPlan]
    looks: dict[str, Look]
    origins: dict[str, tuple[float, float]]  # (lat, lon) of each scene's world origin
    homes: dict[str, tuple[float, float]]  # take-off point of each drone, world metres
    refs: dict[str, list[SampledFrameRef]]  # predicted samples per camera
    passages: list[Passage] = field(default_factory=list)


@dataclass
class SynthReport:
    root: Path
    pairs: int = 0
    clips: int = 0
    frames: int = 0
    instances: int = 0
    vehicles: int = 0
    cross_camera: int = 0
    seconds: float = 0.0


def pair_id(config: SynthConfig, index: int) -> str:
    return f"p{index + 1:0{max(3, len(str(config.pairs)))}d}"


def build_pair(config: SynthConfig, catalog: Catalog, index: int) -> PairWorld:
    """Everything about one location pair, drawn from (seed, pair index) only."""
    rng = np.random.default_rng([config.seed, _PAIR, index])
    pid = pair_id(config, index)
    S = config.seconds
    start = (datetime(2019, 3, 4, 8, 0) + timedelta(days=int(config.seed % 97) + index // 6,
                                                    minutes=int(rng.integers(0, 9 * 60)), seconds=int(rng.integers(60))))
    vrng = np.random.default_rng([config.seed, _VEHICLES, index])
    first = index * config.vehicles_per_pair
    vehicles = {vid: sample_vehicle(vrng, catalog, vid) for vid in range(first, first + config.vehicles_per_pair)}
    while True:  # the two drones fly at clearly different heights (different vehicle scales)
        alts = [float(v) for v in rng.uniform(18.0, 77.0, 2)]
        if abs(alts[0] - alts[1]) >= MIN_ALTITUDE_GAP + 2.0:
            break
    heading_a = float(rng.uniform(0, 2 * math.pi))
    headings = [heading_a, heading_a + math.radians(float(rng.uniform(30, 330)))]
    lat0, lon0 = 22.50 + float(rng.uniform(0, 0.1)), 113.88 + float(rng.uniform(0, 0.15))
    dist, bearing = float(rng.uniform(180, 420)), float(rng.uniform(0, 2 * math.pi))
    origins = {"A": (round(lat0, 6), round(lon0, 6)),
               "B": (round(lat0 - dist * math.sin(bearing) / 111_320.0, 6),
                     round(lon0 + dist * math.cos(bearing) / (111_320.0 * math.cos(math.radians(lat0))), 6))}
    n = config.frames_per_clip
    refs = predicted_samples(n, config.fps, config.every)
    cam = Camera(config.width, config.height)
    plans, looks, homes = {}, {}, {}
    max_climb = (abs(alts[0] - alts[1]) - MIN_ALTITUDE_GAP - 1.0) / 2  # wobble takes up to 0.25 m each
    for ci, letter in enumerate("AB"):
        scene = make_scene(rng, alts[ci] - 10.0)
        u = (math.cos(scene.road_angle), math.sin(scene.road_angle))
        nrm = (-u[1], u[0])
        half = min(cam.half_extent(alts[ci]))
        along = float(rng.uniform(-4, 4) if scene.kind == "intersection" else rng.uniform(-15, 15))
        across = float(rng.uniform(-0.2, 0.2)) * min(half, scene.lanes_per_direction * LANE_WIDTH)
        if scene.kind == "parking" and scene.lot is not None:  # lean towards the lot
            across += math.copysign(min(0.3 * half, 6.0), scene.lot[2])
        x, y = along * u[0] + across * nrm[0], along * u[1] + across * nrm[1]
        flight: Flight = make_flight(rng, alts[ci], headings[ci], x, y, S, scene.road_angle, max_climb)
        sync = 0.0 if letter == "A" else round(float(rng.uniform(0, min(2.0, 0.1 * S))), 3)
        plans[letter] = ClipPlan(clip_id=f"{pid}-{letter}", pair_id=pid, camera=letter, scene=scene, flight=flight,
                                 cam=cam, sync_offset=sync, sample_times=tuple(r.video_frame / config.fps for r in refs),
                                 seconds=S)
        looks[letter] = make_look(rng, S)
        homes[letter] = (round(x + float(rng.uniform(-40, 40)), 3), round(y + float(rng.uniform(-40, 40)), 3))
    world = PairWorld(id=pid, index=index, start=start, vehicles=vehicles, plans=plans, looks=looks, origins=origins,
                      homes=homes, refs={"A": refs, "B": refs})
    world.passages = schedule_pair(np.random.default_rng([config.seed, _TRAFFIC, index]), list(vehicles.values()),
                                   plans, S)
    return world


# --------------------------------------------------------------------------- clip workers


@dataclass
class _ClipJob:
    root: str
    plan: ClipPlan
    look: Look
    vehicles: dict[int, VehicleSpec]
    passages: list[Passage]
    seed: tuple[int, ...]
    fps: float
    n_frames: int
    every: float


@dataclass
class _ClipDone:
    clip_id: str
    refs: list[SampledFrameRef]
    duration: float | None


def _render_job(job: _ClipJob) -> _ClipDone:
    """Render one clip to MP4, then sample it like ``extract-frames`` does. Progress: one tick
    per frame rendered and one per frame decoded."""
    from ..frames import sample_video
    from .render import ClipRenderer

    tick = Ticks()
    root = Path(job.root)
    video = root / "videos" / f"{job.plan.clip_id}.mp4"
    video.parent.mkdir(parents=True, exist_ok=True)
    renderer = ClipRenderer(job.plan, job.look, job.vehicles, job.passages, job.seed, job.fps)
    renderer.write_video(video, job.n_frames, on_frame=tick)
    result = sample_video(video, DatasetRoot(root).frames_dir(job.plan.clip_id), job.every,
                          jpeg_quality=job.look.jpeg_quality, skip_existing=False,
                          on_frame=lambda d: tick(job.n_frames + d))
    tick.finish(2 * job.n_frames)
    if result.error:
        raise SynthError(f"the video just written could not be read back: {result.error}")
    refs = [SampledFrameRef(index=f.index, timestamp=f.timestamp, video_frame=f.video_frame) for f in result.frames]
    return _ClipDone(job.plan.clip_id, refs, result.duration)


def _render_all(jobs: list[_ClipJob], workers: int, progress: Progress | None) -> dict[str, _ClipDone]:
    total = 2 * sum(j.n_frames for j in jobs)
    bar = None if progress is None else (lambda ticks: progress(ticks, total, "Rendering"))
    futures = run_jobs(_render_job, jobs, workers, bar, single_thread_opencv=True)
    return {d.clip_id: d for d in (f.result() for f in futures)}


# --------------------------------------------------------------------------- the whole dataset


def _rounded(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, 6)
    if isinstance(obj, (list, tuple)):
        return [_rounded(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    return obj


def _look_key(spec: VehicleSpec) -> str:
    model, color, rgb, flags = spec.look
    return f"{model}/{color}/{','.join(map(str, rgb))}/{''.join('1' if f else '0' for f in flags)}"


@dataclass
class _PairResult:
    clips: list[Clip]
    truth_vehicles: list[dict[str, Any]]
    truth_clips: dict[str, Any]
    frames: int = 0
    instances: int = 0
    vehicles: int = 0
    cross_camera: int = 0
    description: str = ""


def _pair_outputs(root: Path, config: SynthConfig, w: PairWorld, refs: dict[str, list[SampledFrameRef]],
                  durations: dict[str, float | None]) -> _PairResult:
    """Everything of one pair but pixels: SRT sidecars, manifest clips, labels (written as the
    pair's annotation and matching files) and its part of the ground-truth sidecar."""
    from dataclasses import asdict

    ds = DatasetRoot(root)
    stages = config.annotate
    at = w.start.replace(tzinfo=timezone.utc)
    res = _PairResult(clips=[], truth_vehicles=[], truth_clips={},
                      description=f"synthetic: {w.plans['A'].scene.kind} / {w.plans['B'].scene.kind}")
    truth: dict[str, list[TruthInstance]] = {}
    for letter, plan in sorted(w.plans.items()):
        cid = plan.clip_id
        start = w.start + timedelta(seconds=plan.sync_offset)
        srt = root / "videos" / f"{cid}.SRT"
        write_srt(srt, telemetry_records(plan.flight, config.seconds, config.fps, start, w.origins[letter],
                                         w.homes[letter], config.srt_dialect), config.srt_dialect)
        res.clips.append(Clip(
            id=cid, pair=w.id, camera=letter,  # type: ignore[arg-type]
            video=f"videos/{cid}.mp4" if config.video else None, telemetry=f"videos/{cid}.SRT",
            fps=config.fps, width=config.width, height=config.height, duration=durations[cid],
            start_time=start, sync_offset=plan.sync_offset,
            frames=frames_with_telemetry(cid, refs[cid], parse_srt(srt)),
        ))
        truth[cid] = clip_instances(plan, w.vehicles, w.passages, refs[cid], config.fps)
        if stages:
            ds.save_annotations(build_annotations(plan, truth[cid], w.vehicles, refs[cid], stages, at))
        res.truth_clips[cid] = {
            "pair": w.id, "camera": letter, "scene": plan.scene.to_json(), "flight": _rounded(asdict(plan.flight)),
            "look": w.looks[letter].to_json(), "sync_offset": plan.sync_offset, "origin": list(w.origins[letter]),
            "passages": [{"vehicle": p.vehicle, "lane": p.lane, "t0": p.t0, "s0": p.s0}
                         for p in w.passages if p.camera == letter],
            "instances": [ti.to_json() for ti in truth[cid]],
        }
        res.frames += len(refs[cid])
        res.instances += len(truth[cid])
    if "matching" in stages:
        ds.save_matching(build_matching(w.id, truth, w.vehicles, stages, at))
    cams: dict[int, set[str]] = {}
    for cid, insts in truth.items():
        for ti in insts:
            cams.setdefault(ti.vehicle, set()).add(cid.rpartition("-")[2])
    for vid, spec in sorted(w.vehicles.items()):
        res.truth_vehicles.append({
            "id": vid, "pair": w.id, "attributes": spec.attributes(), "model": spec.model.id, "rgb": list(spec.rgb),
            "look": _look_key(spec), "marks": [m.to_json() for m in spec.marks], "cameras": sorted(cams.get(vid, ())),
        })
        res.vehicles += vid in cams
        res.cross_camera += len(cams.get(vid, ())) == 2
    return res


def _metadata_pair_job(root: str, config: SynthConfig, index: int) -> _PairResult:
    """``--no-video``: one whole pair in a worker (the world is drawn there, from the seed)."""
    catalog = make_catalog(np.random.default_rng([config.seed, _CATALOG]))
    w = build_pair(config, catalog, index)
    durations = {p.clip_id: round(config.frames_per_clip / config.fps, 6) for p in w.plans.values()}
    result = _pair_outputs(Path(root), config, w, {p.clip_id: w.refs[k] for k, p in w.plans.items()}, durations)
    Ticks().finish(1)
    return result


def _metadata_pairs(root: Path, config: SynthConfig, progress: Progress | None) -> list[_PairResult]:
    if config.workers is not None:
        workers = config.workers
    else:  # a worker costs a second to start: only for VRAI-sized runs
        big = config.pairs * config.vehicles_per_pair * config.seconds >= METADATA_PROCESS_THRESHOLD
        workers = (os.cpu_count() or 1) if big else 1
    bar = None if progress is None else (lambda ticks: progress(ticks, config.pairs, "Pairs"))
    futures = run_jobs(partial(_metadata_pair_job, str(root), config), range(config.pairs),
                       max(1, min(workers, config.pairs)), bar)
    return [f.result() for f in futures]


def _write(root: Path, config: SynthConfig, progress: Progress | None) -> SynthReport:
    if config.video:
        catalog = make_catalog(np.random.default_rng([config.seed, _CATALOG]))
        worlds = [build_pair(config, catalog, i) for i in range(config.pairs)]
        n = config.frames_per_clip
        jobs = []
        for w in worlds:
            for ci, (letter, plan) in enumerate(sorted(w.plans.items())):
                mine = [p for p in w.passages if p.camera == letter]
                jobs.append(_ClipJob(root=str(root), plan=plan, look=w.looks[letter],
                                     vehicles={p.vehicle: w.vehicles[p.vehicle] for p in mine}, passages=mine,
                                     seed=(config.seed, _RENDER, w.index, ci), fps=config.fps, n_frames=n,
                                     every=config.every))
        if config.workers is not None:
            workers = config.workers
        else:  # starting a process costs about a second: only worth it for real work
            big = n * config.width * config.height * len(jobs) >= PROCESS_THRESHOLD
            workers = (os.cpu_count() or 1) if big else 1
        done = _render_all(jobs, max(1, min(workers, len(jobs))), progress)
        results = [_pair_outputs(root, config, w, {p.clip_id: done[p.clip_id].refs for p in w.plans.values()},
                                 {p.clip_id: done[p.clip_id].duration for p in w.plans.values()}) for w in worlds]
    else:
        results = _metadata_pairs(root, config, progress)

    report = SynthReport(root=root, pairs=len(results))
    manifest = Manifest(name=config.dataset_name, source="synthetic", sample_every=config.every,
                        pairs=[LocationPair(id=pair_id(config, i), description=r.description) for i, r in enumerate(results)],
                        clips=[c for r in results for c in r.clips])
    DatasetRoot(root).save_manifest(manifest)
    truth_clips: dict[str, Any] = {}
    for r in results:
        truth_clips.update(r.truth_clips)
        report.clips += len(r.clips)
        report.frames += r.frames
        report.instances += r.instances
        report.vehicles += r.vehicles
        report.cross_camera += r.cross_camera
    write_truth(root, {"config": config.to_json(), "vehicles": [v for r in results for v in r.truth_vehicles],
                       "clips": truth_clips})
    marker = {"generator": GENERATOR, "vrai_tools": __version__, "config": config.to_json(), "files": file_hashes(root)}
    atomic_write_text(root / MARKER, json.dumps(marker, indent=1, sort_keys=True) + "\n")
    return report


def run(out: Path | str, config: SynthConfig, progress: Progress | None = None) -> SynthReport:
    """Write the dataset at ``out`` (refusing to replace anything but an untouched synth output)
    and say what was made. ``progress(ticks, total)`` consumes one tick per frame rendered or decoded."""
    t0 = time.perf_counter()
    out = Path(out)
    check_replaceable(out)
    created = not out.exists()
    tmp = tmp_dir(out)
    try:
        report = _write(tmp, config, progress)
        commit(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created:
            try:
                out.rmdir()
            except OSError:
                pass
        raise
    report.root = out
    report.seconds = time.perf_counter() - t0
    return report


def generate(out: Path | str, config: SynthConfig) -> DatasetRoot:
    """A synthetic dataset at ``out``; for tests and scripts (no progress output)."""
    run(out, config)
    return DatasetRoot(out)


def clip_renderer(config: SynthConfig, clip_id: str) -> "ClipRenderer":
    """The renderer that drew clip ``clip_id`` of the dataset made from ``config`` (rebuilt from
    the seed): draw any frame again, or its per-vehicle masks (tests, pictures)."""
    from .render import ClipRenderer

    pair, _, letter = clip_id.rpartition("-")
    index = next((i for i in range(config.pairs) if pair_id(config, i) == pair), None)
    if index is None or letter not in ("A", "B"):
        raise SynthError(f"no clip {clip_id!r} in a dataset of {config.pairs} pair(s)")
    w = build_pair(config, make_catalog(np.random.default_rng([config.seed, _CATALOG])), index)
    mine = [p for p in w.passages if p.camera == letter]
    return ClipRenderer(w.plans[letter], w.looks[letter], {p.vehicle: w.vehicles[p.vehicle] for p in mine}, mine,
                        (config.seed, _RENDER, index, "AB".index(letter)), config.fps)

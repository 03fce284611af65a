"""Whole-dataset validation: every file against its schema, then the rules across files.

Read-only by construction: nothing here opens a file for writing.
"""
from __future__ import annotations

import gc
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from schemas import Attributes, ClipAnnotations, Manifest, PairMatching, Split
from schemas.base import clip_of_key

from .dataset import DatasetRoot, resolve_inside
from .errors import DatasetFileError, UnsafePathError
from .storage import load_model


@dataclass
class Problem:
    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}" if self.path else f"{self.file}: {self.message}"


@dataclass
class StageProgress:
    done: int = 0
    total: int = 0

    @property
    def pending(self) -> int:
        return self.total - self.done


@dataclass
class ValidationReport:
    root: Path
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    stages: dict[str, StageProgress] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, file: Path | str, path: str, message: str) -> None:
        self.problems.append(Problem(self._rel(file), path, message))

    def add_error(self, err: DatasetFileError) -> None:
        self.problems.append(Problem(self._rel(err.path), err.field or "", err.message))

    def _rel(self, file: Path | str) -> str:
        p = Path(file)
        try:
            return str(p.relative_to(self.root))
        except ValueError:
            return str(p)


@dataclass
class _InstanceInfo:
    frame: int
    camera: str


@dataclass
class _ClipFacts:
    """What the cross-file checks and the summary need of one annotation file: small enough to
    send back from a worker process (the instances themselves are not)."""

    path: Path
    clip_id: str | None = None  # None: refused, or not a clip of the manifest
    unreadable: bool = False
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (file, path, message)
    frames: dict[str, int] = field(default_factory=dict)  # instance key -> frame
    own_attributes: dict[str, tuple[object, ...]] = field(default_factory=dict)  # key -> its overrides, if any
    parts_done: int = 0
    frames_done: int = 0


PARALLEL_BYTES = 32 << 20  # annotation files above this in all are checked in worker processes


def _check_clip_file(path: Path, clips: dict[str, object], frames_of: dict[str, set[int]]) -> _ClipFacts:
    facts = _ClipFacts(path)
    sink = ValidationReport(path.parent)  # problems keyed by the absolute file, made relative by the caller
    try:
        ann = load_model(path, ClipAnnotations)
    except DatasetFileError as e:
        facts.unreadable = True
        facts.problems.append((str(e.path), e.field or "", e.message))
        return facts
    if ann.clip_id != path.stem:
        sink.add(path, "clip_id", f"{ann.clip_id!r} does not match the file name {path.stem!r}")
    clip = clips.get(ann.clip_id)
    if clip is None:
        sink.add(path, "clip_id", f"clip {ann.clip_id!r} is not in dataset.json")
    else:
        facts.clip_id = ann.clip_id
        scratch: dict[str, _InstanceInfo] = {}
        _check_clip_annotations(sink, path, ann, clip, frames_of[ann.clip_id], scratch)
        facts.frames = {k: v.frame for k, v in scratch.items()}
        fields = list(Attributes.model_fields)
        for inst in ann.instances:
            own = inst.attributes.__dict__
            if any(own[f] is not None for f in fields):  # most instances override nothing: not sent back
                facts.own_attributes[inst.key] = tuple(own[f] for f in fields)
            if inst.parts.state != "todo":
                facts.parts_done += 1
        facts.frames_done = len(ann.frames_done)
    facts.problems.extend((str(path), p.path, p.message) for p in sink.problems)
    return facts


# The manifest's clips, for worker processes: forked after this is set, they inherit it
# instead of receiving a pickled copy of 25,000 frames with every file.
_FORK_STATE: tuple[dict[str, object], dict[str, set[int]]] | None = None


def _check_clip_job(path: Path) -> _ClipFacts:
    gc.disable()  # as in validate_root: many objects, no cycles
    assert _FORK_STATE is not None
    return _check_clip_file(path, *_FORK_STATE)


def _clip_facts(paths: list[Path], clips: dict[str, object], frames_of: dict[str, set[int]]) -> list[_ClipFacts]:
    """Each annotation file checked on its own, in file order; in parallel processes at VRAI scale,
    where parsing and validating ~140k instances is most of the run."""
    global _FORK_STATE
    import multiprocessing

    workers = min(os.cpu_count() or 1, len(paths))
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods() or \
            sum(p.stat().st_size for p in paths) < PARALLEL_BYTES:
        return [_check_clip_file(p, clips, frames_of) for p in paths]
    from concurrent.futures import ProcessPoolExecutor

    _FORK_STATE = (clips, frames_of)
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_check_clip_job, paths, chunksize=1))
    finally:
        _FORK_STATE = None


def validate_root(root: Path | str, check_files: bool = True) -> ValidationReport:
    """Check a dataset root. ``check_files=False`` skips image-existence checks (metadata-only datasets)."""
    # Hundreds of thousands of small objects stay alive until the end: the cyclic GC
    # would rescan them over and over (half the run time at VRAI scale) and finds nothing.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _validate(Path(root), check_files)
    finally:
        if was_enabled:
            gc.enable()


def _validate(root: Path, check_files: bool) -> ValidationReport:
    ds = DatasetRoot(root)
    report = ValidationReport(Path(root))
    try:
        manifest = ds.manifest()
    except DatasetFileError as e:
        report.add_error(e)
        return report

    clips = {c.id: c for c in manifest.clips}
    frames_of: dict[str, set[int]] = {}
    checker = _PathChecker(report, ds, check_files)
    for ci, clip in enumerate(manifest.clips):
        frames_of[clip.id] = {f.index for f in clip.frames}
        for name in ("video", "telemetry"):
            rel = getattr(clip, name)
            if rel is not None:
                checker.check(f"clips[{ci}].{name}", rel)
        for fi, frame in enumerate(clip.frames):
            checker.check(f"clips[{ci}].frames[{fi}].file", frame.file)

    instances: dict[str, _InstanceInfo] = {}
    annotations: dict[str, _ClipFacts] = {}
    unreadable: set[str] = set()  # clips whose annotation file was refused: their keys are unknown, not missing
    paths = sorted((ds.root / "annotations").glob("*.json"))
    for facts in _clip_facts(paths, clips, frames_of):
        for problem in facts.problems:
            report.problems.append(Problem(report._rel(problem[0]), problem[1], problem[2]))
        if facts.unreadable:
            unreadable.add(facts.path.stem)
        if facts.clip_id is None:
            continue
        annotations[facts.clip_id] = facts
        camera = clips[facts.clip_id].camera
        for key, frame in facts.frames.items():
            instances[key] = _InstanceInfo(frame, camera)

    vehicle_pairs: dict[int, str] = {}
    vehicle_instances: dict[int, list[str]] = {}
    matchings: dict[str, PairMatching] = {}
    pair_ids = {p.id for p in manifest.pairs}
    for path in sorted((ds.root / "matching").glob("*.json")):
        try:
            matching = load_model(path, PairMatching)
        except DatasetFileError as e:
            report.add_error(e)
            continue
        if matching.pair_id != path.stem:
            report.add(path, "pair_id", f"{matching.pair_id!r} does not match the file name {path.stem!r}")
        if matching.pair_id not in pair_ids:
            report.add(path, "pair_id", f"pair {matching.pair_id!r} is not in dataset.json")
            continue
        matchings[matching.pair_id] = matching
        _check_matching(report, path, matching, manifest, instances, vehicle_pairs, vehicle_instances, unreadable)

    for path in sorted((ds.root / "splits").glob("*.json")):
        try:
            split = load_model(path, Split)
        except DatasetFileError as e:
            report.add_error(e)
            continue
        _check_split(report, path, split, instances, vehicle_instances, unreadable)

    _summarise(report, manifest, annotations, matchings, instances, vehicle_instances)
    return report


class _PathChecker:
    """Checks that data paths stay inside the root and exist.

    Resolving symlinks costs a realpath per path; folders are resolved once and
    cached, and only the file itself is checked for being a link.
    """

    def __init__(self, report: ValidationReport, ds: DatasetRoot, check_files: bool) -> None:
        self.report, self.ds, self.check_files = report, ds, check_files
        self.root = ds.root.resolve()
        self.folders: dict[str, bool] = {}

    def check(self, where: str, rel: str) -> None:
        folder, _, name = rel.rpartition("/")
        inside = self.folders.get(folder)
        try:
            if inside is None:
                resolve_inside(self.ds.root, folder or ".")
                self.folders[folder] = True
            target = self.root / rel if self.check_files else None  # 25k Paths saved with --no-files
            if name in ("", ".", "..") or (target is not None and target.is_symlink()):
                resolve_inside(self.ds.root, rel)
        except UnsafePathError as e:
            self.report.add(self.ds.manifest_path, where, str(e))
            return
        if target is not None and not os.path.exists(target):
            self.report.add(self.ds.manifest_path, where, f"file {rel!r} does not exist")


def _check_clip_annotations(
    report: ValidationReport,
    path: Path,
    ann: ClipAnnotations,
    clip: object,
    frames: set[int],
    instances: dict[str, _InstanceInfo],
) -> None:
    from schemas import Clip

    assert isinstance(clip, Clip)
    if tuple(ann.image_size) != (clip.width, clip.height):
        report.add(path, "image_size", f"{list(ann.image_size)} differs from the clip's {clip.width}x{clip.height} in dataset.json")
    sized = {f.index: clip.frame_size(f) for f in clip.frames if f.width or f.height}
    for i, inst in enumerate(ann.instances):
        if inst.frame not in frames:
            report.add(path, f"instances[{i}].frame", f"{inst.key}: frame {inst.frame} is not a sampled frame of clip {clip.id!r}")
        elif inst.frame in sized:
            w, h = sized[inst.frame]
            x1, y1, x2, y2 = inst.bbox
            if x1 < 0 or y1 < 0 or x2 > w + 1e-3 or y2 > h + 1e-3:
                report.add(path, f"instances[{i}].corners", f"{inst.key}: box {list(inst.bbox)} leaves the {w}x{h} frame")
        instances[inst.key] = _InstanceInfo(inst.frame, clip.camera)
    for d in ann.frames_done:
        if d not in frames:
            report.add(path, "frames_done", f"frame {d} is not a sampled frame of clip {clip.id!r}")


def _check_matching(
    report: ValidationReport,
    path: Path,
    matching: PairMatching,
    manifest: Manifest,
    instances: dict[str, _InstanceInfo],
    vehicle_pairs: dict[int, str],
    vehicle_instances: dict[int, list[str]],
    unreadable: set[str],
) -> None:
    pair_clips = {c.id for c in manifest.clips if c.pair == matching.pair_id}
    tracklet_frames: dict[str, list[int]] = {}
    for ti, t in enumerate(matching.tracklets):
        if t.clip_id not in pair_clips:
            report.add(path, f"tracklets[{ti}].clip_id", f"clip {t.clip_id!r} is not a clip of pair {matching.pair_id!r}")
        frames: list[int] = []
        for ki, key in enumerate(t.instances):
            info = instances.get(key)
            if info is None:
                if clip_of_key(key) not in unreadable:  # else its file's own error says it all
                    report.add(path, f"tracklets[{ti}].instances[{ki}]", f"instance {key!r} does not exist")
                continue
            if frames and info.frame <= frames[-1]:
                what = "twice in frame" if info.frame == frames[-1] else "out of time order at frame"
                report.add(path, f"tracklets[{ti}].instances[{ki}]", f"tracklet {t.id!r}: {key!r} {what} {info.frame}")
            frames.append(info.frame)
        tracklet_frames[t.id] = frames
    by_id = {t.id: t for t in matching.tracklets}
    for vi, v in enumerate(matching.vehicles):
        if v.id in vehicle_pairs:
            report.add(path, f"vehicles[{vi}].id", f"vehicle {v.id} is also defined in matching/{vehicle_pairs[v.id]}.json")
            continue
        vehicle_pairs[v.id] = matching.pair_id
        seen: dict[tuple[str, int], str] = {}
        keys: list[str] = []
        for tid in v.tracklets:
            t = by_id[tid]
            for key, frame in zip(t.instances, tracklet_frames.get(tid, [])):
                slot = (t.clip_id, frame)
                if slot in seen:
                    report.add(
                        path, f"vehicles[{vi}]",
                        f"vehicle {v.id} appears twice in frame {frame} of clip {t.clip_id!r} ({seen[slot]!r} and {key!r})",
                    )
                seen[slot] = key
            keys.extend(t.instances)
        vehicle_instances[v.id] = keys


def _check_split(
    report: ValidationReport,
    path: Path,
    split: Split,
    instances: dict[str, _InstanceInfo],
    vehicle_instances: dict[int, list[str]],
    unreadable: set[str],
) -> None:
    if split.name != path.stem:
        report.add(path, "name", f"{split.name!r} does not match the file name {path.stem!r}")
    owner = {key: vid for vid, keys in vehicle_instances.items() for key in keys}
    labelled = split.protocol != "release"
    for name in ("train_vehicles", "test_vehicles"):
        if name == "test_vehicles" and not labelled:
            continue
        for i, vid in enumerate(getattr(split, name)):
            if vid not in vehicle_instances:
                report.add(path, f"{name}[{i}]", f"vehicle {vid} does not exist")
    train_v, test_v = set(split.train_vehicles), set(split.test_vehicles)
    for name in ("train", "query", "gallery"):
        expected = train_v if name == "train" else test_v
        for i, key in enumerate(getattr(split, name)):
            if key not in instances:
                if clip_of_key(key) not in unreadable:
                    report.add(path, f"{name}[{i}]", f"instance {key!r} does not exist")
            elif (labelled or name == "train") and owner.get(key) not in expected:
                report.add(path, f"{name}[{i}]", f"instance {key!r} belongs to vehicle {owner.get(key)}, not a {'train' if name == 'train' else 'test'} vehicle")
    if not labelled:
        return
    gallery_cams: dict[int, set[str]] = defaultdict(set)
    for key in split.gallery:
        if key in instances and key in owner:
            gallery_cams[owner[key]].add(instances[key].camera)
    for i, key in enumerate(split.query):
        if key not in instances or key not in owner:
            continue
        other = "B" if instances[key].camera == "A" else "A"
        if other not in gallery_cams[owner[key]]:
            report.add(path, f"query[{i}]", f"query {key!r} (vehicle {owner[key]}) has no gallery image from camera {other}")


def _summarise(
    report: ValidationReport,
    manifest: Manifest,
    annotations: dict[str, _ClipFacts],
    matchings: dict[str, PairMatching],
    instances: dict[str, _InstanceInfo],
    vehicle_instances: dict[int, list[str]],
) -> None:
    n_frames = sum(len(c.frames) for c in manifest.clips)
    report.counts = {
        "pairs": len(manifest.pairs),
        "clips": len(manifest.clips),
        "frames": n_frames,
        "instances": len(instances),
        "vehicles": len(vehicle_instances),
        "cross-camera vehicles": sum(
            1 for keys in vehicle_instances.values() if len({instances[k].camera for k in keys if k in instances}) == 2
        ),
    }
    vehicle_attrs: dict[str, Attributes] = {}
    matched: set[str] = set()
    for m in matchings.values():
        tracklet_vehicle = {tid: v for v in m.vehicles for tid in v.tracklets}
        for t in m.tracklets:
            v = tracklet_vehicle.get(t.id)
            if v is not None or t.no_match:
                matched.update(t.instances)
            if v is not None:
                for key in t.instances:
                    vehicle_attrs[key] = v.attributes
    empty = Attributes()
    fields = list(Attributes.model_fields)
    complete: dict[int, tuple[object, ...]] = {}  # id of a vehicle's attributes -> its values (once per vehicle)
    attrs_done = parts_done = 0
    for facts in annotations.values():
        parts_done += facts.parts_done
        overrides = facts.own_attributes
        for key in facts.frames:
            base_attrs = vehicle_attrs.get(key, empty)
            base = complete.get(id(base_attrs))
            if base is None:
                base = complete[id(base_attrs)] = tuple(getattr(base_attrs, f) for f in fields)
            own = overrides.get(key)
            if own is None:  # no override: the vehicle's values decide
                attrs_done += None not in base
            elif all(o is not None or b is not None for o, b in zip(own, base)):
                attrs_done += 1
    n_inst = len(instances)
    report.stages = {
        "corners": StageProgress(sum(a.frames_done for a in annotations.values()), n_frames),
        "matching": StageProgress(len(matched & instances.keys()), n_inst),
        "attributes": StageProgress(attrs_done, n_inst),
        "parts": StageProgress(parts_done, n_inst),
    }

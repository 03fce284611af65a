"""``export``: run a format's plan into an output folder, all or nothing.

Everything is written into a hidden staging folder inside ``--out`` first, then each of
the format's top-level entries is renamed into place. A failure (a missing frame, Ctrl-C)
removes the staging folder and leaves ``--out`` as it was. ``--force`` replaces only the
entries the format owns (e.g. ``query/``), never other files the user keeps there.
"""
from __future__ import annotations

import importlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..crops import plan_jobs, run_jobs
from ..dataset import DatasetRoot
from ..errors import FormatError, UnsafePathError
from ..index import load_index
from ..progress import progress
from . import EXPORT_FORMATS
from .base import ExportPlan

PLANNERS = {"market1501": "market1501", "vrai": "vrai_release", "coco": "coco", "yolo-parts": "yolo"}
assert set(PLANNERS) == set(EXPORT_FORMATS)


@dataclass
class ExportReport:
    out: Path
    format: str
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def check_format(fmt: str) -> None:
    if fmt not in PLANNERS:
        raise FormatError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")


def _check_out(out: Path, root: Path, fmt: str, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FormatError(f"--out {out} is a file, not a folder")
    if out.resolve() == root.resolve():
        raise FormatError(f"--out {out} is the dataset root itself; export into another folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise FormatError(f"--out {out} is not empty; pass --force to replace the {fmt} files in it")


def export_dataset(root: DatasetRoot | Path | str, fmt: str, split_name: str, out: Path | str, *,
                   force: bool = False, workers: int | None = None, quality: int = 95,
                   quiet: bool = True) -> ExportReport:
    check_format(fmt)
    ds = root if isinstance(root, DatasetRoot) else DatasetRoot(root)
    out = Path(out)
    _check_out(out, ds.root, fmt, force)
    split = ds.split(split_name)
    index = load_index(ds)
    module = importlib.import_module(f"{__package__}.{PLANNERS[fmt]}")
    plan: ExportPlan = module.plan_export(index, split)
    _check_plan(plan)
    created = not out.exists()
    stage = out / f".vrai-export-{os.getpid()}.tmp"
    try:
        stage.mkdir(parents=True)
        _write(ds, plan, stage, workers, quality, quiet)
        for entry in plan.folders:
            dst = out / entry
            if dst.is_dir() and not dst.is_symlink():
                shutil.rmtree(dst)
            elif dst.exists() or dst.is_symlink():
                dst.unlink()
            if (stage / entry).exists():
                os.replace(stage / entry, dst)
        shutil.rmtree(stage)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        if created:
            shutil.rmtree(out, ignore_errors=True)  # we made it; nothing of the user's is inside
        raise
    return ExportReport(out, fmt, plan.counts, plan.notes)


def _check_plan(plan: ExportPlan) -> None:
    """Every file a plan writes lies under one of the entries it declares (what --force replaces)."""
    owned = set(plan.folders)
    for rel in [d for _, d in plan.crops] + [d for _, d in plan.frames] + list(plan.files):
        if rel.split("/", 1)[0] not in owned:
            raise AssertionError(f"export plan writes {rel} outside its declared entries {sorted(owned)}")


def _write(ds: DatasetRoot, plan: ExportPlan, stage: Path, workers: int | None, quality: int, quiet: bool) -> None:
    dest_of = {rec.key: rel for rec, rel in plan.crops}
    if len(dest_of) != len(plan.crops):
        raise AssertionError("an export plan lists an instance twice")
    jobs = plan_jobs(ds, [r for r, _ in plan.crops], lambda r: stage / dest_of[r.key], None, quality)
    results = run_jobs(jobs, workers, "Cutting crops", quiet)
    problems = [r.problem for r in results if r.problem]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise FormatError(problems[0] + more)
    for src_rel, dest_rel in progress(plan.frames, "Copying frames", quiet=quiet or not plan.frames):
        try:
            src = ds.path(src_rel)
        except UnsafePathError as e:
            raise FormatError(f"{ds.manifest_path}: {e}") from None
        dst = stage / dest_rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(src, dst)  # a copy, not a link: editing an export must not touch the dataset
        except FileNotFoundError:
            raise FormatError(f"{src_rel}: frame image is missing") from None
    for rel, data in plan.files.items():
        p = stage / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)

"""``import``: turn a release folder into a new dataset root, all or nothing.

The release is read and checked completely (pickles, names, every image header) before
the first file is written; the root must be new or empty, and a failure while copying
removes what was written. ``dataset.json`` is written last, so a root without it is
recognisably not a dataset.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..crops import copy_or_link
from ..dataset import DatasetRoot
from ..errors import FormatError
from ..progress import progress
from ..storage import save_model
from . import IMPORT_FORMATS
from .imagewise import BuiltDataset, build


@dataclass
class ImportReport:
    root: Path
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _check_root(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise FormatError(f"--root {root} is a file, not a folder")
    if (root / DatasetRoot.MANIFEST).exists():
        raise FormatError(f"--root {root} already holds a dataset; import into a new folder")
    if root.is_dir() and any(root.iterdir()):
        raise FormatError(f"--root {root} is not empty; import into a new folder")


def read_source(fmt: str, source: Path) -> BuiltDataset:
    """Read and convert the release at ``source`` (nothing written)."""
    source = Path(source)
    if fmt == "vrai":
        from .vrai_release import TRAIN_PKL, read_release

        contents = read_release(source)
        at = datetime.fromtimestamp(int((source / TRAIN_PKL).stat().st_mtime), tz=timezone.utc)
        built = build(contents.images, name=source.resolve().name or "vrai-release", source="vrai-release",
                      vehicle_attributes=contents.vehicle_attributes, query=contents.query, gallery=contents.gallery,
                      split_name="release", protocol="release", provenance_at=at, annotator="vrai-release")
        built.notes[:0] = contents.notes
        return built
    if fmt == "market1501":
        from .market1501 import read_market

        images, names, notes = read_market(source)
        built = build(images, name=source.resolve().name or "market1501", source="market1501",
                      vehicle_attributes={}, query=names["query"], gallery=names["gallery"],
                      split_name="market1501", protocol="vrai", annotator="market1501")
        built.notes[:0] = notes
        return built
    raise FormatError(f"unknown import format {fmt!r}; choose one of {', '.join(IMPORT_FORMATS)}")


def import_dataset(fmt: str, source: Path | str, root: Path | str, *, copy: bool = False,
                   quiet: bool = True) -> ImportReport:
    root = Path(root)
    _check_root(root)
    built = read_source(fmt, Path(source))
    existed = root.exists()
    ds = DatasetRoot(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        for src, rel in progress(built.copies, "Copying images", quiet=quiet):
            dest = ds.root / rel
            if copy:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dest)
            else:
                copy_or_link(src, dest)
        for ann in built.annotations:
            ds.save_annotations(ann)
        for m in built.matchings:
            ds.save_matching(m)
        save_model(ds.split_path(built.split.name), built.split)
        ds.save_manifest(built.manifest)
    except BaseException:
        if existed:  # it was empty before: everything inside is ours
            for child in root.iterdir():
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        else:
            shutil.rmtree(root, ignore_errors=True)
        raise
    s = built.split
    counts = {
        "images": len(built.copies), "clips": len(built.manifest.clips), "pairs": len(built.manifest.pairs),
        "vehicles": sum(len(m.vehicles) for m in built.matchings), "train images": len(s.train),
        "query": len(s.query), "gallery": len(s.gallery),
    }
    return ImportReport(root, counts, built.notes)

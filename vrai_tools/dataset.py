"""A dataset root on disk (DESIGN.md "The dataset on disk"): where each file lives, and loading it."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from schemas import ClipAnnotations, Manifest, PairMatching, Split
from schemas.base import _check_rel_path

from .errors import MissingFileError, UnsafePathError
from .storage import FileLock, load_model, save_model


def resolve_inside(root: Path, rel: str) -> Path:
    """Turn a relative path from one of our files into a real path that stays under ``root``.

    Checked twice: lexically (no absolute paths, no ``..``) and after resolving symlinks.
    """
    try:
        _check_rel_path(rel)
    except ValueError as e:
        raise UnsafePathError(str(e)) from None
    root_r = root.resolve()
    target = (root_r / rel).resolve()
    if target != root_r and root_r not in target.parents:
        raise UnsafePathError(f"path {rel!r} resolves outside the dataset root {root}")
    return target


class DatasetRoot:
    MANIFEST = "dataset.json"

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    # --- where things are
    @property
    def manifest_path(self) -> Path:
        return self.root / self.MANIFEST

    def frames_dir(self, clip_id: str) -> Path:
        return self.root / "frames" / clip_id

    @staticmethod
    def frame_rel(clip_id: str, index: int) -> str:
        return f"frames/{clip_id}/{index:06d}.jpg"

    def annotations_path(self, clip_id: str) -> Path:
        return self.root / "annotations" / f"{clip_id}.json"

    def matching_path(self, pair_id: str) -> Path:
        return self.root / "matching" / f"{pair_id}.json"

    def split_path(self, name: str) -> Path:
        return self.root / "splits" / f"{name}.json"

    @property
    def crops_dir(self) -> Path:
        return self.root / "crops"

    def path(self, rel: str) -> Path:
        return resolve_inside(self.root, rel)

    # --- loading
    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def manifest(self) -> Manifest:
        if not self.manifest_path.is_file():
            raise MissingFileError(self.manifest_path, "no dataset.json: is this a vrai-tools dataset root?")
        return load_model(self.manifest_path, Manifest)

    def annotations(self, clip_id: str, manifest: Manifest | None = None) -> ClipAnnotations:
        """The clip's annotations; an empty document when none were saved yet."""
        p = self.annotations_path(clip_id)
        if p.exists():
            return load_model(p, ClipAnnotations)
        m = manifest or self.manifest()
        clip = m.clip(clip_id)
        return ClipAnnotations(clip_id=clip_id, image_size=(clip.width, clip.height))

    def matching(self, pair_id: str) -> PairMatching:
        p = self.matching_path(pair_id)
        if p.exists():
            return load_model(p, PairMatching)
        return PairMatching(pair_id=pair_id)

    def split(self, name: str) -> Split:
        p = self.split_path(name)
        if not p.exists():
            have = sorted(x.stem for x in (self.root / "splits").glob("*.json"))
            raise MissingFileError(p, f"no split named {name!r} (have: {', '.join(have) or 'none'})")
        return load_model(p, Split)

    def split_names(self) -> list[str]:
        return sorted(x.stem for x in (self.root / "splits").glob("*.json"))

    def iter_annotations(self, manifest: Manifest | None = None) -> Iterator[ClipAnnotations]:
        m = manifest or self.manifest()
        for clip in m.clips:
            yield self.annotations(clip.id, m)

    # --- saving
    def save_manifest(self, manifest: Manifest) -> None:
        save_model(self.manifest_path, manifest)

    def save_annotations(self, ann: ClipAnnotations) -> None:
        save_model(self.annotations_path(ann.clip_id), ann)

    def save_matching(self, matching: PairMatching) -> None:
        save_model(self.matching_path(matching.pair_id), matching)

    def save_split(self, split: Split) -> None:
        save_model(self.split_path(split.name), split)

    # --- locks
    def lock_clip(self, clip_id: str, user: str | None = None) -> FileLock:
        return FileLock(self.annotations_path(clip_id), user)

    def lock_pair(self, pair_id: str, user: str | None = None) -> FileLock:
        return FileLock(self.matching_path(pair_id), user)

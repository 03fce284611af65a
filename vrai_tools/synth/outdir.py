"""Never clobber user data: where a synthetic dataset may be written, and swapping it in.

``OUT`` may be missing, empty, or a previous ``vrai-tools synth`` output that nobody has
touched since: ``synth.json`` records the SHA-256 of every JSON file synth wrote, so an
annotation file edited by hand (say after ``--annotate none``), a file synth did not write,
or an edit lock makes us refuse. Derived folders (``splits/``, ``crops/``) may be replaced.

The new dataset is written into ``OUT/.synth-tmp-<pid>/`` and only moved into place once
complete; a failed run leaves the previous output as it was.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from .config import SynthError

__all__ = ["MARKER", "TRUTH", "check_replaceable", "commit", "file_hashes", "tmp_dir"]

MARKER = "synth.json"
TRUTH = "synth_truth.json"
GENERATOR = "vrai-tools synth"
OWNED = {"dataset.json", MARKER, TRUTH, "videos", "frames", "annotations", "matching", "splits", "crops"}
_TMP_PREFIX = ".synth-tmp-"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_hashes(root: Path) -> dict[str, str]:
    """SHA-256 of the JSON files synth writes (the ones a person might edit afterwards)."""
    out = {}
    for p in [root / "dataset.json", root / TRUTH, *sorted((root / "annotations").glob("*.json")),
              *sorted((root / "matching").glob("*.json"))]:
        if p.is_file():
            out[p.relative_to(root).as_posix()] = sha256(p)
    return out


def check_replaceable(out: Path) -> None:
    """Raise :class:`SynthError` unless writing a dataset at ``out`` can lose nothing."""
    if not out.exists():
        return
    if not out.is_dir():
        raise SynthError(f"{out}: exists and is not a folder")
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    marker = out / MARKER
    try:
        doc = json.loads(marker.read_text(encoding="utf-8"))
        recorded = doc["files"] if doc.get("generator") == GENERATOR else None
    except (OSError, ValueError, KeyError, TypeError):
        recorded = None
    if not isinstance(recorded, dict):
        raise SynthError(f"{out}: the folder is not empty and is not a vrai-tools synth output "
                         f"(no valid {MARKER}); refusing to write into it - choose a new or empty folder")
    for sub in ("annotations", "matching", ""):
        folder = out / sub if sub else out
        for lock in sorted(folder.glob("*.lock")) if folder.is_dir() else []:
            raise SynthError(f"{lock}: a file of this dataset is being edited; refusing to replace it")
    foreign = [e for e in entries if e not in OWNED and not e.startswith(_TMP_PREFIX)]
    if foreign:
        raise SynthError(f"{out}: holds {', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}, which synth did "
                         f"not write; refusing to replace this dataset (move them away or choose another folder)")
    for sub in ("annotations", "matching"):
        folder = out / sub
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            rel = p.relative_to(out).as_posix()
            if rel not in recorded:
                raise SynthError(f"{p}: was not written by synth (added by hand?); refusing to replace this dataset")
    for rel, digest in sorted(recorded.items()):
        p = out / rel
        if p.is_file() and sha256(p) != digest:
            raise SynthError(f"{p}: changed since synth wrote it (annotated by hand?); refusing to replace this "
                             f"dataset - choose another folder, or delete it yourself if the changes can go")


def tmp_dir(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f"{_TMP_PREFIX}{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    return tmp


def commit(tmp: Path, out: Path) -> None:
    """Move the finished dataset from ``tmp`` into ``out``: old entries first into ``tmp/.old``
    (so nothing is lost if we are killed half-way), the marker last, then drop ``tmp``."""
    old = tmp / ".old"
    old.mkdir()
    for p in sorted(out.iterdir()):
        if p == tmp:
            continue
        if p.name in OWNED or p.name.startswith(_TMP_PREFIX):
            os.replace(p, old / p.name)
    new = sorted((p for p in tmp.iterdir() if p.name != ".old"), key=lambda p: p.name == MARKER)
    for p in new:
        os.replace(p, out / p.name)
    shutil.rmtree(tmp)

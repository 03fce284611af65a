"""Shared base model and the named field types every document reuses.

We own the on-disk format, so unknown fields are errors (``extra="forbid"``):
a typo in a hand-edited file must not be silently dropped.
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class VraiModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=False)


def _check_rel_path(value: str) -> str:
    """Paths in our files are relative POSIX paths that stay inside the dataset root."""
    if not value:
        raise ValueError("empty path")
    if "\\" in value:
        raise ValueError(f"path {value!r} uses backslashes; write it with '/'")
    p = PurePosixPath(value)
    if p.is_absolute() or re.match(r"^[A-Za-z]:", value):
        raise ValueError(f"path {value!r} is absolute; paths must be relative to the dataset root")
    if any(part == ".." for part in p.parts):
        raise ValueError(f"path {value!r} leaves the dataset root ('..')")
    return value


def _check_box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = box
    if not (x1 < x2 and y1 < y2):
        raise ValueError(f"box {list(box)} must have x1 < x2 and y1 < y2")
    return box


_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _check_id(value: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError(
            f"id {value!r} may contain only letters, digits, '_', '-', '.' and must not start with a symbol"
        )
    return value


def _check_key(value: str) -> str:
    clip, sep, n = value.rpartition(":")
    if not sep or not clip or not n.isdigit():
        raise ValueError(f"instance key {value!r} must look like '<clip_id>:<n>'")
    _check_id(clip)
    return value


RelPath = Annotated[str, AfterValidator(_check_rel_path)]
Identifier = Annotated[str, AfterValidator(_check_id)]
InstanceKey = Annotated[str, AfterValidator(_check_key)]
FrameIndex = Annotated[int, Field(ge=0)]
VehicleId = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0)]
Point = tuple[float, float]
XyxyBox = Annotated[tuple[float, float, float, float], AfterValidator(_check_box)]
Camera = Literal["A", "B"]


def clip_of_key(key: str) -> str:
    """The clip id part of an instance key ``<clip_id>:<n>``."""
    return key.rpartition(":")[0]

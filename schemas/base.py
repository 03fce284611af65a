"""Shared base model and the named field types every document reuses.

We own the on-disk format, so unknown fields are errors (``extra="forbid"``):
a typo in a hand-edited file must not be silently dropped.
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

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


RelPath = Annotated[str, AfterValidator(_check_rel_path)]
# Patterns rather than Python validators: they run in pydantic-core, and keys are
# validated 137k times per load of a VRAI-sized dataset.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*:[0-9]+$"
Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
InstanceKey = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
FrameIndex = Annotated[int, Field(ge=0)]
VehicleId = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0)]
Point = tuple[float, float]
XyxyBox = Annotated[tuple[float, float, float, float], AfterValidator(_check_box)]
Camera = Literal["A", "B"]


def clip_of_key(key: str) -> str:
    """The clip id part of an instance key ``<clip_id>:<n>``."""
    return key.rpartition(":")[0]

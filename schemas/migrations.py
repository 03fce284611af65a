"""Upgrading older files: a registry of pure ``migrate_vN_to_vN1(dict) -> dict`` functions.

The version is read from ``schema_version``, never guessed by trial validation.
"""
from __future__ import annotations

from typing import Any, Callable

Migration = Callable[[dict[str, Any]], dict[str, Any]]


def migrate_annotations_v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """v1 stored parts as a bare list plus ``parts_done``; it could not tell 'not done' from 'none found'.

    v2 has ``parts: {state, boxes}``. A v1 instance with boxes is ``done``; one marked
    done without boxes is ``none``; anything else is ``todo``.
    """
    out = dict(doc)
    instances = []
    for inst in doc.get("instances", []):
        inst = dict(inst)
        boxes = inst.pop("parts", []) or []
        done = bool(inst.pop("parts_done", False))
        state = "done" if boxes else ("none" if done else "todo")
        inst["parts"] = {"state": state, "boxes": boxes}
        instances.append(inst)
    out["instances"] = instances
    out["schema_version"] = 2
    return out


# kind -> {from_version: migration to from_version + 1}
MIGRATIONS: dict[str, dict[int, Migration]] = {
    "clip-annotations": {1: migrate_annotations_v1_to_v2},
}


def upgrade(kind: str, doc: dict[str, Any], current: int) -> dict[str, Any]:
    """Run the chain of migrations from the file's version up to ``current``.

    Raises ValueError when the version is missing, unknown, or newer than this program.
    """
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"schema_version: missing or not an integer ({version!r})")
    if version > current:
        raise ValueError(f"schema_version: {version} is newer than this vrai-tools understands ({current}); upgrade vrai-tools")
    steps = MIGRATIONS.get(kind, {})
    while version < current:
        if version not in steps:
            raise ValueError(f"schema_version: {version} is unknown for a {kind} file (current is {current})")
        doc = steps[version](doc)
        version = doc["schema_version"]
    return doc

"""Typed errors. Library code raises these; the CLI turns them into one readable line."""
from __future__ import annotations

from pathlib import Path


class VraiToolsError(Exception):
    """Base of every error we expect a user to see."""


class DatasetFileError(VraiToolsError):
    """A file of ours could not be loaded. ``str()`` is ``file: field: message``."""

    def __init__(self, path: Path | str, message: str, field: str | None = None) -> None:
        self.path = Path(path)
        self.field = field
        self.message = message
        where = f"{self.path}: {field}: " if field else f"{self.path}: "
        super().__init__(where + message)


class MalformedJSONError(DatasetFileError):
    pass


class SchemaVersionError(DatasetFileError):
    pass


class SchemaValidationError(DatasetFileError):
    def __init__(self, path: Path | str, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        field, message = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(path, message + more, field or None)


class MissingFileError(DatasetFileError):
    pass


class UnsafePathError(VraiToolsError):
    """A path inside one of our files that is absolute or leaves the dataset root."""


class LockedError(VraiToolsError):
    def __init__(self, path: Path, holder: dict[str, object]) -> None:
        self.path = path
        self.holder = holder
        super().__init__(
            f"{path} is being edited by {holder.get('user')}@{holder.get('host')} "
            f"(pid {holder.get('pid')}, since {holder.get('since')})"
        )


class VideoError(VraiToolsError):
    pass


class SplitError(VraiToolsError):
    pass


class FormatError(VraiToolsError):
    """An external format (release pickle, COCO, ...) could not be read or written."""

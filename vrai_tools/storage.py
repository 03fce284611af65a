"""Reading and writing our JSON files: atomic writes, typed load errors, migrations, locks.

Every file write goes through :func:`atomic_write_text` (temp file in the same folder,
fsync, rename), so a crash leaves either the old file or the new one, never half of one.
"""
from __future__ import annotations

import getpass
import json
import os
import socket
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from schemas import current_version, kind_of
from schemas.migrations import upgrade

from .errors import (
    DatasetFileError,
    LockedError,
    MalformedJSONError,
    MissingFileError,
    SchemaValidationError,
    SchemaVersionError,
)

M = TypeVar("M", bound=BaseModel)


def _read_umask() -> int:
    umask = os.umask(0o022)  # the only way to read it; done once, at import, before any thread
    os.umask(umask)
    return umask


_UMASK = _read_umask()


def file_mode(path: Path) -> int:
    """The permissions a rewrite of ``path`` should get: the file's own if it exists, else
    what ``open()`` would give under the umask. ``mkstemp`` makes 0600 files, which would
    lock the other annotators of a shared dataset out of every file we ever rewrote."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_UMASK


def temp_beside(path: Path) -> tuple[int, str]:
    """A temporary file in ``path``'s folder (same file system, so the rename is atomic)
    with the permissions ``path`` should end up with."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode(path))
    except OSError:
        pass  # a file system without permissions (e.g. FAT on a USB disk)
    return fd, tmp


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    fd, tmp = temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def dump_model(model: BaseModel) -> str:
    """Deterministic JSON: same document, same bytes (sorted keys, no timestamps added)."""
    data = model.model_dump(mode="json")
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def save_model(path: Path, model: BaseModel) -> None:
    atomic_write_text(path, dump_model(model))


def format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def validation_problems(err: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for e in err.errors(include_url=False):
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        if e["type"] == "missing":
            msg = "required field is missing"
        elif e["type"] == "extra_forbidden":
            msg = f"unknown field (value {e.get('input')!r})"
        problems.append((format_loc(tuple(e["loc"])), msg))
    return problems


def read_json(path: Path) -> Any:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MissingFileError(path, "file not found") from None
    except UnicodeDecodeError as e:
        raise MalformedJSONError(path, f"not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise DatasetFileError(path, f"cannot read: {e.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise MalformedJSONError(path, f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None


def parse_model(path: Path, data: Any, model: type[M]) -> M:
    """Validate already-parsed JSON as ``model``, migrating older versions first."""
    if not isinstance(data, dict):
        raise SchemaValidationError(path, [("", f"expected a JSON object, found {type(data).__name__}")])
    try:
        data = upgrade(kind_of(model), data, current_version(model))
    except ValueError as e:
        raise SchemaVersionError(path, str(e).partition(": ")[2], "schema_version") from None
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise SchemaValidationError(path, validation_problems(e)) from None


def load_model(path: Path, model: type[M]) -> M:
    return parse_model(path, read_json(path), model)


# ----------------------------------------------------------------------------- locks


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return os.environ.get("USER", "unknown")


class FileLock:
    """An advisory edit lock ``<file>.lock`` naming its holder (user, host, pid, since).

    Created with O_EXCL so two annotators can never both hold it. A lock whose process
    is dead on this host is *stale*; it is only broken when asked (``break_stale=True``
    or :meth:`break_lock`), never silently.
    """

    def __init__(self, target: Path, user: str | None = None) -> None:
        self.target = Path(target)
        self.path = self.target.with_name(self.target.name + ".lock")
        self.user = user or current_user()
        self.held = False

    def holder(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError):
            return {"user": "?", "host": "?", "pid": -1, "since": "?"}

    def is_stale(self) -> bool:
        h = self.holder()
        if h is None:
            return False
        return h.get("host") == socket.gethostname() and not _pid_alive(int(h.get("pid", -1)))

    def acquire(self, break_stale: bool = False) -> "FileLock":
        if break_stale and self.is_stale():
            self.break_lock()
        info = {
            "user": self.user,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise LockedError(self.target, self.holder() or {}) from None
        with os.fdopen(fd, "w") as fh:
            json.dump(info, fh)
            fh.flush()
            os.fsync(fh.fileno())
        self.held = True
        return self

    def release(self) -> None:
        if self.held:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            self.held = False

    def break_lock(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> "FileLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

"""Loading pickles we did not write, without letting them run code.

A pickle names callables ("globals") that the loader imports and calls; a hostile
``train_annotation.pkl`` can name ``os.system``. :class:`RestrictedUnpickler` admits a
short allow-list — the types plain containers and scalars need, and numpy's array/dtype/
scalar reconstructors because the official release may hold numpy arrays — and refuses
everything else *before* importing it, so nothing named by a refused global ever runs.

Python 2 pickles store byte strings; they are tried as ASCII first and, when that fails,
again with ``encoding="latin1"`` (numpy's advice for Python-2 arrays).
"""
from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import FormatError

# (module, name) pairs a data-only pickle needs. Python-2 names are normalised first.
ALLOWED: frozenset[tuple[str, str]] = frozenset({
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "list"), ("builtins", "dict"),
    ("builtins", "tuple"), ("builtins", "int"), ("builtins", "float"), ("builtins", "complex"),
    ("builtins", "bool"), ("builtins", "str"), ("builtins", "bytes"), ("builtins", "bytearray"),
    ("builtins", "object"),
    ("collections", "OrderedDict"), ("collections", "defaultdict"),
    ("_codecs", "encode"),  # how protocol 2 spells a bytes object
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
})
PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class UnsafePickleError(FormatError):
    """The pickle names a global outside the allow-list; nothing was executed."""


class RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, *, encoding: str = "ASCII", source: str = "<pickle>") -> None:
        super().__init__(file, encoding=encoding, errors="strict")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        mod = PY2_MODULES.get(module, module)
        if (mod, name) not in ALLOWED:
            raise UnsafePickleError(
                f"{self.source}: refused to load the pickle: it names the global {module}.{name}, "
                f"and only plain containers, scalars and numpy arrays are allowed (nothing was executed)")
        if mod.startswith("numpy.core."):  # numpy >= 2 moved numpy.core to numpy._core
            try:
                import numpy._core  # noqa: F401

                mod = "numpy._core." + mod[len("numpy.core."):]
            except ImportError:
                pass
        return super().find_class(mod, name)


@dataclass(frozen=True)
class LoadedPickle:
    value: Any
    encoding: str  # "ASCII" (Python 3, or Python 2 with ASCII-only strings) or "latin1"


def loads(data: bytes, source: str = "<pickle>") -> LoadedPickle:
    first: Exception | None = None
    for encoding in ("ASCII", "latin1"):
        try:
            value = RestrictedUnpickler(io.BytesIO(data), encoding=encoding, source=source).load()
            return LoadedPickle(value, encoding)
        except UnsafePickleError:
            raise
        except Exception as e:  # malformed data raises almost anything: report it as one line
            first = first or e
    raise FormatError(f"{source}: not a readable pickle ({type(first).__name__}: {first})")


def load(path: Path) -> LoadedPickle:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FormatError(f"{path}: file not found") from None
    except OSError as e:
        raise FormatError(f"{path}: cannot read: {e.strerror}") from None
    return loads(data, str(path))


def dumps(value: Any) -> bytes:
    """Protocol 2: readable by the Python 2 tools of the paper's era as well as Python 3."""
    return pickle.dumps(value, protocol=2)


def to_plain(value: Any) -> Any:
    """numpy arrays and scalars -> lists and Python numbers, recursively (keys too)."""
    if isinstance(value, dict):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return [to_plain(v) for v in sorted(value, key=repr)]
    if isinstance(value, bytes):
        return value.decode("latin1")
    tolist = getattr(value, "tolist", None)  # numpy arrays and numpy scalars
    if tolist is not None and type(value).__module__.startswith("numpy"):
        return to_plain(tolist())
    return value

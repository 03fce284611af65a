"""Atomic writes and edit locks."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vrai_tools.errors import LockedError
from vrai_tools.storage import FileLock, atomic_write_text


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a" / "doc.json"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["doc.json"]


def test_atomic_write_gives_shared_datasets_normal_permissions(tmp_path: Path) -> None:
    """Other annotators must be able to read what one of them saved (mkstemp alone gives 0600)."""
    from vrai_tools import storage

    new = tmp_path / "new.json"
    atomic_write_text(new, "x")
    assert new.stat().st_mode & 0o777 == 0o666 & ~storage._UMASK
    kept = tmp_path / "kept.json"
    kept.write_text("old")
    kept.chmod(0o640)
    atomic_write_text(kept, "new")
    assert kept.read_text() == "new" and kept.stat().st_mode & 0o777 == 0o640  # a rewrite keeps the file's mode


def test_failed_write_keeps_old_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "doc.json"
    atomic_write_text(target, "old")

    def boom(*a: object, **k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]


def test_second_writer_is_told_who_holds_the_lock(tmp_path: Path) -> None:
    target = tmp_path / "clip.json"
    first = FileLock(target, user="alice").acquire()
    with pytest.raises(LockedError, match=r"being edited by alice@.*\(pid \d+, since "):
        FileLock(target, user="bob").acquire()
    assert not FileLock(target).is_stale()  # this process is alive
    first.release()
    with FileLock(target, user="bob"):
        assert FileLock(target).holder()["user"] == "bob"  # type: ignore[index]
    assert FileLock(target).holder() is None


def test_stale_lock_is_broken_only_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "clip.json"
    code = f"from vrai_tools.storage import FileLock; FileLock({str(target)!r}, user='ghost').acquire()"
    subprocess.run([sys.executable, "-c", code], check=True)  # exits without releasing: a crash
    lock = FileLock(target, user="me")
    assert lock.is_stale()
    with pytest.raises(LockedError, match="ghost"):
        lock.acquire()
    lock.acquire(break_stale=True)
    assert lock.holder()["user"] == "me"  # type: ignore[index]

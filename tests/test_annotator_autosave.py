"""Autosave: on disk within 2 s, atomic, off the UI thread; a failed save is said and retried."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

from annotator import autosave  # noqa: E402
from annotator.autosave import Autosaver  # noqa: E402
from schemas import ClipAnnotations  # noqa: E402
from tests.annotator_fixtures import SynthClip, load_document, synth_clip  # noqa: E402,F401
from vrai_tools.errors import MalformedJSONError  # noqa: E402
from vrai_tools.storage import dump_model, load_model  # noqa: E402

QUAD = [(10.0, 10.0), (40.0, 12.0), (38.0, 30.0), (9.0, 28.0)]


def test_each_change_is_on_disk_within_two_seconds_written_off_the_ui_thread(
        qtbot, synth_clip: SynthClip, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = load_document(synth_clip.root)
    saver = Autosaver(doc)
    writers: list[tuple[str, float]] = []
    real = autosave.write_snapshots

    def spy(items):  # records which thread writes, and when it starts
        writers.append((threading.current_thread().name, time.monotonic()))
        real(items)

    monkeypatch.setattr(autosave, "write_snapshots", spy)
    path = doc.root.annotations_path("p1-A")
    changed = time.monotonic()
    doc.add_instance(0, QUAD)
    assert not doc.is_saved
    # The promise is "on disk within 2 s": the write must *start* within 2 s of the edit; the wait
    # for its result is longer, so a slow CI machine finishing the write late does not flake.
    qtbot.waitUntil(lambda: doc.is_saved, timeout=5000)
    assert load_model(path, ClipAnnotations).instances[0].corners == tuple(QUAD)
    assert writers and all(name != threading.main_thread().name for name, _ in writers)
    assert writers[0][1] - changed < 2.0
    changed = time.monotonic()
    doc.set_frame_done(0, True)
    qtbot.waitUntil(lambda: doc.is_saved, timeout=5000)
    assert len(writers) == 2 and writers[1][1] - changed < 2.0
    assert path.read_text() == dump_model(doc.snapshot())
    assert sorted(p.name for p in path.parent.iterdir()) == ["p1-A.json"]  # no temp files left
    saver.flush()


def test_a_failed_save_keeps_the_document_unsaved_says_why_and_retries(qtbot, synth_clip: SynthClip) -> None:
    doc = load_document(synth_clip.root)
    saver = Autosaver(doc, delay_ms=50, retry_ms=200)
    failures: list[str] = []
    saver.failed.connect(failures.append)
    path = doc.root.annotations_path("p1-A")
    path.mkdir(parents=True)  # a folder where the file should go: every write fails
    doc.add_instance(0, QUAD)
    qtbot.waitUntil(lambda: bool(failures), timeout=2000)
    assert not doc.is_saved and doc.save_error and "p1-A.json" in doc.save_error
    assert saver.flush() is not None and not doc.is_saved
    shutil.rmtree(path)
    qtbot.waitUntil(lambda: doc.is_saved, timeout=3000)  # the retry succeeds
    assert doc.save_error is None and len(load_model(path, ClipAnnotations).instances) == 1


def test_flush_saves_synchronously_and_read_only_documents_never_write(qapp, synth_clip: SynthClip) -> None:
    doc = load_document(synth_clip.root)
    saver = Autosaver(doc, delay_ms=60_000)
    doc.add_instance(1, QUAD)
    assert saver.flush() is None and doc.is_saved
    assert len(load_model(doc.root.annotations_path("p1-A"), ClipAnnotations).instances) == 1
    before = doc.root.annotations_path("p1-A").read_bytes()
    ro = load_document(synth_clip.root, read_only="held by someone")
    assert Autosaver(ro).flush() is None
    assert doc.root.annotations_path("p1-A").read_bytes() == before


def test_a_corrupt_file_is_refused_not_loaded_as_empty(qapp, synth_clip: SynthClip) -> None:
    path = synth_clip.root / "annotations" / "p1-A.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"schema_version": 2, "clip_id": ')
    with pytest.raises(MalformedJSONError, match="p1-A.json"):
        load_document(synth_clip.root)
    assert path.read_text() == '{"schema_version": 2, "clip_id": '

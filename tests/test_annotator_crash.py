"""A crash (SIGKILL) loses at most the last 2 s of edits, and the file it leaves is valid."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from annotator.settings import CONFIG_DIR_ENV  # noqa: E402
from schemas import ClipAnnotations  # noqa: E402
from tests.annotator_fixtures import SynthClip, synth_clip  # noqa: E402,F401
from vrai_tools.storage import FileLock, load_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.gui


def read_log(path: Path) -> list[tuple[str, float]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        key, _, t = line.partition(" ")
        if t:
            out.append((key, float(t)))
    return out


def test_sigkill_loses_at_most_the_last_two_seconds(qtbot, synth_clip: SynthClip, tmp_path: Path) -> None:
    log = tmp_path / "edits.log"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", CONFIG_DIR_ENV: str(tmp_path / "config"),
           "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.annotator_driver", str(synth_clip.root), "p1-A", str(log)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # run until at least 10 edits are older than 2 s (with margin), so the check below has
        # something to check however slowly the driver starts (a fresh venv compiles on first run)
        qtbot.waitUntil(lambda: proc.poll() is not None or
                        sum(1 for _, t in read_log(log) if t <= time.time() - 2.8) >= 10, timeout=60_000)
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        os.kill(proc.pid, signal.SIGKILL)
        killed_at = time.time()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    edits = read_log(log)
    path = synth_clip.root / "annotations" / "p1-A.json"
    on_disk = {i.key for i in load_model(path, ClipAnnotations).instances}  # valid: loads with full validation
    must_have = {key for key, t in edits if t <= killed_at - 2.0}
    assert len(must_have) >= 10
    assert must_have <= on_disk, f"lost {len(must_have - on_disk)} edits older than 2 s"
    assert on_disk <= {key for key, _ in edits}  # nothing invented
    assert FileLock(path).is_stale()  # the dead process's lock is recognised as stale

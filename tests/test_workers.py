"""``vrai_tools.workers``: jobs on spawned processes (or a thread), their progress ticks
counted exactly once, their results and exceptions returned in job order; and
``extract_clips`` on two processes gives what one gives."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from vrai_tools.extract import ClipJob, extract_clips
from vrai_tools.workers import Ticks, run_jobs

try:
    from tests.test_frames import write_counter_video
except ImportError:  # tests/ is not a package: pytest put it on sys.path
    from test_frames import write_counter_video  # type: ignore[no-redef]


def count_to(n: int) -> int:
    """A job: 'frames' 1..n reported as they are done; n == 13 fails half-way."""
    tick = Ticks()
    for done in range(1, n + 1):
        if n == 13 and done == 7:
            raise ValueError("unlucky")
        tick(done)
    tick.finish(n)
    return n * n


@pytest.mark.parametrize("workers", [1, 2])
def test_ticks_results_and_errors_come_back_in_order(workers: int) -> None:
    seen: list[int] = []

    def bar(ticks: Iterator[None]) -> None:
        seen.append(sum(1 for _ in ticks))

    futures = run_jobs(count_to, [5, 40, 13, 100], workers, bar)
    assert [f.done() for f in futures] == [True] * 4
    assert [f.result() for i, f in enumerate(futures) if i != 2] == [25, 1600, 10000]
    with pytest.raises(ValueError, match="unlucky"):
        futures[2].result()
    # every reported frame once; the failed job got as far as its last batch of 16 (none)
    assert seen == [5 + 40 + 100]


def test_extract_on_two_processes_matches_one(tmp_path: Path) -> None:
    videos = [write_counter_video(tmp_path / f"v{i}.mp4", n) for i, n in enumerate((37, 52))]
    results = {}
    for workers in (1, 2):
        ticks: list[int] = []
        jobs = [ClipJob(video=v, pair="p1", camera=cam, clip_id=f"p1-{cam}") for v, cam in zip(videos, "AB")]
        root = tmp_path / f"ds{workers}"
        report = extract_clips(root, jobs, 0.5, workers=workers,
                               progress=lambda t, total: ticks.append(sum(1 for _ in t) - total))
        assert not report.problems and report.manifest_written
        assert ticks == [0]  # the bar ends exactly full
        results[workers] = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.jpg"))}
    assert results[1] and results[1] == results[2]

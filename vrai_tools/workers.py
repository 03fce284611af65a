"""One video per worker process, and one stream of progress ticks back to the parent.

``extract-frames`` and ``synth`` both spend their time in OpenCV on whole videos, so
they run one clip per process (spawned, never forked: a forked child of a process that
holds decoder threads can hang) and report frames done through a queue the parent's
progress bar reads. With a single worker the job runs on a thread of this process instead:
no second or so spent starting a process for a small job.
"""
from __future__ import annotations

import queue
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Callable, Iterator, Sequence, TypeVar

__all__ = ["Ticks", "run_jobs"]

J = TypeVar("J")
R = TypeVar("R")
BATCH = 16  # frames per queue message: one message per frame would cost more than some frames

_queue: Any = None  # in a worker: where its ticks go


def _init_worker(q: Any, single_thread_opencv: bool) -> None:
    global _queue
    _queue = q
    if single_thread_opencv:  # one clip per core: OpenCV's own threads would only fight each other
        import cv2

        cv2.setNumThreads(1)


class Ticks:
    """Called in a worker with the number of frames done so far (a running count)."""

    def __init__(self) -> None:
        self.sent = 0

    def __call__(self, done: int) -> None:
        if _queue is not None and done - self.sent >= BATCH:
            _queue.put(done - self.sent)
            self.sent = done

    def finish(self, total: int) -> None:
        """The job is over: whatever was not reported yet, so the bar ends full."""
        if _queue is not None and total > self.sent:
            _queue.put(total - self.sent)
            self.sent = total


def _drain(q: Any, futures: list[Future[Any]]) -> Iterator[None]:
    while True:
        try:
            n = q.get(timeout=0.1)
        except queue.Empty:
            if all(f.done() for f in futures):
                while True:  # what was queued just before the last worker finished
                    try:
                        n = q.get_nowait()
                    except queue.Empty:
                        return
                    yield from (None for _ in range(n))
            continue
        yield from (None for _ in range(n))


def run_jobs(fn: Callable[[J], R], jobs: Sequence[J], workers: int, progress: Callable[[Iterator[None]], None] | None,
             single_thread_opencv: bool = False) -> list[Future[R]]:
    """Run ``fn(job)`` for every job on ``workers`` processes (a thread when 1) and return the
    finished futures, in job order (``result()`` re-raises a job's exception). ``progress``
    consumes one tick per frame the jobs report through :class:`Ticks`."""
    executor: Executor
    if workers <= 1:
        q: Any = queue.Queue()
        executor = ThreadPoolExecutor(max_workers=1, initializer=_init_worker, initargs=(q, False))
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        q = ctx.Queue()
        executor = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                       initargs=(q, single_thread_opencv))
    try:
        futures = [executor.submit(fn, j) for j in jobs]
        ticks = _drain(q, futures)
        if progress is not None:
            progress(ticks)
        for _ in ticks:
            pass
        return futures
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        if workers <= 1:
            _init_worker(None, False)

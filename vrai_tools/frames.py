"""Sampling frames from a video by presentation timestamp.

VRAI samples a frame every 0.5 s. Counting frames (every 15th at 30 fps) drifts on
variable-frame-rate video, which drones produce when they drop frames, so sample ``k``
is chosen by time: the first decoded frame whose presentation timestamp (PTS) reaches
``k * every`` minus half a frame. A frame that comes so late it already reaches the next
target (a hole in the video) serves only the latest target it reaches; the targets it
jumped over get no frame rather than a duplicate picture.

Speed matters (hours of 4K drone video): every frame must be decoded anyway, but only
the sampled ones are converted to BGR (``retrieve``) and JPEG-encoded, and encoding runs
on a writer thread while the decoder moves on (OpenCV releases the GIL in both).
"""
from __future__ import annotations

import math
import queue
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from .errors import VideoError, VraiToolsError
from .storage import atomic_write_bytes

__all__ = ["IntervalError", "SampleResult", "SampleSelector", "SampledFrame", "frame_name", "iter_pts", "parse_every",
           "sample_video", "select_samples"]


class IntervalError(VraiToolsError):
    """A sampling interval such as ``--every`` could not be understood."""


_EVERY = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|sec|secs|seconds?|ms|fps|hz)?\s*$", re.IGNORECASE)


def parse_every(text: str) -> float:
    """``'0.5s'``, ``'500ms'``, ``'2fps'`` (or a bare number of seconds) -> seconds between samples."""
    m = _EVERY.match(str(text))
    if not m:
        raise IntervalError(f"cannot read sampling interval {text!r}: write e.g. '0.5s', '500ms' or '2fps'")
    value = float(m.group(1))
    unit = (m.group(2) or "s").lower()
    if value <= 0 or not math.isfinite(value):
        raise IntervalError(f"sampling interval {text!r} must be greater than zero")
    if unit == "ms":
        return value / 1000
    if unit in ("fps", "hz"):
        return 1.0 / value
    return value


def frame_name(k: int) -> str:
    """File name of sample ``k`` inside ``frames/<clip_id>/``."""
    return f"{k:06d}.jpg"


# --------------------------------------------------------------------------- selection


class SampleSelector:
    """Decides, frame by frame in decoding order, which sample (if any) a frame becomes.

    Kept apart from decoding so the rule can be tested on hand-written timestamp
    sequences (variable frame rate, holes, jitter) without building such videos.
    """

    def __init__(self, every: float, half_frame: float) -> None:
        if every <= 0:
            raise ValueError(f"every must be > 0, got {every}")
        self.every = every
        self.half_frame = max(0.0, half_frame)
        self.next_k = 0
        self._prev: float | None = None

    def offer(self, pts: float) -> int | None:
        """The sample index this frame (presentation time ``pts`` seconds) becomes, or None.

        "Half a frame" is half the nominal frame period, or half the last frame's actual
        duration where that is shorter: in a fast stretch of a variable-rate video the frame
        a little before the target must not win over the one exactly on it.
        """
        half = self.half_frame
        if self._prev is not None and pts > self._prev:
            half = min(half, 0.5 * (pts - self._prev))
        self._prev = pts
        if pts < self.next_k * self.every - half:
            return None
        # the last target this frame reaches; earlier unserved targets had no frame of their own
        k = max(self.next_k, math.floor((pts + half) / self.every + 1e-9))
        self.next_k = k + 1
        return k


def select_samples(pts: Iterable[float], every: float, half_frame: float) -> list[tuple[int, int]]:
    """``(k, i)`` pairs: sample ``k`` is decoded frame ``i`` of the timestamp sequence ``pts``."""
    sel = SampleSelector(every, half_frame)
    out = []
    for i, t in enumerate(pts):
        k = sel.offer(t)
        if k is not None:
            out.append((k, i))
    return out


# --------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class SampledFrame:
    index: int  # k: sample number, the file is frame_name(k)
    timestamp: float  # PTS of the decoded frame, seconds from the clip start
    video_frame: int  # 0-based number of the decoded frame
    file: str  # file name inside the output folder


@dataclass
class SampleResult:
    frames: list[SampledFrame]
    width: int
    height: int
    fps: float | None
    duration: float | None  # span of the decoded video, seconds
    decoded: int = 0  # frames decoded
    expected: int | None = None  # frames the container announces
    written: int = 0  # JPEGs written by this run
    skipped: int = 0  # JPEGs already on disk and kept
    error: str | None = None  # where decoding stopped, for a truncated or corrupt video
    warnings: list[str] = field(default_factory=list)


class _Writer:
    """JPEG encoding and atomic writes on one background thread, with a short queue
    so at most a few decoded frames wait in memory."""

    _STOP = object()

    def __init__(self, quality: int, depth: int = 4) -> None:
        import cv2

        self._params = [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)]
        self._q: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="jpeg-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import cv2

        while True:
            item = self._q.get()
            if item is self._STOP:
                return
            if self._error is not None:
                continue  # drain after a failure; the decoder learns about it on its next put
            path, img = item  # type: ignore[misc]
            try:
                ok, buf = cv2.imencode(".jpg", img, self._params)
                if not ok:
                    raise VideoError(f"{path}: JPEG encoding failed")
                atomic_write_bytes(path, buf.tobytes())
            except BaseException as e:  # reported to the caller on the main thread
                self._error = e

    def _raise(self) -> None:
        if self._error is not None:
            e = self._error
            if isinstance(e, OSError):
                raise VideoError(f"cannot write frame: {e.strerror or e}: {e.filename or ''}".rstrip(": ")) from None
            raise e

    def put(self, path: Path, img: np.ndarray) -> None:
        self._raise()
        self._q.put((path, img))

    def close(self, raise_errors: bool = True) -> None:
        self._q.put(self._STOP)
        self._thread.join()
        if raise_errors:
            self._raise()


def _open(video: Path):  # type: ignore[no-untyped-def]
    import cv2

    if not video.is_file():
        raise VideoError(f"{video}: video not found" if not video.exists() else f"{video}: not a file")
    try:
        with open(video, "rb") as fh:
            fh.read(1)
    except OSError as e:
        raise VideoError(f"{video}: cannot read video: {e.strerror}") from None
    cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise VideoError(f"{video}: cannot open as a video (corrupt, truncated before its index, or not a video)")
    return cap


def iter_pts(video: Path) -> Iterator[float]:
    """Presentation timestamps (seconds) of every frame, decoding without conversion.

    Used by tests and the benchmark as the 'merely decoding' baseline.
    """
    import cv2

    cap = _open(Path(video))
    try:
        while cap.grab():
            yield cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
    finally:
        cap.release()


def sample_video(video: Path, out_dir: Path, every: float, *, jpeg_quality: int = 95, skip_existing: bool = True,
                 on_frame: Callable[[int], None] | None = None) -> SampleResult:
    """Write sample ``k`` as ``out_dir/<k:06d>.jpg`` for k = 0, 1, ... (``k * every`` seconds).

    A video that cannot be opened raises :class:`VideoError` and writes nothing. A video
    that stops decoding part-way (truncated copy, corrupt data) keeps every sample
    decoded so far and says in ``error`` at which frame and time decoding stopped.
    With ``skip_existing`` a JPEG already on disk is kept and not re-encoded (files are
    written atomically, so one that exists is complete). ``on_frame`` is called with
    the number of frames decoded so far, for progress bars.
    """
    import cv2

    video, out_dir = Path(video), Path(out_dir)
    if every <= 0 or not math.isfinite(every):
        raise IntervalError(f"sampling interval must be greater than zero, got {every}")
    if not 1 <= jpeg_quality <= 100:
        raise ValueError(f"jpeg_quality must be 1..100, got {jpeg_quality}")
    cap = _open(video)
    fps_raw = cap.get(cv2.CAP_PROP_FPS)
    fps = fps_raw if fps_raw and math.isfinite(fps_raw) and 0 < fps_raw < 10_000 else None
    expected_raw = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    expected = int(expected_raw) if expected_raw and math.isfinite(expected_raw) and expected_raw > 0 else None
    width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    frame_period = 1.0 / fps if fps else None
    selector = SampleSelector(every, 0.5 * (frame_period or 1 / 60))
    result = SampleResult(frames=[], width=width, height=height, fps=fps, duration=None, expected=expected)

    out_dir.mkdir(parents=True, exist_ok=True)
    writer = _Writer(jpeg_quality)
    decoded = 0
    last_pts: float | None = None
    last_step = frame_period or 0.0  # the last frame lasts as long as the one before it (VFR-safe)
    stopped_early = False
    try:
        while True:
            if not cap.grab():
                break
            # microsecond rounding: same file, same JSON bytes, whatever the float noise of ms -> s
            pts = max(0.0, round(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, 6))
            k = selector.offer(pts)
            if k is not None:
                name = frame_name(k)
                path = out_dir / name
                if skip_existing and path.is_file() and path.stat().st_size > 0:
                    result.skipped += 1
                else:
                    ok, img = cap.retrieve()
                    if not ok or img is None:
                        stopped_early = True
                        break
                    if (img.shape[1], img.shape[0]) != (width, height) and decoded == 0:
                        width, height = img.shape[1], img.shape[0]
                    writer.put(path, img)
                    result.written += 1
                result.frames.append(SampledFrame(index=k, timestamp=pts, video_frame=decoded, file=name))
            decoded += 1
            if last_pts is not None and pts > last_pts:
                last_step = pts - last_pts
            last_pts = pts
            if on_frame is not None:
                on_frame(decoded)
    finally:
        cap.release()
        writer.close(raise_errors=False)
    writer._raise()

    result.width, result.height = width, height
    result.decoded = decoded
    if last_pts is not None:
        result.duration = round(last_pts + last_step, 6)
    if decoded == 0:
        result.error = f"{video}: no frame could be decoded"
    elif stopped_early or (expected is not None and decoded < expected - 1):
        where = f"after frame {decoded - 1} (t={last_pts:.3f}s)"
        of = f" of {expected} announced" if expected else ""
        result.error = (f"{video}: decoding stopped {where}{of}: the video is truncated or corrupt; "
                        f"kept {len(result.frames)} sampled frame(s)")
    return result

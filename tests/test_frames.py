"""Sampling by presentation timestamp, on real MP4 files written with OpenCV.

Each test video carries its frame number as 10 black/white stripes, which survive MPEG-4
and JPEG compression, so a test can read from the JPEG which decoded frame was sampled.
Variable frame rate and truncation are made by rewriting the MP4's boxes (``stts``
timing table, ``moov`` moved in front of the data) - real files, not mocks.
"""
from __future__ import annotations

import itertools
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from vrai_tools.errors import VideoError, VraiToolsError
from vrai_tools.frames import IntervalError, SampleSelector, parse_every, sample_video, select_samples

BITS = 10
W, H = 160, 120


# --------------------------------------------------------------------------- test videos


def counter_frame(i: int) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    stripe = W // BITS
    for b in range(BITS):
        if (i >> b) & 1:
            img[:, b * stripe:(b + 1) * stripe] = 255
    return img


def read_counter(img: np.ndarray) -> int:
    stripe = W // BITS
    gray = img.mean(axis=2) if img.ndim == 3 else img
    value = 0
    for b in range(BITS):
        if gray[10:-10, b * stripe + 4:(b + 1) * stripe - 4].mean() > 127:
            value |= 1 << b
    return value


def write_counter_video(path: Path, n: int, fps: float = 30.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (W, H))
    assert writer.isOpened()
    for i in range(n):
        writer.write(counter_frame(i))
    writer.release()
    return path


_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"}
_STBL = [b"moov", b"trak", b"mdia", b"minf", b"stbl"]


def _parse(data: bytes) -> list[list]:
    out, i = [], 0
    while i < len(data):
        size, typ = struct.unpack(">I4s", data[i:i + 8])
        body = data[i + 8:i + size]
        out.append([typ, _parse(body) if typ in _CONTAINERS else body])
        i += size
    return out


def _dump(boxes: list[list]) -> bytes:
    out = b""
    for typ, body in boxes:
        payload = _dump(body) if isinstance(body, list) else body
        out += struct.pack(">I4s", 8 + len(payload), typ) + payload
    return out


def _box(boxes: list[list], path: list[bytes]) -> list:
    for item in boxes:
        if item[0] == path[0]:
            return item if len(path) == 1 else _box(item[1], path[1:])
    raise KeyError(path)


def make_vfr(src: Path, dst: Path, durations: list[float]) -> None:
    """Rewrite the MP4's timing table so frame i lasts ``durations[i]`` seconds."""
    boxes = _parse(src.read_bytes())
    mdhd = _box(boxes, [b"moov", b"trak", b"mdia", b"mdhd"])
    timescale = struct.unpack(">I", mdhd[1][12:16])[0]
    ticks = [round(d * timescale) for d in durations]
    _box(boxes, _STBL + [b"stts"])[1] = struct.pack(">II", 0, len(ticks)) + b"".join(
        struct.pack(">II", 1, t) for t in ticks)
    mdhd[1] = mdhd[1][:16] + struct.pack(">I", sum(ticks)) + mdhd[1][20:]
    trak = _box(boxes, [b"moov", b"trak"])
    trak[1] = [b for b in trak[1] if b[0] != b"edts"]  # the edit list would cut the new timeline
    dst.write_bytes(_dump(boxes))


def make_faststart(src: Path, dst: Path) -> None:
    """Move the index (``moov``) before the data, as cameras and ``-movflags faststart`` do,
    so that a file cut short still opens and decodes up to the cut."""
    boxes = _parse(src.read_bytes())
    moov = _box(boxes, [b"moov"])
    shift = len(_dump([moov]))
    stco = _box(boxes, _STBL + [b"stco"])
    n = struct.unpack(">I", stco[1][4:8])[0]
    offsets = struct.unpack(f">{n}I", stco[1][8:8 + 4 * n])
    stco[1] = stco[1][:8] + struct.pack(f">{n}I", *(o + shift for o in offsets))
    rest = [b for b in boxes if b[0] != b"moov"]
    i = [b[0] for b in rest].index(b"mdat")
    dst.write_bytes(_dump(rest[:i] + [moov] + rest[i:]))


def truncated_video(tmp_path: Path, n: int = 60, keep: float = 0.5) -> Path:
    src = write_counter_video(tmp_path / "full.mp4", n)
    fast = tmp_path / "fast.mp4"
    make_faststart(src, fast)
    data = fast.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * keep)])
    return cut


def jpeg_counter(path: Path) -> int:
    img = cv2.imread(str(path))
    assert img is not None, path
    return read_counter(img)


# --------------------------------------------------------------------------- parse_every


@pytest.mark.parametrize("text, seconds", [
    ("0.5s", 0.5), ("500ms", 0.5), ("2fps", 0.5), ("1", 1.0), (" 0.25 s ", 0.25), ("10Hz", 0.1), ("1.5sec", 1.5),
])
def test_parse_every_accepts_seconds_milliseconds_and_rates(text: str, seconds: float) -> None:
    assert parse_every(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "fast", "0s", "0fps", "-1s", "1min", "1e3", "nan"])
def test_parse_every_refuses_bad_text_with_a_user_error(text: str) -> None:
    with pytest.raises(IntervalError) as e:
        parse_every(text)
    assert isinstance(e.value, VraiToolsError)
    assert repr(text) in str(e.value)


# --------------------------------------------------------------------------- selection rule


def test_constant_rate_picks_every_fifteenth_frame_at_30fps() -> None:
    pts = [i / 30 for i in range(91)]
    assert select_samples(pts, 0.5, 0.5 / 30) == [(k, 15 * k) for k in range(7)]


def test_selection_tolerates_timestamp_jitter_of_less_than_half_a_frame() -> None:
    pts = [i / 30 + (0.004 if i % 2 else -0.004) for i in range(61)]
    pts[0] = 0.0
    assert [i for _, i in select_samples(pts, 0.5, 0.5 / 30)] == [0, 15, 30, 45, 60]


def test_variable_frame_rate_is_sampled_by_time_not_by_count() -> None:
    # 1 s at 30 fps, then 1 s at 10 fps, then 1 s at 60 fps
    pts = [i / 30 for i in range(30)] + [1 + i / 10 for i in range(10)] + [2 + i / 60 for i in range(61)]
    got = select_samples(pts, 0.5, 0.5 / 30)
    assert [k for k, _ in got] == [0, 1, 2, 3, 4, 5, 6]
    assert [round(pts[i], 4) for _, i in got] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


def test_a_frame_within_half_a_frame_before_the_target_is_taken() -> None:
    pts = [0.0, 0.49, 0.6]
    assert select_samples(pts, 0.5, 0.02) == [(0, 0), (1, 1)]
    assert select_samples(pts, 0.5, 0.005) == [(0, 0), (1, 2)]


def test_a_hole_in_the_video_skips_targets_instead_of_duplicating_a_frame() -> None:
    pts = [0.0, 0.1, 0.2, 1.7, 1.8, 2.0]  # nothing between 0.2 s and 1.7 s
    got = select_samples(pts, 0.5, 0.01)
    assert got == [(0, 0), (3, 3), (4, 5)]  # targets 0.5 and 1.0 had no frame; 1.7 serves 1.5
    assert len({i for _, i in got}) == len(got)


def test_selector_refuses_a_zero_interval() -> None:
    with pytest.raises(ValueError):
        SampleSelector(0, 0.01)


# --------------------------------------------------------------------------- real videos


def test_constant_rate_mp4_end_to_end(tmp_path: Path) -> None:
    video = write_counter_video(tmp_path / "clip.mp4", 50, fps=30)
    seen: list[int] = []
    r = sample_video(video, tmp_path / "out", 0.5, on_frame=seen.append)
    assert r.error is None
    assert (r.width, r.height, r.fps, r.decoded, r.expected) == (W, H, 30.0, 50, 50)
    assert r.duration == pytest.approx(50 / 30, abs=1e-6)
    assert [(f.index, f.video_frame, f.file) for f in r.frames] == [
        (0, 0, "000000.jpg"), (1, 15, "000001.jpg"), (2, 30, "000002.jpg"), (3, 45, "000003.jpg")]
    assert [f.timestamp for f in r.frames] == pytest.approx([0.0, 0.5, 1.0, 1.5], abs=1e-6)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f.file for f in r.frames]
    assert [jpeg_counter(tmp_path / "out" / f.file) for f in r.frames] == [0, 15, 30, 45]
    assert seen == list(range(1, 51))
    assert r.written == 4 and r.skipped == 0


def test_variable_frame_rate_mp4_end_to_end(tmp_path: Path) -> None:
    # 30 fps, 10 fps, 60 fps, then a 1.2 s hole (dropped frames) and 30 fps again
    durations = [1 / 30] * 30 + [1 / 10] * 10 + [1 / 60] * 30 + [1.2] + [1 / 30] * 9
    src = write_counter_video(tmp_path / "cfr.mp4", len(durations))
    vfr = tmp_path / "vfr.mp4"
    make_vfr(src, vfr, durations)
    pts = [0.0] + list(itertools.accumulate(durations))[:-1]
    r = sample_video(vfr, tmp_path / "out", 0.5)
    assert r.error is None
    expected = select_samples(pts, 0.5, 0.5 / r.fps)  # type: ignore[operator]
    assert [(f.index, f.video_frame) for f in r.frames] == expected
    assert [f.timestamp for f in r.frames] == pytest.approx([pts[i] for _, i in expected], abs=1e-3)
    # counting frames (every 15th) would take frames 0, 15, 30, 45, 60, 75 at 0, 0.5, 1, 2.08, 2.33, 3.83 s
    assert [f.index for f in r.frames] == [0, 1, 2, 3, 4, 5, 7]  # 3.0 s fell in the hole
    assert [round(f.timestamp, 3) for f in r.frames] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.7]
    assert [f.video_frame for f in r.frames] == [0, 15, 30, 35, 40, 70, 71]
    assert [jpeg_counter(tmp_path / "out" / f.file) for f in r.frames] == [i for _, i in expected]


def test_rerun_skips_jpegs_on_disk_and_rewrites_missing_ones(tmp_path: Path) -> None:
    video = write_counter_video(tmp_path / "clip.mp4", 40)
    out = tmp_path / "out"
    first = sample_video(video, out, 0.5)
    stamp = (out / "000000.jpg").stat().st_mtime_ns
    (out / "000001.jpg").unlink()
    again = sample_video(video, out, 0.5)
    assert (again.written, again.skipped) == (1, first.written - 1)
    assert again.frames == first.frames
    assert (out / "000000.jpg").stat().st_mtime_ns == stamp
    assert jpeg_counter(out / "000001.jpg") == 15


def test_truncated_mp4_keeps_the_decodable_frames_and_says_where_it_stopped(tmp_path: Path) -> None:
    cut = truncated_video(tmp_path, n=60, keep=0.5)
    r = sample_video(cut, tmp_path / "out", 0.5)
    assert r.expected == 60
    assert 0 < r.decoded < 59
    assert r.error is not None
    assert f"decoding stopped after frame {r.decoded - 1}" in r.error
    assert "of 60 announced" in r.error and str(cut) in r.error
    assert 1 <= len(r.frames) < 4
    for f in r.frames:  # every registered sample is a real, readable JPEG of the right frame
        assert (tmp_path / "out" / f.file).is_file()
    assert jpeg_counter(tmp_path / "out" / r.frames[0].file) == 0


def test_video_without_index_is_refused_before_writing_anything(tmp_path: Path) -> None:
    src = write_counter_video(tmp_path / "clip.mp4", 30)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])  # index is at the end: gone
    with pytest.raises(VideoError, match="cannot open as a video"):
        sample_video(cut, tmp_path / "out", 0.5)
    assert not (tmp_path / "out").exists()


def test_missing_video_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="video not found"):
        sample_video(tmp_path / "nope.mp4", tmp_path / "out", 0.5)
    assert not (tmp_path / "out").exists()


def test_interval_longer_than_the_video_gives_the_first_frame_only(tmp_path: Path) -> None:
    video = write_counter_video(tmp_path / "clip.mp4", 10)
    r = sample_video(video, tmp_path / "out", 5.0)
    assert [(f.index, f.video_frame) for f in r.frames] == [(0, 0)]

"""``vrai-tools extract-frames`` end to end: real MP4s and SRTs in tmp_path, CliRunner."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from schemas import Manifest
from vrai_tools.cli import cli
from vrai_tools.dataset import DatasetRoot
from vrai_tools.telemetry import TelemetryRecord, write_srt

try:
    from tests.test_frames import jpeg_counter, truncated_video, write_counter_video
except ImportError:  # tests/ is not a package: pytest put it on sys.path
    from test_frames import jpeg_counter, truncated_video, write_counter_video  # type: ignore[no-redef]


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, ["extract-frames", *map(str, args)])


def manifest(root: Path) -> Manifest:
    return DatasetRoot(root).manifest()


def per_frame_srt(path: Path, n: int, fps: float = 30.0) -> None:
    """A per-frame bracketed sidecar: altitude climbs 1 m per frame, clock starts 10:00:00."""
    recs = [TelemetryRecord(index=i + 1, start=round(i / fps, 3), end=round((i + 1) / fps, 3),
                            abs_time=datetime(2019, 5, 19, 10, 0, 0) + timedelta(milliseconds=round(i / fps * 1000)),
                            latitude=31.0 + i * 1e-5, longitude=121.0, altitude=20.0 + i)
            for i in range(n)]
    write_srt(path, recs, "bracketed")


@pytest.fixture
def pair_videos(tmp_path: Path) -> tuple[Path, Path]:
    src = tmp_path / "card"
    src.mkdir()
    a = write_counter_video(src / "DJI_0001.MP4", 40)
    b = write_counter_video(src / "DJI 0002 (copy).MP4", 31)
    per_frame_srt(src / "DJI_0001.SRT", 40)
    return a, b


def test_help_has_an_example() -> None:
    r = run("--help")
    assert r.exit_code == 0
    assert "vrai-tools extract-frames DJI_0012.MP4 DJI_0345.MP4" in r.output
    assert "--clip PAIR:CAMERA:VIDEO" in r.output and "--every" in r.output


def test_two_cameras_of_a_pair_are_registered_with_telemetry(tmp_path: Path, pair_videos: tuple[Path, Path]) -> None:
    a, b = pair_videos
    root = tmp_path / "ds"
    r = run(a, b, "--root", root, "--pair", "crossing1", "--camera", "A", "--camera", "B")
    assert r.exit_code == 0, r.output
    m = manifest(root)
    assert m.name == "ds" and m.sample_every == 0.5
    assert [p.id for p in m.pairs] == ["crossing1"]
    ca, cb = m.pair_clips("crossing1")["A"], m.pair_clips("crossing1")["B"]
    assert (ca.id, cb.id) == ("DJI_0001", "DJI_0002_copy")  # stem made a valid id
    assert (ca.width, ca.height, ca.fps) == (160, 120, 30.0)
    assert ca.duration == pytest.approx(40 / 30, abs=1e-6)
    # videos outside the root are brought in; recorded paths are relative and inside
    assert ca.video == "videos/DJI_0001.MP4" and ca.telemetry == "videos/DJI_0001.SRT"
    assert cb.video == "videos/DJI_0002_copy.MP4" and cb.telemetry is None
    assert (root / ca.video).read_bytes() == a.read_bytes()
    assert "outside the dataset root" in r.output
    assert [f.index for f in ca.frames] == [0, 1, 2]
    assert [f.file for f in ca.frames] == [f"frames/DJI_0001/{k:06d}.jpg" for k in range(3)]
    assert [jpeg_counter(root / f.file) for f in ca.frames] == [0, 15, 30]
    # telemetry per frame, from the record covering the frame's time
    f1 = ca.frames[1]
    assert f1.timestamp == pytest.approx(0.5) and f1.video_frame == 15
    assert f1.altitude == 35.0 and f1.latitude == pytest.approx(31.00015) and f1.longitude == 121.0
    assert f1.abs_time == datetime(2019, 5, 19, 10, 0, 0, 500000)
    assert ca.start_time == datetime(2019, 5, 19, 10, 0, 0)
    assert all(f.altitude is None and f.abs_time is None for f in cb.frames)
    assert len(cb.frames) == 3


def test_rerun_is_idempotent_and_resumes_missing_frames(tmp_path: Path, pair_videos: tuple[Path, Path]) -> None:
    a, b = pair_videos
    root = tmp_path / "ds"
    args = (a, b, "--root", root, "--pair", "p1", "--camera", "A", "--camera", "B")
    assert run(*args).exit_code == 0
    before = (root / "dataset.json").read_bytes()
    (root / "frames" / "DJI_0001" / "000002.jpg").unlink()  # a crash lost one
    r = run(*args)
    assert r.exit_code == 0, r.output
    assert "2 already on disk" in r.output and "1 written" in r.output
    assert "dataset.json unchanged" in r.output
    assert (root / "dataset.json").read_bytes() == before
    assert jpeg_counter(root / "frames" / "DJI_0001" / "000002.jpg") == 30
    assert len(manifest(root).clips) == 2


def test_rerun_keeps_a_maintainers_sync_offset(tmp_path: Path, pair_videos: tuple[Path, Path]) -> None:
    a, _ = pair_videos
    root = tmp_path / "ds"
    assert run(a, "--root", root, "--pair", "p1", "--camera", "A").exit_code == 0
    m = manifest(root)
    m.clips[0].sync_offset = 1.25
    DatasetRoot(root).save_manifest(m)
    assert run(a, "--root", root, "--pair", "p1", "--camera", "A").exit_code == 0
    assert manifest(root).clips[0].sync_offset == 1.25


def test_video_inside_the_root_is_referenced_in_place(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    (root / "raw").mkdir(parents=True)
    v = write_counter_video(root / "raw" / "flight.mp4", 20)
    r = run(v, "--root", root, "--pair", "p1", "--camera", "B", "--clip-id", "p1_B", "--every", "2fps")
    assert r.exit_code == 0, r.output
    c = manifest(root).clip("p1_B")
    assert c.video == "raw/flight.mp4"
    assert not (root / "videos").exists()
    assert [f.video_frame for f in c.frames] == [0, 15]


def test_several_pairs_in_parallel_processes(tmp_path: Path) -> None:
    src = tmp_path / "card"
    src.mkdir()
    vids = [write_counter_video(src / f"v{i}.mp4", 16) for i in range(3)]
    root = tmp_path / "ds"
    r = run("--root", root, "--jobs", "2", "--clip", f"p1:A:{vids[0]}", "--clip", f"p1:B:{vids[1]}",
            "--clip", f"p2:A:{vids[2]}")
    assert r.exit_code == 0, r.output
    m = manifest(root)
    assert [(c.pair, c.camera, c.id, len(c.frames)) for c in m.clips] == [
        ("p1", "A", "v0", 2), ("p1", "B", "v1", 2), ("p2", "A", "v2", 2)]
    assert [p.id for p in m.pairs] == ["p1", "p2"]


def test_truncated_video_keeps_decodable_frames_and_exits_1(tmp_path: Path) -> None:
    cut = truncated_video(tmp_path, n=60, keep=0.5)
    root = tmp_path / "ds"
    r = run(cut, "--root", root, "--pair", "p1", "--camera", "A")
    assert r.exit_code == 1
    assert "decoding stopped after frame" in r.stderr and "truncated or corrupt" in r.stderr
    c = manifest(root).clip("cut")
    assert 1 <= len(c.frames) < 4
    assert all((root / f.file).is_file() for f in c.frames)
    assert "Traceback" not in r.output


def test_missing_video_changes_nothing(tmp_path: Path, pair_videos: tuple[Path, Path]) -> None:
    a, _ = pair_videos
    root = tmp_path / "ds"
    r = run(a, tmp_path / "nope.mp4", "--root", root, "--pair", "p1", "--camera", "A", "--camera", "B")
    assert r.exit_code == 1
    assert r.stderr.strip() == f"Error: {tmp_path / 'nope.mp4'}: video not found"
    assert not root.exists()


def test_unreadable_video_changes_nothing(tmp_path: Path, pair_videos: tuple[Path, Path]) -> None:
    a, _ = pair_videos
    root = tmp_path / "ds"
    assert run(a, "--root", root, "--pair", "p1", "--camera", "A").exit_code == 0
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    manifest_bytes = (root / "dataset.json").read_bytes()
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    r = run(junk, "--root", root, "--pair", "p2", "--camera", "A")
    assert r.exit_code == 1
    assert r.stderr.strip().count("\n") == 0
    assert r.stderr.startswith(f"Error: {junk}: cannot open as a video")
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert (root / "dataset.json").read_bytes() == manifest_bytes


def test_unknown_telemetry_dialect_only_warns(tmp_path: Path) -> None:
    v = write_counter_video(tmp_path / "clip.mp4", 16)
    (tmp_path / "clip.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    r = run(v, "--root", tmp_path / "ds", "--pair", "p1", "--camera", "A")
    assert r.exit_code == 0, r.output
    assert "warning:" in r.stderr and "unrecognised telemetry dialect" in r.stderr
    assert manifest(tmp_path / "ds").clip("clip").telemetry == "videos/clip.srt"


@pytest.mark.parametrize("args, message", [
    (["--pair", "p1"], "give --camera once per video: 1 video(s), 0 --camera"),
    (["--camera", "A"], "--pair is required"),
    (["--pair", "p1", "--camera", "A", "--every", "often"], "cannot read sampling interval 'often'"),
    (["--pair", "p1", "--camera", "A", "--clip-id", "a", "--clip-id", "b"], "give --clip-id once per video"),
    (["--pair", "p1", "--camera", "A", "--clip", "p:A:x.mp4"], "do not mix"),
])
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    v = write_counter_video(tmp_path / "clip.mp4", 2)
    r = run(v, "--root", tmp_path / "ds", *args)
    assert r.exit_code == 2
    assert message in r.stderr
    assert not (tmp_path / "ds").exists()


def test_bad_clip_spec_is_a_usage_error(tmp_path: Path) -> None:
    r = run("--root", tmp_path / "ds", "--clip", "p1:C:x.mp4")
    assert r.exit_code == 2 and "write PAIR:CAMERA:VIDEO" in r.stderr


@pytest.mark.parametrize("extra, message", [
    (["--pair", "p1", "--camera", "A", "--clip-id", "other"], "pair 'p1' camera A already has clip 'DJI_0001'"),
    (["--pair", "p2", "--camera", "A"], "clip 'DJI_0001' is already registered as pair 'p1' camera A"),
    (["--pair", "p1", "--camera", "A", "--every", "1s"], "this dataset samples every 0.5 s"),
    (["--pair", "bad pair", "--camera", "A", "--clip-id", "x"], "pair: 'bad pair' may contain only"),
])
def test_conflicts_with_the_dataset_are_refused(tmp_path: Path, pair_videos: tuple[Path, Path],
                                                extra: list[str], message: str) -> None:
    a, _ = pair_videos
    root = tmp_path / "ds"
    assert run(a, "--root", root, "--pair", "p1", "--camera", "A").exit_code == 0
    before = (root / "dataset.json").read_bytes()
    r = run(a, "--root", root, *extra)
    assert r.exit_code == 1
    assert message in r.stderr
    assert (root / "dataset.json").read_bytes() == before


def test_a_different_file_under_the_same_name_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    v1 = write_counter_video(tmp_path / "x" / "clip.mp4", 16)
    v2 = write_counter_video(tmp_path / "y" / "clip.mp4", 31)
    root = tmp_path / "ds"
    assert run(v1, "--root", root, "--pair", "p1", "--camera", "A").exit_code == 0
    r = run(v2, "--root", root, "--pair", "p1", "--camera", "A")
    assert r.exit_code == 1 and "already exists and is a different file" in r.stderr
    assert (root / "videos" / "clip.mp4").read_bytes() == v1.read_bytes()


def test_broken_manifest_is_reported_not_overwritten(tmp_path: Path) -> None:
    v = write_counter_video(tmp_path / "clip.mp4", 16)
    root = tmp_path / "ds"
    root.mkdir()
    (root / "dataset.json").write_text("{ not json")
    r = run(v, "--root", root, "--pair", "p1", "--camera", "A")
    assert r.exit_code == 1 and "dataset.json" in r.stderr and "malformed JSON" in r.stderr
    assert (root / "dataset.json").read_text() == "{ not json"
    assert not (root / "frames").exists()


def test_written_manifest_is_valid_json_with_sorted_keys(tmp_path: Path) -> None:
    v = write_counter_video(tmp_path / "clip.mp4", 16)
    root = tmp_path / "ds"
    assert run(v, "--root", root, "--pair", "p1", "--camera", "A", "--quiet").exit_code == 0
    data = json.loads((root / "dataset.json").read_text())
    assert list(data) == sorted(data)
    assert not (root / "dataset.json.lock").exists()


def test_a_clip_id_registered_from_another_video_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    (root / "raw").mkdir(parents=True)
    v = write_counter_video(root / "raw" / "flight.mp4", 16)
    assert run(v, "--root", root, "--pair", "p1", "--camera", "A").exit_code == 0
    outside = write_counter_video(tmp_path / "flight.mp4", 16)
    r = run(outside, "--root", root, "--pair", "p1", "--camera", "A")
    assert r.exit_code == 1
    assert "clip 'flight' is already registered from video 'raw/flight.mp4'" in r.stderr
    assert not (root / "videos").exists()

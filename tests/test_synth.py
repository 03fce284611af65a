"""``vrai_tools.synth``: a tiny synthetic dataset is valid, deterministic, and its telemetry
agrees with its frames. Real MP4s written and decoded by OpenCV; nothing mocked."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from schemas import ClipAnnotations, Manifest, PairMatching
from vrai_tools.dataset import DatasetRoot
from vrai_tools.frames import iter_pts
from vrai_tools.storage import load_model
from vrai_tools.synth import SynthConfig, SynthError, generate, load_truth, parse_annotate, parse_resolution
from vrai_tools.telemetry import parse_srt
from vrai_tools.validate import validate_root

TINY = SynthConfig(pairs=1, vehicles_per_pair=6, seconds=4, width=320, height=180, seed=0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> DatasetRoot:
    return generate(tmp_path_factory.mktemp("synth") / "tiny", TINY)


def json_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.json"))}


def test_tiny_dataset_is_complete_and_valid(tiny: DatasetRoot) -> None:
    report = validate_root(tiny.root)
    assert report.ok, [str(p) for p in report.problems]
    m = tiny.manifest()
    assert m.source == "synthetic" and [c.id for c in m.clips] == ["p001-A", "p001-B"]
    assert {c.camera for c in m.clips} == {"A", "B"}
    truth = load_truth(tiny.root)
    n_truth = sum(len(c["instances"]) for c in truth["clips"].values())
    assert report.counts["instances"] == n_truth > 0
    assert report.counts["vehicles"] == 6  # every vehicle asked for is labelled somewhere
    assert report.counts["cross-camera vehicles"] >= 4
    for stage, prog in report.stages.items():
        assert prog.done == prog.total > 0, stage
    for clip in m.clips:
        assert clip.fps == 30.0 and (clip.width, clip.height) == (320, 180)
        assert len(clip.frames) == 8  # 4 s every 0.5 s
        for f in clip.frames:
            assert cv2.imread(str(tiny.path(f.file))).shape == (180, 320, 3)
        video = tiny.path(clip.video)
        cap = cv2.VideoCapture(str(video))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 120
        cap.release()
        ann = load_model(tiny.annotations_path(clip.id), ClipAnnotations)
        assert ann.frames_done == [f.index for f in clip.frames]
        assert all(i.provenance["corners"].source == "synthetic" for i in ann.instances)
    matching = load_model(tiny.matching_path("p001"), PairMatching)
    assert len({v.id for v in matching.vehicles}) == 6
    for t in matching.tracklets:  # single-camera vehicles are marked as such
        owner = next(v for v in matching.vehicles if t.id in v.tracklets)
        assert t.no_match == (len(owner.tracklets) == 1)


def test_same_seed_same_dataset_whatever_the_worker_count(tiny: DatasetRoot, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", SynthConfig(**{**TINY.__dict__, "workers": 2}))
    first, second = json_files(tiny.root), json_files(again.root)
    assert first.keys() == second.keys() and first == second
    for clip in tiny.manifest().clips:
        for f in clip.frames:
            a, b = cv2.imread(str(tiny.path(f.file))), cv2.imread(str(again.path(f.file)))
            assert np.array_equal(a, b), f.file
    other = generate(tmp_path / "other", SynthConfig(**{**TINY.__dict__, "seed": 1}))
    assert json_files(other.root)["synth_truth.json"] != first["synth_truth.json"]


def test_srt_telemetry_agrees_with_frames(tiny: DatasetRoot) -> None:
    m = tiny.manifest()
    for clip in m.clips:
        tel = parse_srt(tiny.path(clip.telemetry))
        assert tel.dialect == "p4" and not tel.warnings
        assert len(tel.records) == 4 and tel.records[-1].end == pytest.approx(4.0)
        assert clip.start_time == tel.records[0].abs_time
        pts = list(iter_pts(tiny.path(clip.video)))
        for f in clip.frames:
            assert f.timestamp == pytest.approx(pts[f.video_frame], abs=1e-6)  # the MP4's own clock
            rec = tel.at(f.timestamp)
            assert rec is not None and rec.start <= f.timestamp < rec.end
            assert f.altitude == rec.altitude and 15 <= f.altitude <= 80
            assert (f.latitude, f.longitude) == (rec.latitude, rec.longitude)
            assert f.abs_time == clip.start_time + timedelta(seconds=f.timestamp)
    a, b = m.clips
    assert b.start_time == a.start_time + timedelta(seconds=b.sync_offset)  # one common clock per pair
    gaps = [abs(fa.altitude - fb.altitude) for fa, fb in zip(a.frames, b.frames)]
    assert min(gaps) >= 8  # different heights, different scales, at every moment


def test_bracketed_telemetry_and_annotate_none(tmp_path: Path) -> None:
    cfg = SynthConfig(pairs=1, vehicles_per_pair=3, seconds=2, width=160, height=90, seed=4, srt_dialect="bracketed",
                      annotate=frozenset())
    ds = generate(tmp_path / "raw", cfg)
    clip = ds.manifest().clips[0]
    tel = parse_srt(ds.path(clip.telemetry))
    assert tel.dialect == "bracketed" and len(tel.records) == 60  # one block per frame
    assert all(f.abs_time is not None and f.altitude is not None for f in clip.frames)
    assert not (ds.root / "annotations").exists() and not (ds.root / "matching").exists()
    assert validate_root(ds.root).ok
    assert sum(len(c["instances"]) for c in load_truth(ds.root)["clips"].values()) > 0  # the truth is still there


def test_options_are_checked() -> None:
    assert parse_resolution("640x360") == (640, 360)
    assert parse_annotate("all") == {"corners", "matching", "attributes", "parts"}
    assert parse_annotate("none") == frozenset()
    assert parse_annotate("corners, parts") == {"corners", "parts"}
    with pytest.raises(SynthError, match="--annotate 'color'"):
        parse_annotate("color")
    with pytest.raises(SynthError, match="WIDTHxHEIGHT"):
        parse_resolution("640")
    with pytest.raises(SynthError, match="need the corners stage"):
        SynthConfig(annotate=frozenset({"parts"}))
    with pytest.raises(SynthError, match="must be even"):
        SynthConfig(width=321, height=180)
    with pytest.raises(SynthError, match="--seconds"):
        SynthConfig(seconds=0.5)
    # 4 and 4.0 seconds are the same dataset
    assert SynthConfig(seconds=4).to_json() == SynthConfig(seconds=4.0).to_json()


def test_the_manifest_is_the_schema_s(tiny: DatasetRoot) -> None:
    raw = (tiny.root / "dataset.json").read_text()
    assert Manifest.model_validate_json(raw).name == "synthetic-seed0"  # not derived from the folder name

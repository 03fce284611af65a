"""DJI SRT telemetry: every real fixture parses (one test each), fields are found by name,
odd files warn instead of failing, and what we write reads back equal."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from vrai_tools.errors import MissingFileError, VraiToolsError
from vrai_tools.telemetry import (
    Telemetry,
    TelemetryError,
    TelemetryRecord,
    parse_srt,
    parse_srt_text,
    sidecar_for,
    write_srt,
)

REPO = Path(__file__).resolve().parents[1]
_CANDIDATES = [REPO / "tests" / "fixtures" / "dji-srt", REPO / "shared" / "fixtures" / "dji-srt",
               REPO.parent / "shared" / "fixtures" / "dji-srt"]
FIXTURE_NAMES = ["air2s.srt", "broken_incomplete.SRT", "mavic_air2.srt", "old_format.SRT", "p4_rtk.SRT",
                 "p4p_sample.SRT"]


def fixture(name: str) -> Path:
    for d in _CANDIDATES:
        if (d / name).is_file():
            return d / name
    pytest.fail(f"DJI SRT fixture {name} not found in any of {[str(d) for d in _CANDIDATES]}")


# --------------------------------------------------------------------------- one test per real file


def test_phantom4_pro_per_second_dialect() -> None:
    t = parse_srt(fixture("p4p_sample.SRT"))
    assert t.dialect == "p4" and t.warnings == []
    assert len(t.records) == 5
    r = t.records[0]
    assert (r.index, r.start, r.end) == (1, 0.0, 1.0)
    assert (r.latitude, r.longitude, r.altitude) == (47.4692, 8.2090, 45.60)  # GPS is (lon, lat, sats)
    assert r.abs_time is None and r.abs_altitude is None
    assert r.extra["ISO"] == "100" and r.extra["F"] == "3.2" and r.extra["satellites"] == "18"
    assert r.extra["D"] == "49.21m"
    assert t.records[-1].extra["H.S"] == "2.44m/s"


def test_phantom4_rtk_with_home_and_attitude() -> None:
    t = parse_srt(fixture("p4_rtk.SRT"))
    assert t.dialect == "p4" and t.warnings == []
    assert len(t.records) == 55
    r = t.records[0]
    assert (r.latitude, r.longitude, r.altitude) == (-34.237922, -58.851745, 85.80)
    assert r.extra["HOME"] == "(-58.847509, -34.232707, -57.98m)"  # home altitude is not the drone's
    assert r.abs_altitude is None
    assert r.extra["F.PRY"] == "(2.7°, -7.0°, 110.1°)"
    assert t.records[-1].start == 54.0 and t.records[-1].longitude == -58.849196


def test_old_format_2017() -> None:
    t = parse_srt(fixture("old_format.SRT"))
    assert t.dialect == "legacy" and t.warnings == []
    assert len(t.records) == 468
    r = t.records[0]
    assert (r.start, r.end) == (1.0, 2.0)
    assert r.abs_time == datetime(2017, 8, 5, 14, 11, 51)
    assert (r.latitude, r.longitude) == (-20.2533, 149.0251)
    assert r.altitude == 1.9  # Hb, the barometric height
    assert r.extra["Hs"] == "1.9" and r.extra["TV"] == "60" and r.extra["IR"] == "F2.8"
    assert t.records[-1].abs_time == datetime(2017, 8, 5, 14, 19, 39)


def test_air2s_per_frame_bracketed() -> None:
    t = parse_srt(fixture("air2s.srt"))
    assert t.dialect == "bracketed" and t.warnings == []
    assert len(t.records) == 17
    r = t.records[0]
    assert (r.index, r.start, r.end) == (1, 0.0, 0.033)
    assert r.abs_time == datetime(2022, 8, 7, 13, 40, 40, 774808)  # "40,774,808": ms then µs
    assert (r.latitude, r.longitude, r.altitude) == (41.424724, 2.234156, 117.0)
    assert r.extra == {"iso": "100", "shutter": "1/80.0", "fnum": "280", "ev": "0", "ct": "5744",
                       "color_md": "default", "focal_len": "240"}
    assert t.records[-1].altitude == 117.1


def test_mavic_air2_varying_difftime() -> None:
    t = parse_srt(fixture("mavic_air2.srt"))
    assert t.dialect == "bracketed" and t.warnings == []
    assert len(t.records) == 25
    assert [r.end for r in t.records[:3]] == [0.016, 0.033, 0.05]
    assert t.records[1].abs_time == datetime(2022, 5, 1, 15, 1, 58, 548390)
    assert t.records[0].altitude == 27.3 and t.records[-1].altitude == 29.2
    assert t.records[-1].latitude == 41.420686


def test_truncated_file_parses_what_is_there_and_warns() -> None:
    path = fixture("broken_incomplete.SRT")
    t = parse_srt(path)
    assert t.dialect == "legacy"
    assert len(t.records) == 20
    assert t.records[0].altitude == 20.1  # BAROMETER
    assert (t.records[0].latitude, t.records[0].longitude) == (-34.7383, -58.4563)
    last = t.records[-1]
    assert last.abs_time == datetime(2017, 7, 3, 10, 15, 22) and last.latitude is None
    assert len(t.warnings) == 1
    assert str(path) in t.warnings[0] and "block 20" in t.warnings[0] and "truncated" in t.warnings[0]
    assert "GPS" in t.warnings[0]


def test_every_fixture_is_tested_above() -> None:
    here = {p.name for p in fixture("air2s.srt").parent.iterdir() if p.suffix.lower() == ".srt"}
    assert here == set(FIXTURE_NAMES)


# --------------------------------------------------------------------------- by name, not position


def test_fields_are_recognised_by_name_in_any_order() -> None:
    text = ("1\n00:00:00,000 --> 00:00:00,033\n"
            "<font size=\"28\">FrameCnt: 1, DiffTime: 33ms\n2023-04-01 09:10:11.123\n"
            "[abs_alt: 132.860] [longitude: -6.1120] [iso: 200] [latitude: 36.6146] "
            "[rel_alt: 1.300 abs_alt: 132.860]</font>\n")
    t = parse_srt_text(text)
    r = t.records[0]
    assert t.dialect == "bracketed" and t.warnings == []
    assert (r.latitude, r.longitude, r.altitude, r.abs_altitude) == (36.6146, -6.1120, 1.3, 132.86)
    assert r.abs_time == datetime(2023, 4, 1, 9, 10, 11, 123000)
    assert r.extra["iso"] == "200" and r.extra["FrameCnt"] == "1"


def test_gps_with_metres_is_altitude_and_barometer_is_height() -> None:
    text = "1\n00:00:01,000 --> 00:00:02,000\nGPS(-6.1120,36.6146,12.5M) BAROMETER:0.3M\n"
    r = parse_srt_text(text).records[0]
    assert (r.longitude, r.latitude, r.abs_altitude, r.altitude) == (-6.1120, 36.6146, 12.5, 0.3)


def test_gps_whose_first_value_cannot_be_a_latitude_is_read_as_lon_lat() -> None:
    r = parse_srt_text("1\n00:00:00,000 --> 00:00:01,000\nGPS (36.6, 149.02, 10)\n").records[0]
    assert (r.latitude, r.longitude) == (36.6, 149.02)


def test_unknown_dialect_is_a_warning_not_a_failure() -> None:
    text = "1\n00:00:00,000 --> 00:00:02,500\nHello there\n\n2\n00:00:02,500 --> 00:00:05,000\n- General Kenobi\n"
    t = parse_srt_text(text, "movie.srt")
    assert t.dialect == "unknown"
    assert [(r.index, r.start, r.end) for r in t.records] == [(1, 0.0, 2.5), (2, 2.5, 5.0)]
    assert all(r.latitude is None and r.altitude is None for r in t.records)
    assert len(t.warnings) == 1 and "movie.srt" in t.warnings[0] and "unrecognised" in t.warnings[0]


def test_text_without_blocks_warns() -> None:
    t = parse_srt_text("just some notes\n", "notes.srt")
    assert t.records == [] and t.dialect == "unknown"
    assert "no subtitle blocks" in t.warnings[0]


def test_windows_line_endings_and_byte_order_mark(tmp_path: Path) -> None:
    src = fixture("p4p_sample.SRT").read_text(encoding="utf-8")
    p = tmp_path / "win.SRT"
    p.write_bytes(b"\xef\xbb\xbf" + src.replace("\n", "\r\n").encode("utf-8"))
    assert parse_srt(p).records == parse_srt(fixture("p4p_sample.SRT")).records


def test_latin1_degree_signs_are_read(tmp_path: Path) -> None:
    p = tmp_path / "latin.SRT"
    p.write_bytes("1\n00:00:00,000 --> 00:00:01,000\nGPS (8.2, 47.4, 9), H 3.0m, F.PRY (2.7\xb0, 0\xb0, 1\xb0)\n"
                  .encode("latin-1"))
    r = parse_srt(p).records[0]
    assert r.altitude == 3.0 and r.extra["F.PRY"] == "(2.7°, 0°, 1°)"


def test_missing_and_binary_files_raise_user_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match="telemetry file not found"):
        parse_srt(tmp_path / "nope.SRT")
    bad = tmp_path / "bad.SRT"
    bad.write_bytes(b"\x00\x01\x02\x03" * 100)
    with pytest.raises(TelemetryError, match="not a text file") as e:
        parse_srt(bad)
    assert isinstance(e.value, VraiToolsError) and str(bad) in str(e.value)


# --------------------------------------------------------------------------- lookup by time


def _tel(*spans: tuple[float, float]) -> Telemetry:
    return Telemetry([TelemetryRecord(index=i + 1, start=a, end=b, altitude=float(i)) for i, (a, b) in
                      enumerate(spans)], "bracketed", [])


def test_at_returns_the_covering_record_or_the_nearest_across_a_gap() -> None:
    t = _tel((0.0, 1.0), (1.0, 2.0), (3.0, 4.0))
    assert t.at(0.0).index == 1 and t.at(0.999).index == 1 and t.at(1.0).index == 2
    assert t.at(2.4).index == 2 and t.at(2.6).index == 3  # in the gap: nearest
    assert t.at(4.9).index == 3  # just after the end: still the last position
    assert t.at(5.5) is None  # long after: no made-up position


def test_at_covers_the_first_second_of_per_second_dialects() -> None:
    t = parse_srt(fixture("old_format.SRT"))  # first block starts at 1.000 s
    assert t.at(0.0).index == 1
    assert t.at(10.5).index == 10
    assert _tel().at(1.0) is None


# --------------------------------------------------------------------------- writing


def _records() -> list[TelemetryRecord]:
    return [
        TelemetryRecord(index=1, start=0.0, end=0.033, abs_time=datetime(2019, 5, 19, 11, 58, 18, 43890),
                        latitude=31.2284, longitude=121.4753, altitude=42.5, abs_altitude=61.25,
                        extra={"iso": "100", "shutter": "1/640.0", "satellites": "17"}),
        TelemetryRecord(index=2, start=0.033, end=0.067, abs_time=datetime(2019, 5, 19, 11, 58, 18, 77220),
                        latitude=-0.000123, longitude=-179.999999, altitude=-1.5, abs_altitude=None),
        TelemetryRecord(index=3, start=0.067, end=0.1),  # a block with no data at all
        TelemetryRecord(index=4, start=3599.999, end=3600.5, latitude=1e-7, longitude=2.0, altitude=1234.5678),
    ]


@pytest.mark.parametrize("dialect", ["bracketed", "p4"])
def test_write_then_parse_gives_equal_records(tmp_path: Path, dialect: str) -> None:
    recs = _records()
    path = tmp_path / f"{dialect}.SRT"
    write_srt(path, recs, dialect)  # type: ignore[arg-type]
    t = parse_srt(path)
    assert t.records == recs
    assert t.dialect == dialect
    assert t.warnings == [] or all("incomplete" in w for w in t.warnings)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
@pytest.mark.parametrize("dialect", ["bracketed", "p4"])
def test_every_fixture_round_trips_through_both_written_dialects(tmp_path: Path, name: str, dialect: str) -> None:
    original = parse_srt(fixture(name)).records
    write_srt(tmp_path / "out.SRT", original, dialect)  # type: ignore[arg-type]
    assert parse_srt(tmp_path / "out.SRT").records == original


def test_bracketed_output_looks_like_a_dji_file(tmp_path: Path) -> None:
    write_srt(tmp_path / "a.SRT", _records()[:1])
    lines = (tmp_path / "a.SRT").read_text().splitlines()
    assert lines[0] == "1"
    assert lines[1] == "00:00:00,000 --> 00:00:00,033"
    assert lines[2] == '<font size="28">SrtCnt : 1, DiffTime : 33ms'
    assert lines[3] == "2019-05-19 11:58:18,043,890"
    assert "[latitude: 31.2284] [longitude: 121.4753] [rel_alt: 42.5 abs_alt: 61.25] </font>" in lines[4]


def test_p4_output_looks_like_a_phantom4_line(tmp_path: Path) -> None:
    rec = TelemetryRecord(index=1, start=0.0, end=1.0, latitude=47.4692, longitude=8.209, altitude=45.6,
                          extra={"F": "3.2", "SS": "160", "ISO": "100", "EV": "0", "satellites": "18"})
    write_srt(tmp_path / "p.SRT", [rec], "p4")
    assert (tmp_path / "p.SRT").read_text().splitlines()[2] == \
        "F/3.2, SS 160, ISO 100, EV 0, GPS (8.209, 47.4692, 18), H 45.6m"


@pytest.mark.parametrize("rec, message", [
    (TelemetryRecord(index=1, start=0, end=1, abs_time=datetime(2020, 1, 1, tzinfo=timezone.utc)), "time zone"),
    (TelemetryRecord(index=1, start=2, end=1), "start <= end"),
    (TelemetryRecord(index=1, start=0, end=1, extra={"latitude": "1"}), "field name"),
    (TelemetryRecord(index=1, start=0, end=1, extra={"a b": "1"}), "field name"),
    (TelemetryRecord(index=1, start=0, end=1, extra={"note": "x]y"}), "cannot be written"),
])
def test_write_refuses_what_would_not_read_back(tmp_path: Path, rec: TelemetryRecord, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_srt(tmp_path / "x.SRT", [rec])
    assert not (tmp_path / "x.SRT").exists()


def test_p4_refuses_values_with_spaces(tmp_path: Path) -> None:
    rec = TelemetryRecord(index=1, start=0, end=1, extra={"mode": "sport plus"})
    write_srt(tmp_path / "ok.SRT", [rec], "bracketed")
    assert parse_srt(tmp_path / "ok.SRT").records == [rec]
    with pytest.raises(ValueError, match="p4 dialect"):
        write_srt(tmp_path / "bad.SRT", [rec], "p4")


def test_sidecar_is_found_whatever_its_suffix_case(tmp_path: Path) -> None:
    (tmp_path / "DJI_0001.MP4").write_bytes(b"")
    assert sidecar_for(tmp_path / "DJI_0001.MP4") is None
    (tmp_path / "DJI_0001.srt").write_text("")
    assert sidecar_for(tmp_path / "DJI_0001.MP4") == tmp_path / "DJI_0001.srt"


def test_unknown_layout_with_named_fields_is_read_with_a_warning() -> None:
    t = parse_srt_text("1\n00:00:00,000 --> 00:00:01,000\nlatitude=no; latitude:12.5 longitude:3.25\n", "odd.srt")
    assert (t.records[0].latitude, t.records[0].longitude) == (12.5, 3.25)
    assert t.dialect == "unknown"
    assert t.warnings == ["odd.srt: unrecognised telemetry dialect; fields read by name: latitude, longitude"]


def test_mavic2_misspelt_longtitude_and_drone_attitude() -> None:
    text = ("1\n00:00:00,000 --> 00:00:00,033\n<font size=\"28\">FrameCnt: 1, DiffTime: 33ms\n"
            "2023-04-01 09:10:11.123\n[latitude: 38.712345] [longtitude: -9.139876] [rel_alt: 31.500 abs_alt: "
            "102.900] [Drone: Yaw:-87.3, Pitch:0.5, Roll:-1.2] </font>\n")
    r = parse_srt_text(text).records[0]
    assert (r.latitude, r.longitude, r.altitude, r.abs_altitude) == (38.712345, -9.139876, 31.5, 102.9)
    assert r.extra["Yaw"].startswith("-87.3")

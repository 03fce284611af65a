"""DJI ``.SRT`` telemetry sidecars: read every dialect we know, write two of them.

DJI drones write a subtitle file next to each video: one block per second (Phantom 4
family, older models) or per frame (Mavic Air 2, Air 2S, newer firmware), each carrying
GPS, height and camera settings. The layout changed with almost every model and firmware,
so fields are recognised **by their names** (``GPS``, ``H``, ``latitude``, ``rel_alt``,
``BAROMETER``...), never by their position on the line. A file whose layout we do not
recognise still yields its blocks and times, with a warning: telemetry is a bonus for a
dataset, never a reason to refuse a video.

Dialects named in :attr:`Telemetry.dialect`:

``p4``         ``F/3.2, SS 160, ISO 100, EV 0, GPS (lon, lat, sats), D 49.21m, H 45.60m, H.S ..., V.S ...``
               (Phantom 4 family; the RTK model adds ``HOME (...)``, ``F.PRY``, ``G.PRY``)
``bracketed``  ``SrtCnt : N, DiffTime : 33ms`` / date-time line / ``[latitude: ..] [longitude: ..]
               [altitude: ..]`` or ``[rel_alt: .. abs_alt: ..]`` (Mavic Air 2, Air 2S, Mini, newer P4)
``legacy``     ``HOME(lon,lat) date time`` / ``GPS(lon,lat,n) Hb: Hs:`` or ``BAROMETER:`` (2016-2017 models)
``unknown``    blocks were read but no telemetry field was recognised
"""
from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, Sequence

from .errors import DatasetFileError, MissingFileError
from .storage import atomic_write_text

__all__ = ["Telemetry", "TelemetryError", "TelemetryRecord", "parse_srt", "parse_srt_text", "write_srt",
           "sidecar_for"]

# How far outside the telemetry's time span :meth:`Telemetry.at` still answers with the end
# record. Per-second dialects start their first block at 1.000 s, so one second is needed
# to cover the start of the clip; farther than that, the drone has moved on.
EDGE_TOLERANCE_S = 1.0


class TelemetryError(DatasetFileError):
    """The sidecar exists but cannot be read at all (permissions, not a text file)."""


@dataclass(frozen=True)
class TelemetryRecord:
    """One subtitle block. Fields the block does not carry are ``None``.

    ``altitude`` is the height above the take-off point (what DJI shows as ``H``), the
    figure the VRAI paper quotes (15-80 m); ``abs_altitude`` is above sea level, only
    where the drone writes one. ``extra`` keeps every other named field verbatim
    (``ISO``, ``shutter``, ``HOME``...) so nothing the drone wrote is lost.
    """

    index: int
    start: float
    end: float
    abs_time: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None
    altitude: float | None = None
    abs_altitude: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Telemetry:
    records: list[TelemetryRecord]
    dialect: str
    warnings: list[str]

    def __post_init__(self) -> None:
        self.records = sorted(self.records, key=lambda r: (r.start, r.index))
        self._starts = [r.start for r in self.records]

    def at(self, t: float) -> TelemetryRecord | None:
        """The record covering clip time ``t``; the nearest one when ``t`` falls in a gap.

        Outside the file's span the end record is returned up to :data:`EDGE_TOLERANCE_S`
        away, else ``None``: a clip longer than its telemetry gets no made-up positions.
        """
        if not self.records:
            return None
        i = bisect.bisect_right(self._starts, t) - 1
        if i < 0:
            first = self.records[0]
            return first if first.start - t <= EDGE_TOLERANCE_S else None
        rec = self.records[i]
        if t < rec.end:
            return rec
        if i + 1 < len(self.records):
            nxt = self.records[i + 1]
            return rec if t - rec.end <= nxt.start - t else nxt
        return rec if t - rec.end <= EDGE_TOLERANCE_S else None

    @property
    def first_abs_time(self) -> datetime | None:
        for r in self.records:
            if r.abs_time is not None:
                return r.abs_time
        return None


# --------------------------------------------------------------------------- parsing

_TIMECODE = re.compile(
    r"^\s*(\d+):(\d{1,2}):(\d{1,2})[,.](\d{1,3})\s*-->\s*(\d+):(\d{1,2}):(\d{1,2})[,.](\d{1,3})\s*$"
)
_INDEX = re.compile(r"^\s*(\d+)\s*$")
_TAG = re.compile(r"<[^>]*>")
# 2022-08-07 13:40:40,774,808 (ms, µs) | 2022-08-07 13:40:40.774 | 2017.8.5 14:11:51 | 2019-05-19T11:58:18
_DATETIME = re.compile(
    r"(?<![\d.])(\d{4})[-./](\d{1,2})[-./](\d{1,2})[ T]+(\d{1,2}):(\d{2}):(\d{2})"
    r"(?:[,.](\d{1,6})(?:[,.](\d{1,3}))?)?(?![\d])"
)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_NAME = r"[A-Za-z][A-Za-z0-9_.]*"
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_KV_IN_BRACKET = re.compile(rf"({_NAME})\s*:\s*(.*?)\s*(?=(?:{_NAME})\s*:|$)")
# Items outside brackets, tried in this order at each position.
_ITEM = re.compile(
    rf"(?P<pname>{_NAME})\s*\((?P<paren>[^()]*)\)"  # GPS (lon, lat, n)   HOME(lon,lat)
    rf"|F/(?P<fnum>[^\s,]+)"  # F/3.2
    rf"|(?P<cname>{_NAME})\s*:\s*(?P<cval>(?!{_NAME}\s*:)[^\s,]*)"  # ISO:100  SrtCnt : 1  EV: 0
    rf"|(?P<sname>{_NAME})\s+(?P<sval>[-+]?\.?\d[^\s,]*)"  # H 45.60m   SS 160
)

# Field names (case-insensitive) and what they mean. Anything else goes to ``extra``.
_LAT = {"latitude", "lat", "gps_lat"}
_LON = {"longitude", "longtitude", "lon", "lng", "long", "gps_lon"}  # sic: Mavic 2 / Mini firmware
_REL_ALT = {"rel_alt", "h", "hb", "barometer", "altitude", "height", "rel_altitude", "relative_altitude"}
_ABS_ALT = {"abs_alt", "abs_altitude", "absolute_altitude", "gps_alt"}
_STRUCTURAL = {"srtcnt", "difftime"}  # restated by write_srt from index and times; not data


def _number(text: str) -> float | None:
    m = _NUMBER.search(text)
    if not m:
        return None
    v = float(m.group(0))
    return v if math.isfinite(v) else None


def _datetime(m: re.Match[str]) -> datetime | None:
    y, mo, d, h, mi, s, frac, micro_tail = m.groups()
    micro = 0
    if frac is not None:
        if micro_tail is not None:  # "774,808": milliseconds then microseconds
            micro = int(frac.ljust(3, "0")[:3]) * 1000 + int(micro_tail.ljust(3, "0")[:3])
        else:
            micro = int(frac.ljust(6, "0")[:6])
    try:
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro)
    except ValueError:
        return None


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    total_ms = ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms.ljust(3, "0"))
    return total_ms / 1000


@dataclass
class _Fields:
    abs_time: datetime | None = None
    latitude: float | None = None
    longitude: float | None = None
    altitude: float | None = None
    abs_altitude: float | None = None
    extra: dict[str, str] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    styles: set[str] = field(default_factory=set)
    recognised: int = 0


def _gps_tuple(values: list[str], out: _Fields) -> None:
    """``GPS (lon, lat, n)``: DJI writes longitude first; a first value outside ±90 settles it.

    A third value with a metre unit (``0.0M``) is the GPS altitude; a bare integer is the
    satellite count (Phantom 4) and is kept in ``extra``.
    """
    nums = [_number(v) for v in values]
    if len(nums) < 2 or nums[0] is None or nums[1] is None:
        return
    a, b = nums[0], nums[1]
    lon, lat = (a, b)
    if abs(b) > 90 >= abs(a):  # only possible as (lat, lon)
        lat, lon = a, b
    if out.latitude is None:
        out.latitude = lat
    if out.longitude is None:
        out.longitude = lon
    out.recognised += 1
    if len(values) >= 3:
        third = values[2].strip()
        if re.search(r"\d\s*[mM]$", third):
            v = _number(third)
            if v is not None and out.abs_altitude is None:
                out.abs_altitude = v
        elif third:
            out.extra["satellites"] = third


def _assign(name: str, value: str, out: _Fields) -> None:
    key = name.lower()
    out.names.add(name)
    if key in _STRUCTURAL:
        return
    if key in _LAT or key in _LON or key in _REL_ALT or key in _ABS_ALT:
        v = _number(value)
        if v is None:
            out.extra[name] = value
            return
        out.recognised += 1
        if key in _LAT:
            out.latitude = v
        elif key in _LON:
            out.longitude = v
        elif key in _ABS_ALT:
            out.abs_altitude = v
        elif out.altitude is None or key in {"rel_alt", "h"}:  # the explicit names win
            out.altitude = v
        return
    out.extra[name] = value


def _parse_body(lines: list[str]) -> _Fields:
    out = _Fields()
    text = _TAG.sub(" ", " \n ".join(lines))
    m = _DATETIME.search(text)
    if m:
        out.abs_time = _datetime(m)
        out.recognised += out.abs_time is not None
        text = text[: m.start()] + " " + text[m.end():]
    for b in _BRACKET.finditer(text):
        out.styles.add("bracketed")
        for kv in _KV_IN_BRACKET.finditer(b.group(1).strip()):
            _assign(kv.group(1), kv.group(2), out)
    text = _BRACKET.sub(" ", text)
    for it in _ITEM.finditer(text):
        if it.group("pname"):
            name, inner = it.group("pname"), it.group("paren")
            out.names.add(name)
            if name.upper() == "GPS":
                _gps_tuple([v for v in inner.split(",")], out)
                out.styles.add("p4" if re.search(r"GPS\s+\(", it.group(0)) else "legacy")
            else:
                out.extra[name] = f"({inner.strip()})"
                if name.upper() == "HOME" and "legacy" not in out.styles and not re.search(r"\s\(", it.group(0)):
                    out.styles.add("legacy")
        elif it.group("fnum") is not None:
            out.names.add("F")
            out.extra["F"] = it.group("fnum")
            out.styles.add("p4")
        elif it.group("cname"):
            _assign(it.group("cname"), it.group("cval"), out)
            if it.group("cname").upper() in {"HB", "HS", "BAROMETER"}:
                out.styles.add("legacy")
        elif it.group("sname"):
            _assign(it.group("sname"), it.group("sval"), out)
            out.styles.add("p4")  # "H 45.60m": the Phantom 4 way of writing a field
    return out


def parse_srt_text(text: str, source: str = "<srt>") -> Telemetry:
    """Parse SRT text; ``source`` names the file in warnings."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    # A block starts at a timecode line; its index is the nearest number line above it.
    starts = [i for i, line in enumerate(lines) if _TIMECODE.match(line)]
    warnings: list[str] = []
    records: list[TelemetryRecord] = []
    fields_seen: list[_Fields] = []
    styles: dict[str, int] = {}
    for n, i in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else len(lines)
        body = lines[i + 1: stop]
        if n + 1 < len(starts):  # drop the next block's counter line and blank lines before it
            while body and not body[-1].strip():
                body.pop()
            if body and _INDEX.match(body[-1]):
                body.pop()
        body = [b for b in body if b.strip()]
        im = _INDEX.match(lines[i - 1]) if i > 0 else None
        index = int(im.group(1)) if im else (records[-1].index + 1 if records else 1)
        if im is None:
            warnings.append(f"{source}: line {i + 1}: timecode without a block number before it; numbered {index}")
        tc = _TIMECODE.match(lines[i])
        assert tc is not None
        start = _seconds(*tc.groups()[:4])
        end = _seconds(*tc.groups()[4:])
        if end < start:
            warnings.append(f"{source}: line {i + 1}: block {index} ends before it starts; skipped")
            continue
        f = _parse_body(body)
        for s in f.styles:
            styles[s] = styles.get(s, 0) + 1
        fields_seen.append(f)
        records.append(TelemetryRecord(
            index=index, start=start, end=end, abs_time=f.abs_time, latitude=f.latitude,
            longitude=f.longitude, altitude=f.altitude, abs_altitude=f.abs_altitude, extra=dict(f.extra),
        ))
    if not records:
        warnings.append(f"{source}: no subtitle blocks found (not a DJI telemetry file?)")
        return Telemetry([], "unknown", warnings)
    if len(fields_seen) >= 2:
        last, before = fields_seen[-1], fields_seen[-2]
        missing = sorted(before.names - last.names)
        if missing or (before.abs_time is not None and last.abs_time is None):
            warnings.append(
                f"{source}: block {records[-1].index} (the last) is incomplete, missing "
                f"{', '.join(missing) or 'date-time'}: the file looks truncated"
            )
    if not any(f.recognised for f in fields_seen):
        dialect = "unknown"
        warnings.append(f"{source}: unrecognised telemetry dialect: read {len(records)} block(s) "
                        f"but no GPS, height or time field")
    elif "bracketed" in styles:
        dialect = "bracketed"
    elif styles:
        dialect = max(sorted(styles), key=lambda s: styles[s])
    else:
        dialect = "unknown"
        names = sorted(set().union(*(f.names for f in fields_seen)))
        warnings.append(f"{source}: unrecognised telemetry dialect; fields read by name: {', '.join(names)}")
    return Telemetry(records, dialect, warnings)


def parse_srt(path: Path) -> Telemetry:
    """Read a DJI ``.SRT`` sidecar. Only an unreadable file raises; odd content only warns."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise MissingFileError(path, "telemetry file not found") from None
    except OSError as e:
        raise TelemetryError(path, f"cannot read telemetry: {e.strerror}") from None
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise TelemetryError(path, "not a text file (binary data)")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")  # older firmware wrote the degree sign as one byte
    return parse_srt_text(text, str(path))


def sidecar_for(video: Path) -> Path | None:
    """The ``.SRT``/``.srt`` file with the video's basename, if there is one."""
    video = Path(video)
    for suffix in (".SRT", ".srt", ".Srt"):
        cand = video.with_suffix(suffix)
        if cand.is_file():
            return cand
    try:  # case-insensitive file systems aside, accept any casing
        for p in video.parent.iterdir():
            if p.stem == video.stem and p.suffix.lower() == ".srt" and p.is_file():
                return p
    except OSError:
        return None
    return None


# --------------------------------------------------------------------------- writing


def _timecode(t: float) -> str:
    ms = int(round(t * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def _num(v: float) -> str:
    """Shortest text that reads back as the same float (``repr``), never in exponent form."""
    r = repr(float(v))
    if "e" in r or "E" in r:
        r = format(v, ".17f").rstrip("0")
        if float(r) != v:  # pragma: no cover - only for absurd magnitudes
            r = repr(float(v))
    return r


def _date_line(t: datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d},{t.microsecond % 1000:03d}"


_RESERVED = _LAT | _LON | _REL_ALT | _ABS_ALT | _STRUCTURAL | {"gps"}


def _check_record(rec: TelemetryRecord, dialect: str) -> None:
    """Refuse what the dialect could not carry, rather than write a file that reads back differently."""
    if rec.abs_time is not None and rec.abs_time.tzinfo is not None:
        raise ValueError(f"record {rec.index}: abs_time {rec.abs_time} has a time zone; DJI files hold local "
                         f"wall-clock time only (pass a naive datetime)")
    if rec.end < rec.start or rec.start < 0:
        raise ValueError(f"record {rec.index}: times {rec.start}..{rec.end} must satisfy 0 <= start <= end")
    for k, v in rec.extra.items():
        if not re.fullmatch(_NAME, k) or k.lower() in _RESERVED:
            raise ValueError(f"record {rec.index}: extra field name {k!r} cannot be written to an SRT file")
        bad = any(c in v for c in "[]\n\r<>") or v != v.strip() or re.search(rf"{_NAME}\s*:", v)
        if dialect == "p4" and not (v.startswith("(") and v.endswith(")") and v.count("(") == 1 == v.count(")")):
            bad = bad or any(c in v for c in " ,()")
        if bad:
            raise ValueError(f"record {rec.index}: extra field {k!r} value {v!r} cannot be written "
                             f"in the {dialect} dialect")


def _bracketed_block(rec: TelemetryRecord) -> list[str]:
    diff = int(round((rec.end - rec.start) * 1000))
    lines = [f'<font size="28">SrtCnt : {rec.index}, DiffTime : {diff}ms']
    if rec.abs_time is not None:
        lines.append(_date_line(rec.abs_time))
    items = [f"[{k} : {v}]" for k, v in rec.extra.items()]
    if rec.latitude is not None:
        items.append(f"[latitude: {_num(rec.latitude)}]")
    if rec.longitude is not None:
        items.append(f"[longitude: {_num(rec.longitude)}]")
    alts = []
    if rec.altitude is not None:
        alts.append(f"rel_alt: {_num(rec.altitude)}")
    if rec.abs_altitude is not None:
        alts.append(f"abs_alt: {_num(rec.abs_altitude)}")
    if alts:
        items.append(f"[{' '.join(alts)}]")
    lines.append(" ".join(items) + " </font>")
    return lines


def _p4_block(rec: TelemetryRecord) -> list[str]:
    lines = []
    if rec.abs_time is not None:  # P4 lines carry no clock; newer firmware puts it on its own line
        lines.append(_date_line(rec.abs_time))
    items: list[str] = []
    extra = dict(rec.extra)
    sats = extra.pop("satellites", None)
    for k, v in extra.items():
        if k == "F":
            items.append(f"F/{v}")
        elif not v:
            items.append(f"{k}:")
        elif _NUMBER.match(v) and not v.startswith("("):
            items.append(f"{k} {v}")
        elif v.startswith("(") and v.endswith(")"):
            items.append(f"{k} {v}")
        else:
            items.append(f"{k}:{v}")
    if rec.latitude is not None and rec.longitude is not None:
        third = f", {sats}" if sats is not None else ""
        if rec.abs_altitude is not None:
            third = f", {_num(rec.abs_altitude)}m"
            if sats is not None:
                items.append(f"satellites:{sats}")
        items.append(f"GPS ({_num(rec.longitude)}, {_num(rec.latitude)}{third})")
    else:
        if rec.latitude is not None:
            items.append(f"latitude:{_num(rec.latitude)}")
        if rec.longitude is not None:
            items.append(f"longitude:{_num(rec.longitude)}")
        if rec.abs_altitude is not None:
            items.append(f"abs_alt:{_num(rec.abs_altitude)}")
        if sats is not None:
            items.append(f"satellites:{sats}")
    if rec.altitude is not None:
        items.append(f"H {_num(rec.altitude)}m")
    lines.append(", ".join(items))
    return lines


def write_srt(path: Path, records: Sequence[TelemetryRecord],
              dialect: Literal["p4", "bracketed"] = "bracketed") -> None:
    """Write records as a DJI sidecar that :func:`parse_srt` reads back to equal records.

    Times are stored at the format's millisecond resolution, so records whose times are
    whole milliseconds round-trip exactly. ``bracketed`` is the per-frame layout of
    current DJI drones; ``p4`` the per-second Phantom 4 line. Written atomically.
    """
    if dialect not in ("p4", "bracketed"):
        raise ValueError(f"unknown SRT dialect {dialect!r} (use 'p4' or 'bracketed')")
    out: list[str] = []
    for rec in records:
        _check_record(rec, dialect)
        out.append(str(rec.index))
        out.append(f"{_timecode(rec.start)} --> {_timecode(rec.end)}")
        out.extend(_bracketed_block(rec) if dialect == "bracketed" else _p4_block(rec))
        out.append("")
    atomic_write_text(Path(path), "\n".join(out) + ("\n" if out else ""))

"""The drones: where each one is, how high and which way it faces, at any time of its clip.

The camera looks straight down (nadir). World coordinates are metres on flat ground with x
to the east and y to the *south*, so that a drone facing north sees the world like a map
(image x = east, image y = south) and no mirror sneaks in. A drone with heading ``psi``
(radians, clockwise from north) turns the picture by ``-psi``.

Every pose is a closed-form function of time, never integrated step by step: any frame
(and any sampled frame's labels) can be recomputed on its own, in any process.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from ..telemetry import TelemetryRecord
from .config import ALTITUDE_RANGE, HFOV_DEG

__all__ = ["Camera", "Flight", "METRES_PER_DEGREE", "make_flight", "telemetry_records", "world_to_latlon"]

METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True)
class Camera:
    width: int
    height: int
    hfov_deg: float = HFOV_DEG

    @property
    def focal(self) -> float:
        """Focal length in pixels."""
        return (self.width / 2) / math.tan(math.radians(self.hfov_deg) / 2)

    @property
    def centre(self) -> tuple[float, float]:
        return self.width / 2, self.height / 2

    def half_extent(self, altitude: float) -> tuple[float, float]:
        """Half the ground footprint (metres) along image x and y at ``altitude``."""
        k = altitude / self.focal
        return self.width / 2 * k, self.height / 2 * k


@dataclass(frozen=True)
class Flight:
    """One drone's flight during a clip (time ``t`` in seconds from the clip start).

    ``mode``: ``hover`` (small wind wobble only), ``cruise`` (patrols along ``cruise_dir``,
    a smooth back-and-forth of at most ``cruise_amp`` metres), ``rotate`` (turns at
    ``yaw_rate``). Any mode may also climb or sink slowly (``climb_amp``).
    """

    mode: str
    altitude: float
    heading: float
    x: float
    y: float
    cruise_dir: float = 0.0  # world angle of the patrol direction (radians, atan2(y, x))
    cruise_amp: float = 0.0
    cruise_omega: float = 0.0
    cruise_phase: float = 0.0
    yaw_rate: float = 0.0
    climb_amp: float = 0.0
    climb_omega: float = 0.0
    climb_phase: float = 0.0
    wobble: tuple[float, ...] = (0.0,) * 8  # amp_xy, omega_x, omega_y, phase, amp_yaw, omega_yaw, amp_h, omega_h

    def pose(self, t: float | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(x, y, altitude, heading) at time(s) ``t``."""
        t = np.asarray(t, dtype=float)
        a, wx, wy, ph, ayaw, wyaw, ah, wh = self.wobble
        along = self.cruise_amp * np.sin(self.cruise_omega * t + self.cruise_phase)
        x = self.x + along * math.cos(self.cruise_dir) + a * np.sin(wx * t + ph)
        y = self.y + along * math.sin(self.cruise_dir) + a * np.sin(wy * t + 2 * ph)
        h = self.altitude + self.climb_amp * np.sin(self.climb_omega * t + self.climb_phase) + ah * np.sin(wh * t + ph)
        psi = self.heading + self.yaw_rate * t + ayaw * np.sin(wyaw * t + 3 * ph)
        return x, y, h, psi

    def velocity(self, t: float) -> tuple[float, float, float]:
        """(vx, vy, vz) in m/s, by central difference (only used for telemetry speeds)."""
        dt = 0.05
        x0, y0, h0, _ = self.pose(t - dt)
        x1, y1, h1, _ = self.pose(t + dt)
        return float(x1 - x0) / (2 * dt), float(y1 - y0) / (2 * dt), float(h1 - h0) / (2 * dt)

    def altitude_range(self) -> tuple[float, float]:
        spread = self.climb_amp + self.wobble[6]
        return self.altitude - spread, self.altitude + spread

    def max_offset(self) -> float:
        """How far (metres) the drone's ground point ever gets from (x, y)."""
        return self.cruise_amp + self.wobble[0] * math.sqrt(2)

    def world_to_image(self, cam: Camera, pts: np.ndarray, t: float) -> np.ndarray:
        """World points (n, 2) -> image pixels (n, 2) at clip time ``t`` (continuous coordinates:
        the top-left pixel covers [0, 1) x [0, 1))."""
        x, y, h, psi = (float(v) for v in self.pose(t))
        s = cam.focal / h
        c, sn = math.cos(psi), math.sin(psi)
        d = np.asarray(pts, float) - (x, y)
        cx, cy = cam.centre
        return np.stack([cx + s * (c * d[:, 0] + sn * d[:, 1]), cy + s * (-sn * d[:, 0] + c * d[:, 1])], axis=1)

    def image_affine(self, cam: Camera, t: float) -> np.ndarray:
        """The 2x3 matrix taking world metres to image pixels at time ``t``."""
        x, y, h, psi = (float(v) for v in self.pose(t))
        s = cam.focal / h
        c, sn = math.cos(psi), math.sin(psi)
        cx, cy = cam.centre
        a = np.array([[s * c, s * sn], [-s * sn, s * c]])
        return np.hstack([a, (np.array([cx, cy]) - a @ np.array([x, y]))[:, None]])


def _uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def make_flight(rng: np.random.Generator, altitude: float, heading: float, x: float, y: float, seconds: float,
                road_angle: float, max_climb: float = 10.0) -> Flight:
    """A flight over (x, y): hover, cruise along the road, or rotate in place; sometimes climbing.

    ``max_climb`` caps the climb amplitude, so that the two drones of a pair, which fly at
    different heights on purpose, never climb or sink into each other's altitude band.
    """
    mode = str(rng.choice(["hover", "cruise", "rotate"], p=[0.4, 0.35, 0.25]))
    kw: dict[str, float] = {}
    if mode == "cruise":
        speed = _uniform(rng, 0.8, 3.0)
        amp = min(speed * seconds / 4, 40.0)
        kw.update(cruise_dir=road_angle + (math.pi if rng.uniform() < 0.5 else 0.0), cruise_amp=amp,
                  cruise_omega=speed / amp, cruise_phase=_uniform(rng, -0.6, 0.6) - (speed / amp) * seconds / 2)
    elif mode == "rotate":
        kw["yaw_rate"] = math.radians(_uniform(rng, 3.0, 10.0)) * (1 if rng.uniform() < 0.5 else -1)
    lo, hi = ALTITUDE_RANGE
    if rng.uniform() < 0.3:  # climb or sink slowly, staying inside the VRAI altitude range
        room = min(altitude - lo, hi - altitude) - 0.5
        amp = min(_uniform(rng, 2.0, 10.0), max(0.0, room), max_climb)
        if amp > 0.5:
            omega = _uniform(rng, 0.3, 0.8) / amp  # at most 0.8 m/s vertical speed
            kw.update(climb_amp=amp, climb_omega=omega, climb_phase=_uniform(rng, 0, 2 * math.pi))
    wob_amp = _uniform(rng, 0.05, 0.4)
    wobble = (wob_amp, _uniform(rng, 0.2, 0.7), _uniform(rng, 0.2, 0.7), _uniform(rng, 0, 2 * math.pi),
              math.radians(_uniform(rng, 0.1, 0.8)), _uniform(rng, 0.1, 0.5), _uniform(rng, 0.02, 0.25),
              _uniform(rng, 0.1, 0.4))
    alt = min(max(altitude, lo + kw.get("climb_amp", 0.0) + wobble[6]), hi - kw.get("climb_amp", 0.0) - wobble[6])
    return Flight(mode=mode, altitude=alt, heading=heading, x=x, y=y, wobble=wobble, **kw)


def world_to_latlon(origin: tuple[float, float], x: float, y: float) -> tuple[float, float]:
    """World metres (x east, y south) around ``origin`` (lat, lon) -> (lat, lon)."""
    lat0, lon0 = origin
    return lat0 - y / METRES_PER_DEGREE, lon0 + x / (METRES_PER_DEGREE * math.cos(math.radians(lat0)))


def telemetry_records(flight: Flight, seconds: float, fps: float, start: datetime, origin: tuple[float, float],
                      home: tuple[float, float], dialect: str) -> list[TelemetryRecord]:
    """What the drone's flight controller would write: one block per second (``p4``, the
    Phantom 4 of the paper) or per frame (``bracketed``), with GPS, height above take-off
    (ground is flat, so that is the altitude above the road) and the wall-clock time."""
    recs: list[TelemetryRecord] = []
    if dialect == "p4":
        starts = [float(k) for k in range(int(math.ceil(seconds - 1e-9)))]
        ends = [min(s + 1.0, round(seconds, 3)) for s in starts]
    else:
        n = int(round(seconds * fps))
        starts = [round(i / fps, 3) for i in range(n)]
        ends = [round((i + 1) / fps, 3) for i in range(n)]
    for i, (t0, t1) in enumerate(zip(starts, ends)):
        x, y, h, _ = (float(v) for v in flight.pose(t0))
        lat, lon = world_to_latlon(origin, x, y)
        when = start + timedelta(milliseconds=round(t0 * 1000))
        if dialect == "p4":
            vx, vy, vz = flight.velocity(t0)
            extra = {"F": "2.8", "SS": "320", "ISO": "100", "EV": "0", "satellites": "18",
                     "D": f"{math.hypot(x - home[0], y - home[1]):.2f}m", "H.S": f"{math.hypot(vx, vy):.2f}m/s",
                     "V.S": f"{vz:.2f}m/s"}
            recs.append(TelemetryRecord(index=i + 1, start=t0, end=t1, abs_time=when, latitude=round(lat, 6),
                                        longitude=round(lon, 6), altitude=round(h, 2), extra=extra))
        else:
            extra = {"iso": "100", "shutter": "1/320.0", "fnum": "280", "ev": "0", "ct": "5500",
                     "color_md": "default", "focal_len": "240"}
            recs.append(TelemetryRecord(index=i + 1, start=t0, end=t1, abs_time=when, latitude=round(lat, 6),
                                        longitude=round(lon, 6), altitude=round(h, 3),
                                        abs_altitude=round(h + 12.0, 3), extra=extra))
    return recs

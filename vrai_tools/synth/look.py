"""How a clip looks: light, white balance, sun (shadows), exposure (motion blur), noise.

Drawn once per clip so the two cameras of a pair see the same vehicle under different
light (the paper's drones flew at different times of day and weather) while its paint,
marks and shape stay the same - which is what makes cross-camera matching learnable.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Look", "make_look"]


@dataclass(frozen=True)
class Look:
    gain: float  # overall brightness multiplier
    gain_amp: float  # slow variation (clouds), relative
    gain_omega: float
    gain_phase: float
    white_balance: tuple[float, float, float]  # RGB multipliers
    sun: tuple[float, float]  # shadow offset in world metres per metre of object height
    shadow: float  # how much a shadow darkens the ground (0..1)
    exposure: float  # seconds; moving vehicles blur by speed * exposure
    noise: float  # sensor noise, grey levels (standard deviation)
    jpeg_quality: int  # of the sampled frames
    gusts: tuple[tuple[float, float, float, float], ...]  # (start, duration, blur as fraction of width, angle)

    def gain_at(self, t: float) -> float:
        return self.gain * (1.0 + self.gain_amp * math.sin(self.gain_omega * t + self.gain_phase))

    def gust_at(self, t: float) -> tuple[float, float] | None:
        for start, dur, frac, angle in self.gusts:
            if start <= t < start + dur:
                return frac, angle
        return None

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in d.items()}


def make_look(rng: np.random.Generator, seconds: float) -> Look:
    overcast = rng.uniform() < 0.3
    elevation = math.radians(float(rng.uniform(35, 70)))
    azimuth = float(rng.uniform(0, 2 * math.pi))
    reach = 1.0 / math.tan(elevation)
    gusts = []
    t = float(rng.exponential(12.0))
    while t < seconds:
        gusts.append((round(t, 3), round(float(rng.uniform(0.15, 0.5)), 3), round(float(rng.uniform(0.002, 0.006)), 5),
                      round(float(rng.uniform(0, math.pi)), 4)))
        t += float(rng.exponential(15.0)) + 1.0
    wb = tuple(round(float(v), 4) for v in rng.uniform(0.95, 1.05, 3))
    return Look(
        gain=round(float(rng.uniform(0.9, 1.08)) * (0.94 if overcast else 1.0), 4),
        gain_amp=round(float(rng.uniform(0.0, 0.05)), 4),
        gain_omega=round(float(rng.uniform(0.05, 0.3)), 4),
        gain_phase=round(float(rng.uniform(0, 2 * math.pi)), 4),
        white_balance=wb,  # type: ignore[arg-type]
        sun=(round(reach * math.cos(azimuth), 4), round(reach * math.sin(azimuth), 4)),
        shadow=round(float(rng.uniform(0.12, 0.22) if overcast else rng.uniform(0.35, 0.55)), 4),
        exposure=round(1.0 / float(rng.choice([60, 100, 160, 250, 500], p=[0.1, 0.2, 0.25, 0.25, 0.2])), 6),
        noise=round(float(rng.uniform(1.0, 4.0)), 3),
        jpeg_quality=int(rng.integers(82, 96)),
        gusts=tuple(gusts),
    )

"""What a synthetic dataset is made of: the user's knobs and the fixed optics.

Everything a run produces is a function of :class:`SynthConfig` alone (seed included), so
two runs with equal configs write byte-identical JSON and identical frames.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from schemas import STAGES

from ..errors import VraiToolsError

__all__ = ["ALTITUDE_RANGE", "HFOV_DEG", "SynthConfig", "SynthError", "parse_annotate", "parse_resolution"]

# The VRAI drones flew 15-80 m above ground. Nadir camera, DJI-like horizontal field of
# view: the ground footprint depends on altitude only, never on the video resolution, so
# a 320x180 test clip shows the same scene as a 1280x720 one, just with fewer pixels.
ALTITUDE_RANGE = (15.0, 80.0)
HFOV_DEG = 70.0


class SynthError(VraiToolsError):
    """A synthetic dataset cannot be made as asked (bad option values, unsafe output folder)."""


@dataclass(frozen=True)
class SynthConfig:
    pairs: int = 1
    vehicles_per_pair: int = 20
    seconds: float = 20.0
    seed: int = 0
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    every: float = 0.5
    annotate: frozenset[str] = field(default_factory=lambda: frozenset(STAGES))
    video: bool = True  # False: --no-video, metadata only (manifest, annotations, truth; no images)
    srt_dialect: Literal["p4", "bracketed"] = "p4"
    name: str = ""  # manifest name; default derived from the seed, never from the output path
    workers: int | None = None  # clips rendered at once (processes); None: number of CPUs

    def __post_init__(self) -> None:
        for name in ("seconds", "fps", "every"):  # 4 and 4.0 must make the same dataset (and the same JSON)
            object.__setattr__(self, name, float(getattr(self, name)))
        checks = [
            (self.pairs >= 1, f"--pairs must be at least 1, got {self.pairs}"),
            (self.vehicles_per_pair >= 1, f"--vehicles-per-pair must be at least 1, got {self.vehicles_per_pair}"),
            (math.isfinite(self.seconds) and 1.0 <= self.seconds <= 3600,
             f"--seconds must be between 1 and 3600, got {self.seconds:g}"),
            (16 <= self.width <= 7680 and 16 <= self.height <= 4320 and self.width % 2 == 0 and self.height % 2 == 0,
             f"--resolution {self.width}x{self.height}: width and height must be even, 16..7680 x 16..4320"),
            (math.isfinite(self.fps) and 1 <= self.fps <= 240, f"--fps must be between 1 and 240, got {self.fps:g}"),
            (math.isfinite(self.every) and self.every > 0, f"--every must be greater than 0, got {self.every:g}"),
            (self.every < self.seconds, f"--every {self.every:g}s leaves no second sample in a {self.seconds:g} s clip"),
            (self.annotate <= set(STAGES), f"--annotate: unknown stage(s) {sorted(self.annotate - set(STAGES))}"),
            (not (self.annotate - {"corners"}) or "corners" in self.annotate,
             "--annotate: matching, attributes and parts need the corners stage (instances to attach them to)"),
            (self.seed >= 0, f"--seed must be 0 or more, got {self.seed}"),
        ]
        for ok, message in checks:
            if not ok:
                raise SynthError(message)

    @property
    def frames_per_clip(self) -> int:
        return int(round(self.seconds * self.fps))

    @property
    def dataset_name(self) -> str:
        return self.name or f"synthetic-seed{self.seed}"

    def to_json(self) -> dict[str, Any]:
        """The config as written into ``synth.json`` (everything but the worker count, which
        changes nothing in the output)."""
        d = asdict(self)
        d["annotate"] = sorted(self.annotate, key=STAGES.index)
        d.pop("workers")
        return d


def parse_resolution(text: str) -> tuple[int, int]:
    """``'1280x720'`` -> ``(1280, 720)``."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not m:
        raise SynthError(f"--resolution {text!r}: write WIDTHxHEIGHT, e.g. 1280x720")
    return int(m.group(1)), int(m.group(2))


def parse_annotate(text: str) -> frozenset[str]:
    """``all``, ``none`` or a comma list of stages (``corners,matching``) -> the stages to fill."""
    t = text.strip().lower()
    if t == "all":
        return frozenset(STAGES)
    if t == "none":
        return frozenset()
    stages = [s.strip() for s in t.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if not stages or unknown:
        raise SynthError(f"--annotate {text!r}: use all, none or a comma list of {', '.join(STAGES)}")
    return frozenset(stages)

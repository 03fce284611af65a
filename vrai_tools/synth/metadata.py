"""Manifest frames without decoding: the ``--no-video`` (metadata-only, VRAI-scale) mode.

Which video frame becomes sample ``k`` is decided by :func:`vrai_tools.frames.select_samples`,
the rule ``sample_video`` applies while decoding, run here on the timestamps our MP4 files
carry (frame ``i`` at ``i / fps``). So a ``--no-video`` dataset lists exactly the frames a
full run would have sampled, and its labels are the same.
"""
from __future__ import annotations

from datetime import timedelta

from schemas import Frame

from ..dataset import DatasetRoot
from ..frames import select_samples
from ..telemetry import Telemetry
from .labels import SampledFrameRef

__all__ = ["frames_with_telemetry", "predicted_samples"]


def predicted_samples(n_frames: int, fps: float, every: float) -> list[SampledFrameRef]:
    pts = [round(i / fps, 6) for i in range(n_frames)]
    return [SampledFrameRef(index=k, timestamp=pts[i], video_frame=i) for k, i in select_samples(pts, every, 0.5 / fps)]


def frames_with_telemetry(clip_id: str, refs: list[SampledFrameRef], tel: Telemetry | None) -> list[Frame]:
    """Manifest frames with altitude, GPS and clock time read back from the clip's SRT sidecar,
    the way ``extract-frames`` registers a real drone video."""
    out = []
    for r in refs:
        kw: dict[str, object] = {}
        rec = tel.at(r.timestamp) if tel is not None else None
        if rec is not None:
            kw.update(altitude=rec.altitude, latitude=rec.latitude, longitude=rec.longitude)
            if rec.abs_time is not None:
                kw["abs_time"] = rec.abs_time + timedelta(seconds=r.timestamp - rec.start)
        out.append(Frame(index=r.index, timestamp=r.timestamp, file=DatasetRoot.frame_rel(clip_id, r.index),
                         video_frame=r.video_frame, **kw))  # type: ignore[arg-type]
    return out

"""Synthetic two-drone datasets with complete ground truth (``vrai-tools synth``).

``generate(out, SynthConfig(...)) -> DatasetRoot`` writes a dataset root: MP4 clips with
DJI-style SRT telemetry, frames sampled from them by :func:`vrai_tools.frames.sample_video`,
the manifest, the annotation stages asked for, and ``synth_truth.json`` (see
:mod:`vrai_tools.synth.truth`). Modules: ``config`` (options), ``vehicles`` (types, colours,
attributes, marks), ``scene`` (roads and the ground picture), ``flight`` (drones, projection,
telemetry), ``look`` (light), ``traffic`` (who passes where and when), ``geometry`` (the
labelling rule), ``render`` (frames and masks), ``labels`` (schemas), ``metadata``
(``--no-video``), ``outdir`` (never clobber user data), ``truth`` (the sidecar),
``pipeline`` (orchestration: ``generate``).
"""
from .config import SynthConfig, SynthError, parse_annotate, parse_resolution
from .pipeline import SynthReport, generate, run
from .truth import load_truth

__all__ = ["SynthConfig", "SynthError", "SynthReport", "generate", "load_truth", "parse_annotate", "parse_resolution",
           "run"]

"""Where stage-4 proposals come from: a ``detect-parts`` file, or a trained detector run.

``--detector FILE.json`` reads a :class:`schemas.PartDetections` file written by
``vrai-tools detect-parts`` (instant, no torch). ``--detector RUN`` (a run folder or
checkpoint of ``vrai-tools train-detector``) runs the detector on the pair's crops,
importing torch only then; call it off the UI thread.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from schemas import PartDetections
from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import VraiToolsError
from vrai_tools.storage import load_model

Proposals = dict[str, list[tuple[tuple[float, float, float, float], float]]]


def from_detections_file(path: Path | str, keys: Sequence[str] | None = None) -> Proposals:
    det = load_model(Path(path), PartDetections)
    wanted = None if keys is None else set(keys)
    return {k: [(tuple(b.box), b.score) for b in boxes]  # type: ignore[misc]
            for k, boxes in det.instances.items() if wanted is None or k in wanted}


def from_detector(root: DatasetRoot, run: Path | str, keys: Sequence[str], device: str = "cpu") -> Proposals:
    """Run a trained part detector on ``keys`` with the thresholds it was trained with (the paper's)."""
    try:
        import torch

        from reid.detection.data import PartCropDataset, check_frames, load_samples
        from reid.detection.model import part_label
        from reid.detection.predict import load_detector, predict, to_frame_boxes
    except ImportError as e:
        raise VraiToolsError(f"--detector {run}: the part detector needs torch and torchvision ({e})") from None

    if not keys:
        return {}
    det = load_detector(run, device)
    cfg = det.config
    samples = load_samples(root, list(keys), include_todo=True, source="this pair")
    check_frames(samples)  # a missing frame named here, not as a loader traceback
    dataset = PartCropDataset(samples, long_side=cfg.size, label=part_label(cfg.arch), train=False)
    out: Proposals = {}
    for pred in predict(det.model, dataset, device=torch.device(device), score_thresh=cfg.conf_threshold,
                        nms_thresh=cfg.nms_threshold, max_detections=cfg.top_k, batch_size=8):
        s = samples[pred.index]
        out[s.key] = [(tuple(b.box), b.score) for b in to_frame_boxes(s, dataset, pred)[:cfg.top_k]]  # type: ignore[misc]
    return out


def load_proposals(root: DatasetRoot, source: Path | str, keys: Sequence[str]) -> Proposals:
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".json":
        return from_detections_file(source, keys)
    if not source.exists():
        raise VraiToolsError(f"--detector {source}: no such detections file, run folder or checkpoint")
    return from_detector(root, source, keys)

"""Batched inference: part boxes per instance crop, and the ``detect-parts`` file in frame pixels.

The weighted pooling consumes the top-3 boxes per image (confidence >= 0.25 after NMS
0.4, the paper's settings); fewer when fewer pass. Boxes leave here in *frame* pixels,
like the ground-truth parts, clipped to the instance bbox, so a detections file can
stand in for stage-4 annotations wherever those are read.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from schemas import PartDetections, ScoredBox
from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import VraiToolsError
from vrai_tools.progress import progress

from .checkpoint import load_checkpoint, restore
from .config import DetectorTrainConfig, parse_config, resolve_device
from .data import PartCropDataset, PartSample, check_frames, collate, load_samples, split_keys
from .model import inference_settings, part_label, set_input_size

CHECKPOINT_NAME = "checkpoint.pt"

__all__ = ["CropPrediction", "LoadedDetector", "detect_parts", "load_detector", "predict", "to_frame_boxes"]


@dataclass(frozen=True)
class CropPrediction:
    index: int  # into the dataset
    boxes: np.ndarray  # (N, 4) crop pixels, best first
    scores: np.ndarray  # (N,)


@dataclass
class LoadedDetector:
    model: nn.Module
    config: DetectorTrainConfig
    epoch: int
    source: Path


def load_detector(path: Path | str, device: torch.device | str = "cpu") -> LoadedDetector:
    """A trained detector from a run folder (its ``checkpoint.pt``) or a checkpoint file."""
    from .config import model_from_config

    path = Path(path)
    ckpt = path / CHECKPOINT_NAME if path.is_dir() else path
    if path.is_dir() and not ckpt.is_file():
        raise VraiToolsError(f"{path}: no {CHECKPOINT_NAME} in this run folder "
                             "(train it with vrai-tools train-detector)")
    state = load_checkpoint(ckpt)
    cfg = parse_config(state["config"], f"{ckpt} (config)")
    model = model_from_config(cfg, with_backbone_weights=False)
    epoch = restore(state, str(ckpt), model=model)
    dev = torch.device(device) if isinstance(device, str) else device
    return LoadedDetector(model.to(dev).eval(), cfg, epoch, ckpt)


def predict(model: nn.Module, dataset: PartCropDataset, *, device: torch.device, score_thresh: float,
            nms_thresh: float, max_detections: int, batch_size: int = 16, workers: int = 0,
            amp: bool = False, quiet: bool = True, label: str = "detecting parts") -> Iterator[CropPrediction]:
    """Predictions for every crop of ``dataset``, in dataset order, at the dataset's crop size."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=collate,
                        persistent_workers=False)
    was_training = model.training
    model.eval()
    set_input_size(model, dataset.long_side)
    use_amp = amp and device.type == "cuda"
    try:
        with inference_settings(model, score_thresh=score_thresh, nms_thresh=nms_thresh,
                                detections_per_img=max_detections), torch.inference_mode():
            for images, _, indices in progress(loader, label, quiet, length=len(loader)):
                images = [im.to(device, non_blocking=True) for im in images]
                with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                    outputs = model(images)
                for i, out in zip(indices, outputs):
                    scores = out["scores"].float().cpu().numpy()
                    order = np.argsort(-scores, kind="stable")
                    yield CropPrediction(i, out["boxes"].float().cpu().numpy()[order].astype(np.float64),
                                         scores[order].astype(np.float64))
    finally:
        model.train(was_training)


def to_frame_boxes(sample: PartSample, dataset: PartCropDataset, pred: CropPrediction,
                   decimals: int = 2) -> list[ScoredBox]:
    """Crop boxes -> frame pixels, clipped to the instance bbox; boxes that collapse are dropped."""
    g = dataset.geometry(pred.index)
    x1, y1, x2, y2 = sample.bbox
    out: list[ScoredBox] = []
    for box, score in zip(g.to_frame(pred.boxes), pred.scores):
        b = np.round(box, decimals)
        bx1, bx2 = min(max(b[0], x1), x2), min(max(b[2], x1), x2)
        by1, by2 = min(max(b[1], y1), y2), min(max(b[3], y1), y2)
        if bx2 - bx1 <= 0 or by2 - by1 <= 0:
            continue
        out.append(ScoredBox(box=(float(bx1), float(by1), float(bx2), float(by2)),
                             score=round(float(min(max(score, 0.0), 1.0)), 4)))
    return out


def detect_parts(root: Path | str, detector: Path | str, *, split: str | None = None, batch_size: int = 16,
                 device: str = "auto", conf: float | None = None, nms: float | None = None,
                 top_k: int | None = None, size: int | None = None, workers: int = 0,
                 quiet: bool = True) -> PartDetections:
    """Top-k part boxes for every instance of ``split`` (train + query + gallery), or of the dataset.

    Thresholds default to the ones the detector was evaluated with (the paper's).
    Every instance is covered, whatever its annotation state: prediction is what
    stands in for missing annotations.
    """
    ds = DatasetRoot(root)
    dev = resolve_device(device)
    det = load_detector(detector, dev)
    cfg = det.config
    conf = cfg.conf_threshold if conf is None else conf
    nms = cfg.nms_threshold if nms is None else nms
    top_k = cfg.top_k if top_k is None else top_k
    if split is not None:
        keys = split_keys(ds.split(split), "all")
        samples = load_samples(ds, keys, include_todo=True)
    else:
        samples = load_samples(ds, None, include_todo=True)
    check_frames(samples)
    # Frame order: consecutive crops share frames, so the loader decodes each frame about once.
    order = sorted(range(len(samples)), key=lambda i: (str(samples[i].image), samples[i].key))
    ordered: Sequence[PartSample] = [samples[i] for i in order]
    dataset = PartCropDataset(ordered, long_side=size or cfg.size, label=part_label(cfg.arch), train=False)
    found: dict[str, list[ScoredBox]] = {}
    for pred in predict(det.model, dataset, device=dev, score_thresh=conf, nms_thresh=nms, max_detections=top_k,
                        batch_size=batch_size, workers=workers, amp=cfg.amp, quiet=quiet):
        s = ordered[pred.index]
        found[s.key] = to_frame_boxes(s, dataset, pred)[:top_k]
    instances = {s.key: found[s.key] for s in samples}  # the split's (or manifest's) order
    return PartDetections(detector=str(Path(detector)), split=split, conf_threshold=conf, nms_threshold=nms,
                          top_k=top_k, instances=instances)

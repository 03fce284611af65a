"""The ReID training configuration: one pydantic model, saved resolved into the run folder.

Defaults are the paper's (§5.1): ResNet-50 at 352 x 352, PK batches of 18 x 4, Adam with
lr 1e-3 held for the first half of 300 epochs then decayed exponentially to 1e-3 of
itself, triplet margin 0.3, gamma 1.3. A JSON file (``--config FILE``) may give any
subset of fields; command-line options override it. ``config.json`` in the run folder is
the *resolved* config (every field, ``parts`` decided), which ``--resume`` and
``vrai-tools evaluate`` read back.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from vrai_tools.errors import DatasetFileError, VraiToolsError
from vrai_tools.storage import atomic_write_text, read_json, validation_problems

from .presets import LOSS_NAMES, PRESETS

__all__ = ["RUNTIME_FIELDS", "TrainConfig", "config_differences", "load_config", "parse_config", "save_config"]

PresetName = Literal["triplet", "contrastive", "id", "triplet+id", "multitask", "multitask+dp"]
BackboneName = Literal["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]

# Fields that change how a run executes, not what it computes: a resumed run may change
# them (the dataset may have moved to another machine; the split name must still match).
RUNTIME_FIELDS = frozenset({"root", "device", "workers", "eval_batch_size", "log_every"})


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root: str
    split: str
    preset: PresetName = "multitask"
    backbone: BackboneName = "resnet50"
    last_stride: Literal[1, 2] = 2  # 2: 352 px -> 11 x 11 map (paper); 1: 22 x 22
    size: int = Field(352, ge=32, le=2048)
    epochs: int = Field(300, ge=1)
    batch_p: int = Field(18, ge=1)
    batch_k: int = Field(4, ge=1)
    batches_per_epoch: int | None = Field(None, ge=1)  # None: about one pass over the training images
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    decay_start: float = Field(0.5, ge=0, le=1)  # fraction of epochs at constant lr: epoch 151 of 300 decays
    final_lr_factor: float = Field(1e-3, gt=0, le=1)
    triplet_margin: float = Field(0.3, gt=0)
    contrastive_margin: float = Field(1.0, gt=0)
    label_smoothing: float = Field(0.1, ge=0, lt=1)
    loss_weights: dict[str, float] = Field(default_factory=dict)
    gamma: float = Field(1.3, ge=1)
    parts: Literal["auto", "ground-truth", "detected", "none"] = "auto"
    part_detections: str | None = None  # a `vrai-tools detect-parts` file: parts 'detected'
    rotate_p: float = Field(0.2, ge=0, le=1)
    hflip_p: float = Field(0.5, ge=0, le=1)
    crops: str = "auto"  # auto | frames | native | s<N>
    pretrained: str | None = None
    seed: int = Field(0, ge=0)
    device: str = "auto"
    amp: Literal["auto", "bf16", "fp16", "off"] = "auto"  # CUDA only; auto = bf16 where supported, else fp16
    channels_last: bool = True  # CUDA only
    deterministic: bool = False  # CUDA: deterministic kernels (slower); the CPU is deterministic anyway
    workers: int = Field(2, ge=0)
    eval_every: int | None = Field(0, ge=0)  # evaluate query/gallery every N epochs; 0: after the last; None: never
    eval_metric: Literal["euclidean", "cosine"] = "euclidean"
    eval_batch_size: int = Field(64, ge=1)
    log_every: int = Field(20, ge=1)

    @field_validator("loss_weights")
    @classmethod
    def _known_losses(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(LOSS_NAMES))
        if unknown:
            raise ValueError(f"unknown loss(es) {unknown}; known: {', '.join(LOSS_NAMES)}")
        return v

    @field_validator("crops")
    @classmethod
    def _crops(cls, v: str) -> str:
        if v in ("auto", "frames", "native") or (v.startswith("s") and v[1:].isdigit()):
            return v
        raise ValueError(f"crops {v!r}: use auto, frames, native or s<N> (a `vrai-tools crops --size N` folder)")

    @model_validator(mode="after")
    def _parts(self) -> "TrainConfig":
        if self.parts == "detected" and not self.part_detections:
            raise ValueError("parts 'detected' needs part_detections (a `vrai-tools detect-parts` file)")
        return self

    def resolved(self) -> "TrainConfig":
        """Every choice made explicit: ``parts`` decided from the preset and the detections file."""
        parts = self.parts
        if parts == "auto":
            uses = PRESETS[self.preset].uses_parts
            parts = ("detected" if self.part_detections else "ground-truth") if uses else "none"
        return self.model_copy(update={"parts": parts})

    def semantic_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(mode="json").items() if k not in RUNTIME_FIELDS}


def parse_config(data: Any, source: Path | str) -> TrainConfig:
    if not isinstance(data, dict):
        raise DatasetFileError(source, "expected a JSON object")
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as e:
        field, msg = validation_problems(e)[0]
        raise DatasetFileError(source, msg, field or None) from None


def load_config(path: Path | str) -> TrainConfig:
    return parse_config(read_json(Path(path)), path)


def read_partial(path: Path | str) -> dict[str, Any]:
    """A ``--config FILE``: any subset of the fields, checked for unknown names and types."""
    data = read_json(Path(path))
    if not isinstance(data, dict):
        raise DatasetFileError(path, "expected a JSON object")
    unknown = sorted(set(data) - set(TrainConfig.model_fields))
    if unknown:
        raise DatasetFileError(path, f"unknown field (known: see `vrai-tools train --help`)", unknown[0])
    return data


def save_config(path: Path, cfg: TrainConfig) -> None:
    atomic_write_text(path, json.dumps(cfg.model_dump(mode="json"), indent=1, sort_keys=True) + "\n")


def config_differences(saved: TrainConfig, asked: dict[str, Any]) -> list[str]:
    """Fields of ``asked`` that would change what a resumed run computes."""
    out = []
    current = saved.model_dump(mode="json")
    for name, value in sorted(asked.items()):
        if name in RUNTIME_FIELDS or name not in current:
            continue
        try:
            value = TrainConfig.model_validate({**current, name: value}).model_dump(mode="json")[name]
        except ValidationError:
            pass
        if value != current[name]:
            out.append(f"{name}: run has {current[name]!r}, asked {value!r}")
    return out


def check_resume(saved: TrainConfig, asked: dict[str, Any], run: Path) -> None:
    diff = config_differences(saved, asked)
    if diff:
        raise VraiToolsError(f"{run / 'config.json'}: --resume continues the run as configured; "
                             f"these options differ: " + "; ".join(diff))

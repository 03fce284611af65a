"""Loading weights: strict, or loud about every key that does not fit.

Silently partial loads (a prefix mismatch leaving the backbone random) are a well-known
trap of ReID toolkits, so a load here either takes every key or raises naming the missing,
unexpected and wrongly shaped ones. Files are read with ``torch.load(weights_only=True)``:
no pickled code from a downloaded file ever runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from vrai_tools.errors import VraiToolsError

from .reid_model import ReidModel

__all__ = ["LoadReport", "WeightsError", "load_pretrained", "load_state_dict_strict", "read_weights"]

# Keys a torchvision ImageNet classifier has and a ReID backbone never uses.
_IMAGENET_HEAD = ("fc.",)
_PREFIXES = ("module.", "model.")  # DataParallel/DDP and some trainers wrap the net once more


class WeightsError(VraiToolsError):
    pass


@dataclass
class LoadReport:
    source: str
    loaded: int = 0
    ignored: list[str] = field(default_factory=list)  # keys of the file deliberately not used (e.g. fc.*)
    # Keys of a ReID file's model outside the backbone that the file could not set (a head it
    # lacks, or one of another shape): they keep their initial values. Not listed for an
    # ImageNet file, whose neck and heads are new by nature.
    missing: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.source}: loaded {self.loaded} tensors"
        if self.ignored:
            text += f"; ignored {len(self.ignored)} key(s) of the file not used by this model ({_some(self.ignored)})"
        if self.missing:
            text += f"; {len(self.missing)} key(s) of the model not in the file, left at their initial values " \
                    f"({_some(self.missing)})"
        return text


def _some(keys: list[str], n: int = 6) -> str:
    return ", ".join(keys[:n]) + (" ..." if len(keys) > n else "")


def _mismatch(own: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor]) -> list[str]:
    counter = "num_batches_tracked"  # BatchNorm bookkeeping: some exports drop it
    missing = sorted(k for k in own if k not in state and not k.endswith(counter))
    unexpected = sorted(k for k in state if k not in own)
    shape = sorted(f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in state
                   if k in own and tuple(state[k].shape) != tuple(own[k].shape))
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {', '.join(unexpected[:5])}"
                        f"{' ...' if len(unexpected) > 5 else ''}")
    if shape:
        problems.append(f"{len(shape)} shape mismatch(es): {', '.join(shape[:3])}")
    return problems


def load_state_dict_strict(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> int:
    """Load every key or raise :class:`WeightsError` naming what does not fit. Returns the tensor count."""
    own = module.state_dict()
    problems = _mismatch(own, state)
    if problems:
        raise WeightsError(f"{source}: weights do not fit the model: " + "; ".join(problems))
    module.load_state_dict(dict(state), strict=False)  # strictness checked above (counter keys may be absent)
    return len(state)


def read_weights(path: Path | str) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a pickle with code in it, a truncated file, not a torch file at all
        raise WeightsError(f"{path}: cannot read weights safely ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: expected a state dict, found {type(obj).__name__}")
    return obj


def _strip(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    for prefix in _PREFIXES:
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(f"not a state dict: entries {bad[:3]} are not tensors")
    return state


def load_pretrained(model: ReidModel, path: Path | str) -> LoadReport:
    """Initialise from a local file (``--pretrained``): a torchvision ResNet state dict
    (ImageNet weights, ``fc.*`` ignored and reported) or one of our checkpoints / ReID
    state dicts (the backbone is loaded strictly; heads are taken only where they have the
    same shape, e.g. not an identity classifier trained on other vehicles, and every key
    left out is reported)."""
    from reid.engine.checkpoint import FORMAT  # late: engine imports models

    raw = read_weights(path)
    source = str(path)
    if raw.get("format") == FORMAT:
        raw = raw["model"]
    try:
        state = _strip(raw)
    except WeightsError as e:
        raise WeightsError(f"{source}: {e}") from None
    report = LoadReport(source)
    if any(k.startswith("backbone.") for k in state):
        backbone = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
        report.loaded += load_state_dict_strict(model.backbone, backbone, source)
        own = model.state_dict()
        rest = {k: v for k, v in state.items() if not k.startswith("backbone.")}
        usable = {k: v for k, v in rest.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
        model.load_state_dict(usable, strict=False)
        report.loaded += len(usable)
        report.ignored = sorted(set(rest) - set(usable))
        report.missing = sorted(k for k in own if not k.startswith("backbone.") and k not in usable
                                and not k.endswith("num_batches_tracked"))
    else:
        ignored = sorted(k for k in state if k.startswith(_IMAGENET_HEAD))
        backbone = {k: v for k, v in state.items() if not k.startswith(_IMAGENET_HEAD)}
        report.loaded += load_state_dict_strict(model.backbone, backbone, source)
        report.ignored = ignored
    return report

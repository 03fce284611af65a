"""The run folder: where one training run keeps everything it produces.

::

    RUN/
      config.json               resolved TrainConfig (what --resume and evaluate read back)
      checkpoints/last.pt       written atomically after every epoch
      checkpoints/best.pt       best query/gallery mAP so far (when evaluated during training)
      metrics.jsonl             one JSON object per epoch (losses, lr, images/s) and per evaluation
      evaluations/<tag>.json    `vrai-tools evaluate` results (schemas.ReidMetrics)
      evaluations/<tag>.details.json   confusion matrix, per-attribute counts, ranked-list samples
      plots/*.png               training curves, attribute accuracies, type confusion, ranked lists
      report.md                 regenerated after training and after each evaluation

A run folder is never overwritten: training into an existing run needs ``--resume``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from vrai_tools.errors import VraiToolsError
from vrai_tools.storage import atomic_write_text

__all__ = ["RunDir"]


class RunDir:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @property
    def config(self) -> Path:
        return self.path / "config.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def best(self) -> Path:
        return self.checkpoints / "best.pt"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def evaluations(self) -> Path:
        return self.path / "evaluations"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    @property
    def report(self) -> Path:
        return self.path / "report.md"

    def evaluation(self, tag: str) -> Path:
        return self.evaluations / f"{tag}.json"

    def details(self, tag: str) -> Path:
        return self.evaluations / f"{tag}.details.json"

    def is_run(self) -> bool:
        return self.config.is_file()

    def require(self) -> "RunDir":
        if not self.is_run():
            raise VraiToolsError(f"{self.path}: not a training run (no config.json); train one with `vrai-tools train`")
        return self

    def check_new(self) -> None:
        """A fresh run must not land on anything that exists (the user's files are never overwritten)."""
        if self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            hint = " (pass --resume to continue it)" if self.is_run() else ""
            raise VraiToolsError(f"--out {self.path} already exists and is not empty{hint}; choose another folder")

    def create(self) -> None:
        for d in (self.path, self.checkpoints, self.plots):
            d.mkdir(parents=True, exist_ok=True)

    # --- metrics.jsonl: rewritten whole (atomically) from the history kept in the checkpoint,
    # so after a crash it never holds an epoch the checkpoint does not, nor misses one.
    def write_metrics(self, records: Iterable[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
        atomic_write_text(self.metrics, text)

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics.is_file():
            return []
        out = []
        for line in self.metrics.read_text().splitlines():
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    raise VraiToolsError(f"{self.metrics}: line {len(out) + 1} is not JSON") from None
        return out

    def evaluation_tags(self) -> list[str]:
        if not self.evaluations.is_dir():
            return []
        return sorted(p.name[:-5] for p in self.evaluations.glob("*.json") if not p.name.endswith(".details.json"))

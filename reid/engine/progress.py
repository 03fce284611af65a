"""Console progress of training: loss parts, images/s and ETA, one line at a time.

Plain lines (not a redrawn bar) so a log file of a week-long run or of a torchrun job
reads the same as the terminal. Only rank 0 prints.
"""
from __future__ import annotations

import sys
import time
from typing import Mapping, TextIO

__all__ = ["TrainProgress", "format_seconds"]


def format_seconds(s: float) -> str:
    s = max(0, int(round(s)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class TrainProgress:
    def __init__(self, *, epochs: int, first_epoch: int, steps: int, log_every: int = 20, quiet: bool = False,
                 stream: TextIO | None = None, world_size: int = 1) -> None:
        self.world_size = world_size  # images/s counts every rank's images
        self.epochs, self.first_epoch, self.steps = epochs, first_epoch, steps
        self.log_every = log_every
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.started = time.perf_counter()
        self.steps_done = 0
        self.epoch_started = self.started
        self.epoch_images = 0

    def begin_epoch(self) -> None:
        self.epoch_started = time.perf_counter()
        self.epoch_images = 0

    def step(self, epoch: int, step: int, images: int, loss: float, parts: Mapping[str, float], lr: float) -> None:
        self.steps_done += 1
        self.epoch_images += images
        if self.quiet or not ((step + 1) % self.log_every == 0 or step + 1 == self.steps):
            return
        now = time.perf_counter()
        rate = self.epoch_images / max(now - self.epoch_started, 1e-9)
        per_step = (now - self.started) / self.steps_done
        left_steps = (self.steps - step - 1) + (self.epochs - epoch) * self.steps
        detail = " ".join(f"{k} {v:.3f}" for k, v in parts.items())
        self.echo(f"epoch {epoch}/{self.epochs} [{step + 1:>{len(str(self.steps))}}/{self.steps}] "
                  f"loss {loss:.4f} ({detail}) lr {lr:.2e} {rate:.1f} img/s "
                  f"ETA {format_seconds(left_steps * per_step)}")

    def echo(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream, flush=True)

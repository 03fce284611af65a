"""Decoded frames, read off the UI thread, with the neighbours of the current frame prefetched.

A frame is decoded once into an RGB array (for carry-over tracking) and a QImage view
on the same pixels (for display). QImage is safe to build outside the GUI thread;
QPixmap is not, so views convert on display.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np
from PyQt6.QtCore import QObject, QThreadPool, pyqtSignal
from PyQt6.QtGui import QImage

from schemas import Clip
from vrai_tools.dataset import DatasetRoot
from vrai_tools.errors import VraiToolsError


@dataclass(frozen=True)
class DecodedFrame:
    index: int
    rgb: np.ndarray  # H×W×3, what the tracker reads
    image: QImage  # a view on ``rgb`` (no copy), what the canvas shows


def decode_frame(root: DatasetRoot, rel: str, index: int) -> DecodedFrame:
    path = root.path(rel)  # never leaves the dataset root
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise VraiToolsError(f"{path}: cannot read this image (missing or not an image)")
    h, w = bgr.shape[:2]
    rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return DecodedFrame(index, rgb, QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888))


class _Relay(QObject):
    done = pyqtSignal(int, object, str)


class FrameCache(QObject):
    ready = pyqtSignal(int)
    failed = pyqtSignal(int, str)

    def __init__(self, root: DatasetRoot, clip: Clip, capacity: int = 16, threads: int = 2,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.root = root
        self.files = {f.index: f.file for f in clip.frames}
        self.capacity = capacity
        self._frames: OrderedDict[int, DecodedFrame] = OrderedDict()
        self._pending: set[int] = set()
        self._errors: dict[int, str] = {}
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._relay = _Relay(self)
        self._relay.done.connect(self._finished)

    def get(self, index: int) -> DecodedFrame | None:
        frame = self._frames.get(index)
        if frame is not None:
            self._frames.move_to_end(index)
        return frame

    def error(self, index: int) -> str | None:
        return self._errors.get(index)

    def request(self, index: int) -> DecodedFrame | None:
        """The frame if decoded, else None and ``ready(index)`` later."""
        frame = self.get(index)
        if frame is None and index not in self._pending and index not in self._errors:
            self._pending.add(index)
            root, rel, relay = self.root, self.files[index], self._relay

            def work() -> None:
                try:
                    result, error = decode_frame(root, rel, index), ""
                except Exception as e:
                    result, error = None, str(e)
                try:
                    relay.done.emit(index, result, error)
                except RuntimeError:  # cache torn down meanwhile
                    pass

            self._pool.start(work)
        return frame

    def prefetch(self, indices: list[int]) -> None:
        for index in indices:
            self.request(index)

    def _finished(self, index: int, frame: DecodedFrame | None, error: str) -> None:
        self._pending.discard(index)
        if frame is None:
            self._errors[index] = error
            self.failed.emit(index, error)
            return
        self._frames[index] = frame
        while len(self._frames) > self.capacity:
            self._frames.popitem(last=False)
        self.ready.emit(index)

    def close(self) -> None:
        self._pool.clear()
        self._pool.waitForDone()

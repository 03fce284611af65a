"""Instance crops for the per-vehicle stages and the human test, cut off the UI thread.

Crops are cut from the frames (the source of truth), never from ``crops/``, which may
be stale. Keys asked for together are grouped by frame, so a frame holding several
crops is decoded once. Finished crops are kept in a small LRU of QImages (QImage, not
QPixmap, is safe to build outside the GUI thread).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Iterable

import numpy as np
from PyQt6.QtCore import QObject, QThreadPool, pyqtSignal
from PyQt6.QtGui import QImage

from vrai_tools.crops import pixel_box
from vrai_tools.dataset import DatasetRoot

from ..frame_cache import decode_frame

# key -> (frame file relative to the root, frame size, bbox)
Locate = Callable[[str], tuple[str, tuple[int, int], tuple[float, float, float, float]]]


def crop_image(rgb: np.ndarray, bbox: tuple[float, float, float, float]) -> tuple[QImage, tuple[int, int]]:
    """The crop as a QImage owning its pixels, and its top-left corner in frame pixels."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = pixel_box(bbox, (w, h))
    patch = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    img = QImage(patch.data, patch.shape[1], patch.shape[0], 3 * patch.shape[1], QImage.Format.Format_RGB888)
    return img.copy(), (x0, y0)


class _Relay(QObject):
    done = pyqtSignal(object, str)  # {key: (QImage, origin)}, error


class CropCache(QObject):
    ready = pyqtSignal(str)  # instance key
    failed = pyqtSignal(str, str)  # instance key, why

    def __init__(self, root: DatasetRoot, locate: Locate, capacity: int = 400, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.root = root
        self.locate = locate
        self.capacity = capacity
        self._crops: OrderedDict[str, tuple[QImage, tuple[int, int]]] = OrderedDict()
        self._pending: set[str] = set()
        self._errors: dict[str, str] = {}
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.done.connect(self._finished)

    def get(self, key: str) -> QImage | None:
        item = self._crops.get(key)
        if item is None:
            return None
        self._crops.move_to_end(key)
        return item[0]

    def origin(self, key: str) -> tuple[int, int] | None:
        """Top-left of the crop in frame pixels (crop pixel + origin = frame pixel)."""
        item = self._crops.get(key)
        return item[1] if item else None

    def error(self, key: str) -> str | None:
        return self._errors.get(key)

    def request(self, keys: Iterable[str]) -> None:
        """Cut the crops not cached yet; ``ready(key)`` fires for each."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self._crops and k not in self._pending
                  and k not in self._errors]
        if not wanted:
            return
        self._pending.update(wanted)
        by_frame: dict[str, list[tuple[str, tuple[float, float, float, float]]]] = {}
        for key in wanted:
            rel, _, bbox = self.locate(key)
            by_frame.setdefault(rel, []).append((key, bbox))
        root, relay = self.root, self._relay

        def work() -> None:
            for rel, items in by_frame.items():
                out: dict[str, tuple[QImage, tuple[int, int]]] = {}
                error = ""
                try:
                    decoded = decode_frame(root, rel, 0)
                    for key, bbox in items:
                        out[key] = crop_image(decoded.rgb, bbox)
                except Exception as e:  # shown in place of the crop
                    error = str(e)
                    out = {key: None for key, _ in items}  # type: ignore[misc]
                try:
                    relay.done.emit(out, error)
                except RuntimeError:  # torn down meanwhile
                    return

        self._pool.start(work)

    def _finished(self, crops: dict[str, tuple[QImage, tuple[int, int]] | None], error: str) -> None:
        for key, item in crops.items():
            self._pending.discard(key)
            if item is None:
                self._errors[key] = error
                self.failed.emit(key, error)
                continue
            self._crops[key] = item
            while len(self._crops) > self.capacity:
                self._crops.popitem(last=False)
            self.ready.emit(key)

    def wait(self) -> None:
        """Block until every requested crop is cut (tests, screenshots)."""
        from PyQt6.QtCore import QCoreApplication

        self._pool.waitForDone()
        QCoreApplication.sendPostedEvents(self._relay)

    def close(self) -> None:
        self._pool.clear()
        self._pool.waitForDone()

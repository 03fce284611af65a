"""Crops, descriptors and candidate ranking for the matching view, computed off the UI thread.

Everything slow (decoding frames, describing crops, running a ReID model) runs on one
worker thread of a private ``QThreadPool``; results come back as queued signals through
a relay object living on the UI thread. Requests carry a generation number and the
view ignores answers to a query it has already left, so fast keying never shows a
stale list. A ranking whose descriptors are all known already is computed at once on
the UI thread (a few dot products), so undo and re-filtering never flicker.

With a model (``--model RUN``), tracklets are compared by their mean ReID embedding of
the instances' tight box crops (the crops training uses; the crops shown have a margin);
the model is loaded on the worker the first time it is needed (torch is imported only
then). If it cannot be loaded the built-in descriptor is used and the view is told why.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Mapping, Sequence

import cv2
import numpy as np
from PyQt6.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal
from PyQt6.QtGui import QImage

from vrai_tools import appearance as ap
from vrai_tools.dataset import DatasetRoot
from vrai_tools.matching_rules import PairContext

from .model import Embedder, embed_tracklet, load_embedder

Scores = list[tuple[str, float]]
HIGH, LOW = 10, 0  # worker priorities: the query on screen first, prefetching after


def to_qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], None]) -> None:
        super().__init__()
        self.fn = fn

    def run(self) -> None:
        self.fn()


class _Relay(QObject):
    crops = pyqtSignal(object)  # list of keys now available
    ranked = pyqtSignal(int, str, object)  # generation, query id, Scores
    frame = pyqtSignal(str, int, object)  # clip id, frame index, QImage
    message = pyqtSignal(str)


class AppearanceService(QObject):
    cropsReady = pyqtSignal(object)
    ranked = pyqtSignal(int, str, object)
    frameReady = pyqtSignal(str, int, object)
    message = pyqtSignal(str)

    def __init__(self, root: DatasetRoot, ctx: PairContext, model_run: Path | None = None,
                 image_capacity: int = 3000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.root = root
        self.ctx = ctx
        self.store = ap.InstanceStore(root, ctx.clips.values(), ctx.instances)
        self.model_run = model_run
        self._embedder: Embedder | None = None
        self._model_failed = False
        self._embeddings: dict[tuple[str, ...], np.ndarray] = {}
        self._descriptors: dict[tuple[str, ...], ap.Appearance | None] = {}
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._image_capacity = image_capacity
        self._lock = threading.Lock()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self.latest_generation = 0
        self._relay = _Relay(self)
        self._relay.crops.connect(self.cropsReady)
        self._relay.ranked.connect(self.ranked)
        self._relay.frame.connect(self.frameReady)
        self._relay.message.connect(self.message)
        self._closed = False

    @property
    def uses_model(self) -> bool:
        return self.model_run is not None and not self._model_failed

    def describe_mode(self) -> str:
        if self.uses_model:
            return f"ReID model {self.model_run.name}" if self.model_run else "ReID model"
        return "built-in colour + shape descriptor"

    # ------------------------------------------------------------------ UI-thread reads
    def image(self, key: str) -> QImage | None:
        with self._lock:
            img = self._images.get(key)
            if img is not None:
                self._images.move_to_end(key)
            return img

    def sample(self, keys: Sequence[str], k: int = 6) -> list[str]:
        clip_id = keys[0].rpartition(":")[0] if keys else ""
        size = self.store.size.get(clip_id, (1 << 30, 1 << 30))
        return ap.representative(keys, self.ctx.instances, size, k)

    def try_rank(self, query_keys: Sequence[str], candidates: Mapping[str, Sequence[str]]) -> Scores | None:
        """The ranking now if every descriptor is known already, else None (ask :meth:`rank`)."""
        with self._lock:
            table = self._embeddings if self.uses_model else self._descriptors
            keys = [tuple(query_keys), *(tuple(v) for v in candidates.values())]
            if not all(k in table for k in keys):
                return None
        return self._score(query_keys, candidates)

    # ------------------------------------------------------------------ requests
    def _start(self, fn: Callable[[], None], priority: int) -> None:
        if not self._closed:
            self._pool.start(_Task(fn), priority)

    def request_crops(self, keys: Sequence[str], priority: int = HIGH) -> None:
        missing = [k for k in keys if self.image(k) is None and k in self.ctx.instances]
        if not missing:
            return
        relay = self._relay

        def work() -> None:
            failed = set(self.store.load(missing, crops=True))
            made = []
            for key in missing:
                crop = self.store.crop(key)
                if crop is not None and key not in failed:
                    img = to_qimage(crop)
                    with self._lock:
                        self._images[key] = img
                        while len(self._images) > self._image_capacity:
                            self._images.popitem(last=False)
                    made.append(key)
            if failed:
                self._emit(relay.message, f"{len(failed)} crop(s) could not be read (missing frames?)")
            self._emit(relay.crops, made)

        self._start(work, priority)

    def rank(self, generation: int, query: str, query_keys: Sequence[str],
             candidates: Mapping[str, Sequence[str]], priority: int = HIGH) -> None:
        """Answers with ``ranked(generation, query, scores)``; skipped if a newer generation is asked first."""
        relay = self._relay
        cands = {tid: list(keys) for tid, keys in candidates.items()}
        qkeys = list(query_keys)

        def work() -> None:
            if generation < self.latest_generation and priority == HIGH:
                return  # the annotator moved on before we started
            try:
                self._ensure(qkeys, list(cands.values()))
                scores = self._score(qkeys, cands)
            except Exception as e:  # shown to the annotator; the list stays in time order
                self._emit(relay.message, f"ranking failed: {type(e).__name__}: {e}")
                scores = [(tid, 0.0) for tid in cands]
            self._emit(relay.ranked, generation, query, scores)

        self._start(work, priority)

    def request_frame(self, clip_id: str, frame: int, max_width: int = 960) -> None:
        rel = self.store.frames.get((clip_id, frame))
        if rel is None:
            return
        relay = self._relay

        def work() -> None:
            try:
                rgb = ap.read_rgb(self.root, rel)
            except Exception as e:
                self._emit(relay.message, str(e))
                return
            h, w = rgb.shape[:2]
            if w > max_width:
                rgb = cv2.resize(rgb, (max_width, int(round(h * max_width / w))), interpolation=cv2.INTER_AREA)
            self._emit(relay.frame, clip_id, frame, to_qimage(rgb))

        self._start(work, HIGH)

    def close(self) -> None:
        self._closed = True
        self._pool.clear()
        self._pool.waitForDone()

    # ------------------------------------------------------------------ worker side
    def _emit(self, signal: object, *args: object) -> None:
        try:
            signal.emit(*args)  # type: ignore[attr-defined]
        except RuntimeError:  # the view was closed while we worked
            pass

    def _model(self) -> Embedder | None:
        if self.model_run is None or self._model_failed:
            return None
        if self._embedder is None:
            try:
                self._embedder = load_embedder(self.model_run)
                describe = getattr(self._embedder, "describe", None)
                self._emit(self._relay.message,
                           f"ranking with ReID model {describe() if callable(describe) else self.model_run}")
            except Exception as e:
                self._model_failed = True
                self._emit(self._relay.message, f"model not used: {e}")
                return None
        return self._embedder

    def _ensure(self, query_keys: list[str], candidate_keys: list[list[str]]) -> None:
        model = self._model()
        for keys in [query_keys, *candidate_keys]:
            tkey = tuple(keys)
            if model is not None:
                if tkey in self._embeddings:
                    continue
                chosen = self.sample(keys)
                self.store.load(chosen, crops=True)
                # the tight boxes ReID training reads, not the display crops (those have a margin)
                crops = [c for c in (self.store.model_crop(k) for k in chosen) if c is not None]
                emb = embed_tracklet(model, crops) if crops else None
                with self._lock:
                    if emb is not None:
                        self._embeddings[tkey] = emb
            else:
                if tkey in self._descriptors:
                    continue
                desc = self.store.tracklet(keys)
                with self._lock:
                    self._descriptors[tkey] = desc

    def _score(self, query_keys: Sequence[str], candidates: Mapping[str, Sequence[str]]) -> Scores:
        if self.uses_model and self._embedder is not None:
            with self._lock:
                q = self._embeddings.get(tuple(query_keys))
                embs = {tid: self._embeddings.get(tuple(k)) for tid, k in candidates.items()}
            if q is not None:
                have = {tid: e for tid, e in embs.items() if e is not None}
                scores = ap.cosine_rank(q, have)
                return scores + [(tid, float("-inf")) for tid in sorted(set(candidates) - set(have))]
        with self._lock:
            qd = self._descriptors.get(tuple(query_keys))
            descs = {tid: self._descriptors.get(tuple(k)) for tid, k in candidates.items()}
        if qd is None:
            return [(tid, 0.0) for tid in candidates]
        have_d = {tid: d for tid, d in descs.items() if d is not None}
        return ap.rank(qd, have_d) + [(tid, float("-inf")) for tid in sorted(set(candidates) - set(have_d))]

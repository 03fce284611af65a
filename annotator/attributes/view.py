"""Stage 3 screen: every crop of the vehicle, the attribute panel, the vehicle and review lists.

Handlers (the ``handler`` column of the stage's rows in the action table) are the
methods at the bottom; each forwards to :class:`AttributesController`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PyQt6.QtCore import QObject, Qt, QThreadPool, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from schemas import Attributes

from ..document import BaseDocument
from ..stages.base import StageView
from ..wiring import DocumentWiring
from . import options
from .controller import AttributesController
from .crops import CropCache
from .document import FIELDS, AttributesDocument
from .panel import AttributePanel, show
from .pair import Group
from .tiles import CropGrid, thumbnail

HINT = (
    "<b>Digits</b> set the selected row (colour 1–9, type 1–7, flags 1/0) · <b>↑/↓</b> choose the row<br>"
    "<b>S B T L</b> toggle skylight, bumper, spare tire, luggage rack<br>"
    "<b>Enter</b>: unset flags are “no” (or accept the proposal), next vehicle · <b>Tab</b> next vehicle<br>"
    "<b>←/→</b> or click a crop to override it alone, <b>Esc</b> back to the vehicle · <b>R</b> next to review"
)
GROUP_ROLE = Qt.ItemDataRole.UserRole


class _Relay(QObject):
    proposals = pyqtSignal(object, str)  # {group id: Attributes}, error


class AttributesView(StageView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: AttributesDocument | None = None
        self.controller: AttributesController | None = None
        self.crops: CropCache | None = None
        self._wiring = DocumentWiring()
        self.model_run: Path | None = None
        self._shown_group: str | None = None
        self.header = QLabel(self)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.grid = CropGrid(parent=self)
        self.panel = AttributePanel(self)
        self.vehicles = QListWidget(self)
        self.review = QListWidget(self)
        for lst in (self.vehicles, self.review):
            lst.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        hint = QLabel(HINT, self)
        hint.setWordWrap(True)
        left = QVBoxLayout()
        left.addWidget(self.header)
        left.addWidget(self.grid, 1)
        left.addWidget(hint)
        right = QVBoxLayout()
        right.addWidget(self.panel)
        right.addWidget(QLabel("Vehicles (✓ done · ! instances disagree)", self))
        right.addWidget(self.vehicles, 2)
        right.addWidget(QLabel("To review: instances disagree", self))
        right.addWidget(self.review, 1)
        side = QWidget(self)
        side.setLayout(right)
        side.setFixedWidth(380)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addWidget(side)
        self.grid.clicked.connect(self._crop_clicked)
        self.vehicles.itemClicked.connect(self._list_clicked)
        self.review.itemClicked.connect(self._list_clicked)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.proposals.connect(self._proposals_ready)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # ------------------------------------------------------------------ document
    def set_document(self, doc: BaseDocument) -> None:
        assert isinstance(doc, AttributesDocument)
        self.clear_document()
        self.doc = doc
        w = self._wiring
        self.crops = w.own(CropCache(doc.root, lambda k: (*doc.frame_file(k), doc.instance(k).bbox), parent=self))
        w.connect(self.crops.ready, self._crop_ready)
        self.controller = w.own(AttributesController(doc, parent=self))
        w.connect(self.controller.changed, self.refresh)
        w.connect(self.controller.message, self.status.emit)
        for sig in (doc.instancesChanged, doc.vehiclesChanged, doc.proposalsChanged):
            w.connect(sig, self._doc_changed)
        self._fill_vehicles()
        self.refresh()
        if not doc.groups:
            self.status.emit(f"pair {doc.pair_id} has no vehicle yet: link tracklets in stage 2 first")
        self.model_run = options.MODEL_RUN
        if self.model_run is not None:
            self._start_model(self.model_run)
        self.setFocus()

    def clear_document(self) -> None:
        self._wiring.release()
        self._pool.clear()
        self.doc = self.controller = self.crops = None
        self._shown_group = None
        self.grid.set_keys([], str)
        self.vehicles.clear()
        self.review.clear()

    # ------------------------------------------------------------------ model proposals
    def _start_model(self, run: Path) -> None:
        """Predict every group off the UI thread; proposals appear when ready."""
        doc = self.doc
        assert doc is not None
        jobs = {g.id: [(*doc.frame_file(k), doc.instance(k).bbox) for k in g.keys] for g in doc.groups}
        root, relay = doc.root, self._relay
        self.status.emit(f"model {run}: predicting attributes…")

        def work() -> None:
            from vrai_tools.crops import pixel_box

            from ..frame_cache import decode_frame
            from .assist import load_predictor, propose

            try:
                predictor = load_predictor(run)
                frames: dict[str, np.ndarray] = {}
                crops: dict[str, list[np.ndarray]] = {}
                for gid, items in jobs.items():
                    for rel, size, bbox in items:
                        if rel not in frames:
                            frames = {rel: decode_frame(root, rel, 0).rgb}  # one frame at a time in memory
                        x0, y0, x1, y1 = pixel_box(bbox, size)
                        crops.setdefault(gid, []).append(frames[rel][y0:y1, x0:x1].copy())
                result, error = propose(predictor, crops), ""
            except Exception as e:  # shown in the status bar; annotating goes on without proposals
                result, error = {}, str(e)
            try:
                relay.proposals.emit(result, error)
            except RuntimeError:
                pass

        self._pool.start(work)

    def _proposals_ready(self, proposals: dict[str, Attributes], error: str) -> None:
        if self.doc is None:
            return
        if error:
            self.status.emit(f"no model proposals: {error}")
            return
        self.doc.set_proposals(proposals)
        self.status.emit(f"model proposals for {len(proposals)} vehicle(s): Enter accepts")

    # ------------------------------------------------------------------ redraws
    def _caption(self, key: str) -> str:
        assert self.doc is not None
        return self.doc.short_label(key)

    def _doc_changed(self, _: object = None) -> None:
        self._update_lists()
        self.refresh()

    def _crop_ready(self, key: str) -> None:
        tile = self.grid.tiles.get(key)
        if tile is not None and self.crops is not None:
            tile.set_pixmap(thumbnail(self.crops.get(key), self.grid.side))

    def _style_tile(self, key: str) -> None:
        doc, c = self.doc, self.controller
        tile = self.grid.tiles.get(key)
        if doc is None or c is None or tile is None:
            return
        overridden = [f for f in FIELDS if doc.override(key, f) is not None]
        caption = doc.short_label(key)
        if overridden:
            caption += "\n★ " + ", ".join(f"{f}: {show(doc.override(key, f))}" for f in overridden)
        tile.caption.setText(caption)
        tile.set_state("selected" if key == c.target else "override" if overridden else "normal")

    def refresh(self) -> None:
        doc, c = self.doc, self.controller
        if doc is None or c is None:
            return
        g = c.group
        if g is None:
            self.header.setText(f"<b>pair {doc.pair_id}</b>: no vehicle to annotate")
            return
        if self._shown_group != g.id:
            self._shown_group = g.id
            self.grid.set_keys(g.keys, self._caption)
            if self.crops is not None:
                for key in g.keys:
                    self._crop_ready(key)  # the cached ones now, the others when cut
                self.crops.request(g.keys)
            self._update_lists()
        for key in g.keys:
            self._style_tile(key)
        if c.target is not None:
            self.grid.reveal(c.target)
        cams = {doc.camera(k) for k in g.keys}
        counts = ", ".join(f"{cam} {sum(doc.camera(k) == cam for k in g.keys)}" for cam in sorted(cams))
        state = "✓ complete" if doc.is_complete(g) else "incomplete"
        if doc.disagrees(g):
            state += " · <span style='color:#d35400'>instances disagree</span>"
        self.header.setText(f"<b>{g.label}</b> ({c.index + 1}/{len(doc.groups)}) — {len(g.keys)} crops "
                            f"({counts}) — {state}")
        target = "the vehicle (all crops)" if c.target is None else f"crop {doc.short_label(c.target)} only"
        values = {f: c.value(f) for f in FIELDS}
        overridden = {f: doc.override(c.target, f) for f in FIELDS
                      if c.target is not None and doc.override(c.target, f) is not None}
        base = {f: doc.group_value(g, f) for f in FIELDS}
        self.panel.update_rows(target, c.row, values, overridden, base, doc.proposal(g))
        self._update_info()

    def _group_text(self, g: Group) -> str:
        assert self.doc is not None
        mark = "!" if self.doc.disagrees(g) else "✓" if self.doc.is_complete(g) else "·"
        return f"{mark}  {g.label} — {len(g.keys)} crops"

    def _fill_vehicles(self) -> None:
        self.vehicles.clear()
        if self.doc is None:
            return
        for g in self.doc.groups:
            item = QListWidgetItem(self._group_text(g))
            item.setData(GROUP_ROLE, g.id)
            self.vehicles.addItem(item)
        self._update_lists()

    def _update_lists(self) -> None:
        doc, c = self.doc, self.controller
        if doc is None or c is None:
            return
        for i, g in enumerate(doc.groups):
            item = self.vehicles.item(i)
            if item is None:
                continue
            item.setText(self._group_text(g))
            item.setForeground(QColor(211, 84, 0) if doc.disagrees(g) else self.palette().text().color())
            item.setSelected(i == c.index)
            if i == c.index:
                self.vehicles.scrollToItem(item)
        self.review.clear()
        for g in doc.disagreeing():
            item = QListWidgetItem(self._group_text(g))
            item.setData(GROUP_ROLE, g.id)
            self.review.addItem(item)

    def _update_info(self) -> None:
        doc = self.doc
        if doc is None:
            return
        n = doc.instance_count()
        self.info.emit(f"pair {doc.pair_id} · attributes complete for {doc.complete_instances()}/{n} instances · "
                       f"{len(doc.disagreeing())} vehicle(s) to review")

    def review_ids(self) -> list[str]:
        return [self.review.item(i).data(GROUP_ROLE) for i in range(self.review.count())]  # type: ignore[union-attr]

    # ------------------------------------------------------------------ mouse
    def _crop_clicked(self, key: str) -> None:
        c = self.controller
        if c is not None:
            c.select_crop(None if c.target == key else key)

    def _list_clicked(self, item: QListWidgetItem) -> None:
        if self.controller is not None:
            self.controller.goto_group(item.data(GROUP_ROLE))

    # ------------------------------------------------------------------ action handlers
    def _call(self, name: str, *args: object) -> None:
        if self.controller is not None:
            getattr(self.controller, name)(*args)

    def row_up(self) -> None:
        self._call("row_up")

    def row_down(self) -> None:
        self._call("row_down")

    def digit_0(self) -> None:
        self._call("digit", 0)

    def digit_1(self) -> None:
        self._call("digit", 1)

    def digit_2(self) -> None:
        self._call("digit", 2)

    def digit_3(self) -> None:
        self._call("digit", 3)

    def digit_4(self) -> None:
        self._call("digit", 4)

    def digit_5(self) -> None:
        self._call("digit", 5)

    def digit_6(self) -> None:
        self._call("digit", 6)

    def digit_7(self) -> None:
        self._call("digit", 7)

    def digit_8(self) -> None:
        self._call("digit", 8)

    def digit_9(self) -> None:
        self._call("digit", 9)

    def toggle_skylight(self) -> None:
        self._call("toggle", "skylight")

    def toggle_bumper(self) -> None:
        self._call("toggle", "bumper")

    def toggle_spare_tire(self) -> None:
        self._call("toggle", "spare_tire")

    def toggle_luggage_rack(self) -> None:
        self._call("toggle", "luggage_rack")

    def clear_value(self) -> None:
        self._call("clear_value")

    def clear_overrides(self) -> None:
        self._call("clear_overrides")

    def accept(self) -> None:
        self._call("accept")

    def next_vehicle(self) -> None:
        self._call("next_group")

    def prev_vehicle(self) -> None:
        self._call("prev_group")

    def next_review(self) -> None:
        self._call("next_review")

    def next_crop(self) -> None:
        self._call("select_crop_step", 1)

    def prev_crop(self) -> None:
        self._call("select_crop_step", -1)

    def deselect(self) -> None:
        self._call("select_crop", None)

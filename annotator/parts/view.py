"""Stage 4 screen: the enlarged crop, and the vehicle's other crops with their parts beside it.

Handlers (the stage's rows in the action table) are the methods at the bottom.
"""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QObject, Qt, QThreadPool, pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from vrai_tools.crops import pixel_box

from ..attributes.crops import CropCache
from ..attributes.tiles import CropGrid, thumbnail
from ..document import BaseDocument
from ..stages.base import StageView
from ..wiring import DocumentWiring
from . import options
from .canvas import COLOURS, PartsCanvas
from .controller import PartsController
from .document import PartsDocument

HINT = (
    "<b>Drag</b> on the crop to draw a part · drag a part or its corner to edit · <b>Del</b> deletes<br>"
    "<b>N</b>: no discriminative part (next crop) · <b>Enter</b>: accept proposals (magenta), next crop · "
    "<b>R</b> rejects them<br><b>D / A</b> next / previous crop · <b>Tab</b> next vehicle · <b>F1</b> every key"
)
STATE_TEXT = {"todo": "not done", "done": "done", "none": "none found"}


class _Relay(QObject):
    proposals = pyqtSignal(object, str)  # {key: [(box, score)]}, error


class PartsView(StageView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: PartsDocument | None = None
        self.controller: PartsController | None = None
        self.crops: CropCache | None = None
        self._wiring = DocumentWiring()
        self.detector: Path | None = None
        self._shown_group: str | None = None
        self._shown_key: str | None = None
        self.header = QLabel(self)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.canvas = PartsCanvas(self)
        self.others = CropGrid(side=96, parent=self)
        hint = QLabel(HINT, self)
        hint.setWordWrap(True)
        left = QVBoxLayout()
        left.addWidget(self.header)
        left.addWidget(self.canvas, 1)
        left.addWidget(hint)
        right = QVBoxLayout()
        right.addWidget(QLabel("This vehicle's crops (click to go)", self))
        right.addWidget(self.others, 1)
        side = QWidget(self)
        side.setLayout(right)
        side.setFixedWidth(290)  # two columns of crops beside a scroll bar
        layout = QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addWidget(side)
        self.others.clicked.connect(self._other_clicked)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.proposals.connect(self._proposals_ready)

    # ------------------------------------------------------------------ document
    def set_document(self, doc: BaseDocument) -> None:
        assert isinstance(doc, PartsDocument)
        self.clear_document()
        self.doc = doc
        w = self._wiring
        self.crops = w.own(CropCache(doc.root, lambda k: (*doc.frame_file(k), doc.instance(k).bbox), parent=self))
        w.connect(self.crops.ready, self._crop_ready)
        self.controller = w.own(PartsController(doc, parent=self))
        w.connect(self.controller.changed, self.refresh)
        w.connect(self.controller.message, self.status.emit)
        for sig in (doc.instancesChanged, doc.proposalsChanged):
            w.connect(sig, self._doc_changed)
        self.canvas.set_controller(self.controller)
        self.refresh()
        self.detector = options.DETECTOR
        if self.detector is not None:
            self._start_detector(self.detector)
        self.canvas.setFocus()

    def clear_document(self) -> None:
        self._wiring.release()
        self._pool.clear()
        self.doc = self.controller = self.crops = None
        self._shown_group = self._shown_key = None
        self.canvas.set_controller(None)
        self.others.set_keys([], str)

    # ------------------------------------------------------------------ proposals
    def _start_detector(self, source: Path) -> None:
        doc = self.doc
        assert doc is not None
        keys, root, relay = doc.walk(), doc.root, self._relay
        self.status.emit(f"detector {source}: finding part proposals…")

        def work() -> None:
            from .proposals import load_proposals

            try:
                result, error = load_proposals(root, source, keys), ""
            except Exception as e:  # shown in the status bar; annotating goes on without proposals
                result, error = {}, str(e)
            try:
                relay.proposals.emit(result, error)
            except RuntimeError:
                pass

        self._pool.start(work)

    def _proposals_ready(self, proposals: dict, error: str) -> None:
        if self.doc is None:
            return
        if error:
            self.status.emit(f"no part proposals: {error}")
            return
        todo = {k: v for k, v in proposals.items() if self.doc.parts(k).state == "todo"}
        self.doc.set_proposals(todo)
        self.status.emit(f"part proposals for {len(todo)} crop(s) not done yet: Enter accepts, R rejects")

    def wait_for_proposals(self) -> None:
        """Block until the detector has answered (tests, screenshots)."""
        from PyQt6.QtCore import QCoreApplication

        self._pool.waitForDone()
        # The relay's queued signal goes to PyQt's hidden proxy of the slot, not to the relay
        # or this view: deliver every posted event (not deferred deletes: type 0).
        QCoreApplication.sendPostedEvents(None, 0)

    # ------------------------------------------------------------------ redraws
    def _origin(self, key: str) -> tuple[int, int, int, int]:
        assert self.doc is not None
        _, size = self.doc.frame_file(key)
        return pixel_box(self.doc.instance(key).bbox, size)

    def _crop_ready(self, key: str) -> None:
        c = self.controller
        if c is None:
            return
        if key == c.key:
            self._show_crop()
        if key in self.others.tiles:
            self._style_tile(key)

    def _show_crop(self) -> None:
        c, crops = self.controller, self.crops
        if c is None or crops is None or c.key is None:
            return
        x0, y0, x1, y1 = self._origin(c.key)
        self.canvas.set_crop(crops.get(c.key), (x1 - x0, y1 - y0), (x0, y0))
        self.canvas.fit()

    def _style_tile(self, key: str) -> None:
        doc, c, crops = self.doc, self.controller, self.crops
        tile = self.others.tiles.get(key)
        if doc is None or c is None or crops is None or tile is None:
            return
        x0, y0, _, _ = self._origin(key)
        boxes = [(b, COLOURS["box"]) for b in doc.parts(key).boxes]
        boxes += [(p.box, COLOURS["proposal"]) for p in doc.proposals(key)]
        tile.set_pixmap(thumbnail(crops.get(key), self.others.side, boxes, (x0, y0)))
        state = doc.parts(key).state
        tile.caption.setText(f"{doc.short_label(key)}\n{STATE_TEXT[state]}"
                             + (f" · {len(doc.parts(key).boxes)}" if state == "done" else ""))
        tile.set_state("selected" if key == c.key else "override" if state == "todo" else "normal")

    def _doc_changed(self, keys: frozenset[str]) -> None:
        c = self.controller
        if c is None:
            return
        if c.key in keys:
            self.canvas.refresh()
        for key in keys:
            if key in self.others.tiles:
                self._style_tile(key)
        self._update_header()

    def refresh(self) -> None:
        doc, c = self.doc, self.controller
        if doc is None or c is None or c.key is None:
            self.header.setText("no instance in this pair" if doc is not None else "")
            return
        g = c.group
        assert g is not None
        if g.id != self._shown_group:
            self._shown_group = g.id
            self.others.set_keys(g.keys, doc.short_label)
            if self.crops is not None:
                self.crops.request(g.keys)
        if c.key != self._shown_key:
            previous, self._shown_key = self._shown_key, c.key
            self._show_crop()
            if previous in self.others.tiles:
                self._style_tile(previous)
            self.others.reveal(c.key)
        for key in g.keys:
            self._style_tile(key)
        self.canvas.refresh()
        self._update_header()

    def _update_header(self) -> None:
        doc, c = self.doc, self.controller
        if doc is None or c is None or c.key is None:
            return
        g = c.group
        assert g is not None
        parts = doc.parts(c.key)
        state = STATE_TEXT[parts.state] + (f" ({len(parts.boxes)} part(s))" if parts.state == "done" else "")
        props = doc.proposals(c.key)
        extra = f" · <span style='color:#c040c0'>{len(props)} proposal(s)</span>" if props else ""
        i = g.keys.index(c.key)
        self.header.setText(f"<b>{g.label}</b> — crop {i + 1}/{len(g.keys)} ({doc.short_label(c.key)}) — "
                            f"<b>{state}</b>{extra}")
        self.info.emit(f"pair {doc.pair_id} · parts answered for {doc.done_count()}/{doc.instance_count()} "
                       f"instances · crop {c.position + 1}/{len(c.order)}")

    def _other_clicked(self, key: str) -> None:
        if self.controller is not None:
            self.controller.goto_key(key)

    # ------------------------------------------------------------------ action handlers
    def _call(self, name: str) -> None:
        if self.controller is not None:
            getattr(self.controller, name)()

    def next_instance(self) -> None:
        self._call("next_instance")

    def prev_instance(self) -> None:
        self._call("prev_instance")

    def next_todo(self) -> None:
        self._call("next_todo")

    def prev_todo(self) -> None:
        self._call("prev_todo")

    def next_vehicle(self) -> None:
        self._call("next_group")

    def prev_vehicle(self) -> None:
        self._call("prev_group")

    def mark_none(self) -> None:
        self._call("mark_none")

    def accept(self) -> None:
        self._call("accept")

    def reject(self) -> None:
        self._call("reject")

    def delete_selected(self) -> None:
        self._call("delete_selected")

    def cancel(self) -> None:
        self._call("cancel")

    def zoom_in(self) -> None:
        self.canvas.zoom_in()

    def zoom_out(self) -> None:
        self.canvas.zoom_out()

    def fit(self) -> None:
        self.canvas.fit()

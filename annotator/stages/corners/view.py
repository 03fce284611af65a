"""Stage 1 screen: canvas, frame bar, instance list. Handlers here are the stage's actions."""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...document import BaseDocument, ClipDocument
from ...frame_cache import FrameCache
from ...wiring import DocumentWiring
from ..base import StageView
from .canvas import CornersCanvas
from .controller import CornersController, Selection
from .frame_bar import FrameBar

HINT = (
    "<b>Click 4 corners</b> of a vehicle.<br>"
    "<b>Enter</b> accepts proposals (dashed), then finishes the frame.<br>"
    "<b>D / A</b> next / previous frame. <b>Del</b> deletes. <b>Arrows</b> nudge.<br>"
    "(default keys; <b>F1</b> lists yours)"
)


class CornersView(StageView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: ClipDocument | None = None
        self.controller: CornersController | None = None
        self.cache: FrameCache | None = None
        self._wiring = DocumentWiring()
        self.shown_frame: int | None = None  # whose pixels are on the canvas (None: placeholder)
        self.canvas = CornersCanvas(self)
        self.frame_bar = FrameBar(self)
        self.list = QListWidget(self)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the canvas
        self.list.setMinimumWidth(190)
        hint = QLabel(HINT, self)
        hint.setWordWrap(True)
        left = QVBoxLayout()
        left.addWidget(self.canvas, 1)
        left.addWidget(self.frame_bar)
        right = QVBoxLayout()
        right.addWidget(QLabel("Vehicles on this frame", self))
        right.addWidget(self.list, 1)
        right.addWidget(hint)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addLayout(right)
        self.frame_bar.seek.connect(self._seek)
        self.list.itemSelectionChanged.connect(self._list_selected)

    # --- document
    def set_document(self, doc: BaseDocument) -> None:
        assert isinstance(doc, ClipDocument)
        self.clear_document()
        self.doc = doc
        w = self._wiring
        self.cache = w.own(FrameCache(doc.root, doc.clip, parent=self))
        w.connect(self.cache.ready, self._frame_ready)
        w.connect(doc.instancesChanged, self._doc_changed)
        w.connect(doc.proposalsChanged, self._doc_changed)
        w.connect(doc.framesDoneChanged, self._update_states)
        self.controller = c = w.own(CornersController(doc, self.cache, parent=self))
        w.connect(c.frameChanged, self._frame_changed)
        w.connect(c.selectionChanged, self._selection_changed)
        w.connect(c.draftChanged, self.canvas.refresh_draft)
        w.connect(c.message, self.status.emit)
        self.canvas.set_controller(c)
        self._update_states()
        self._frame_changed()
        self.canvas.setFocus()

    def clear_document(self) -> None:
        self._wiring.release()
        self.doc = self.controller = self.cache = None
        self.shown_frame = None
        self.canvas.set_controller(None)
        self.list.clear()

    # --- redraws
    def _show_image(self) -> None:
        c = self.controller
        if c is None or self.cache is None:
            return
        decoded = self.cache.get(c.frame)
        if decoded is None or self.shown_frame != c.frame:
            self.canvas.set_image(decoded.image if decoded else None, c.doc.image_size)
            self.shown_frame = decoded.index if decoded else None

    def _frame_ready(self, index: int) -> None:
        if self.controller is not None and index == self.controller.frame:
            self._show_image()

    def _frame_changed(self) -> None:
        self._show_image()
        self.canvas.refresh()
        self._fill_list()
        self._update_info()
        if self.controller is not None:
            self.frame_bar.set_position(self.controller.position)

    def _doc_changed(self, frame: int) -> None:
        c = self.controller
        if c is not None and frame == c.frame:
            self.canvas.refresh()
            self._fill_list()
            self._update_info()
        self._update_state_of(frame)

    def _selection_changed(self) -> None:
        self.canvas.refresh()
        self._sync_list_selection()

    def _fill_list(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        c = self.controller
        if c is not None:
            for inst in c.doc.instances_on(c.frame):
                x1, y1, x2, y2 = inst.bbox
                item = QListWidgetItem(f"#{inst.key.rpartition(':')[2]}   {x2 - x1:.0f}×{y2 - y1:.0f} px")
                item.setData(Qt.ItemDataRole.UserRole, Selection("instance", inst.key))
                self.list.addItem(item)
            for p in c.doc.proposals_on(c.frame):
                item = QListWidgetItem(f"proposal from #{p.source.rpartition(':')[2]}  (Enter)")
                item.setData(Qt.ItemDataRole.UserRole, Selection("proposal", p.id))
                font = item.font()
                font.setItalic(True)
                item.setFont(font)
                self.list.addItem(item)
        self.list.blockSignals(False)
        self._sync_list_selection()

    def _sync_list_selection(self) -> None:
        c = self.controller
        self.list.blockSignals(True)
        self.list.clearSelection()
        for i in range(self.list.count()):
            item = self.list.item(i)
            if c is not None and item is not None and item.data(Qt.ItemDataRole.UserRole) == c.selection:
                item.setSelected(True)
                self.list.scrollToItem(item)
        self.list.blockSignals(False)

    def _list_selected(self) -> None:
        items = self.list.selectedItems()
        if self.controller is not None and items:
            self.controller.select(items[0].data(Qt.ItemDataRole.UserRole))

    def frame_state(self, frame: int) -> str:
        assert self.doc is not None
        if self.doc.is_done(frame):
            return "done"
        return "started" if self.doc.instances_on(frame) else "empty"

    def _update_states(self) -> None:
        if self.doc is not None:
            self.frame_bar.set_states([self.frame_state(f) for f in self.doc.frame_indices])
            self._update_info()

    def _update_state_of(self, frame: int) -> None:
        if self.doc is not None and frame in self.doc.frame_indices:
            states = list(self.frame_bar.states)
            states[self.doc.frame_indices.index(frame)] = self.frame_state(frame)
            self.frame_bar.set_states(states)

    def _update_info(self) -> None:
        c = self.controller
        if c is None:
            return
        doc = c.doc
        done = len(doc.frames_done())
        state = "done" if doc.is_done(c.frame) else "not done"
        n, p = len(doc.instances_on(c.frame)), len(doc.proposals_on(c.frame))
        text = (f"{doc.clip_id} · frame {c.frame} ({c.position + 1}/{c.frame_count}) · {state} · "
                f"{n} vehicle(s){f', {p} proposal(s)' if p else ''} · clip {done}/{c.frame_count} frames done")
        self.info.emit(text)

    def _seek(self, position: int) -> None:
        if self.controller is not None:
            self.controller.goto_position(position)

    # --- action handlers (see annotator.actions)
    def _call(self, name: str, *args: float) -> None:
        if self.controller is not None:
            getattr(self.controller, name)(*args)

    def next_frame(self) -> None:
        self._call("next_frame")

    def prev_frame(self) -> None:
        self._call("prev_frame")

    def next_unfinished(self) -> None:
        self._call("next_unfinished")

    def prev_unfinished(self) -> None:
        self._call("prev_unfinished")

    def goto_frame(self) -> None:
        c = self.controller
        if c is None:
            return
        indices = c.doc.frame_indices
        value, ok = QInputDialog.getInt(self, "Go to frame", f"Frame index ({indices[0]}–{indices[-1]}):",
                                        c.frame, indices[0], indices[-1])
        if ok:
            c.goto_frame(value)

    def accept(self) -> None:
        self._call("accept")

    def toggle_done(self) -> None:
        self._call("toggle_done")

    def delete_selected(self) -> None:
        self._call("delete_selected")

    def cancel(self) -> None:
        self._call("cancel")

    def select_next(self) -> None:
        self._call("select_step", 1)

    def select_prev(self) -> None:
        self._call("select_step", -1)

    def nudge_left(self) -> None:
        self._call("nudge", -1, 0)

    def nudge_right(self) -> None:
        self._call("nudge", 1, 0)

    def nudge_up(self) -> None:
        self._call("nudge", 0, -1)

    def nudge_down(self) -> None:
        self._call("nudge", 0, 1)

    def nudge_left_10(self) -> None:
        self._call("nudge", -10, 0)

    def nudge_right_10(self) -> None:
        self._call("nudge", 10, 0)

    def nudge_up_10(self) -> None:
        self._call("nudge", 0, -10)

    def nudge_down_10(self) -> None:
        self._call("nudge", 0, 10)

    def zoom_in(self) -> None:
        self.canvas.zoom_in()

    def zoom_out(self) -> None:
        self.canvas.zoom_out()

    def fit(self) -> None:
        self.canvas.fit()

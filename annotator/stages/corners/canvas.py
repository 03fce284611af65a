"""The stage-1 canvas: the frame, its vehicles and proposals, and the corners being clicked.

Mouse events become controller calls; the controller and document signals trigger a
redraw of the (few dozen) items of the current frame.
"""
from __future__ import annotations

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QBrush, QColor, QMouseEvent, QPainterPath, QPen, QPolygonF, QTransform
from PyQt6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPolygonItem,
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
    QWidget,
)

from schemas import bbox_of_corners

from ...canvas import ImageCanvas
from ...document import Corners
from .controller import CornersController, Selection

HANDLE = 9.0  # on-screen size of a corner handle, in device-independent pixels
DRAG_START = 3.0  # how far the mouse moves before a press on a handle becomes a drag

COLOURS = {
    "instance": QColor(40, 220, 120),
    "proposal": QColor(255, 150, 20),
    "selected": QColor(255, 235, 40),
    "draft": QColor(80, 200, 255),
}


def _pen(colour: QColor, width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(colour, width, style)
    pen.setCosmetic(True)  # same width at every zoom
    return pen


class HandleItem(QGraphicsRectItem):
    def __init__(self, owner: Selection, corner: int, pos: QPointF, colour: QColor, parent: QGraphicsItem) -> None:
        super().__init__(QRectF(-HANDLE / 2, -HANDLE / 2, HANDLE, HANDLE), parent)
        self.owner, self.corner = owner, corner
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setPos(pos)
        self.setPen(_pen(QColor(0, 0, 0), 1))
        self.setBrush(QBrush(colour))
        self.setZValue(2)


class ShapeItem(QGraphicsPolygonItem):
    """One vehicle (or proposal): its four-corner outline, the derived box and its handles."""

    def __init__(self, owner: Selection, corners: Corners, label: str, selected: bool) -> None:
        super().__init__()
        self.owner = owner
        proposal = owner.kind == "proposal"
        colour = COLOURS["selected"] if selected else COLOURS[owner.kind]
        style = Qt.PenStyle.DashLine if proposal else Qt.PenStyle.SolidLine
        self.setPen(_pen(colour, 3 if selected else 2, style))
        fill = QColor(colour)
        fill.setAlpha(40 if selected else 18)
        self.setBrush(QBrush(fill))
        self.box = QGraphicsRectItem(self)
        self.box.setPen(_pen(colour.lighter(130), 1, Qt.PenStyle.DotLine))
        text = QGraphicsSimpleTextItem(label, self)
        text.setBrush(QBrush(colour))
        text.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        text.setTransform(QTransform.fromTranslate(4, -18))  # screen pixels: just above the box
        back = QGraphicsRectItem(text.boundingRect().adjusted(-2, -1, 2, 1), text)  # legible on any ground
        back.setBrush(QBrush(QColor(0, 0, 0, 140)))
        back.setPen(QPen(Qt.PenStyle.NoPen))
        back.setFlag(QGraphicsItem.GraphicsItemFlag.ItemStacksBehindParent)
        self.text = text
        self.handles = [HandleItem(owner, i, QPointF(*p), colour, self) for i, p in enumerate(corners)]
        self.set_corners(corners)

    def set_corners(self, corners: Corners) -> None:
        self.setPolygon(QPolygonF([QPointF(x, y) for x, y in corners]))
        x1, y1, x2, y2 = bbox_of_corners(corners)
        self.box.setRect(QRectF(QPointF(x1, y1), QPointF(x2, y2)))
        self.text.setPos(QPointF(x1, y1))
        for handle, (x, y) in zip(self.handles, corners):
            handle.setPos(QPointF(x, y))

    def corners(self) -> Corners:
        return tuple((h.pos().x(), h.pos().y()) for h in self.handles)  # type: ignore[return-value]


class CornersCanvas(ImageCanvas):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller: CornersController | None = None
        self.shapes: list[ShapeItem] = []
        self._draft_item = QGraphicsPathItem()
        self._draft_item.setPen(_pen(COLOURS["draft"], 2))
        self._draft_item.setZValue(3)
        self.scene().addItem(self._draft_item)
        self._mouse_scene: QPointF | None = None
        self._drag: tuple[HandleItem, QPointF, bool] | None = None  # handle, press position, moved

    def set_controller(self, controller: CornersController | None) -> None:
        self.controller = controller
        self.refresh()

    # --- drawing
    def refresh(self) -> None:
        for shape in self.shapes:
            self.scene().removeItem(shape)
        self.shapes = []
        self._drag = None
        c = self.controller
        if c is not None:
            doc, frame, sel = c.doc, c.frame, c.selection
            for inst in doc.instances_on(frame):
                owner = Selection("instance", inst.key)
                self.shapes.append(ShapeItem(owner, inst.corners, "#" + inst.key.rpartition(":")[2], owner == sel))
            for p in doc.proposals_on(frame):
                owner = Selection("proposal", p.id)
                label = "→#" + p.source.rpartition(":")[2]
                self.shapes.append(ShapeItem(owner, p.corners, label, owner == sel))
            for shape in self.shapes:
                self.scene().addItem(shape)
        self.refresh_draft()

    def refresh_draft(self) -> None:
        path = QPainterPath()
        points = self.controller.draft if self.controller else []
        if points:
            path.moveTo(QPointF(*points[0]))
            for p in points[1:]:
                path.lineTo(QPointF(*p))
            if self._mouse_scene is not None:
                path.lineTo(self._mouse_scene)
            r = 2.5 / max(self.scale_factor(), 1e-6)
            for p in points:
                path.addEllipse(QPointF(*p), r, r)
        self._draft_item.setPath(path)

    # --- mouse
    def _handle_at(self, pos: QPointF) -> HandleItem | None:
        for item in self.items(pos.toPoint()):
            if isinstance(item, HandleItem):
                return item
        return None

    def _shape_at(self, scene_pos: QPointF) -> ShapeItem | None:
        for shape in reversed(self.shapes):  # the topmost first
            if shape.polygon().containsPoint(scene_pos, Qt.FillRule.OddEvenFill):
                return shape
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.start_pan(event) or self.controller is None:
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        c = self.controller
        scene_pos = self.to_scene(event.position())
        forced = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)  # a corner even on a vehicle
        if not c.draft and not forced:
            handle = self._handle_at(event.position())
            if handle is not None:
                self._drag = (handle, event.position(), False)
                return
            shape = self._shape_at(scene_pos)
            if shape is not None:
                c.select(shape.owner)
                return
        c.click(scene_pos.x(), scene_pos.y())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.pan_move(event):
            return
        scene_pos = self.to_scene(event.position())
        if self._drag is not None:
            handle, start, moved = self._drag
            if not moved and (event.position() - start).manhattanLength() < DRAG_START:
                return
            self._drag = (handle, start, True)
            p = self.controller.clamp_point(scene_pos.x(), scene_pos.y()) if self.controller else None
            if p is not None:
                shape = handle.parentItem()
                assert isinstance(shape, ShapeItem)
                corners = list(shape.corners())
                corners[handle.corner] = p
                shape.set_corners(tuple(corners))  # type: ignore[arg-type]
            return
        self._mouse_scene = scene_pos
        if self.controller is not None and self.controller.draft:
            self.refresh_draft()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self.end_pan() or self._drag is None or self.controller is None:
            return
        handle, _, moved = self._drag
        self._drag = None
        if moved:
            pos = self.to_scene(event.position())
            self.controller.move_corner(handle.owner, handle.corner, pos.x(), pos.y())
            self.refresh()  # also restores the outline when the move was refused
        else:
            self.controller.select(handle.owner)

    def scene_to_viewport(self, x: float, y: float) -> QPointF:
        """Image pixels to viewport coordinates (what a test clicks)."""
        return self.viewportTransform().map(QPointF(x, y))

"""The enlarged crop with its part boxes and proposals; drag to draw, drag to edit.

Scene units are crop pixels (the crop fills the scene); the controller speaks frame
pixels, so every box crosses ``origin`` (the crop's top-left in the frame) once, here.
A press on empty space starts a new box, on a box selects it and moves it, on a
corner handle of the selected box resizes it; a whole drag is one undo step.
"""
from __future__ import annotations

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QBrush, QColor, QImage, QMouseEvent, QPen, QTransform
from PyQt6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QGraphicsSimpleTextItem, QWidget

from ..canvas import ImageCanvas
from .controller import PartsController, Selection

HANDLE = 9.0  # on-screen size of a corner handle
DRAG_START = 3.0  # screen pixels before a press becomes a drag
COLOURS = {
    "box": QColor(40, 220, 120),
    "selected": QColor(255, 235, 40),
    "proposal": QColor(230, 60, 230),
    "draft": QColor(80, 200, 255),
    "bbox": QColor(255, 255, 255, 140),
}
Box = tuple[float, float, float, float]


def _pen(colour: QColor, width: float, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(colour, width, style)
    pen.setCosmetic(True)
    return pen


class PartItem(QGraphicsRectItem):
    def __init__(self, owner: Selection, rect: QRectF, selected: bool, label: str = "") -> None:
        super().__init__(rect)
        self.owner = owner
        proposal = owner.kind == "proposal"
        colour = COLOURS["selected"] if selected else COLOURS["proposal" if proposal else "box"]
        self.setPen(_pen(colour, 3 if selected else 2, Qt.PenStyle.DashLine if proposal else Qt.PenStyle.SolidLine))
        fill = QColor(colour)
        fill.setAlpha(45 if selected else 20)
        self.setBrush(QBrush(fill))
        self.handles: list[QGraphicsRectItem] = []
        if label:
            text = QGraphicsSimpleTextItem(label, self)
            text.setBrush(QBrush(colour))
            text.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            text.setTransform(QTransform.fromTranslate(2, -16))
            text.setPos(rect.topLeft())
        if selected and not proposal:
            for corner in (rect.topLeft(), rect.topRight(), rect.bottomRight(), rect.bottomLeft()):
                h = QGraphicsRectItem(QRectF(-HANDLE / 2, -HANDLE / 2, HANDLE, HANDLE), self)
                h.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
                h.setPos(corner)
                h.setPen(_pen(QColor(0, 0, 0), 1))
                h.setBrush(QBrush(colour))
                h.setZValue(2)
                self.handles.append(h)


class PartsCanvas(ImageCanvas):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller: PartsController | None = None
        self.origin: tuple[float, float] = (0.0, 0.0)
        self.items_: list[PartItem] = []
        self._bbox_item = QGraphicsRectItem()
        self._bbox_item.setPen(_pen(COLOURS["bbox"], 1, Qt.PenStyle.DotLine))
        self._bbox_item.setZValue(0.5)
        self.scene().addItem(self._bbox_item)
        self._draft = QGraphicsRectItem()
        self._draft.setPen(_pen(COLOURS["draft"], 2))
        self._draft.setZValue(3)
        self._draft.setVisible(False)
        self.scene().addItem(self._draft)
        # a press in progress: (mode, press scene pos, start box in frame px, index, moved, merge token)
        self._press: tuple[str, QPointF, Box | None, int, bool, object] | None = None
        self._press_view: QPointF | None = None

    def set_controller(self, controller: PartsController | None) -> None:
        self.controller = controller
        self.refresh()

    def set_crop(self, image: QImage | None, size: tuple[int, int], origin: tuple[float, float]) -> None:
        self.origin = origin
        self.set_image(image, size)

    # --- coordinates
    def to_frame(self, p: QPointF) -> tuple[float, float]:
        return (p.x() + self.origin[0], p.y() + self.origin[1])

    def rect_of(self, box: Box) -> QRectF:
        ox, oy = self.origin
        return QRectF(QPointF(box[0] - ox, box[1] - oy), QPointF(box[2] - ox, box[3] - oy))

    def frame_point_to_view(self, x: float, y: float) -> QPointF:
        """Where a frame pixel is on the widget (tests click there)."""
        return QPointF(self.mapFromScene(QPointF(x - self.origin[0], y - self.origin[1])))

    # --- drawing
    def refresh(self) -> None:
        for item in self.items_:
            self.scene().removeItem(item)
        self.items_ = []
        c = self.controller
        key = c.key if c is not None else None
        if c is None or key is None:
            self._bbox_item.setVisible(False)
            return
        inst = c.doc.instance(key)
        self._bbox_item.setRect(self.rect_of(inst.bbox))
        self._bbox_item.setVisible(True)
        for i, box in enumerate(inst.parts.boxes):
            owner = Selection("box", i)
            self.items_.append(PartItem(owner, self.rect_of(box), owner == c.selection, f"#{i + 1}"))
        for p in c.doc.proposals(key):
            owner = Selection("proposal", p.id)
            self.items_.append(PartItem(owner, self.rect_of(p.box), owner == c.selection, f"{p.score:.2f}"))
        for item in self.items_:
            item.setZValue(1)
            self.scene().addItem(item)

    # --- mouse
    def _hit(self, view_pos: QPointF, scene_pos: QPointF) -> tuple[str, int, Selection | None]:
        """What a press lands on: ("handle", corner, box), ("box"/"proposal", -1, owner) or ("empty", -1, None)."""
        for item in self.items_:
            for corner, h in enumerate(item.handles):
                if h in self.items(view_pos.toPoint()):
                    return "handle", corner, item.owner
        for item in reversed(self.items_):
            if item.rect().contains(scene_pos):
                return item.owner.kind, -1, item.owner
        return "empty", -1, None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.start_pan(event):
            return
        c = self.controller
        if c is None or c.key is None or event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        scene = self.to_scene(event.position())
        what, corner, owner = self._hit(event.position(), scene)
        token = object()
        if what == "handle" and owner is not None:
            box = c.doc.parts(c.key).boxes[owner.id]
            self._press = ("resize", scene, tuple(box), owner.id * 4 + corner, False, token)  # type: ignore[arg-type]
        elif what == "box" and owner is not None:
            c.select(owner)
            box = c.doc.parts(c.key).boxes[owner.id]
            self._press = ("move", scene, tuple(box), owner.id, False, token)  # type: ignore[arg-type]
        elif what == "proposal" and owner is not None:
            c.select(owner)
            self._press = None
        else:
            self._press = ("draw", scene, None, -1, False, token)
        self._press_view = event.position()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.pan_move(event):
            return
        c = self.controller
        if self._press is None or c is None or c.key is None or self._press_view is None:
            super().mouseMoveEvent(event)
            return
        mode, start, box, index, moved, token = self._press
        if not moved:
            d = event.position() - self._press_view
            if abs(d.x()) + abs(d.y()) < DRAG_START:
                return
            moved = True
            self._press = (mode, start, box, index, True, token)
        scene = self.to_scene(event.position())
        if mode == "draw":
            self._draft.setRect(QRectF(start, scene).normalized())
            self._draft.setVisible(True)
        elif mode == "move" and box is not None:
            dx, dy = scene.x() - start.x(), scene.y() - start.y()
            bx1, by1, bx2, by2 = c.doc.instance(c.key).bbox  # slide along the edge rather than shrink
            dx = min(max(dx, bx1 - box[0]), bx2 - box[2])
            dy = min(max(dy, by1 - box[1]), by2 - box[3])
            c.move_box(index, (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy), merge=token)
        elif mode == "resize" and box is not None:
            b, corner = index // 4, index % 4
            x, y = self.to_frame(scene)
            x1, y1, x2, y2 = box
            if corner in (0, 3):
                x1 = x
            else:
                x2 = x
            if corner in (0, 1):
                y1 = y
            else:
                y2 = y
            c.move_box(b, (x1, y1, x2, y2), merge=token)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self.end_pan():
            return
        c = self.controller
        press, self._press = self._press, None
        self._draft.setVisible(False)
        if press is None or c is None:
            super().mouseReleaseEvent(event)
            return
        mode, start, _, _, moved, _ = press
        if mode == "draw":
            if moved:
                x1, y1 = self.to_frame(start)
                x2, y2 = self.to_frame(self.to_scene(event.position()))
                c.draw_box((x1, y1, x2, y2))
            else:
                c.select(None)
        event.accept()

"""A zoomable, pannable view of one image, in image-pixel scene coordinates.

Shared by the stages that draw on frames or crops. Scene units are image pixels as
floats (QPointF/QRectF), so annotations keep sub-pixel precision at any zoom and on
Hi-DPI screens; pens are cosmetic and handles ignore the view transform, so they keep
their on-screen size.
"""
from __future__ import annotations

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QBrush, QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPixmap, QResizeEvent, QWheelEvent
from PyQt6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

ZOOM_STEP = 1.25
MIN_SCALE, MAX_SCALE = 0.05, 40.0


class ImageCanvas(QGraphicsView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._image_item = QGraphicsPixmapItem()
        self._image_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self._image_item)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setBackgroundBrush(QBrush(QColor(40, 40, 44)))
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._fitted = True  # follow the window size until the user zooms
        self._space_down = False
        self._pan_from: QPointF | None = None

    # --- image
    def set_image(self, image: QImage | None, size: tuple[int, int]) -> None:
        w, h = size
        if image is None:
            placeholder = QPixmap(max(w, 1), max(h, 1))
            placeholder.fill(QColor(70, 70, 76))
            self._image_item.setPixmap(placeholder)
        else:
            self._image_item.setPixmap(QPixmap.fromImage(image))
        rect = QRectF(0, 0, w, h)
        if self.sceneRect() != rect:
            self.setSceneRect(rect)
            self._fitted = True
        if self._fitted:
            self.fit()

    def to_scene(self, pos: QPointF) -> QPointF:
        """Viewport position (sub-pixel on Hi-DPI) to image pixels."""
        inverse, _ = self.viewportTransform().inverted()
        return inverse.map(pos)

    # --- zoom
    def scale_factor(self) -> float:
        return self.transform().m11()

    def zoom(self, factor: float) -> None:
        s = self.scale_factor()
        factor = max(MIN_SCALE / s, min(MAX_SCALE / s, factor))
        self.scale(factor, factor)
        self._fitted = False

    def zoom_in(self) -> None:
        self.zoom(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom(1 / ZOOM_STEP)

    def fit(self) -> None:
        if not self.sceneRect().isEmpty():
            self.fitInView(self.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self._fitted = True

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fitted:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom(ZOOM_STEP ** steps)
        event.accept()

    # --- pan: space + drag, or the middle button
    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def start_pan(self, event: QMouseEvent) -> bool:
        """Begin panning if this press asks for it; subclasses call it first in mousePressEvent."""
        middle = event.button() == Qt.MouseButton.MiddleButton
        if middle or (event.button() == Qt.MouseButton.LeftButton and self._space_down):
            self._pan_from = event.position()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return True
        return False

    def pan_move(self, event: QMouseEvent) -> bool:
        if self._pan_from is None:
            return False
        delta = event.position() - self._pan_from
        self._pan_from = event.position()
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
        self._fitted = False
        return True

    def end_pan(self) -> bool:
        if self._pan_from is None:
            return False
        self._pan_from = None
        if self._space_down:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.viewport().unsetCursor()
        return True

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if not self.start_pan(event):
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if not self.pan_move(event):
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if not self.end_pan():
            super().mouseReleaseEvent(event)

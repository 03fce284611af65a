"""A grid of crop thumbnails: every instance of the current vehicle at once.

Shared by the attributes view (all crops of the vehicle, overrides marked) and the
parts view (the vehicle's other crops with their part boxes, beside the big one).
"""
from __future__ import annotations

from typing import Callable, Sequence

from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen, QPixmap, QResizeEvent
from PyQt6.QtWidgets import QFrame, QGridLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

TILE = 128
BORDER = {
    "normal": QColor(90, 90, 96),
    "selected": QColor(60, 150, 255),
    "override": QColor(255, 150, 20),
}
Box = tuple[float, float, float, float]


def thumbnail(image: QImage | None, side: int, boxes: Sequence[tuple[Box, QColor]] = (),
              origin: tuple[int, int] = (0, 0)) -> QPixmap:
    """``image`` scaled to fit a ``side`` square, with boxes (frame pixels) drawn on it."""
    pix = QPixmap(side, side)
    pix.fill(QColor(48, 48, 52))
    if image is None or image.isNull():
        return pix
    scale = min(side / image.width(), side / image.height())
    w, h = image.width() * scale, image.height() * scale
    ox, oy = (side - w) / 2, (side - h) / 2
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    p.drawImage(QRectF(ox, oy, w, h), image)
    for (x1, y1, x2, y2), colour in boxes:
        pen = QPen(colour, 2)
        p.setPen(pen)
        p.drawRect(QRectF(QPointF(ox + (x1 - origin[0]) * scale, oy + (y1 - origin[1]) * scale),
                          QPointF(ox + (x2 - origin[0]) * scale, oy + (y2 - origin[1]) * scale)))
    p.end()
    return pix


class CropTile(QFrame):
    clicked = pyqtSignal(str)

    def __init__(self, key: str, caption: str, side: int = TILE, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.side = side
        self.setFrameShape(QFrame.Shape.Box)
        self.setLineWidth(3)
        self.image = QLabel(self)
        self.image.setFixedSize(QSize(side, side))
        self.caption = QLabel(caption, self)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setWordWrap(True)
        self.caption.setMaximumWidth(side)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)
        layout.setSpacing(2)
        layout.addWidget(self.image)
        layout.addWidget(self.caption)
        self.state = ""
        self.set_state("normal")
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_pixmap(self, pix: QPixmap) -> None:
        self.image.setPixmap(pix)

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            colour = BORDER[state]
            self.setStyleSheet(f"CropTile {{ border: 3px solid {colour.name()}; border-radius: 3px; }}")

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.key)
        event.accept()


class CropGrid(QScrollArea):
    """Tiles in as many columns as fit; rebuilt when the vehicle changes, restyled on edits."""

    clicked = pyqtSignal(str)

    def __init__(self, side: int = TILE, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.side = side
        self.setWidgetResizable(True)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.inner = QWidget(self)
        self.grid = QGridLayout(self.inner)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.grid.setSpacing(6)
        self.grid.setContentsMargins(4, 4, 4, 4)
        self.setWidget(self.inner)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.tiles: dict[str, CropTile] = {}
        self._order: list[str] = []
        self._columns = 0

    def set_keys(self, keys: Sequence[str], caption: Callable[[str], str]) -> None:
        for tile in self.tiles.values():
            tile.setParent(None)
            tile.deleteLater()
        self.tiles = {}
        self._order = list(keys)
        for key in keys:
            tile = CropTile(key, caption(key), self.side, self.inner)
            tile.clicked.connect(self.clicked.emit)
            self.tiles[key] = tile
        self._columns = 0
        self._layout()

    def columns(self) -> int:
        """As many as fit beside a vertical scroll bar, so they do not change when one appears."""
        width = self.viewport().width()
        if not self.verticalScrollBar().isVisible():
            width -= self.verticalScrollBar().sizeHint().width()
        return max(1, (width - 8) // (self.side + 18))

    def _layout(self) -> None:
        cols = self.columns()
        if cols == self._columns:
            return
        self._columns = cols
        for tile in self.tiles.values():
            self.grid.removeWidget(tile)
        for i, key in enumerate(self._order):
            self.grid.addWidget(self.tiles[key], i // cols, i % cols)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._layout()

    def reveal(self, key: str) -> None:
        tile = self.tiles.get(key)
        if tile is not None:
            self.ensureWidgetVisible(tile)

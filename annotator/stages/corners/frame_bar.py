"""A frame slider that shows, at a glance, which frames are still unfinished."""
from __future__ import annotations

from PyQt6.QtCore import QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

STATE_COLOURS = {
    "done": QColor(40, 170, 90),
    "started": QColor(230, 160, 30),  # has vehicles, not marked done
    "empty": QColor(150, 60, 60),  # nothing yet
}


class FrameBar(QWidget):
    seek = pyqtSignal(int)  # position in the clip's frame list

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.states: list[str] = []
        self.position = 0
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Frames: green done, amber started, red not started. Click or drag to move.")

    def sizeHint(self) -> QSize:
        return QSize(400, 22)

    def set_states(self, states: list[str]) -> None:
        self.states = states
        self.update()

    def set_position(self, position: int) -> None:
        self.position = position
        self.update()

    def _cell(self, i: int) -> QRectF:
        n = max(len(self.states), 1)
        w = self.width() / n
        return QRectF(i * w, 3, w, self.height() - 6)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(30, 30, 34))
        for i, state in enumerate(self.states):
            p.fillRect(self._cell(i), STATE_COLOURS[state])
        if self.states:
            cur = self._cell(self.position)
            centre = cur.center().x()
            marker = QRectF(centre - max(cur.width(), 3) / 2, 0, max(cur.width(), 3), self.height())
            p.setPen(QPen(QColor(255, 255, 255), 2))
            p.drawRect(marker.adjusted(1, 1, -1, -1))
        p.end()

    def _seek_to(self, event: QMouseEvent) -> None:
        if self.states:
            n = len(self.states)
            pos = int(event.position().x() / max(self.width(), 1) * n)
            pos = max(0, min(n - 1, pos))
            if pos != self.position:
                self.seek.emit(pos)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._seek_to(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._seek_to(event)

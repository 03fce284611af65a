"""Small painted widgets of the matching screens: a strip of crops, a candidate row, a frame with a box.

A strip paints its thumbnails itself (one widget, no child per crop), so a list of dozens
of candidates with ten crops each stays cheap to lay out and repaint.
"""
from __future__ import annotations

from typing import Callable, Sequence

from PyQt6.QtCore import QPoint, QPointF, QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QContextMenuEvent, QFont, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PyQt6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

ImageOf = Callable[[str], QImage | None]
GAP = 4.0
MIN_SCALE = 0.85  # crops shrink this far to fit a narrow strip; beyond that, fewer are shown
LABEL_W = 64.0  # room kept for "N boxes" after the crops

GREEN = QColor(46, 160, 90)
ORANGE = QColor(214, 137, 16)
RED = QColor(192, 57, 43)
GREY = QColor(140, 140, 140)
BLUE = QColor(52, 120, 200)


def spread(keys: Sequence[str], n: int) -> list[str]:
    """At most ``n`` keys evenly spread over the sequence, first and last included."""
    keys = list(keys)
    if len(keys) <= n:
        return keys
    if n == 1:
        return [keys[len(keys) // 2]]
    return [keys[round(i * (len(keys) - 1) / (n - 1))] for i in range(n)]


class CropStrip(QWidget):
    """Thumbnails of a tracklet's crops, left to right in time. Click selects; right-click asks for a menu."""

    clicked = pyqtSignal(str)
    menuRequested = pyqtSignal(str, QPoint)

    def __init__(self, image_of: ImageOf, height: int = 72, max_crops: int = 10,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image_of = image_of
        self.thumb_h = height
        self.max_crops = max_crops
        self.keys: list[str] = []
        self.total = 0
        self.selected: str | None = None
        self.dimmed = False
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(height + 4)

    def set_keys(self, keys: Sequence[str]) -> None:
        self.total = len(keys)
        self.keys = spread(keys, self.max_crops)
        if self.selected not in self.keys:
            self.selected = None
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(int(len(self.keys) * (self.thumb_h * 1.3 + GAP)) + 40, self.thumb_h + 4)

    def _natural_widths(self) -> list[float]:
        h = float(self.thumb_h)
        widths = []
        for key in self.keys:
            img = self.image_of(key)
            w = h * 1.2
            if img is not None and img.height() > 0:
                w = min(max(h * img.width() / img.height(), h * 0.5), h * 2.0)
            widths.append(w)
        return widths

    def _rects(self) -> list[tuple[str, QRectF]]:
        """The crops drawn, each whole: shrunk (down to MIN_SCALE) to fit the width, else evenly thinned out.

        The box count is written after the crops whenever some of the tracklet's boxes are not shown.
        """
        widths = self._natural_widths()
        if not widths:
            return []
        avail = self.width() - 4.0
        need = sum(widths) + GAP * (len(widths) - 1)
        if self.total > len(widths) or need > avail:
            avail -= LABEL_W
        scale = 1.0 if need <= avail else max(MIN_SCALE, avail / need)
        keys = list(self.keys)
        while len(keys) > 1 and sum(widths[self.keys.index(k)] for k in keys) * scale + GAP * (len(keys) - 1) > avail:
            keys = spread(self.keys, len(keys) - 1)  # fewer crops, still spread from first to last
        out = []
        x = 2.0
        h = self.thumb_h * scale
        y = 2.0 + (self.thumb_h - h) / 2
        for key in keys:
            w = widths[self.keys.index(key)] * scale
            out.append((key, QRectF(x, y, w, h)))
            x += w + GAP
        return out

    def key_at(self, pos: QPointF) -> str | None:
        for key, rect in self._rects():
            if rect.contains(pos):
                return key
        return None

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        last_right = 0.0
        rects = self._rects()
        for key, rect in rects:
            img = self.image_of(key)
            if img is None:
                p.fillRect(rect, QColor(70, 70, 70))
                p.setPen(QColor(170, 170, 170))
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter, "…")
            else:
                p.drawImage(rect, img)
            if key == self.selected:
                p.setPen(QPen(BLUE, 3))
                p.drawRect(rect.adjusted(-1, -1, 1, 1))
            last_right = rect.right()
        if self.total > len(rects):
            p.setPen(self.palette().text().color())
            p.drawText(QRectF(last_right + 4, 2, LABEL_W, self.thumb_h), Qt.AlignmentFlag.AlignVCenter,
                       f"{self.total} boxes")
        if self.dimmed:
            p.fillRect(self.rect(), QColor(128, 128, 128, 150))
        p.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        key = self.key_at(event.position())
        if key is not None and event.button() == Qt.MouseButton.LeftButton:
            self.selected = key
            self.update()
            self.clicked.emit(key)
        super().mousePressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        key = self.key_at(QPointF(event.pos()))
        if key is not None:
            self.selected = key
            self.update()
            self.menuRequested.emit(key, event.globalPos())


class CandidateRow(QFrame):
    """One candidate tracklet: its key number, its crops, and what is known about it."""

    picked = pyqtSignal(str)

    def __init__(self, tid: str, image_of: ImageOf, thumb_h: int = 64, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tid = tid
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.number = QLabel("", self)
        font = QFont(self.number.font())
        font.setPointSizeF(font.pointSizeF() * 2.0)
        font.setBold(True)
        self.number.setFont(font)
        self.number.setFixedWidth(34)
        self.number.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.strip = CropStrip(image_of, thumb_h, 8, self)
        self.strip.clicked.connect(lambda _key: self.picked.emit(self.tid))
        self.text = QLabel("", self)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setMinimumWidth(170)
        self.text.setWordWrap(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.number)
        layout.addWidget(self.strip, 1)
        layout.addWidget(self.text)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.picked.emit(self.tid)
        super().mousePressEvent(event)

    def set_state(self, number: int | None, keys: Sequence[str], html: str, colour: QColor | None,
                  dimmed: bool) -> None:
        self.number.setText(str(number) if number is not None else "")
        self.strip.set_keys(keys)
        self.strip.dimmed = dimmed
        self.text.setText(html)
        self.setStyleSheet(f"CandidateRow {{ border: 2px solid {colour.name()}; }}" if colour is not None else "")


class FramePicture(QWidget):
    """A frame scaled to fit, with one box outlined: the context of a crop, on demand."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.full_size: tuple[int, int] = (1, 1)
        self.box: tuple[float, float, float, float] | None = None
        self.caption = ""
        self.setMinimumSize(200, 120)

    def show_frame(self, image: QImage | None, full_size: tuple[int, int],
                   box: tuple[float, float, float, float] | None, caption: str) -> None:
        self.image, self.full_size, self.box, self.caption = image, full_size, box, caption
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(30, 30, 30))
        if self.image is not None:
            w, h = self.full_size
            scale = min(self.width() / w, (self.height() - 18) / h)
            x0 = (self.width() - w * scale) / 2  # centred: no dead band on one side
            target = QRectF(x0, 18, w * scale, h * scale)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawImage(target, self.image)
            if self.box is not None:
                x1, y1, x2, y2 = self.box
                p.setPen(QPen(QColor(255, 220, 0), 2))
                p.drawRect(QRectF(x0 + x1 * scale, 18 + y1 * scale, (x2 - x1) * scale, (y2 - y1) * scale))
        p.setPen(QColor(230, 230, 230))
        p.drawText(QRectF(4, 0, self.width() - 8, 18), Qt.AlignmentFlag.AlignVCenter, self.caption or "loading…")
        p.end()


def titled(title: str, widget: QWidget, parent: QWidget | None = None) -> QWidget:
    box = QWidget(parent)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    label = QLabel(f"<b>{title}</b>", box)
    layout.addWidget(label)
    layout.addWidget(widget)
    return box

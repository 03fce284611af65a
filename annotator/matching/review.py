"""Review mode: every vehicle of the pair, its tracklets from both cameras side by side.

Mistakes in matching are cheap to see this way (a white car beside a red one jumps out)
and expensive to find any other way. Uncertain decisions can be listed alone. Enter
opens a vehicle in the matching view to change it; U dissolves it; Q flags it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from schemas import Vehicle

from .strips import CropStrip, ImageOf

if TYPE_CHECKING:
    from .document import MatchingDocument
    from .ranking import AppearanceService

THUMB = 52
ID_ROLE = Qt.ItemDataRole.UserRole


class VehicleRow(QWidget):
    def __init__(self, image_of: ImageOf, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setFixedWidth(150)
        self.label.setWordWrap(True)
        self.strip_a = CropStrip(image_of, THUMB, 6, self)
        self.strip_b = CropStrip(image_of, THUMB, 6, self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.label)
        layout.addWidget(self.strip_a, 1)
        layout.addWidget(self.strip_b, 1)
        for strip in (self.strip_a, self.strip_b):
            strip.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)


class ReviewPanel(QWidget):
    openRequested = pyqtSignal(str)  # a tracklet id

    def __init__(self, image_of: ImageOf, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image_of = image_of
        self.doc: MatchingDocument | None = None
        self.service: AppearanceService | None = None
        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.uncertainOnly = QCheckBox("uncertain only", self)
        self.uncertainOnly.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.list = QListWidget(self)
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.list.itemDoubleClicked.connect(self._double_clicked)
        self.rows: dict[int, VehicleRow] = {}
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.uncertainOnly)
        columns = QHBoxLayout()
        columns.addSpacing(156)
        columns.addWidget(QLabel("<b>camera A</b>", self), 1)
        columns.addWidget(QLabel("<b>camera B</b>", self), 1)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(columns)
        layout.addWidget(self.list, 1)

    def set_document(self, doc: "MatchingDocument", service: "AppearanceService") -> None:
        self.doc, self.service = doc, service

    def clear_document(self) -> None:
        self.doc = self.service = None
        self.list.clear()
        self.rows = {}

    def vehicles(self) -> list[Vehicle]:
        if self.doc is None:
            return []
        vs = sorted(self.doc.matching.vehicles, key=lambda v: v.id)
        if self.uncertainOnly.isChecked():
            vs = [v for v in vs if v.uncertain]
        return vs

    def refresh(self) -> None:
        doc = self.doc
        selected = self.selected_vehicle()
        self.list.clear()
        self.rows = {}
        if doc is None:
            return
        vs = self.vehicles()
        want: list[str] = []
        cross = 0
        for v in vs:
            keys: dict[str, list[str]] = {"A": [], "B": []}
            for tid in v.tracklets:
                cam = doc.camera_of(tid)
                keys.setdefault(cam, []).extend(k for k in doc.tracklet(tid).instances if k in doc.ctx.instances)
            both = bool(keys["A"]) and bool(keys["B"])
            cross += both
            flags = []
            if v.uncertain:
                flags.append("<span style='color:#d68910'>uncertain</span>")
            if not both:
                flags.append("<span style='color:#888'>one camera (no match)</span>")
            attrs = " ".join(x for x in (v.attributes.color, v.attributes.type) if x)
            row = VehicleRow(self.image_of, self.list)
            row.label.setText(f"<b>vehicle {v.id}</b><br>{len(v.tracklets)} tracklet(s) {attrs}<br>{' '.join(flags)}")
            row.strip_a.set_keys(keys["A"])
            row.strip_b.set_keys(keys["B"])
            want.extend(row.strip_a.keys + row.strip_b.keys)
            item = QListWidgetItem(self.list)
            item.setData(ID_ROLE, v.id)
            item.setSizeHint(row.sizeHint().expandedTo(row.minimumSizeHint()))
            self.list.setItemWidget(item, row)
            self.rows[v.id] = row
            if selected is not None and v.id == selected.id:
                self.list.setCurrentItem(item)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)
        done, total = doc.progress()
        self.title.setText(f"<b>Review · pair {doc.pair_id}</b> · {len(vs)} vehicle(s) listed, {cross} seen by both "
                           f"cameras · {done}/{total} tracklets decided")
        if self.service is not None:
            self.service.request_crops(want)

    def crops_ready(self) -> None:
        for row in self.rows.values():
            row.strip_a.update()
            row.strip_b.update()

    def selected_vehicle(self) -> Vehicle | None:
        item = self.list.currentItem()
        if item is None or self.doc is None:
            return None
        vid = item.data(ID_ROLE)
        return next((v for v in self.doc.matching.vehicles if v.id == vid), None)

    def select_step(self, step: int) -> None:
        n = self.list.count()
        if n:
            self.list.setCurrentRow((max(self.list.currentRow(), 0) + step) % n)
            self.list.scrollToItem(self.list.currentItem())

    def _double_clicked(self, item: QListWidgetItem) -> None:
        v = self.selected_vehicle()
        if v is not None and v.tracklets:
            self.openRequested.emit(v.tracklets[0])


"""The first screen: location pairs and their clips, with per-stage progress, and where to open them.

Progress is read from the files in a worker thread: at VRAI scale that is 137k
instances, which must not freeze the window.
"""
from __future__ import annotations

from PyQt6.QtCore import QObject, Qt, QThreadPool, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vrai_tools.dataset import DatasetRoot

from .progress import PROGRESS_STAGES, PairProgress, dataset_progress
from .stages import STAGES, stage

COLUMNS = ["Pair / clip", "Camera", "Frames", "Corners", "Matching", "Attributes", "Parts"]
TARGET = Qt.ItemDataRole.UserRole  # (unit, id) of a row


class _Relay(QObject):
    done = pyqtSignal(object, str)


class OverviewView(QWidget):
    openRequested = pyqtSignal(str, str)  # stage id, clip or pair id

    def __init__(self, root: DatasetRoot, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.root = root
        self.progress: list[PairProgress] = []
        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c0392b")
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.itemActivated.connect(self._activated)
        self.tree.currentItemChanged.connect(self._update_buttons)
        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for spec in STAGES:
            b = QPushButton(f"Open in {spec.title}", self)
            b.clicked.connect(lambda _=False, s=spec.id: self._open_selected(s))
            buttons.addWidget(b)
            self.buttons[spec.id] = b
        refresh = QPushButton("Refresh", self)
        refresh.clicked.connect(self.refresh)
        buttons.addStretch(1)
        buttons.addWidget(refresh)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self._relay = _Relay(self)
        self._relay.done.connect(self._loaded)
        self.loading = False
        self._update_buttons()

    def show_message(self, text: str) -> None:
        self.message.setText(text)

    def refresh(self) -> None:
        """Re-read progress from the files, in the background."""
        if self.loading:
            return
        self.loading = True
        self.title.setText(f"<b>{self.root.root}</b> — reading progress…")
        root, relay = self.root, self._relay

        def work() -> None:
            try:
                result, error = dataset_progress(root), ""
            except Exception as e:  # shown in the window; the manifest is unreadable
                result, error = [], str(e)
            try:
                relay.done.emit(result, error)
            except RuntimeError:
                pass

        QThreadPool.globalInstance().start(work)

    def _loaded(self, progress: list[PairProgress], error: str) -> None:
        self.loading = False
        self.progress = progress
        frames = sum(c.frames for p in progress for c in p.clips)
        self.title.setText(f"<b>{self.root.root}</b> — {len(progress)} location pair(s), "
                           f"{sum(len(p.clips) for p in progress)} clip(s), {frames} frames")
        if error:
            self.show_message(error)
        selected = self.tree.currentItem().data(0, TARGET) if self.tree.currentItem() else None
        self.tree.clear()
        for pair in progress:
            top = QTreeWidgetItem([f"{pair.pair_id}  {pair.description}".strip()])
            top.setData(0, TARGET, ("pair", pair.pair_id))
            if pair.error:
                top.setText(4, "error")
                top.setToolTip(4, pair.error)
                top.setForeground(4, QColor(192, 57, 43))
            self.tree.addTopLevelItem(top)
            for clip in pair.clips:
                row = QTreeWidgetItem([clip.clip_id, clip.camera, str(clip.frames)])
                row.setData(0, TARGET, ("clip", clip.clip_id))
                if clip.error:
                    row.setText(3, "cannot read: " + clip.error)
                    row.setForeground(3, QColor(192, 57, 43))
                else:
                    for col, stage_id in enumerate(PROGRESS_STAGES, start=3):
                        count = clip.counts[stage_id]
                        row.setText(col, str(count))
                        if count.total and count.done == count.total:
                            row.setForeground(col, QColor(40, 150, 80))
                top.addChild(row)
                if selected == ("clip", clip.clip_id):
                    self.tree.setCurrentItem(row)
            top.setExpanded(True)
        for col in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(col)
        if self.tree.currentItem() is None:
            first = self.tree.topLevelItem(0)
            if first is not None and first.childCount():
                self.tree.setCurrentItem(first.child(0))
        self._update_buttons()

    def clip_row(self, clip_id: str) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            for j in range(top.childCount() if top else 0):
                row = top.child(j)
                if row.data(0, TARGET) == ("clip", clip_id):
                    return row
        return None

    def _target(self, unit: str) -> str | None:
        """The selected row's clip or pair for a stage working on ``unit``; a clip row stands for its pair too."""
        item = self.tree.currentItem()
        if item is not None and unit == "pair" and item.parent() is not None:
            item = item.parent()
        if item is None:
            return None
        kind, target = item.data(0, TARGET)
        return target if kind == unit else None

    def _update_buttons(self, *_: object) -> None:
        for spec in STAGES:
            target = self._target(spec.unit)
            button = self.buttons[spec.id]
            button.setEnabled(target is not None)
            button.setToolTip(f"Open {spec.unit} {target} in stage {spec.title}" if target else
                              f"Select a {spec.unit} first")

    def _open_selected(self, stage_id: str) -> None:
        target = self._target(stage(stage_id).unit)
        if target is not None:
            self.openRequested.emit(stage_id, target)

    def _activated(self, item: QTreeWidgetItem, column: int) -> None:
        unit, target = item.data(0, TARGET)
        for spec in STAGES:  # the first stage that works on this kind of row
            if spec.unit == unit:
                self.openRequested.emit(spec.id, target)
                return

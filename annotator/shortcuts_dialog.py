"""Help → Shortcuts: every key of the one action table, and the mouse gestures."""
from __future__ import annotations

from typing import Mapping

from PyQt6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .actions import ACTIONS, MOUSE_GESTURES, shortcuts_markdown


class ShortcutsDialog(QDialog):
    def __init__(self, bindings: Mapping[str, tuple[str, ...]], titles: Mapping[str, str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Shortcuts")
        self.bindings = bindings
        self.titles = titles
        rows = [(titles.get(a.scope, a.scope), a.text, ", ".join(bindings.get(a.id, ())) or "—") for a in ACTIONS]
        rows += [(titles.get(scope, scope), text, gesture)
                 for scope, gestures in MOUSE_GESTURES.items() for gesture, text in gestures]
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Where", "Action", "Keys / mouse"])
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.resizeColumnsToContents()
        copy = QPushButton("Copy as Markdown", self)
        copy.clicked.connect(lambda: QApplication.clipboard().setText(shortcuts_markdown(self.bindings, self.titles)))
        close = QPushButton("Close", self)
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(copy)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.resize(720, 600)

    def keys_listed(self) -> set[str]:
        """Every key shown (tests check that none is missing)."""
        out: set[str] = set()
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 2)
            if item is not None:
                out.update(k.strip() for k in item.text().split(","))
        return out

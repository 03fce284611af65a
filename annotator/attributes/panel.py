"""The attribute panel (CVAT's attribute mode): one row per attribute, the selected row highlighted.

Each row shows the value of the target (the vehicle, or the selected crop with its
override marked), the model's proposal when there is one, and the key that sets it;
under the table, the choices of the selected row with their digits.
"""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QBrush, QColor, QFont, QIcon, QPixmap
from PyQt6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from schemas import COLORS, TYPES, Attributes

from .document import FIELDS, MIXED, Value

LABELS = {"color": "Colour", "type": "Type", "skylight": "Skylight", "bumper": "Bumper",
          "spare_tire": "Spare tire", "luggage_rack": "Luggage rack"}
FLAG_KEYS = {"skylight": "S", "bumper": "B", "spare_tire": "T", "luggage_rack": "L"}
SWATCH = {"White": "#f0f0f0", "Black": "#111111", "Gray": "#808080", "Red": "#d02020", "Green": "#20a030",
          "Blue": "#2050d0", "Yellow": "#e8d020", "Brown": "#7a4a18", "Other": "#c040c0"}
SELECTED = QColor(60, 150, 255, 90)


def show(value: Value) -> str:
    if value is None:
        return "—"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def swatch(colour: str) -> QIcon:
    pix = QPixmap(14, 14)
    pix.fill(QColor(SWATCH.get(colour, "#000000")))
    return QIcon(pix)


def choices_text(field: str) -> str:
    """The key legend under the table (rich text): a key and its choice never wrap apart."""
    if field in ("color", "type"):
        names = COLORS if field == "color" else TYPES
        return "&nbsp; ".join(f"<b>{i}</b>&nbsp;{name}" for i, name in enumerate(names, 1))
    return f"<b>1</b>&nbsp;yes&nbsp; <b>0</b>&nbsp;no&nbsp; · &nbsp;<b>{FLAG_KEYS[field]}</b> toggles from any row"


class AttributePanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(len(FIELDS), 4, self)
        self.table.setHorizontalHeaderLabels(["Attribute", "Value", "Proposal", "Key"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for r, field in enumerate(FIELDS):
            self.table.setItem(r, 0, QTableWidgetItem(LABELS[field]))
            self.table.setItem(r, 1, QTableWidgetItem("—"))
            self.table.setItem(r, 2, QTableWidgetItem(""))
            key = FLAG_KEYS.get(field, "1–9" if field == "color" else "1–7")
            self.table.setItem(r, 3, QTableWidgetItem(key))
        self.table.resizeColumnsToContents()
        self.table.setColumnWidth(1, 150)
        height = self.table.horizontalHeader().height() + sum(self.table.rowHeight(r) for r in range(len(FIELDS)))
        self.table.setFixedHeight(height + 4)
        self.choices = QLabel(self)
        self.choices.setWordWrap(True)
        self.choices.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.table)
        layout.addWidget(self.choices)

    def update_rows(self, target: str, row: int, values: dict[str, Value], overridden: dict[str, Value],
                    base: dict[str, Value], proposal: Attributes | None) -> None:
        """``overridden``: fields the selected crop overrides; ``base``: the vehicle's values beside them."""
        self.title.setText(f"Setting: <b>{target}</b>")
        bold = QFont()
        bold.setBold(True)
        for r, field in enumerate(FIELDS):
            value = values.get(field)
            item = self.table.item(r, 1)
            assert item is not None
            text = "mixed (instances differ)" if value == MIXED else show(value)
            if field in overridden:
                text += f"  (override; vehicle: {show(base.get(field))})"
                item.setForeground(QBrush(QColor(220, 110, 0)))
            else:
                item.setForeground(QBrush(self.palette().text().color()))
            item.setText(text)
            item.setIcon(swatch(str(value)) if field == "color" and value not in (None, MIXED) else QIcon())
            prop = getattr(proposal, field) if proposal is not None else None
            pitem = self.table.item(r, 2)
            assert pitem is not None
            pitem.setText("" if prop is None else show(prop) + ("  ⏎" if value is None else ""))
            pitem.setForeground(QBrush(QColor(130, 130, 140)))
            for c in range(4):
                cell = self.table.item(r, c)
                assert cell is not None
                cell.setBackground(QBrush(SELECTED) if r == row else QBrush())
                cell.setFont(bold if r == row else QFont())
        self.choices.setText(f"<b>{LABELS[FIELDS[row]]}</b>: {choices_text(FIELDS[row])}")

    def shown_value(self, field: str) -> str:
        item = self.table.item(FIELDS.index(field), 1)
        return item.text() if item is not None else ""

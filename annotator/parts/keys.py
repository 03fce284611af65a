"""Stage 4's rows of the one action table (see :mod:`annotator.attributes.keys` for the format).

Handlers are methods of :class:`annotator.parts.view.PartsView`.
"""
from __future__ import annotations

SCOPE = "parts"
MENU = "Parts"

Row = tuple[str, str, "str | tuple[str, ...]", str, str, str]

ROWS: tuple[Row, ...] = (
    ("parts.next_instance", "Next crop", "D", "next_instance", SCOPE, MENU),
    ("parts.prev_instance", "Previous crop", "A", "prev_instance", SCOPE, MENU),
    ("parts.next_todo", "Next crop not done", "Shift+D", "next_todo", SCOPE, MENU),
    ("parts.prev_todo", "Previous crop not done", "Shift+A", "prev_todo", SCOPE, MENU),
    ("parts.next_vehicle", "Next vehicle", "Tab", "next_vehicle", SCOPE, MENU),
    ("parts.prev_vehicle", "Previous vehicle", "Shift+Tab", "prev_vehicle", SCOPE, MENU),
    ("parts.none", "No discriminative part on this crop, next crop", "N", "mark_none", SCOPE, MENU),
    ("parts.accept", "Accept the selected proposal; or all proposals, then next crop", ("Return", "Enter"),
     "accept", SCOPE, MENU),
    ("parts.reject", "Reject the selected proposal, or all proposals of this crop", "R", "reject", SCOPE, MENU),
    ("parts.delete", "Delete the selected part (or reject the selected proposal)", ("Del", "Backspace"),
     "delete_selected", SCOPE, MENU),
    ("parts.cancel", "Clear the selection", "Esc", "cancel", SCOPE, MENU),
    ("parts.zoom_in", "Zoom in", ("Ctrl++", "Ctrl+="), "zoom_in", SCOPE, "View"),
    ("parts.zoom_out", "Zoom out", "Ctrl+-", "zoom_out", SCOPE, "View"),
    ("parts.fit", "Fit the crop in the window", "F", "fit", SCOPE, "View"),
)

GESTURES: tuple[tuple[str, str], ...] = (
    ("Drag on the crop", "Draw a part box"),
    ("Drag a part / its corner", "Move / resize it"),
    ("Click a part or proposal", "Select it"),
    ("Click a crop on the right", "Go to that crop"),
    ("Wheel, Space + drag", "Zoom, pan"),
)

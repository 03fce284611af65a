"""Stage 3's rows of the one action table (:data:`annotator.actions.ACTIONS`).

Plain tuples in the order of ``annotator.actions._row(id, text, keys, handler, scope, menu)``,
so this module imports nothing from the shell and the shell can splice them in with
``*(_row(*r) for r in ROWS)`` without an import cycle. Handlers are methods of
:class:`annotator.attributes.view.AttributesView`.
"""
from __future__ import annotations

SCOPE = "attributes"
MENU = "Attributes"

Row = tuple[str, str, "str | tuple[str, ...]", str, str, str]

ROWS: tuple[Row, ...] = (
    ("attributes.row_up", "Previous attribute row", "Up", "row_up", SCOPE, MENU),
    ("attributes.row_down", "Next attribute row", "Down", "row_down", SCOPE, MENU),
    *((f"attributes.digit_{n}", f"Set the selected row to choice {n} (flags: 1 yes, 0 no)", str(n), f"digit_{n}",
       SCOPE, "") for n in range(10)),
    ("attributes.toggle_skylight", "Toggle skylight", "S", "toggle_skylight", SCOPE, MENU),
    ("attributes.toggle_bumper", "Toggle bumper", "B", "toggle_bumper", SCOPE, MENU),
    ("attributes.toggle_spare_tire", "Toggle spare tire", "T", "toggle_spare_tire", SCOPE, MENU),
    ("attributes.toggle_luggage_rack", "Toggle luggage rack", "L", "toggle_luggage_rack", SCOPE, MENU),
    ("attributes.clear", "Unset the selected row (on a crop: remove its override)", ("Del", "Backspace"),
     "clear_value", SCOPE, MENU),
    ("attributes.clear_overrides", "Remove every override of the selected crop (or of all the vehicle's crops)",
     "Shift+Del", "clear_overrides", SCOPE, MENU),
    ("attributes.accept", "Unset flags are 'no' (or accept the model's proposal), then next vehicle",
     ("Return", "Enter"), "accept", SCOPE, MENU),
    ("attributes.next_vehicle", "Next vehicle", "Tab", "next_vehicle", SCOPE, MENU),
    ("attributes.prev_vehicle", "Previous vehicle", "Shift+Tab", "prev_vehicle", SCOPE, MENU),
    ("attributes.next_review", "Next vehicle whose instances disagree", "R", "next_review", SCOPE, MENU),
    ("attributes.next_crop", "Select the next crop (its edits become overrides)", "Right", "next_crop", SCOPE, MENU),
    ("attributes.prev_crop", "Select the previous crop", "Left", "prev_crop", SCOPE, MENU),
    ("attributes.deselect", "Back to the whole vehicle", "Esc", "deselect", SCOPE, MENU),
)

GESTURES: tuple[tuple[str, str], ...] = (
    ("Click a crop", "Select it: edits become overrides of that crop only (click again: back to the vehicle)"),
    ("Click a vehicle in a list", "Go to that vehicle"),
)

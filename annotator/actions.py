"""Every action of the app and its default keys, in one declarative table.

Annotators rebind keys from a TOML keymap file; the whole table is checked for
duplicate keys at start-up, because a key bound twice silently does nothing in Qt
(an "ambiguous shortcut") and that would look like a broken app mid-shift.

A row's ``scope`` is ``"app"`` (always active) or a stage id (active only while that
stage's view is shown). Two stages may reuse a key; an app key may not be reused.
Handlers are method names: on the main window for app rows, on the stage view otherwise.
Every stage's rows are spliced in here from its ``keys`` module (plain data, importing
nothing from the app, so there is no import cycle), so Help → Shortcuts and the
duplicate check see everything.

The human-performance test (``--human-eval``) has a window of its own
(:data:`OWN_WINDOW`): the app rows do not exist there, so its keys are checked against
each other only (its ``Ctrl+Z`` takes the last answer back).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from PyQt6.QtGui import QKeySequence

from vrai_tools.errors import VraiToolsError

from .attributes import keys as attribute_keys
from .human_eval import keys as human_eval_keys
from .matching import keys as matching_keys
from .parts import keys as part_keys

APP = "app"
# Scopes whose actions live in a window of their own, without the main window's app rows.
OWN_WINDOW: frozenset[str] = frozenset({human_eval_keys.SCOPE})


@dataclass(frozen=True)
class ActionSpec:
    id: str
    text: str
    keys: tuple[str, ...]
    handler: str
    scope: str = APP
    menu: str = ""  # the menu it is listed in; "" for none


def _row(id: str, text: str, keys: str | tuple[str, ...], handler: str, scope: str = APP, menu: str = "") -> ActionSpec:
    return ActionSpec(id, text, (keys,) if isinstance(keys, str) else keys, handler, scope, menu)


C = "corners"
ACTIONS: tuple[ActionSpec, ...] = (
    _row("app.overview", "Overview", "Ctrl+O", "show_overview", menu="File"),
    _row("app.save", "Save now", "Ctrl+S", "save_now", menu="File"),
    _row("app.quit", "Quit", "Ctrl+Q", "close", menu="File"),
    _row("app.undo", "Undo", "Ctrl+Z", "undo", menu="Edit"),
    _row("app.redo", "Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "redo", menu="Edit"),
    _row("app.shortcuts", "Shortcuts", "F1", "show_shortcuts", menu="Help"),
    # stage 1: corners -> box
    _row("corners.next_frame", "Next frame", "D", "next_frame", C, "Frame"),
    _row("corners.prev_frame", "Previous frame", "A", "prev_frame", C, "Frame"),
    _row("corners.next_unfinished", "Next unfinished frame", "Shift+D", "next_unfinished", C, "Frame"),
    _row("corners.prev_unfinished", "Previous unfinished frame", "Shift+A", "prev_unfinished", C, "Frame"),
    _row("corners.goto_frame", "Go to frame…", "Ctrl+G", "goto_frame", C, "Frame"),
    _row("corners.accept", "Accept proposals (all, or the selected one); with none left: frame done, next",
         ("Return", "Enter"), "accept", C, "Frame"),
    _row("corners.toggle_done", "Mark frame done / not done", "Ctrl+Return", "toggle_done", C, "Frame"),
    _row("corners.delete", "Delete selected vehicle or proposal", ("Del", "Backspace"), "delete_selected", C, "Vehicle"),
    _row("corners.cancel", "Cancel the vehicle being clicked, or clear the selection", "Esc", "cancel", C, "Vehicle"),
    _row("corners.next_instance", "Select next vehicle", "Tab", "select_next", C, "Vehicle"),
    _row("corners.prev_instance", "Select previous vehicle", "Shift+Tab", "select_prev", C, "Vehicle"),
    _row("corners.nudge_left", "Nudge left 1 px", "Left", "nudge_left", C, "Vehicle"),
    _row("corners.nudge_right", "Nudge right 1 px", "Right", "nudge_right", C, "Vehicle"),
    _row("corners.nudge_up", "Nudge up 1 px", "Up", "nudge_up", C, "Vehicle"),
    _row("corners.nudge_down", "Nudge down 1 px", "Down", "nudge_down", C, "Vehicle"),
    _row("corners.nudge_left_10", "Nudge left 10 px", "Shift+Left", "nudge_left_10", C, "Vehicle"),
    _row("corners.nudge_right_10", "Nudge right 10 px", "Shift+Right", "nudge_right_10", C, "Vehicle"),
    _row("corners.nudge_up_10", "Nudge up 10 px", "Shift+Up", "nudge_up_10", C, "Vehicle"),
    _row("corners.nudge_down_10", "Nudge down 10 px", "Shift+Down", "nudge_down_10", C, "Vehicle"),
    _row("corners.zoom_in", "Zoom in", ("Ctrl++", "Ctrl+="), "zoom_in", C, "View"),
    _row("corners.zoom_out", "Zoom out", "Ctrl+-", "zoom_out", C, "View"),
    _row("corners.fit", "Fit frame in window", "F", "fit", C, "View"),
    # stage 2: cross-camera matching
    *(_row(i, t, k, h, matching_keys.SCOPE, m) for i, t, k, h, m in matching_keys.MATCHING_ROWS),
    # stage 3: attributes
    *(_row(*r) for r in attribute_keys.ROWS),
    # stage 4: discriminative parts
    *(_row(*r) for r in part_keys.ROWS),
    # the human-performance test (its own window: vrai-annotate --human-eval)
    *(_row(*r) for r in human_eval_keys.ROWS),
)

# Gestures that are not keys, listed beside the table in Help → Shortcuts.
MOUSE_GESTURES: dict[str, tuple[tuple[str, str], ...]] = {
    C: (
        ("Click ×4", "Corners of a new vehicle; the box appears on the 4th click"),
        ("Drag a corner", "Move that corner (proposals too)"),
        ("Click a vehicle", "Select it"),
        ("Shift+click", "A corner, even on top of another vehicle"),
        ("Wheel", "Zoom under the mouse"),
        ("Space + drag, middle drag", "Pan"),
    ),
    matching_keys.SCOPE: matching_keys.MATCHING_GESTURES,
    attribute_keys.SCOPE: attribute_keys.GESTURES,
    part_keys.SCOPE: part_keys.GESTURES,
}


class KeymapError(VraiToolsError):
    """A keymap file or table that cannot be used: unknown action, bad key, or a key bound twice."""


def normalize_key(key: str, where: str) -> str:
    """Qt's portable spelling, so 'Delete' and 'Del' are recognised as the same key."""
    seq = QKeySequence(key, QKeySequence.SequenceFormat.PortableText)
    text = seq.toString(QKeySequence.SequenceFormat.PortableText)
    if seq.count() != 1 or not text:
        raise KeymapError(f"{where}: {key!r} is not a single key (examples: 'D', 'Ctrl+Shift+Z', 'Return')")
    return text


def load_keymap(path: Path) -> dict[str, tuple[str, ...]]:
    """Read ``[keys]`` from a TOML keymap: ``"corners.next_frame" = "Right"`` or a list; ``""`` unbinds."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeymapError(f"{path}: keymap file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise KeymapError(f"{path}: not a valid TOML file: {e}") from None
    keys = data.get("keys")
    if not isinstance(keys, dict) or set(data) - {"keys"}:
        raise KeymapError(f"{path}: expected one [keys] table mapping action ids to keys")
    out: dict[str, tuple[str, ...]] = {}
    for action_id, value in keys.items():
        if isinstance(value, str):
            out[action_id] = (value,) if value else ()
        elif isinstance(value, list) and all(isinstance(v, str) and v for v in value):
            out[action_id] = tuple(value)
        else:
            raise KeymapError(f"{path}: keys.{action_id}: expected a key or a list of keys, found {value!r}")
    return out


def _clash(scope: str, other: str) -> bool:
    """Whether one key bound in both scopes would be live twice at once."""
    if scope == other:
        return True
    if APP not in (scope, other):
        return False  # two stages: only the shown one's keys are enabled
    return not OWN_WINDOW & {scope, other}  # app keys are everywhere in the main window, nowhere else


def resolve_bindings(
    overrides: Mapping[str, tuple[str, ...]] | None = None,
    actions: Iterable[ActionSpec] = ACTIONS,
    source: str = "built-in keymap",
) -> dict[str, tuple[str, ...]]:
    """Final keys per action id, normalised; raises :class:`KeymapError` on any conflict."""
    actions = list(actions)
    by_id = {a.id: a for a in actions}
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(by_id))
    if unknown:
        raise KeymapError(f"{source}: unknown action {unknown[0]!r} (known: {', '.join(sorted(by_id))})")
    bindings: dict[str, tuple[str, ...]] = {}
    users: dict[str, list[ActionSpec]] = {}  # key -> actions bound to it so far
    for a in actions:
        keys = overrides.get(a.id, a.keys)
        keys = (keys,) if isinstance(keys, str) else keys
        norm = tuple(dict.fromkeys(normalize_key(k, f"{source}: {a.id}") for k in keys))
        bindings[a.id] = norm
        for key in norm:
            for other in users.setdefault(key, []):
                if _clash(other.scope, a.scope):
                    raise KeymapError(f"{source}: key {key!r} is bound to both {other.id!r} and {a.id!r}")
            users[key].append(a)
    return bindings


def shortcuts_markdown(bindings: Mapping[str, tuple[str, ...]], titles: Mapping[str, str] | None = None,
                       actions: Iterable[ActionSpec] = ACTIONS) -> str:
    """The shortcut table as Markdown, for the README and for Help → Shortcuts → Copy."""
    titles = titles or {}
    lines = ["| Where | Action | Keys / mouse |", "|---|---|---|"]
    for a in actions:
        keys = ", ".join(f"`{k}`" for k in bindings.get(a.id, ())) or "—"
        lines.append(f"| {titles.get(a.scope, a.scope)} | {a.text} | {keys} |")
    for scope, gestures in MOUSE_GESTURES.items():
        for gesture, text in gestures:
            lines.append(f"| {titles.get(scope, scope)} | {text} | {gesture} |")
    return "\n".join(lines) + "\n"

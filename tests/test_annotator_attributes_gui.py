"""Stage 3 end to end: the real main window driven by keys and clicks, checked on disk."""
from __future__ import annotations

from pathlib import Path

import pytest
from PyQt6.QtCore import QPoint, Qt

from annotator.actions import ACTIONS, resolve_bindings
from annotator.attributes import keys as attribute_keys
from annotator.attributes.view import AttributesView
from annotator.parts import keys as part_keys
from annotator.parts.view import PartsView
from schemas import Attributes, ClipAnnotations, PairMatching
from vrai_tools.storage import load_model

from .annotator_fixtures import annotator_env  # noqa: F401
from .stages34_fixtures import PAIR, open_stage_window, pair_root, press, stages34_template  # noqa: F401

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("annotator_env")]


def test_stage_rows_are_in_the_shell_table_and_every_handler_exists() -> None:
    ids = {a.id for a in ACTIONS}
    assert {r[0] for r in (*attribute_keys.ROWS, *part_keys.ROWS)} <= ids
    bindings = resolve_bindings()  # raises on any key bound twice in a scope or over an app key
    assert bindings["attributes.digit_7"] == ("7",)
    for row in attribute_keys.ROWS:
        assert callable(getattr(AttributesView, row[3])), row
    for row in part_keys.ROWS:
        assert callable(getattr(PartsView, row[3])), row


def test_annotating_vehicles_by_keyboard_and_overriding_a_crop(qtbot, monkeypatch, pair_root: Path) -> None:
    window = open_stage_window(qtbot, monkeypatch, pair_root, "attributes")
    view = window.views["attributes"]
    assert isinstance(view, AttributesView)
    doc = view.doc
    first, second = doc.groups[0], doc.groups[1]
    qtbot.waitUntil(lambda: all(view.crops.get(k) is not None for k in first.keys), timeout=5000)
    assert set(view.grid.tiles) == set(first.keys)  # every crop of the vehicle, both cameras

    press(qtbot, window, "4", "5", "B", "Return")  # colour 4 = Red, type 5 = Lorry, bumper yes; next
    assert view.controller.group is second
    press(qtbot, window, "1", "1", "Return")  # White Sedan; next
    press(qtbot, window, "Shift+Tab", "Shift+Tab")
    assert view.controller.group is first
    assert view.panel.shown_value("color") == "Red"

    # click one crop: its edits become an override of that crop only
    tile = view.grid.tiles[first.keys[1]]
    qtbot.mouseClick(tile, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    assert view.controller.target == first.keys[1]
    press(qtbot, window, "9")  # colour row: Other
    assert tile.state == "selected"
    assert view.review_ids() == [first.id]
    press(qtbot, window, "Esc")
    assert view.controller.target is None
    assert view.grid.tiles[first.keys[1]].state == "override"

    press(qtbot, window, "Ctrl+Z")  # the override is undone
    assert view.review_ids() == []
    press(qtbot, window, "Ctrl+Shift+Z")
    assert view.review_ids() == [first.id]

    window.save_now()
    m = load_model(pair_root / "matching" / f"{PAIR}.json", PairMatching)
    by_id = {v.id: v for v in m.vehicles}
    assert by_id[first.vehicle_id].attributes == Attributes(color="Red", type="Lorry", skylight=False, bumper=True,
                                                             spare_tire=False, luggage_rack=False)
    assert by_id[second.vehicle_id].attributes.type == "Sedan"
    clip = first.keys[1].rpartition(":")[0]
    ann = load_model(pair_root / "annotations" / f"{clip}.json", ClipAnnotations)
    assert ann.by_key()[first.keys[1]].attributes == Attributes(color="Other")
    assert "attributes" in ann.by_key()[first.keys[1]].provenance
    window.close()


def test_the_pair_is_locked_while_open(qtbot, monkeypatch, pair_root: Path) -> None:
    window = open_stage_window(qtbot, monkeypatch, pair_root, "attributes")
    assert (pair_root / "matching" / f"{PAIR}.json.lock").exists()
    assert (pair_root / "annotations" / "p001-B.json.lock").exists()
    window.close()
    assert not (pair_root / "matching" / f"{PAIR}.json.lock").exists()

"""Stage 3 without widgets: the document, its undo stack, and the controller's keys."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from annotator.attributes.assist import aggregate
from annotator.attributes.controller import AttributesController
from annotator.attributes.document import MIXED, AttributesDocument
from annotator.attributes.pair import WorkClock
from annotator.autosave import write_snapshots
from annotator.document import EditRefused
from annotator.progress import clip_counts
from schemas import Attributes, ClipAnnotations, PairMatching
from vrai_tools.dataset import DatasetRoot
from vrai_tools.storage import load_model

from .stages34_fixtures import PAIR, pair_root, stages34_template  # noqa: F401

pytestmark = pytest.mark.usefixtures("qapp")


class FakeClock:
    """Time that moves only when told to, so provenance seconds are exact."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def load(root: Path, read_only: str = "") -> AttributesDocument:
    ds = DatasetRoot(root)
    return AttributesDocument.load(ds, ds.manifest(), PAIR, "tester", read_only)  # type: ignore[return-value]


def save(doc: AttributesDocument) -> None:
    write_snapshots(doc.snapshots())


def test_a_vehicle_value_applies_to_every_instance_and_is_saved_once(pair_root: Path) -> None:
    doc = load(pair_root)
    g = doc.groups[0]
    assert g.kind == "vehicle" and len({doc.camera(k) for k in g.keys}) == 2
    assert doc.set_group_attribute(g.id, "color", "Red", seconds=6.0)
    assert all(doc.effective(k).color == "Red" for k in g.keys)
    assert all(doc.effective(k).color is None for other in doc.groups[1:] for k in other.keys)
    save(doc)
    ds = DatasetRoot(pair_root)
    vehicle = next(v for v in ds.matching(PAIR).vehicles if v.id == g.vehicle_id)
    assert vehicle.attributes.color == "Red"
    # stored once, at vehicle level: the instances carry no copy of it
    instances = {i.key: i for c in ("p001-A", "p001-B") for i in ds.annotations(c).instances}
    assert all(instances[k].attributes == Attributes() for k in g.keys)
    # the seconds spent are shared among the vehicle's instances and add up
    total = sum(instances[k].provenance["attributes"].seconds for k in g.keys)
    assert total == pytest.approx(6.0, abs=0.01)
    assert {instances[k].provenance["attributes"].annotator for k in g.keys} == {"tester"}


def test_overrides_disagreement_and_clearing(pair_root: Path) -> None:
    doc = load(pair_root)
    g = doc.groups[1]
    doc.set_group_attributes(g.id, {"color": "White", "type": "Sedan"})
    assert doc.disagreeing() == []
    key = g.keys[2]
    assert doc.set_instance_attribute(key, "color", "Gray")
    assert doc.effective(key).color == "Gray" and doc.override(key, "color") == "Gray"
    assert doc.effective(g.keys[0]).color == "White"
    assert [x.id for x in doc.disagreeing()] == [g.id]
    # an override equal to the vehicle's value says nothing: it is cleared, not stored
    assert doc.set_instance_attribute(key, "color", "White")
    assert doc.override(key, "color") is None and doc.disagreeing() == []
    # changing the vehicle to the override's value drops the now redundant override
    doc.set_instance_attribute(key, "color", "Gray")
    doc.set_group_attribute(g.id, "color", "Gray")
    assert doc.override(key, "color") is None and doc.disagreeing() == []
    doc.set_instance_attribute(key, "type", "SUV")
    assert doc.clear_overrides(list(g.keys))
    assert doc.override(key, "type") is None
    assert not doc.clear_overrides(list(g.keys))  # nothing left to clear: no edit pushed
    save(doc)
    on_disk = ClipAnnotations.model_validate_json((pair_root / "annotations" / f"{key.rpartition(':')[0]}.json").read_text())
    assert on_disk.by_key()[key].attributes == Attributes()


def test_undo_redo_restore_exact_values(pair_root: Path) -> None:
    doc = load(pair_root)
    g = doc.groups[0]
    before = {k: doc.instance(k) for k in g.keys}, doc.vehicle(g.vehicle_id)  # type: ignore[arg-type]
    doc.set_group_attribute(g.id, "type", "Bus", seconds=1.0)
    doc.set_instance_attribute(g.keys[0], "type", "Truck", seconds=1.0)
    after = {k: doc.instance(k) for k in g.keys}, doc.vehicle(g.vehicle_id)  # type: ignore[arg-type]
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert ({k: doc.instance(k) for k in g.keys}, doc.vehicle(g.vehicle_id)) == before  # type: ignore[arg-type]
    doc.undo_stack.redo()
    doc.undo_stack.redo()
    assert ({k: doc.instance(k) for k in g.keys}, doc.vehicle(g.vehicle_id)) == after  # type: ignore[arg-type]


def test_bad_values_and_read_only_are_refused(pair_root: Path) -> None:
    doc = load(pair_root)
    with pytest.raises(EditRefused, match="not a color"):
        doc.set_group_attribute(doc.groups[0].id, "color", "Pink")
    with pytest.raises(EditRefused, match="unknown attribute"):
        doc.set_group_attribute(doc.groups[0].id, "wheels", 4)  # type: ignore[arg-type]
    ro = load(pair_root, read_only="held by alice")
    with pytest.raises(EditRefused, match="read-only"):
        ro.set_group_attribute(ro.groups[0].id, "color", "Red")
    assert ro.snapshots() == []


def test_a_tracklet_without_vehicle_is_annotated_on_its_instances(pair_root: Path) -> None:
    ds = DatasetRoot(pair_root)
    m = ds.matching(PAIR)
    dropped = m.vehicles[0]
    ds.save_matching(m.model_copy(update={"vehicles": m.vehicles[1:]}))
    doc = load(pair_root)
    lone = [g for g in doc.groups if g.kind == "tracklet"]
    assert {g.id for g in lone} == {f"t:{t}" for t in dropped.tracklets}
    g = lone[0]
    doc.set_group_attribute(g.id, "color", "Blue")
    assert all(doc.instance(k).attributes.color == "Blue" for k in g.keys)
    assert doc.group_value(g, "color") == "Blue"
    doc.set_instance_attribute(g.keys[0], "color", "Red")
    assert doc.group_value(g, "color") == MIXED and doc.disagrees(g)
    save(doc)
    assert load_model(ds.matching_path(PAIR), PairMatching) == m.model_copy(update={"vehicles": m.vehicles[1:]})


def test_keys_set_a_vehicle_in_three_actions(pair_root: Path) -> None:
    doc = load(pair_root)
    clock = FakeClock()
    c = AttributesController(doc, WorkClock(clock))
    first = c.group
    assert first is not None and c.field == "color"
    clock.t += 2.0
    c.digit(6)  # Blue, then the row moves to type
    assert c.field == "type"
    c.digit(3)  # SUV, then skylight
    c.toggle("luggage_rack")
    clock.t += 1.5
    c.accept()  # the unset flags become "no"; on to the next vehicle
    assert doc.base(first) == Attributes(color="Blue", type="SUV", skylight=False, bumper=False, spare_tire=False,
                                         luggage_rack=True)
    assert doc.is_complete(first)
    assert c.group is not None and c.group.id != first.id and c.row == 0
    seconds = sum(doc.instance(k).provenance["attributes"].seconds for k in first.keys)
    assert seconds == pytest.approx(3.5, abs=0.01)
    # without colour and type, Enter fills the flags but stays, pointing at what is missing
    second = c.group
    c.accept()
    assert c.group is second and c.field == "color"
    assert doc.group_value(second, "bumper") is False
    c.digit(0)  # not a colour: refused, nothing changes
    assert doc.group_value(second, "color") is None


def test_crop_selection_makes_overrides_and_review_finds_them(pair_root: Path) -> None:
    doc = load(pair_root)
    c = AttributesController(doc)
    g = c.group
    assert g is not None
    c.digit(1)
    c.digit(1)
    c.accept()
    c.goto_group(g.id)
    c.select_crop_step(1)
    assert c.target == g.keys[0]
    c.select_row("color")
    c.digit(3)  # Gray for this crop only
    assert doc.override(g.keys[0], "color") == "Gray" and doc.base(g).color == "White"  # type: ignore[union-attr]
    c.select_crop(None)
    c.goto(len(doc.groups) - 1)
    c.next_review()
    assert c.group is g
    c.select_crop(g.keys[0])
    c.clear_overrides()
    assert doc.disagreeing() == []


def test_enter_accepts_model_proposals(pair_root: Path) -> None:
    doc = load(pair_root)
    c = AttributesController(doc)
    g = c.group
    assert g is not None
    doc.set_proposals({g.id: Attributes(color="Yellow", type="Bus", skylight=True)})
    c.select_row("type")
    c.digit(2)  # the annotator corrects the type before accepting
    c.accept()
    assert doc.base(g) == Attributes(color="Yellow", type="Hatchback", skylight=True, bumper=False, spare_tire=False,
                                     luggage_rack=False)


def test_progress_counts_what_the_stage_wrote(pair_root: Path) -> None:
    doc = load(pair_root)
    c = AttributesController(doc)
    for _ in doc.groups:
        c.digit(2)
        c.digit(1)
        c.accept()
    assert doc.complete_instances() == doc.instance_count()
    save(doc)
    ds = DatasetRoot(pair_root)
    m = ds.matching(PAIR)
    done = sum(clip_counts(ds.annotations(cid), 1, m)["attributes"].done for cid in ("p001-A", "p001-B"))
    assert done == doc.instance_count()
    assert json.loads(ds.matching_path(PAIR).read_text())["vehicles"][0]["attributes"]["color"] == "Black"


def test_model_scores_are_aggregated_over_a_vehicles_crops() -> None:
    colour = np.zeros((3, 9))
    colour[:, 3] = [0.9, 0.8, 0.1]  # Red wins on average although one crop disagrees
    colour[2, 0] = 0.9
    kind = np.full((3, 7), -5.0)
    kind[:, 2] = 5.0  # logits: SUV
    attrs = aggregate({"color": colour, "type": kind, "skylight": np.array([0.9, 0.8, 0.2]),
                       "bumper": np.array([-3.0, -2.0, 1.0])})
    assert attrs == Attributes(color="Red", type="SUV", skylight=True, bumper=False)

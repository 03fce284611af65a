"""Stage-3 data: vehicle-level attributes with per-instance overrides, and model proposals.

Attributes are set once per vehicle (``matching/<pair>.json`` ``Vehicle.attributes``) and
apply to all its instances; an instance that looks different (a colour under shade, a
roof rack hidden) gets an override in ``annotations/<clip>.json``. An override equal to
the vehicle's value says nothing, so it is dropped, and "instances disagree" then means
exactly: some instance's effective attributes differ from another's.

A tracklet not linked to a vehicle yet has no vehicle record to hold attributes, so
"group-level" edits on it write every instance's own attributes instead.
"""
from __future__ import annotations

from typing import Mapping

from schemas import COLORS, FLAGS, TYPES, Attributes, Instance, Vehicle

from ..document import EditRefused
from .pair import Group, PairDocument, PairPatch

FIELDS: tuple[str, ...] = ("color", "type", *FLAGS)
CHOICES: dict[str, tuple[object, ...]] = {"color": COLORS, "type": TYPES, **{f: (True, False) for f in FLAGS}}
MIXED = "mixed"  # the group value of a tracklet whose instances differ
Value = str | bool | None


def check_value(field: str, value: Value) -> None:
    if field not in CHOICES:
        raise EditRefused(f"unknown attribute {field!r} (known: {', '.join(FIELDS)})")
    if value is not None and value not in CHOICES[field]:
        raise EditRefused(f"{value!r} is not a {field} (choose from {', '.join(map(str, CHOICES[field]))})")


class AttributesDocument(PairDocument):
    STAGE = "attributes"
    WRITES_MATCHING = True
    LOOSE_GROUPS = False

    # ------------------------------------------------------------------ reading
    def base(self, group: Group) -> Attributes | None:
        """The vehicle-level attributes, or None for a group that has no vehicle record."""
        return self._vehicles[group.vehicle_id].attributes if group.vehicle_id is not None else None

    def effective(self, key: str) -> Attributes:
        own = self._instances[key].attributes
        group = self._group_of.get(key)
        base = self.base(group) if group is not None else None
        return own.merged_over(base) if base is not None else own

    def override(self, key: str, field: str) -> Value:
        """The instance's own value of ``field`` (None: it follows the vehicle)."""
        group = self._group_of.get(key)
        if group is None or group.vehicle_id is None:
            return None
        return getattr(self._instances[key].attributes, field)

    def group_value(self, group: Group, field: str) -> Value:
        base = self.base(group)
        if base is not None:
            return getattr(base, field)
        values = {getattr(self._instances[k].attributes, field) for k in group.keys}
        return values.pop() if len(values) == 1 else MIXED

    def disagrees(self, group: Group) -> bool:
        first = None
        for key in group.keys:
            eff = self.effective(key)
            if first is None:
                first = eff
            elif eff != first:
                return True
        return False

    def disagreeing(self) -> list[Group]:
        """Groups whose instances' effective attributes are not all equal: to review."""
        return [g for g in self.groups if self.disagrees(g)]

    def is_complete(self, group: Group) -> bool:
        return all(self.effective(k).is_complete() for k in group.keys)

    def complete_instances(self) -> int:
        return sum(1 for g in self.groups for k in g.keys if self.effective(k).is_complete())

    def instance_count(self) -> int:
        return sum(len(g.keys) for g in self.groups)

    def proposal(self, group: Group) -> Attributes | None:
        return self._proposals.get(group.id)

    # ------------------------------------------------------------------ edits
    def set_group_attributes(self, group_id: str, values: Mapping[str, Value], seconds: float = 0.0,
                             text: str = "") -> bool:
        """Set fields for the whole group (vehicle level); False when nothing changes."""
        group = self.group(group_id)
        for field, value in values.items():
            check_value(field, value)
        if group.vehicle_id is not None:
            old_v = self._vehicles[group.vehicle_id]
            new_attrs = old_v.attributes.model_copy(update=dict(values))
            if new_attrs == old_v.attributes:
                return False
            vehicles = {old_v.id: (old_v, old_v.model_copy(update={"attributes": new_attrs}))}
            instances: dict[str, tuple[Instance, Instance]] = {}
            share = seconds / len(group.keys)
            for key in group.keys:
                inst = self._instances[key]
                # an override equal to the new vehicle value carries nothing: drop it
                redundant = {f: None for f, v in values.items() if v is not None and getattr(inst.attributes, f) == v}
                own = inst.attributes.model_copy(update=redundant) if redundant else inst.attributes
                instances[key] = (inst, self.with_provenance(inst, share, update={"attributes": own}))
        else:
            vehicles = {}
            instances = {}
            share = seconds / len(group.keys)
            for key in group.keys:
                inst = self._instances[key]
                own = inst.attributes.model_copy(update=dict(values))
                if own != inst.attributes or share > 0:
                    instances[key] = (inst, self.with_provenance(inst, share, update={"attributes": own}))
            if all(old.attributes == new.attributes for old, new in instances.values()):
                return False
        if not text:
            text = "Set " + ", ".join(f"{f} = {v}" for f, v in values.items())
        self.push(PairPatch(self, text, instances=instances, vehicles=vehicles))
        return True

    def set_group_attribute(self, group_id: str, field: str, value: Value, seconds: float = 0.0) -> bool:
        return self.set_group_attributes(group_id, {field: value}, seconds)

    def set_instance_attribute(self, key: str, field: str, value: Value, seconds: float = 0.0) -> bool:
        """Override one instance; a value equal to the vehicle's clears the override instead."""
        check_value(field, value)
        inst = self._instances[key]
        group = self._group_of.get(key)
        base = self.base(group) if group is not None else None
        if base is not None and value is not None and getattr(base, field) == value:
            value = None
        own = inst.attributes.model_copy(update={field: value})
        if own == inst.attributes:
            return False
        text = f"Override {field} = {value}" if value is not None else f"Clear {field} override"
        self.push(PairPatch(self, text, instances={key: (inst, self.with_provenance(inst, seconds,
                                                                                      update={"attributes": own}))}))
        return True

    def clear_overrides(self, keys: list[str], field: str | None = None, seconds: float = 0.0) -> bool:
        """Make instances follow their vehicle again (one field, or all)."""
        changes: dict[str, tuple[Instance, Instance]] = {}
        share = seconds / max(1, len(keys))
        for key in keys:
            group = self._group_of.get(key)
            if group is None or group.vehicle_id is None:
                continue  # no vehicle to follow
            inst = self._instances[key]
            own = Attributes() if field is None else inst.attributes.model_copy(update={field: None})
            if own != inst.attributes:
                changes[key] = (inst, self.with_provenance(inst, share, update={"attributes": own}))
        if not changes:
            return False
        what = "overrides" if field is None else f"{field} overrides"
        self.push(PairPatch(self, f"Clear {what} of {len(changes)} instance(s)", instances=changes))
        return True

    # ------------------------------------------------------------------ proposals (not saved)
    def set_proposals(self, proposals: Mapping[str, Attributes]) -> None:
        """Model predictions per group id; fresh model output, not an edit."""
        self._proposals.update(proposals)
        self.proposalsChanged.emit(frozenset(proposals))

    def vehicle_record(self, group: Group) -> Vehicle | None:
        return self._vehicles.get(group.vehicle_id) if group.vehicle_id is not None else None

"""The attribute vocabularies of the VRAI paper (Figure 3), exactly."""
from __future__ import annotations

from typing import Literal, get_args

Color = Literal["White", "Black", "Gray", "Red", "Green", "Blue", "Yellow", "Brown", "Other"]
VehicleType = Literal["Sedan", "Hatchback", "SUV", "Bus", "Lorry", "Truck", "Other"]
Stage = Literal["corners", "matching", "attributes", "parts"]

COLORS: tuple[str, ...] = get_args(Color)
TYPES: tuple[str, ...] = get_args(VehicleType)
FLAGS: tuple[str, ...] = ("skylight", "bumper", "spare_tire", "luggage_rack")
STAGES: tuple[str, ...] = get_args(Stage)

"""Human-performance test results (paper §5.6, Table 6): one file per person and test.

The file holds the trials themselves (query and the two candidates in the order shown),
not only the answers, so the model can later be scored on exactly the same choices and
an interrupted session resumes where it stopped. The trials are a pure function of
(dataset annotations, split, seed, number of queries); the header records those, so a
resumed session can refuse a file made for another test.
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from .base import Identifier, InstanceKey, Seconds, VehicleId, VraiModel

Side = Literal["left", "right"]
# How strictly the distractor's attributes equal the query's: all six annotated fields, or
# colour and type only (used when no vehicle in the gallery shares all six).
AttributeMatch = Literal["all", "color+type"]


class HumanEvalTrial(VraiModel):
    index: int = Field(ge=0)
    query: InstanceKey
    left: InstanceKey
    right: InstanceKey
    same: Side  # where the candidate of the query's vehicle is
    query_vehicle: VehicleId
    distractor_vehicle: VehicleId
    match: AttributeMatch = "all"
    answer: Side | None = None  # None: not answered yet
    seconds: Seconds | None = None  # from showing the trial to the answer
    answered_at: datetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "HumanEvalTrial":
        if len({self.query, self.left, self.right}) != 3:
            raise ValueError(f"trial {self.index}: query, left and right must be three different instances")
        if self.query_vehicle == self.distractor_vehicle:
            raise ValueError(f"trial {self.index}: the distractor is of the query's own vehicle {self.query_vehicle}")
        if (self.answer is None) != (self.seconds is None):
            raise ValueError(f"trial {self.index}: answer and seconds go together (one is missing)")
        return self


class HumanEvalResults(VraiModel):
    schema_version: Literal[1] = 1
    dataset: str  # the manifest's name
    split: Identifier
    seed: int
    queries: int = Field(ge=1)  # how many were asked for (fewer trials when the split has fewer usable queries)
    annotator: str
    created: datetime
    skipped_queries: int = Field(default=0, ge=0)  # sampled queries without a same-attribute distractor
    trials: list[HumanEvalTrial] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ordered(self) -> "HumanEvalResults":
        for i, t in enumerate(self.trials):
            if t.index != i:
                raise ValueError(f"trials[{i}].index is {t.index}, expected {i}")
        return self

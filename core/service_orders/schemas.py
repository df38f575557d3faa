"""Service order API shapes: one body per kind, told apart by `kind`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Order(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartIn(_Order):
    kind: Literal["start"]
    premise_id: int = Field(gt=0)
    start_on: date
    services: list[str] | None = None


class StopIn(_Order):
    kind: Literal["stop"]
    premise_id: int = Field(gt=0)
    stop_on: date


class TransferIn(_Order):
    kind: Literal["transfer"]
    from_premise_id: int = Field(gt=0)
    to_premise_id: int = Field(gt=0)
    move_on: date


class MeterRereadIn(_Order):
    kind: Literal["meter_reread"]
    premise_id: int = Field(gt=0)
    reason: str = Field(default="customer disputes the reading", max_length=200)


class LeakAdjustmentIn(_Order):
    kind: Literal["leak_adjustment"]
    bill_id: int = Field(gt=0)
    repaired_on: date | None = None


ServiceOrderIn = Annotated[
    StartIn | StopIn | TransferIn | MeterRereadIn | LeakAdjustmentIn, Field(discriminator="kind")
]


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: date | None = Field(default=None, description="Start or stop date; default requested.")
    misread: bool | None = Field(default=None, description="Meter re-read: was the read wrong?")

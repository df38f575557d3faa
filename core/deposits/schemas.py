"""Deposit API shapes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from core.billing.schemas import Money, PositiveMoney


class DepositIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: PositiveMoney | None = Field(
        default=None, description="Omit to bill what the deposit policy requires.")
    premise_id: int | None = Field(default=None, gt=0)
    reason: str | None = Field(default=None, max_length=120)


class WaiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=200)


class RequirementOut(BaseModel):
    required: Money
    monthly_basis: Money
    basis: str
    reason: str

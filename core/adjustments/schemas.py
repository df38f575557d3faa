"""Adjustment API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.billing.schemas import LedgerEntryOut, Money, NonZeroMoney
from core.pii import FreeText


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: NonZeroMoney = Field(description="Signed like the ledger: negative is a credit.")
    reason: FreeText = Field(min_length=3, max_length=200)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: FreeText | None = Field(default=None, max_length=200)


class AdjustmentRequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: int
    amount: Money
    reason: str
    requested_by: str
    requested_role: str
    status: str
    decided_by: str | None
    decided_at: datetime | None
    ledger_entry_id: int | None
    created_at: datetime


class AdjustmentOut(BaseModel):
    status: Literal["posted", "pending_approval", "rejected"]
    request: AdjustmentRequestOut
    entry: LedgerEntryOut | None
    balance: Money

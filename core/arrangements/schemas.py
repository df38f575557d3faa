"""Arrangement API shapes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from core.accounts.schemas import ArrangementOut
from core.billing.schemas import Money


class ArrangementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    installments: int = Field(ge=1, le=24, description="Installments after the down payment.")


class OfferOut(BaseModel):
    """Either terms (eligible) or the reason there are none."""

    eligible: bool
    reason: str | None = None
    code: str | None = None
    total: Money | None = None
    down_payment: Money | None = None
    down_payment_rate: Decimal | None = None
    min_installments: int | None = None
    max_installments: int | None = None
    first_installment_on: date | None = None
    interval_days: int | None = None


class ArrangementCreatedOut(BaseModel):
    arrangement: ArrangementOut

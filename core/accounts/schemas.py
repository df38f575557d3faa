"""Account API shapes: the account itself, and the summary an agent or the bot reads."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.billing.schemas import AgingOut, BillOut, LedgerEntryOut, Money


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: int = Field(gt=0)
    kind: Literal["residential", "commercial"] = "residential"
    credit_rating: Literal["good", "fair", "poor", "none"] = "none"
    energy_assistance: bool = False
    number: str | None = Field(default=None, pattern=r"^\d{6,20}$")


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    customer_id: int
    kind: str
    status: str
    opened_on: date
    credit_rating: str
    cash_only: bool
    energy_assistance: bool
    collection_stage: str
    disconnect_pending: bool
    disconnect_hold_reason: str | None
    medical_hold_until: date | None
    bankruptcy_filed_on: date | None


class InstallmentOut(BaseModel):
    seq: int
    due_on: date
    amount: Money
    paid: Money


class ArrangementOut(BaseModel):
    id: int
    status: str
    total: Money
    down_payment: Money
    installment_count: int
    created_on: date
    ended_on: date | None
    installments: list[InstallmentOut]


class DepositOut(BaseModel):
    id: int
    status: str
    required: Money
    paid: Money
    reason: str
    required_on: date
    due_on: date | None
    refund_review_on: date | None


class ServiceOrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    status: str
    account_id: int | None
    premise_id: int | None
    requested_for: date | None
    fee: Money
    details: dict[str, object]
    created_at: datetime


class PremiseBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    address: str
    unit: str | None
    city: str
    state: str
    zip: str
    nickname: str | None


class CollectionsOut(BaseModel):
    stage: str
    since: datetime | None
    disconnect_pending: bool
    hold: str | None
    medical_hold_until: date | None
    bankruptcy_filed_on: date | None


class PaymentBrief(BaseModel):
    payment: LedgerEntryOut
    reversed: bool


class AccountSummaryOut(BaseModel):
    """Everything a specialist looks at first, in one read."""

    account: AccountOut
    customer_name: str
    balance: Money
    aging: AgingOut
    last_bill: BillOut | None
    bills: list[BillOut]
    payments: list[PaymentBrief]
    arrangements: list[ArrangementOut]
    deposits: list[DepositOut]
    open_service_orders: list[ServiceOrderOut]
    premises: list[PremiseBrief]
    collections: CollectionsOut
    pending_adjustment_ids: list[int]

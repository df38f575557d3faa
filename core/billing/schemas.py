"""Money at the API edge: decimal strings in and out, never floats, never sub-cent."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from core.money import CENT
from core.pii import FreeText


def _parse_amount(value: object) -> Decimal:
    """Accept "12.34" or 12; refuse 12.3 as a JSON float (binary floats are not money)."""
    # ValueError, not TypeError: pydantic turns only ValueError into a 422 validation error.
    if isinstance(value, (bool, float)):
        raise ValueError("amounts must be decimal strings like \"12.34\", not floats")  # noqa: TRY004
    if isinstance(value, int):
        value = Decimal(value)
    elif isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError("not a decimal amount") from exc
    if not isinstance(value, Decimal):
        raise ValueError("not a decimal amount")  # noqa: TRY004
    if not value.is_finite():
        raise ValueError("amount must be finite")
    # Size first: quantize() raises InvalidOperation (a 500) on a value past 28 digits.
    if abs(value) >= Decimal(100_000_000):
        raise ValueError("amount is too large")
    if value != value.quantize(CENT):
        raise ValueError("amount has more than two decimal places")
    return value.quantize(CENT)


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("amount must be greater than zero")
    return value


def _nonzero(value: Decimal) -> Decimal:
    if value == 0:
        raise ValueError("amount must not be zero")
    return value


_as_string = PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json")
_money_schema = WithJsonSchema(
    {"type": "string", "pattern": r"^-?\d+(\.\d{1,2})?$", "examples": ["12.34"]}
)

# Input: any signed amount; PositiveMoney for payments, NonZeroMoney for signed adjustments.
MoneyIn = Annotated[Decimal, BeforeValidator(_parse_amount), _as_string, _money_schema]
PositiveMoney = Annotated[Decimal, BeforeValidator(_parse_amount), AfterValidator(_positive),
                          _as_string, _money_schema]
NonZeroMoney = Annotated[Decimal, BeforeValidator(_parse_amount), AfterValidator(_nonzero),
                         _as_string, _money_schema]
# Output: always a two-decimal string.
Money = Annotated[Decimal, _as_string, _money_schema]

PaymentMethod = Literal["card", "ach", "check", "cash"]


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: PositiveMoney
    method: PaymentMethod
    reference: str | None = Field(default=None, min_length=1, max_length=64,
                                  description="The processor's id; a repeat is not posted twice.")
    memo: FreeText | None = Field(default=None, max_length=200)


class ReversePaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: FreeText = Field(default="returned payment: NSF", min_length=1, max_length=200)


class LedgerEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    account_id: int
    kind: str
    amount: Money
    posted_at: datetime
    method: str | None = None
    reference: str | None = None
    memo: str | None = None
    code: str | None = None
    reverses_id: int | None = None


class PaymentOut(BaseModel):
    payment: LedgerEntryOut
    replayed: bool = Field(description="True when this reference was already posted: nothing new.")
    balance: Money


class ReturnedPaymentOut(BaseModel):
    reversal: LedgerEntryOut
    fee: LedgerEntryOut | None
    cash_only: bool
    balance: Money


class BillOut(BaseModel):
    id: int
    period_start: date
    period_end: date
    issued_on: date
    due_on: date
    amount: Money


class AgingOut(BaseModel):
    current: Money
    days_30: Money
    days_60: Money
    days_90_plus: Money
    past_due: Money
    oldest_past_due_on: date | None

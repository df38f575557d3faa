"""Request bodies of the console's REST API (responses are the cards in routing/cards.py)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.billing.schemas import MoneyIn
from core.pii import FreeText


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class PresenceIn(BaseModel):
    presence: str


class MessageIn(BaseModel):
    text: str = Field(min_length=1, max_length=1600)


class NoteIn(BaseModel):
    body: FreeText = Field(min_length=1, max_length=4000)


class TransferIn(BaseModel):
    to_agent_id: int | None = None
    to_queue: str | None = None
    note: FreeText | None = Field(default=None, max_length=500)


class WrapUpIn(BaseModel):
    disposition: str = Field(min_length=1, max_length=32)
    notes: FreeText | None = Field(default=None, max_length=4000)


class HandBackIn(BaseModel):
    note: FreeText | None = Field(default=None, max_length=4000)


class StormIn(BaseModel):
    on: bool
    message: FreeText = Field(default="", max_length=300)


class AgentIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    display_name: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=12, max_length=256)
    role: str = "agent"
    skills: list[str] = Field(default_factory=list)
    capacity: dict[str, int] | None = None


class AgentPatch(BaseModel):
    skills: list[str] | None = None
    capacity: dict[str, int] | None = None
    role: str | None = None
    active: bool | None = None
    presence: str | None = None


class LinkAccountIn(BaseModel):
    account_number: str = Field(min_length=4, max_length=20)


class AdjustmentIn(BaseModel):
    # Money as the operator API takes it: decimal strings, whole cents, bounded (an unbounded
    # amount overflowed the ledger's 64-bit cent sums and every later read of the account).
    amount: MoneyIn  # signed like the ledger: negative credits the customer
    reason: FreeText = Field(min_length=3, max_length=200)


class ArrangementIn(BaseModel):
    installments: int = Field(ge=1, le=24)
    down_payment: MoneyIn | None = None


class WaiveFeeIn(BaseModel):
    ledger_entry_id: int
    reason: FreeText = Field(min_length=3, max_length=200)


class DepositIn(BaseModel):
    amount: MoneyIn | None = None  # None: the policy's requirement
    reason: FreeText = Field(default="set by agent", max_length=200)


class ServiceOrderIn(BaseModel):
    kind: str = Field(min_length=3, max_length=24)
    premise_id: int | None = None
    notes: FreeText | None = Field(default=None, max_length=500)


class AccountNoteIn(BaseModel):
    body: FreeText = Field(min_length=1, max_length=2000)


class DecisionIn(BaseModel):
    reason: FreeText = Field(default="", max_length=200)

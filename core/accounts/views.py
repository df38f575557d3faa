"""Operator API: open and read accounts, the summary, and collections holds."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from core.accounts import repository
from core.accounts.access import AccountClerk, AccountReader
from core.accounts.flows import account_summary
from core.accounts.schemas import AccountIn, AccountOut, AccountSummaryOut
from core.accounts.service import (
    advance_collections,
    disconnect_list,
    open_account,
    record_bankruptcy,
    set_medical_hold,
)
from core.billing.schemas import Money
from core.errors import NotFound
from core.http import DbSession
from core.money import from_cents
from core.pii import FreeText

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])


@router.post("", response_model=AccountOut, status_code=status.HTTP_201_CREATED)
async def create(body: AccountIn, session: DbSession, caller: AccountClerk) -> AccountOut:
    account = await open_account(session, caller=caller, **body.model_dump())
    return AccountOut.model_validate(account)


@router.get("", response_model=AccountOut, summary="Find an account by its number")
async def by_number(number: str, session: DbSession, _caller: AccountReader) -> AccountOut:
    account = await repository.by_number(session, number=number)
    if account is None:
        raise NotFound("no account with that number")
    return AccountOut.model_validate(account)


@router.get("/{account_id}", response_model=AccountOut)
async def read(account_id: int, session: DbSession, _caller: AccountReader) -> AccountOut:
    return AccountOut.model_validate(await repository.get_account(session, account_id=account_id))


@router.get("/{account_id}/summary", response_model=AccountSummaryOut)
async def summary(account_id: int, session: DbSession, _caller: AccountReader) -> AccountSummaryOut:
    """Balance (the ledger's sum), aging, bills, payments, arrangements, deposits, open orders."""
    return await account_summary(session, account_id=account_id)


class MedicalHoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    until: date
    reason: FreeText = Field(min_length=3, max_length=200)


class BankruptcyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filed_on: date
    chapter: int = Field(ge=7, le=13)


class BankruptcyOut(BaseModel):
    account: AccountOut
    adequate_assurance_due_on: date


@router.post("/{account_id}/medical-hold", response_model=AccountOut)
async def medical_hold(
    account_id: int, body: MedicalHoldIn, session: DbSession, caller: AccountClerk
) -> AccountOut:
    account = await set_medical_hold(session, caller=caller, account_id=account_id,
                                     until=body.until, reason=body.reason)
    return AccountOut.model_validate(account)


@router.post("/{account_id}/bankruptcy", response_model=BankruptcyOut)
async def bankruptcy(
    account_id: int, body: BankruptcyIn, session: DbSession, caller: AccountClerk
) -> BankruptcyOut:
    """Stops collection at once; returns the adequate-assurance deadline (20 or 30 days)."""
    notice = await record_bankruptcy(session, caller=caller, account_id=account_id,
                                     filed_on=body.filed_on, chapter=body.chapter)
    return BankruptcyOut(account=AccountOut.model_validate(notice.account),
                         adequate_assurance_due_on=notice.adequate_assurance_due_on)


class CollectionStepOut(BaseModel):
    stage: str
    changed: bool
    reason: str
    hold: str | None


class DisconnectCandidateOut(BaseModel):
    account_id: int
    amount_due: Money
    last_payment_on: date | None
    broken_arrangements: int


@router.post("/{account_id}/collections/advance", response_model=CollectionStepOut)
async def advance(account_id: int, session: DbSession, caller: AccountClerk) -> CollectionStepOut:
    """At most one step (late notice → disconnect notice → disconnect list), holds respected."""
    step = await advance_collections(session, caller=caller, account_id=account_id)
    return CollectionStepOut(stage=step.stage, changed=step.changed, reason=step.reason,
                             hold=step.hold)


collections_router = APIRouter(prefix="/api/v1/collections", tags=["accounts"])


@collections_router.get("/disconnect-list", response_model=list[DisconnectCandidateOut])
async def disconnects(session: DbSession, _caller: AccountReader) -> list[DisconnectCandidateOut]:
    """Not held, ordered by amount due, then oldest last payment, then broken arrangements."""
    return [DisconnectCandidateOut(account_id=c.account_id,
                                   amount_due=from_cents(c.amount_due_cents),
                                   last_payment_on=c.last_payment_on,
                                   broken_arrangements=c.broken_arrangements)
            for c in await disconnect_list(session)]

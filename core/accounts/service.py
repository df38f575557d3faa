"""Account verbs: opening one, and the collections march with its holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts import repository
from core.accounts.models import Account
from core.accounts.policy import (
    DEFAULT_COLLECTIONS_POLICY,
    CollectionFacts,
    CollectionsPolicy,
    CollectionStep,
    DisconnectCandidate,
    adequate_assurance_due,
    collection_hold,
    disconnect_order,
    next_collection_step,
)
from core.arrangements import repository as arrangements
from core.audit.service import record_audit
from core.auth.service import Caller
from core.billing import repository as ledger
from core.billing.policy import age_balance
from core.clock import today as clock_today
from core.clock import utcnow
from core.customers.repository import get_customer
from core.errors import Conflict, Invalid

ACCOUNT_KINDS = ("residential", "commercial")
CREDIT_RATINGS = ("good", "fair", "poor", "none")


async def open_account(
    session: AsyncSession,
    *,
    caller: Caller,
    customer_id: int,
    kind: str = "residential",
    credit_rating: str = "none",
    energy_assistance: bool = False,
    number: str | None = None,
    opened_on: date | None = None,
) -> Account:
    if kind not in ACCOUNT_KINDS:
        raise Invalid(f"account kind must be one of {', '.join(ACCOUNT_KINDS)}")
    if credit_rating not in CREDIT_RATINGS:
        raise Invalid(f"credit rating must be one of {', '.join(CREDIT_RATINGS)}")
    await get_customer(session, customer_id=customer_id)
    if number is not None and await repository.by_number(session, number=number) is not None:
        raise Conflict(f"account number {number} is taken")
    account = Account(number=number or await repository.free_number(session),
                      customer_id=customer_id, kind=kind, credit_rating=credit_rating,
                      energy_assistance=energy_assistance, opened_on=opened_on or clock_today(),
                      status="active")
    session.add(account)
    await session.flush()
    await record_audit(session, caller=caller, action="account.open", entity="account",
                       entity_id=account.id, account_id=account.id, before=None,
                       after={"number": account.number, "kind": kind}, reason="new account")
    return account


async def collection_facts(session: AsyncSession, *, account: Account, today: date) -> CollectionFacts:
    aging = age_balance(
        balance_cents=await ledger.balance_cents(session, account_id=account.id),
        items=await ledger.aging_items(session, account_id=account.id),
        today=today,
    )
    return CollectionFacts(
        stage=account.collection_stage,
        stage_since=account.collection_stage_at.date() if account.collection_stage_at else None,
        past_due_cents=aging.past_due_cents,
        oldest_past_due_on=aging.oldest_past_due_on,
        today=today,
        medical_hold_until=account.medical_hold_until,
        bankruptcy_filed_on=account.bankruptcy_filed_on,
        in_active_arrangement=await arrangements.active_for(session, account_id=account.id)
        is not None,
    )


async def advance_collections(
    session: AsyncSession, *, caller: Caller, account_id: int, today: date | None = None,
    policy: CollectionsPolicy = DEFAULT_COLLECTIONS_POLICY,
) -> CollectionStep:
    """Take at most one step; the caller (a nightly job) sends the notice the new stage names."""
    day = today or clock_today()
    account = await repository.get_account(session, account_id=account_id, for_update=True)
    step = next_collection_step(await collection_facts(session, account=account, today=day), policy)
    hold_before = account.disconnect_hold_reason
    account.disconnect_hold_reason = step.hold
    if step.changed:
        before = {"stage": account.collection_stage}
        account.collection_stage = step.stage
        account.collection_stage_at = _noon(day)
        account.disconnect_pending = step.stage == "disconnect_list"
        await session.flush()
        await record_audit(session, caller=caller, action="collections.advance",
                           entity="account", entity_id=account.id, account_id=account.id,
                           before=before, after={"stage": step.stage}, reason=step.reason)
    elif hold_before != account.disconnect_hold_reason:
        await session.flush()
    return step


async def set_medical_hold(
    session: AsyncSession, *, caller: Caller, account_id: int, until: date, reason: str,
) -> Account:
    """A medical certificate holds disconnection until the date it names."""
    account = await repository.get_account(session, account_id=account_id, for_update=True)
    before = {"medical_hold_until": str(account.medical_hold_until)
              if account.medical_hold_until else None}
    account.medical_hold_until = until
    account.disconnect_hold_reason = "medical"
    await session.flush()
    await record_audit(session, caller=caller, action="account.medical_hold", entity="account",
                       entity_id=account.id, account_id=account.id, before=before,
                       after={"medical_hold_until": str(until)}, reason=reason)
    return account


@dataclass(frozen=True, slots=True)
class BankruptcyNotice:
    account: Account
    adequate_assurance_due_on: date


async def record_bankruptcy(
    session: AsyncSession, *, caller: Caller, account_id: int, filed_on: date, chapter: int,
    policy: CollectionsPolicy = DEFAULT_COLLECTIONS_POLICY,
) -> BankruptcyNotice:
    """The automatic stay stops collection at once; service may continue on adequate assurance."""
    if chapter not in (7, 11, 12, 13):
        raise Invalid("bankruptcy chapter must be 7, 11, 12 or 13")
    account = await repository.get_account(session, account_id=account_id, for_update=True)
    before = {"stage": account.collection_stage, "disconnect_pending": account.disconnect_pending}
    account.bankruptcy_filed_on = filed_on
    account.bankruptcy_chapter = chapter
    account.disconnect_pending = False
    account.disconnect_hold_reason = "bankruptcy"
    await session.flush()
    due = adequate_assurance_due(filed_on=filed_on, chapter=chapter, policy=policy)
    await record_audit(session, caller=caller, action="account.bankruptcy", entity="account",
                       entity_id=account.id, account_id=account.id, before=before,
                       after={"chapter": chapter, "filed_on": str(filed_on),
                              "adequate_assurance_due_on": str(due)},
                       reason="bankruptcy filing: collection stopped")
    return BankruptcyNotice(account, due)


async def disconnect_list(
    session: AsyncSession, *, today: date | None = None,
) -> list[DisconnectCandidate]:
    """Accounts on the disconnect list and not held, in the order crews should work them."""
    day = today or clock_today()
    candidates = []
    for account in await repository.in_stage(session, stage="disconnect_list"):
        facts = await collection_facts(session, account=account, today=day)
        if collection_hold(facts) is not None:
            continue
        candidates.append(DisconnectCandidate(
            account_id=account.id,
            amount_due_cents=facts.past_due_cents,
            last_payment_on=await ledger.last_payment_on(session, account_id=account.id),
            broken_arrangements=await arrangements.count_broken(session, account_id=account.id),
        ))
    return disconnect_order(candidates)


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=utcnow().tzinfo)

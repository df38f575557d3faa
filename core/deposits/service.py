"""Deposit verbs: what is required, requiring it (billed on the ledger), waiving, refunding."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.repository import get_account
from core.audit.service import record_audit
from core.auth.service import Caller
from core.billing import repository as ledger
from core.billing.models import LedgerEntry
from core.clock import today as clock_today
from core.clock import utcnow
from core.deposits import repository
from core.deposits.models import Deposit
from core.deposits.policy import (
    DEFAULT_DEPOSIT_POLICY,
    BilledMonth,
    DepositPolicy,
    DepositRequirement,
    add_months,
    refund_due,
    refund_review_on,
    required_deposit,
)
from core.enums import Role
from core.errors import Conflict, Forbidden, Invalid, PolicyRefused
from core.money import from_cents, to_cents
from core.premises.repository import past_account_ids

WAIVING_ROLES = {Role.SUPERVISOR, Role.ADMIN}


async def deposit_requirement(
    session: AsyncSession, *, account_id: int, premise_id: int | None = None,
    today: date | None = None, policy: DepositPolicy = DEFAULT_DEPOSIT_POLICY,
) -> DepositRequirement:
    """From the account's last 12 months of bills, else the premise's, else the estimate."""
    day = today or clock_today()
    account = await get_account(session, account_id=account_id)
    since = add_months(day, -policy.history_months)
    own = await ledger.bills_since(session, account_ids=[account.id], since=since)
    premise_bills: list[BilledMonth] = []
    if premise_id is not None:
        others = [a for a in await past_account_ids(session, premise_id=premise_id)
                  if a != account.id]
        premise_bills = [BilledMonth(b.issued_on, b.amount_cents)
                         for b in await ledger.bills_since(session, account_ids=others, since=since)]
    return required_deposit(
        account_kind=account.kind, credit_rating=account.credit_rating,
        account_bills=[BilledMonth(b.issued_on, b.amount_cents) for b in own],
        premise_bills=premise_bills, today=day, policy=policy,
    )


async def require_deposit(
    session: AsyncSession,
    *,
    caller: Caller,
    account_id: int,
    amount: Decimal | None = None,
    premise_id: int | None = None,
    reason: str | None = None,
    today: date | None = None,
    policy: DepositPolicy = DEFAULT_DEPOSIT_POLICY,
) -> Deposit | None:
    """Bill a deposit: the policy's amount unless one is given. None when nothing is required."""
    day = today or clock_today()
    account = await get_account(session, account_id=account_id, for_update=True)
    if await repository.open_for(session, account_id=account.id) is not None:
        raise Conflict("this account already has an open deposit", account_id=account_id)
    if amount is None:
        requirement = await deposit_requirement(session, account_id=account.id,
                                                premise_id=premise_id, today=day, policy=policy)
        cents, why = requirement.required_cents, requirement.reason
    else:
        cents, why = to_cents(amount), reason or "deposit set by hand"
        if cents <= 0:
            raise Invalid("a deposit must be greater than zero")
    if cents == 0:
        return None
    deposit = Deposit(account_id=account.id, required_cents=cents, paid_cents=0,
                      status="required", reason=(reason or why)[:120], required_on=day,
                      due_on=day + timedelta(days=policy.due_days))
    session.add(deposit)
    await session.flush()
    await ledger.add_entry(session, LedgerEntry(
        account_id=account.id, kind="deposit", amount_cents=cents, posted_at=utcnow(),
        memo="security deposit", actor=caller.name[:80], code="deposit_charge",
    ))
    await record_audit(
        session, caller=caller, action="deposit.require", entity="deposit", entity_id=deposit.id,
        account_id=account.id, before=None,
        after={"required": str(from_cents(cents)), "due_on": str(deposit.due_on)},
        reason=deposit.reason,
    )
    return deposit


async def record_deposit_paid(
    session: AsyncSession, *, caller: Caller, deposit_id: int, amount: Decimal,
    today: date | None = None, policy: DepositPolicy = DEFAULT_DEPOSIT_POLICY,
) -> Deposit:
    """Mark (part of) a deposit paid; once paid in full it is held and its refund review set."""
    deposit = await repository.get_deposit(session, deposit_id=deposit_id)
    account = await get_account(session, account_id=deposit.account_id)
    cents = to_cents(amount)
    if cents <= 0 or deposit.paid_cents + cents > deposit.required_cents:
        raise Invalid("the amount must be positive and no more than what is still owed")
    if deposit.status != "required":
        raise Conflict(f"deposit {deposit_id} is {deposit.status}")
    before = {"paid": str(from_cents(deposit.paid_cents)), "status": deposit.status}
    deposit.paid_cents += cents
    if deposit.paid_cents == deposit.required_cents:
        day = today or clock_today()
        deposit.status = "held"
        deposit.refund_review_on = refund_review_on(account_kind=account.kind, held_since=day,
                                                    policy=policy)
    await session.flush()
    await record_audit(
        session, caller=caller, action="deposit.paid", entity="deposit", entity_id=deposit.id,
        account_id=account.id, before=before,
        after={"paid": str(from_cents(deposit.paid_cents)), "status": deposit.status},
        reason="deposit payment",
    )
    return deposit


async def waive_deposit(
    session: AsyncSession, *, caller: Caller, deposit_id: int, reason: str,
) -> Deposit:
    """Supervisors only: credit back what is unpaid and close the deposit."""
    if caller.role not in WAIVING_ROLES:
        raise Forbidden("only a supervisor may waive a deposit")
    if not reason.strip():
        raise Invalid("waiving a deposit needs a reason")
    deposit = await repository.get_deposit(session, deposit_id=deposit_id)
    if deposit.status != "required":
        raise Conflict(f"deposit {deposit_id} is {deposit.status}; only a required one is waived")
    await get_account(session, account_id=deposit.account_id, for_update=True)
    unpaid = deposit.required_cents - deposit.paid_cents
    if unpaid > 0:
        await ledger.add_entry(session, LedgerEntry(
            account_id=deposit.account_id, kind="deposit", amount_cents=-unpaid,
            posted_at=utcnow(), memo="deposit waived", actor=caller.name[:80],
            code="deposit_waived",
        ))
    deposit.status = "waived"
    await session.flush()
    await record_audit(
        session, caller=caller, action="deposit.waive", entity="deposit", entity_id=deposit.id,
        account_id=deposit.account_id, before={"status": "required"},
        after={"status": "waived", "credited": str(from_cents(unpaid))}, reason=reason,
    )
    return deposit


async def refund_deposit(
    session: AsyncSession, *, caller: Caller, deposit_id: int, last_delinquency_on: date | None,
    today: date | None = None, policy: DepositPolicy = DEFAULT_DEPOSIT_POLICY,
) -> Deposit:
    """Credit a held deposit to the account once the good-payment period has passed."""
    day = today or clock_today()
    deposit = await repository.get_deposit(session, deposit_id=deposit_id)
    if deposit.status != "held":
        raise Conflict(f"deposit {deposit_id} is {deposit.status}; only a held one is refunded")
    account = await get_account(session, account_id=deposit.account_id, for_update=True)
    held_since = deposit.required_on
    if not refund_due(account_kind=account.kind, held_since=held_since,
                      last_delinquency_on=last_delinquency_on, today=day, policy=policy):
        raise PolicyRefused("the deposit is not yet due for refund", code="refund_not_due")
    await ledger.add_entry(session, LedgerEntry(
        account_id=account.id, kind="refund", amount_cents=-deposit.paid_cents,
        posted_at=utcnow(), memo="deposit refund", actor=caller.name[:80],
        code="deposit_refund",
    ))
    deposit.status = "refunded"
    await session.flush()
    await record_audit(
        session, caller=caller, action="deposit.refund", entity="deposit", entity_id=deposit.id,
        account_id=account.id, before={"status": "held"},
        after={"status": "refunded", "credited": str(from_cents(deposit.paid_cents))},
        reason="good payment history",
    )
    return deposit

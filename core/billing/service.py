"""Ledger verbs: bills, payments, returned payments. Every money movement is audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.accounts.repository import get_account
from core.arrangements import repository as arrangements
from core.audit.service import record_audit
from core.auth.service import Caller
from core.billing import repository as ledger
from core.billing.models import Bill, BillLine, LedgerEntry
from core.billing.policy import (
    DEFAULT_BILLING_POLICY,
    Aging,
    BillingPolicy,
    age_balance,
    returned_payment_outcome,
)
from core.clock import today as clock_today
from core.clock import utcnow
from core.errors import Conflict, Invalid, NotFound, PolicyRefused
from core.money import from_cents, to_cents

PAYMENT_METHODS = ("card", "ach", "check", "cash")
# Cash-only means guaranteed funds: a check or bank draft can bounce again.
REFUSED_WHEN_CASH_ONLY = ("check", "ach")


async def balance(session: AsyncSession, *, account_id: int) -> Decimal:
    """The account's balance: the sum of its ledger, positive when the customer owes."""
    await get_account(session, account_id=account_id)
    return from_cents(await ledger.balance_cents(session, account_id=account_id))


async def aging(session: AsyncSession, *, account_id: int, today: date | None = None,
                policy: BillingPolicy = DEFAULT_BILLING_POLICY) -> Aging:
    """Current / 30 / 60 / 90+ and the past-due amount, from the ledger and the bills."""
    return age_balance(
        balance_cents=await ledger.balance_cents(session, account_id=account_id),
        items=await ledger.aging_items(session, account_id=account_id),
        today=today or clock_today(),
        policy=policy,
    )


@dataclass(frozen=True, slots=True)
class BillLineIn:
    service_kind: str
    usage: Decimal
    unit: str
    amount: Decimal
    estimated_read: bool = False


async def post_bill(
    session: AsyncSession,
    *,
    account_id: int,
    period_start: date,
    period_end: date,
    issued_on: date,
    due_on: date,
    lines: Sequence[BillLineIn],
    actor: str = "billing",
    code: str | None = None,
) -> Bill:
    """A bill and its one ledger charge. The bill itself is the record; no audit row per bill."""
    if not lines:
        raise Invalid("a bill needs at least one line")
    if due_on < issued_on or period_end < period_start:
        raise Invalid("bill dates are out of order")
    await get_account(session, account_id=account_id)
    cents = [to_cents(line.amount) for line in lines]
    bill = Bill(account_id=account_id, period_start=period_start, period_end=period_end,
                issued_on=issued_on, due_on=due_on, amount_cents=sum(cents))
    session.add(bill)
    await session.flush()
    for line, amount in zip(lines, cents, strict=True):
        session.add(BillLine(bill_id=bill.id, service_kind=line.service_kind, usage=line.usage,
                             unit=line.unit, amount_cents=amount,
                             estimated_read=line.estimated_read))
    await ledger.add_entry(session, LedgerEntry(
        account_id=account_id, kind="charge", amount_cents=bill.amount_cents, bill_id=bill.id,
        posted_at=_start_of(issued_on), actor=actor, code=code,
        memo=f"bill {period_start:%b %d}–{period_end:%b %d}",
    ))
    return bill


@dataclass(frozen=True, slots=True)
class PaymentResult:
    payment: LedgerEntry
    replayed: bool
    balance: Decimal


async def post_payment(
    session: AsyncSession,
    *,
    caller: Caller,
    account_id: int,
    amount: Decimal,
    method: str,
    reference: str | None = None,
    memo: str | None = None,
    posted_at: datetime | None = None,
) -> PaymentResult:
    """Post a payment once: a repeat of the same reference returns the first, posts nothing."""
    cents = to_cents(amount)
    if cents <= 0:
        raise Invalid("a payment must be greater than zero")
    if method not in PAYMENT_METHODS:
        raise Invalid(f"unknown payment method {method!r}")
    account = await get_account(session, account_id=account_id, for_update=True)
    if reference is not None:
        earlier = await ledger.payment_by_reference(session, reference=reference)
        if earlier is not None:
            return await _replay(session, earlier=earlier, account_id=account_id, cents=cents)
    if account.cash_only and method in REFUSED_WHEN_CASH_ONLY:
        raise PolicyRefused(
            "This account is cash-only after returned payments: pay by card, cash or money order.",
            code="cash_only",
        )
    before = await ledger.balance_cents(session, account_id=account_id)
    entry = LedgerEntry(account_id=account_id, kind="payment", amount_cents=-cents,
                        method=method, reference=reference, memo=memo,
                        posted_at=posted_at or utcnow(), actor=caller.name[:80])
    try:
        async with session.begin_nested():
            session.add(entry)
            await session.flush()
    except IntegrityError as exc:
        # A concurrent request with the same reference won the race.
        raise Conflict("a payment with this reference is already being posted",
                       reference=reference) from exc
    applied = await arrangements.apply_payment(session, account_id=account_id, cents=cents)
    after = before - cents
    await record_audit(
        session, caller=caller, action="payment.post", entity="ledger_entry", entity_id=entry.id,
        account_id=account_id, before={"balance": str(from_cents(before))},
        after={"balance": str(from_cents(after)), "amount": str(from_cents(cents)),
               "method": method, "reference": reference,
               "applied_to_arrangement": str(from_cents(applied))},
        reason=memo or "payment received",
    )
    return PaymentResult(entry, False, from_cents(after))


async def _replay(session: AsyncSession, *, earlier: LedgerEntry, account_id: int,
                  cents: int) -> PaymentResult:
    if earlier.account_id != account_id or earlier.amount_cents != -cents:
        raise Conflict("this payment reference was already used for a different payment",
                       reference=earlier.reference)
    current = await ledger.balance_cents(session, account_id=account_id)
    return PaymentResult(earlier, True, from_cents(current))


@dataclass(frozen=True, slots=True)
class ReturnedPaymentResult:
    reversal: LedgerEntry
    fee: LedgerEntry | None
    cash_only: bool
    balance: Decimal


async def reverse_payment_nsf(
    session: AsyncSession,
    *,
    caller: Caller,
    payment_id: int,
    reason: str = "returned payment: NSF",
    policy: BillingPolicy = DEFAULT_BILLING_POLICY,
) -> ReturnedPaymentResult:
    """A returned payment: reverse it, charge the fee, make the account cash-only if repeated."""
    payment = await ledger.get_entry(session, entry_id=payment_id)
    if payment is None or payment.kind != "payment":
        raise NotFound(f"payment {payment_id} not found", payment_id=payment_id)
    account = await get_account(session, account_id=payment.account_id, for_update=True)
    if await ledger.reversal_of(session, entry_id=payment.id) is not None:
        raise Conflict("this payment was already reversed", payment_id=payment_id)
    before = await ledger.balance_cents(session, account_id=account.id)
    now = utcnow()
    reversal = LedgerEntry(account_id=account.id, kind="reversal", amount_cents=-payment.amount_cents,
                           reverses_id=payment.id, method=payment.method, memo=reason[:200],
                           posted_at=now, actor=caller.name[:80], code="nsf_return")
    try:
        async with session.begin_nested():
            session.add(reversal)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict("this payment was already reversed", payment_id=payment_id) from exc
    returns = await ledger.count_entries_since(
        session, account_id=account.id, code="nsf_return",
        since=now - timedelta(days=policy.returns_window_days),
    )
    outcome = returned_payment_outcome(returns_in_window=returns, policy=policy)
    fee = None
    if outcome.fee_cents > 0:
        fee = await ledger.add_entry(session, LedgerEntry(
            account_id=account.id, kind="fee", amount_cents=outcome.fee_cents, posted_at=now,
            memo="returned payment fee", actor=caller.name[:80], code="nsf_fee",
        ))
    was_cash_only = account.cash_only
    if outcome.make_cash_only:
        account.cash_only = True
        await session.flush()
    after = await ledger.balance_cents(session, account_id=account.id)
    await record_audit(
        session, caller=caller, action="payment.reverse_nsf", entity="ledger_entry",
        entity_id=payment.id, account_id=account.id,
        before={"balance": str(from_cents(before)), "cash_only": was_cash_only},
        after={"balance": str(from_cents(after)), "cash_only": account.cash_only,
               "fee": str(from_cents(outcome.fee_cents)), "returns_in_window": returns},
        reason=reason,
    )
    return ReturnedPaymentResult(reversal, fee, account.cash_only, from_cents(after))


def _start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=utcnow().tzinfo)

"""Payments, idempotency, returned payments and cash-only, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from accountcore_factories import AGENT, INTEGRATION, bill, customer_with_account
from sqlalchemy import func, select

from core.accounts.models import Account
from core.audit.models import AuditEntry
from core.billing.models import LedgerEntry
from core.billing.service import aging, balance, post_payment, reverse_payment_nsf
from core.clock import today
from core.errors import Conflict, Invalid, NotFound, PolicyRefused


async def ledger_rows(session) -> int:
    return int(await session.scalar(select(func.count()).select_from(LedgerEntry)))


async def test_balance_is_the_ledger_sum_and_payment_is_audited(session) -> None:
    _, account = await customer_with_account(session)
    await bill(session, account_id=account.id, issued_on=today() - timedelta(days=3),
               amount="120.50")
    result = await post_payment(session, caller=AGENT, account_id=account.id,
                                amount=Decimal("20.25"), method="card", reference="pi_1")
    assert result.balance == Decimal("100.25")
    assert await balance(session, account_id=account.id) == Decimal("100.25")
    audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "payment.post"))
             ).one()
    assert (audit.actor, audit.actor_role) == ("token:amy", "agent")
    assert audit.before == {"balance": "120.50"} and audit.after["balance"] == "100.25"


async def test_same_reference_is_posted_once(session) -> None:
    _, account = await customer_with_account(session)
    first = await post_payment(session, caller=INTEGRATION, account_id=account.id,
                               amount=Decimal("10.00"), method="ach", reference="ref-9")
    again = await post_payment(session, caller=INTEGRATION, account_id=account.id,
                               amount=Decimal("10.00"), method="ach", reference="ref-9")
    assert again.replayed and again.payment.id == first.payment.id
    assert await ledger_rows(session) == 1
    with pytest.raises(Conflict):
        await post_payment(session, caller=INTEGRATION, account_id=account.id,
                           amount=Decimal("11.00"), method="ach", reference="ref-9")
    assert await ledger_rows(session) == 1


@pytest.mark.parametrize("amount", [Decimal(0), Decimal("-5.00"), Decimal("1.005")])
async def test_bad_amounts_write_nothing(session, amount: Decimal) -> None:
    _, account = await customer_with_account(session)
    with pytest.raises(Invalid):
        await post_payment(session, caller=AGENT, account_id=account.id, amount=amount,
                           method="card")
    assert await ledger_rows(session) == 0


async def test_unknown_account_is_not_found(session) -> None:
    with pytest.raises(NotFound):
        await post_payment(session, caller=AGENT, account_id=999_999, amount=Decimal(1),
                           method="card")


async def test_returned_payments_charge_a_fee_and_the_second_makes_cash_only(session) -> None:
    _, account = await customer_with_account(session)
    await bill(session, account_id=account.id, issued_on=today(), amount="200.00")
    one = await post_payment(session, caller=INTEGRATION, account_id=account.id,
                             amount=Decimal("50.00"), method="check", reference="chk-1")
    two = await post_payment(session, caller=INTEGRATION, account_id=account.id,
                             amount=Decimal("50.00"), method="check", reference="chk-2")

    first = await reverse_payment_nsf(session, caller=INTEGRATION, payment_id=one.payment.id)
    assert first.fee is not None and first.fee.amount_cents == 3_000
    assert not first.cash_only and first.balance == Decimal("180.00")
    with pytest.raises(Conflict):
        await reverse_payment_nsf(session, caller=INTEGRATION, payment_id=one.payment.id)

    second = await reverse_payment_nsf(session, caller=INTEGRATION, payment_id=two.payment.id)
    assert second.cash_only and second.balance == Decimal("260.00")
    assert (await session.get(Account, account.id)).cash_only

    with pytest.raises(PolicyRefused, match="cash-only"):
        await post_payment(session, caller=AGENT, account_id=account.id,
                           amount=Decimal("10.00"), method="check")
    ok = await post_payment(session, caller=AGENT, account_id=account.id,
                            amount=Decimal("10.00"), method="card")
    assert ok.balance == Decimal("250.00")
    actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions.count("payment.reverse_nsf") == 2


async def test_reversing_something_that_is_not_a_payment_is_not_found(session) -> None:
    _, account = await customer_with_account(session)
    charge = await bill(session, account_id=account.id, issued_on=today(), amount="5.00")
    entry_id = await session.scalar(select(LedgerEntry.id).where(LedgerEntry.bill_id == charge.id))
    with pytest.raises(NotFound):
        await reverse_payment_nsf(session, caller=AGENT, payment_id=entry_id)


async def test_aging_from_bills_and_payments(session) -> None:
    _, account = await customer_with_account(session)
    day = date(2026, 7, 15)
    for days_ago in (95, 65, 35, 5):
        await bill(session, account_id=account.id, issued_on=day - timedelta(days=days_ago),
                   amount="100.00")
    await post_payment(session, caller=AGENT, account_id=account.id, amount=Decimal("150.00"),
                       method="card")
    aged = await aging(session, account_id=account.id, today=day)
    assert (aged.current_cents, aged.days_30_cents, aged.days_60_cents,
            aged.days_90_plus_cents) == (10_000, 10_000, 5_000, 0)
    assert aged.past_due_cents == 15_000

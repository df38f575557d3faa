"""Deposits: computed from history or estimate, billed, waived by a supervisor, refunded."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from accountcore_factories import ADMIN, AGENT, SUPERVISOR, bill, customer_with_account
from sqlalchemy import func, select

from core.billing.models import LedgerEntry
from core.billing.repository import balance_cents
from core.deposits.models import Deposit
from core.deposits.service import (
    deposit_requirement,
    record_deposit_paid,
    refund_deposit,
    require_deposit,
    waive_deposit,
)
from core.errors import Conflict, Forbidden, PolicyRefused
from core.premises.service import create_premise

DAY = date(2026, 7, 15)


async def test_commercial_deposit_from_own_history(session) -> None:
    _, account = await customer_with_account(session, kind="commercial")
    for months_ago, amount in ((1, "300.00"), (2, "500.00"), (13, "9000.00")):
        await bill(session, account_id=account.id, issued_on=DAY - timedelta(days=30 * months_ago),
                   amount=amount)
    need = await deposit_requirement(session, account_id=account.id, today=DAY)
    assert (need.required_cents, need.basis) == (80_000, "account_history")


async def test_new_account_at_a_premise_uses_the_premise_history(session) -> None:
    _, old = await customer_with_account(session, kind="commercial")
    premise = await create_premise(session, address="1 Main St", city="Riverbend", state="la",
                                   zip_code="70001", kind="commercial", account_id=old.id,
                                   services=["electric"], started_on=date(2025, 1, 1))
    await bill(session, account_id=old.id, issued_on=DAY - timedelta(days=20), amount="250.00")
    _, new = await customer_with_account(session, kind="commercial", last_name="Ngata",
                                         phone="+15045550102")
    need = await deposit_requirement(session, account_id=new.id, premise_id=premise.id, today=DAY)
    assert (need.required_cents, need.basis) == (50_000, "premise_history")


async def test_require_bills_the_deposit_once(session) -> None:
    _, account = await customer_with_account(session, credit_rating="poor")
    deposit = await require_deposit(session, caller=AGENT, account_id=account.id, today=DAY)
    assert deposit is not None and deposit.required_cents == 30_000  # 2 × 150.00 estimate
    assert await balance_cents(session, account_id=account.id) == 30_000
    with pytest.raises(Conflict):
        await require_deposit(session, caller=AGENT, account_id=account.id, today=DAY)


async def test_good_credit_needs_no_deposit(session) -> None:
    _, account = await customer_with_account(session, credit_rating="good")
    assert await require_deposit(session, caller=AGENT, account_id=account.id, today=DAY) is None
    assert await session.scalar(select(func.count()).select_from(Deposit)) == 0


async def test_only_a_supervisor_waives(session) -> None:
    _, account = await customer_with_account(session)
    deposit = await require_deposit(session, caller=AGENT, account_id=account.id,
                                    amount=Decimal("100.00"), reason="by hand", today=DAY)
    assert deposit is not None
    with pytest.raises(Forbidden):
        await waive_deposit(session, caller=AGENT, deposit_id=deposit.id, reason="hardship")
    await waive_deposit(session, caller=SUPERVISOR, deposit_id=deposit.id, reason="hardship")
    assert await balance_cents(session, account_id=account.id) == 0
    assert deposit.status == "waived"


async def test_paid_deposit_is_held_then_refunded_after_good_payment(session) -> None:
    _, account = await customer_with_account(session)
    deposit = await require_deposit(session, caller=AGENT, account_id=account.id,
                                    amount=Decimal("150.00"), today=DAY)
    assert deposit is not None
    await record_deposit_paid(session, caller=AGENT, deposit_id=deposit.id,
                              amount=Decimal("150.00"), today=DAY)
    assert deposit.status == "held" and deposit.refund_review_on == date(2027, 7, 15)
    with pytest.raises(PolicyRefused):
        await refund_deposit(session, caller=ADMIN, deposit_id=deposit.id,
                             last_delinquency_on=None, today=date(2027, 7, 14))
    await refund_deposit(session, caller=ADMIN, deposit_id=deposit.id, last_delinquency_on=None,
                         today=date(2027, 7, 15))
    refund = (await session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "refund"))).one()
    assert refund.amount_cents == -15_000 and deposit.status == "refunded"

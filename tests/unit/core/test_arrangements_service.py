"""Arrangement offers and creation from real ledgers; installments are paid by payments."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from accountcore_factories import AGENT, bill, customer_with_account
from sqlalchemy import func, select

from core.accounts.models import Account
from core.arrangements.models import Arrangement, Installment
from core.arrangements.policy import ArrangementOffer, ArrangementRefusal
from core.arrangements.repository import installments_of
from core.arrangements.service import (
    arrangement_offer,
    break_overdue_arrangement,
    create_arrangement,
)
from core.audit.models import AuditEntry
from core.billing.service import post_payment
from core.errors import Invalid, PolicyRefused

DAY = date(2026, 7, 15)


async def past_due_account(session, amount: str = "400.00", **kw):
    _, account = await customer_with_account(session, **kw)
    await bill(session, account_id=account.id, issued_on=DAY - timedelta(days=40), amount=amount)
    return account


async def test_offer_uses_the_past_due_amount(session) -> None:
    account = await past_due_account(session)
    await bill(session, account_id=account.id, issued_on=DAY - timedelta(days=2), amount="90.00")
    offer = await arrangement_offer(session, account_id=account.id, today=DAY)
    assert isinstance(offer, ArrangementOffer)
    assert offer.total_cents == 40_000  # the new, not-yet-due bill is not arranged
    assert offer.down_payment_cents == 10_000


async def test_energy_assistance_lowers_the_down_payment(session) -> None:
    account = await past_due_account(session, energy_assistance=True)
    offer = await arrangement_offer(session, account_id=account.id, today=DAY)
    assert isinstance(offer, ArrangementOffer) and offer.down_payment_cents == 8_000


async def test_create_schedules_installments_and_holds_the_disconnect(session) -> None:
    account = await past_due_account(session)
    account.collection_stage, account.disconnect_pending = "disconnect_list", True
    await session.flush()
    arrangement, rows = await create_arrangement(session, caller=AGENT, account_id=account.id,
                                                 installments=3, today=DAY)
    assert [r.amount_cents for r in rows] == [10_000, 10_000, 10_000, 10_000]
    assert sum(r.amount_cents for r in rows) == arrangement.total_cents
    assert (await session.get(Account, account.id)).disconnect_hold_reason == "arrangement"
    assert (await session.scalars(select(AuditEntry.action))).all().count("arrangement.create") == 1

    again = await arrangement_offer(session, account_id=account.id, today=DAY)
    assert isinstance(again, ArrangementRefusal) and again.code == "already_in_arrangement"


async def test_payments_pay_installments_in_order_until_completed(session) -> None:
    account = await past_due_account(session, amount="100.00")
    arrangement, _ = await create_arrangement(session, caller=AGENT, account_id=account.id,
                                              installments=2, today=DAY)
    await post_payment(session, caller=AGENT, account_id=account.id, amount=Decimal("40.00"),
                       method="card")
    paid = [i.paid_cents for i in await installments_of(session, arrangement_id=arrangement.id)]
    assert paid == [2_500, 1_500, 0]
    await post_payment(session, caller=AGENT, account_id=account.id, amount=Decimal("60.00"),
                       method="card")
    assert (await session.get(Arrangement, arrangement.id)).status == "completed"


async def test_refusal_and_bad_count_write_nothing(session) -> None:
    _, account = await customer_with_account(session)
    with pytest.raises(PolicyRefused, match="no past-due"):
        await create_arrangement(session, caller=AGENT, account_id=account.id, installments=2,
                                 today=DAY)
    account2 = await past_due_account(session, last_name="Diaz", phone="+15045550199")
    with pytest.raises(Invalid, match="between 2 and 3"):
        await create_arrangement(session, caller=AGENT, account_id=account2.id, installments=6,
                                 today=DAY)
    assert await session.scalar(select(func.count()).select_from(Arrangement)) == 0
    assert await session.scalar(select(func.count()).select_from(Installment)) == 0


async def test_unpaid_installment_breaks_it_and_blocks_a_new_one_for_a_year(session) -> None:
    account = await past_due_account(session)
    await create_arrangement(session, caller=AGENT, account_id=account.id, installments=2,
                             today=DAY)
    assert await break_overdue_arrangement(session, caller=AGENT, account_id=account.id,
                                           today=DAY + timedelta(days=5)) is None
    broken = await break_overdue_arrangement(session, caller=AGENT, account_id=account.id,
                                             today=DAY + timedelta(days=6))
    assert broken is not None and broken.status == "broken"
    later = await arrangement_offer(session, account_id=account.id, today=DAY + timedelta(days=40))
    assert isinstance(later, ArrangementRefusal) and later.code == "recently_broken"

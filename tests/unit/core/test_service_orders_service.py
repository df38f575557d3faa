"""Start (deposit), stop (prorated final bill), transfer, meter re-read fee, leak credit."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from accountcore_factories import AGENT, SUPERVISOR, bill, customer_with_account
from sqlalchemy import select

from core.adjustments.policy import AdjustmentLimits
from core.adjustments.service import approve_adjustment
from core.billing.models import LedgerEntry
from core.billing.repository import balance_cents
from core.errors import Conflict
from core.premises.models import Premise, Service
from core.premises.service import create_premise
from core.service_orders.flows import (
    complete_leak_adjustment,
    complete_start,
    complete_stop,
    request_stop,
    start_service,
    transfer_service,
)
from core.service_orders.service import (
    complete_meter_reread,
    request_leak_adjustment,
    request_meter_reread,
)

DAY = date(2026, 7, 15)
LIMITS = AdjustmentLimits(agent=Decimal("100.00"), supervisor=Decimal("1000.00"))


async def premise(session, account_id=None, address="9 Oak St"):
    return await create_premise(session, address=address, city="Riverbend", state="LA",
                                zip_code="70001", account_id=account_id,
                                services=["electric", "water"], started_on=date(2025, 1, 1))


async def test_start_bills_a_deposit_and_completion_turns_service_on(session) -> None:
    _, account = await customer_with_account(session, credit_rating="fair")
    vacant = await premise(session)
    started = await start_service(session, caller=AGENT, account_id=account.id,
                                  premise_id=vacant.id, start_on=DAY)
    assert started.deposit is not None and started.deposit.required_cents == 15_000
    await complete_start(session, caller=AGENT, order_id=started.order.id)
    assert (await session.get(Premise, vacant.id)).account_id == account.id
    services = (await session.scalars(select(Service).where(Service.premise_id == vacant.id))).all()
    assert {s.status for s in services} == {"active"}
    with pytest.raises(Conflict):
        await complete_start(session, caller=AGENT, order_id=started.order.id)


async def test_start_on_an_occupied_premise_is_refused(session) -> None:
    _, account = await customer_with_account(session)
    _, other = await customer_with_account(session, last_name="Lee", phone="+15045550120")
    taken = await premise(session, account_id=other.id)
    with pytest.raises(Conflict):
        await start_service(session, caller=AGENT, account_id=account.id, premise_id=taken.id,
                            start_on=DAY)


async def test_stop_posts_a_prorated_final_bill(session) -> None:
    _, account = await customer_with_account(session)
    home = await premise(session, account_id=account.id)
    await bill(session, account_id=account.id, issued_on=DAY - timedelta(days=10),
               amount="90.00", days=30)
    order = await request_stop(session, caller=AGENT, account_id=account.id, premise_id=home.id,
                               stop_on=DAY)
    assert order.details["estimated_final_bill"] == "30.00"
    _, final = await complete_stop(session, caller=AGENT, order_id=order.id)
    assert final is not None and final.amount_cents == 3_000
    assert (await session.get(Premise, home.id)).account_id is None
    assert account.status == "final"


async def test_transfer_stops_one_premise_and_starts_another(session) -> None:
    _, account = await customer_with_account(session, credit_rating="good")
    old = await premise(session, account_id=account.id)
    new = await premise(session, address="10 Elm St")
    stop, start = await transfer_service(session, caller=AGENT, account_id=account.id,
                                         from_premise_id=old.id, to_premise_id=new.id,
                                         move_on=DAY)
    assert stop.details["transfer_to_order_id"] == start.order.id and start.deposit is None


async def test_first_reread_is_free_a_second_costs_unless_misread(session) -> None:
    _, account = await customer_with_account(session)
    home = await premise(session, account_id=account.id)
    first = await request_meter_reread(session, caller=AGENT, account_id=account.id,
                                       premise_id=home.id)
    assert first.fee_cents == 0
    _, fee = await complete_meter_reread(session, caller=AGENT, order_id=first.id, misread=False)
    assert fee is None
    second = await request_meter_reread(session, caller=AGENT, account_id=account.id,
                                        premise_id=home.id)
    assert second.fee_cents == 2_500
    third = await request_meter_reread(session, caller=AGENT, account_id=account.id,
                                       premise_id=home.id)
    _, fee = await complete_meter_reread(session, caller=AGENT, order_id=second.id, misread=False)
    assert fee is not None and fee.code == "reread_fee"
    _, none = await complete_meter_reread(session, caller=AGENT, order_id=third.id, misread=True)
    assert none is None
    assert await balance_cents(session, account_id=account.id) == 2_500


async def test_leak_credit_goes_through_approval_limits(session) -> None:
    _, account = await customer_with_account(session)
    for months_ago in (3, 2):
        await bill(session, account_id=account.id, issued_on=DAY - timedelta(days=30 * months_ago),
                   amount="60.00", kind="water")
    leak = await bill(session, account_id=account.id, issued_on=DAY - timedelta(days=30),
                      amount="460.00", kind="water")
    order = await request_leak_adjustment(session, caller=AGENT, account_id=account.id,
                                          bill_id=leak.id)
    assert order.details["credit"] == "200.00"
    _, outcome = await complete_leak_adjustment(session, caller=AGENT, order_id=order.id,
                                                limits=LIMITS)
    assert not outcome.posted  # 200.00 is above the agent's 100.00
    with pytest.raises(Conflict):
        await request_leak_adjustment(session, caller=AGENT, account_id=account.id,
                                      bill_id=leak.id)
    await approve_adjustment(session, caller=SUPERVISOR, request_id=outcome.request.id,
                             limits=LIMITS)
    credit = (await session.scalars(select(LedgerEntry).where(LedgerEntry.code == "leak_credit"))
              ).one()
    assert credit.amount_cents == -20_000

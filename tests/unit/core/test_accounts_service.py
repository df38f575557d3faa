"""Account summary, collections march with holds, bankruptcy, and the disconnect list."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from accountcore_factories import AGENT, bill, customer_with_account
from sqlalchemy import select

from core.accounts.flows import account_summary
from core.accounts.service import (
    advance_collections,
    disconnect_list,
    record_bankruptcy,
    set_medical_hold,
)
from core.arrangements.service import create_arrangement
from core.audit.models import AuditEntry
from core.auth.service import Caller
from core.billing.service import post_payment, reverse_payment_nsf
from core.enums import Role
from core.premises.service import create_premise

SYSTEM = Caller(name="collections-job", role=Role.SYSTEM)
DAY = date(2026, 7, 15)


async def overdue(session, amount: str = "200.00", **kw):
    _, account = await customer_with_account(session, **kw)
    await bill(session, account_id=account.id, issued_on=DAY - timedelta(days=30), amount=amount)
    return account  # due DAY - 9


async def test_summary_reads_everything_in_one_place(session) -> None:
    account = await overdue(session)
    await create_premise(session, address="12 Levee Rd", city="Riverbend", state="LA",
                         zip_code="70001", account_id=account.id, services=["electric", "water"])
    paid = await post_payment(session, caller=AGENT, account_id=account.id,
                              amount=Decimal("20.00"), method="check", reference="c-1")
    await reverse_payment_nsf(session, caller=AGENT, payment_id=paid.payment.id)
    await create_arrangement(session, caller=AGENT, account_id=account.id, installments=2,
                             today=DAY)
    summary = await account_summary(session, account_id=account.id, today=DAY)
    assert summary.balance == Decimal("230.00")
    assert summary.aging.past_due == Decimal("200.00")
    assert summary.aging.current == Decimal("30.00")  # the NSF fee, not due yet
    assert summary.payments[0].reversed
    assert summary.arrangements[0].installments[0].amount == Decimal("50.00")
    assert summary.premises[0].address == "12 Levee Rd"
    assert summary.customer_name == "Ngozi Okafor"
    dumped = summary.model_dump(mode="json")
    assert dumped["balance"] == "230.00" and dumped["aging"]["days_30"] == "200.00"


async def test_collections_march_one_step_at_a_time(session) -> None:
    account = await overdue(session)
    stages = []
    for offset in (0, 9, 10, 19, 20):
        step = await advance_collections(session, caller=SYSTEM, account_id=account.id,
                                         today=DAY + timedelta(days=offset))
        stages.append(step.stage)
    assert stages == ["late_notice", "late_notice", "disconnect_notice", "disconnect_notice",
                      "disconnect_list"]
    assert account.disconnect_pending
    audits = (await session.scalars(select(AuditEntry).where(
        AuditEntry.action == "collections.advance"))).all()
    assert [a.after["stage"] for a in audits] == ["late_notice", "disconnect_notice",
                                                  "disconnect_list"]
    await post_payment(session, caller=AGENT, account_id=account.id, amount=Decimal("200.00"),
                       method="card")
    cured = await advance_collections(session, caller=SYSTEM, account_id=account.id,
                                      today=DAY + timedelta(days=26))
    assert cured.stage == "none" and not account.disconnect_pending


async def test_medical_hold_and_bankruptcy_stop_the_march(session) -> None:
    account = await overdue(session)
    await set_medical_hold(session, caller=AGENT, account_id=account.id,
                           until=DAY + timedelta(days=30), reason="certificate on file")
    step = await advance_collections(session, caller=SYSTEM, account_id=account.id, today=DAY)
    assert (step.stage, step.hold) == ("none", "medical")

    other = await overdue(session, last_name="Berry", phone="+15045550111")
    notice = await record_bankruptcy(session, caller=AGENT, account_id=other.id,
                                     filed_on=DAY, chapter=11)
    assert notice.adequate_assurance_due_on == DAY + timedelta(days=30)
    step = await advance_collections(session, caller=SYSTEM, account_id=other.id, today=DAY)
    assert step.hold == "bankruptcy" and not step.changed


async def test_disconnect_list_is_ordered_and_skips_holds(session) -> None:
    small = await overdue(session, amount="100.00")
    big = await overdue(session, amount="900.00", last_name="Hale", phone="+15045550112")
    held = await overdue(session, amount="5000.00", last_name="Ives", phone="+15045550113")
    for account in (small, big, held):
        account.collection_stage = "disconnect_list"
    await session.flush()
    await set_medical_hold(session, caller=AGENT, account_id=held.id,
                           until=DAY + timedelta(days=60), reason="oxygen concentrator")
    order = await disconnect_list(session, today=DAY)
    assert [c.account_id for c in order] == [big.id, small.id]
